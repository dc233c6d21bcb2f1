"""The reward model's side of the evaluation: how well the evaluated regressor matches held-out labels.

- ``calibration.reward_data``: per-aspect R², MAE, Spearman on ``reward_data``'s test split;
- ``calibration.diasafety``: AUROC of the safety score against DiaSafety's human labels;
- ``ranking``: the aggregate ranking rates of the reward stage (:func:`mogrpo.stages.reward_ranking.ranking_calibration`:
  how often R = Σ w_k r_k ranks a refusal over harmful compliance, a helpful answer over a refusal, ...
  on held-out pairs), read from the evaluated reward model's ``calibration.json``, or recomputed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from mogrpo.configs import EvalConfig
from mogrpo.errors import ConfigError, DataError
from mogrpo.stages.evaluation_sets import shared_file
from mogrpo.stages.evaluation_settings import skipped

log = logging.getLogger(__name__)


def load_calibration_data(cfg: DictConfig, aspects: Sequence[str]) -> dict[str, Any]:
    """``{"reward_data": Dataset | skipped, "diasafety": Dataset | skipped}`` (read before any model loads)."""
    from mogrpo.data.labelled import load_labelled
    from mogrpo.data.public import DIASAFETY_SPLITS, diasafety

    evaluation = EvalConfig.of(cfg)
    calibration = evaluation.calibration
    out: dict[str, Any] = {}
    if not calibration.enabled:
        out["reward_data"] = skipped("disabled (eval.calibration.enabled=false)")
    elif OmegaConf.select(cfg, "reward_data") is None:
        out["reward_data"] = skipped("no reward_data in the config")
    else:
        try:
            test = load_labelled(cfg.reward_data, list(aspects), int(OmegaConf.select(cfg, "seed", default=0)))["test"]
        except DataError as err:  # public data not there, a file missing: no calibration, the rest runs
            out["reward_data"] = skipped(f"reward data could not be read: {err}")
        else:
            if calibration.max_rows is not None and len(test) > calibration.max_rows:
                test = test.select(range(calibration.max_rows))
            out["reward_data"] = test if len(test) else skipped("the test split of reward_data is empty (reward_data.test_fraction=0?)")

    dia = calibration.diasafety
    if not dia.enabled:
        out["diasafety"] = skipped("disabled (eval.calibration.diasafety.enabled=false)")
    elif dia.aspect not in aspects:
        out["diasafety"] = skipped(f"aspect {dia.aspect!r} is not one of reward.aspects {list(aspects)}")
    elif dia.split not in DIASAFETY_SPLITS:
        raise ConfigError("eval.calibration.diasafety.split", f"must be one of {sorted(DIASAFETY_SPLITS)}, got {dia.split!r}")
    else:
        path, why = shared_file(cfg, f"diasafety/{DIASAFETY_SPLITS[dia.split]}.json")
        if path is None:
            out["diasafety"] = skipped(why)
        else:
            out["diasafety"] = diasafety(path.parents[1], split=dia.split, max_rows=dia.limit, seed=evaluation.subset_seed)
    return out


def reward_data_calibration(regressor, dataset, aspects: Sequence[str], out_dir: Path, name: str,
                            batch_size: int = 64) -> dict[str, Any]:
    """Per-aspect R², MAE, Spearman, ... (:func:`mogrpo.metrics.calibration.calibration_for`) and ``calibration.png``."""
    from mogrpo.metrics.calibration import calibration_for, plot_calibration
    from mogrpo.reports.report import CALIBRATION_PNG

    report, pred, target = calibration_for(regressor, dataset, aspects, batch_size=batch_size)
    plot_calibration(pred, target, aspects, out_dir / CALIBRATION_PNG)
    return {"status": "done", "split": "test", "reward_data": name, **report, "plot": CALIBRATION_PNG}


def diasafety_calibration(regressor, dataset, aspect: str, split: str, batch_size: int = 64) -> dict[str, Any]:
    """AUROC of the ``aspect`` score against DiaSafety's labels (Safe = 1 = positive), and mean scores per class.

    AUROC = P(score of a random safe reply > score of a random unsafe reply), ties 1/2.
    """
    from mogrpo.metrics.calibration import binary_auroc

    k = list(regressor.aspects).index(aspect)
    scores = regressor.score(list(dataset["prompt"]), list(dataset["response"]), batch_size=batch_size)[:, k]
    labels = torch.tensor(dataset["safety"], dtype=torch.float32) >= 0.5
    safe, unsafe = scores[labels], scores[~labels]
    return {
        "status": "done",
        "split": split,
        "aspect": aspect,
        "n": int(labels.numel()),
        "n_safe": int(labels.sum()),
        "n_unsafe": int((~labels).sum()),
        "auroc": binary_auroc(scores, labels.long()),
        "mean_score_safe": float(safe.mean()) if safe.numel() else None,
        "mean_score_unsafe": float(unsafe.mean()) if unsafe.numel() else None,
    }


def run_calibration(cfg: DictConfig, regressor, data: Mapping[str, Any], aspects: Sequence[str], out_dir: Path) -> dict:
    """The calibration section from :func:`load_calibration_data`'s output."""
    calibration = EvalConfig.of(cfg).calibration
    batch_size = calibration.batch_size or 64
    out: dict[str, Any] = {}
    rd = data["reward_data"]
    out["reward_data"] = rd if isinstance(rd, dict) else reward_data_calibration(
        regressor, rd, aspects, out_dir, str(OmegaConf.select(cfg, "reward_data.name", default="?")), batch_size
    )
    ds = data["diasafety"]
    out["diasafety"] = ds if isinstance(ds, dict) else diasafety_calibration(
        regressor, ds, calibration.diasafety.aspect, calibration.diasafety.split, batch_size,
    )
    return out


# --------------------------------------------------------------------------- aggregate ranking rates
def calibration_files(reward_dir: str | Path) -> list[Path]:
    """Where a reward model's ``calibration.json`` may be: inside its directory (every trained, cached or
    copied regressor carries one) and, for a run's ``reward_model/``, beside it in the run dir."""
    from mogrpo.stages.reward import CALIBRATION_JSON, MODEL_DIR

    reward_dir = Path(str(reward_dir))
    files = [reward_dir / CALIBRATION_JSON]
    if reward_dir.name == MODEL_DIR:
        files.append(reward_dir.parent / CALIBRATION_JSON)
    return files


def _stored_ranking(reward_dir: str | Path) -> tuple[Path | None, dict | None, str]:
    """(the calibration.json read, its content, why there is no ranking in it) of the reward model."""
    for path in calibration_files(reward_dir):
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            log.warning("could not read %s: %s", path, err)
            continue
        if isinstance(data, Mapping) and data.get("ranking"):
            return path, dict(data), ""
        return path, None, f"{path} has no aggregate ranking checks (written before they existed?)"
    return None, None, f"no calibration.json in the reward model dir {reward_dir}"


def _weights_differ(stored: Mapping | None, weights: Mapping[str, float]) -> bool:
    if not isinstance(stored, Mapping):
        return False
    return set(stored) != set(weights) or any(abs(float(stored[a]) - float(w)) > 1e-9 for a, w in weights.items())


def ranking_rates(cfg: DictConfig, regressor, reward_dir: str | Path, aspects: Sequence[str],
                  weights: Sequence[float]) -> dict[str, Any]:
    """The ``ranking`` section: ``{"status": "done", "from": <calibration.json path> | "recomputed",
    "checks": {check: {"n", "aggregate", "aspects", "margin", "sources"}}, "weights"}``, or skipped.

    The checks come from the reward model's ``calibration.json`` (:func:`calibration_files`) when it
    holds them for this evaluation's weights; else, with ``eval.ranking.recompute``, from
    :func:`mogrpo.stages.reward_ranking.ranking_calibration` on ``reward_data.ranking``'s held-out pairs.
    """
    settings = EvalConfig.of(cfg).ranking
    if not settings.enabled:
        return skipped("disabled (eval.ranking.enabled=false)")
    current = dict(zip(aspects, (float(w) for w in weights)))
    path, stored, why = _stored_ranking(reward_dir)
    if stored is not None and _weights_differ(stored.get("weights"), current):
        why = f"{path} was computed with weights {stored['weights']}, this evaluation uses {current}"
    elif stored is not None:
        return {"status": "done", "from": str(path), "checks": stored["ranking"], "weights": current}
    if not settings.recompute:
        return skipped(f"{why} (eval.ranking.recompute=false)")
    if not OmegaConf.select(cfg, "reward_data.ranking"):
        name = OmegaConf.select(cfg, "reward_data.name", default="?")
        return skipped(f"{why}, and reward_data={name} defines no ranking checks to recompute them")
    from mogrpo.stages.reward_ranking import ranking_calibration

    batch_size = settings.batch_size or 64
    checks = ranking_calibration(cfg, regressor, list(weights), batch_size)
    if not any(c.get("n") for c in checks.values()):
        reasons = sorted({r for c in checks.values() for r in c.get("skipped", [])})
        return skipped(f"{why}; recomputing found no held-out pairs" + (f" ({'; '.join(reasons)})" if reasons else ""))
    log.info("aggregate ranking rates recomputed (%s)", why)
    return {"status": "done", "from": "recomputed", "reason": why, "checks": checks, "weights": current}
