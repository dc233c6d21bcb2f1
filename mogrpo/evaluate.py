"""`python -m mogrpo.evaluate`: base vs aligned policy of a trained run, refusal checks, calibration, alarms.

    python -m mogrpo.evaluate run_dir=logs/train/runs/<timestamp>          # its adapter/ and reward_model/
    python -m mogrpo.evaluate eval=full run_dir=...                       # + XSTest (450) and AdvBench
    python -m mogrpo.evaluate eval.adapter=DIR reward_model.checkpoint=DIR eval.max_prompts=100 \
        eval.xstest.enabled=true eval.decoding.max_new_tokens=64
    python -m mogrpo.evaluate sensitivity=logs/ablation_group_size/multiruns/<timestamp>

Writes ``eval.json``, ``report.md``, ``samples.jsonl`` and the PNGs into its Hydra run dir
(``paths.output_dir``). A thin ``@hydra.main`` around :func:`evaluate`, which tests import.
The work is :func:`mogrpo.stages.evaluation.run_eval_stage`, the same function ``train`` ends with.
The config is checked before torch is imported (:func:`mogrpo.config.check_evaluate_config`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from mogrpo.config import check_evaluate_config
from mogrpo.configs import EvalConfig
from mogrpo.errors import ConfigError
from mogrpo.utils import resolvers  # noqa: F401  (registers ${mogrpo.project_root:})
from mogrpo.utils.cli import CONF_DIR, console_entry, run_reporting_user_errors

log = logging.getLogger(__name__)


@console_entry("evaluate")  # a key Hydra cannot place: one ConfigError line before the app runs
@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    run_reporting_user_errors(evaluate, cfg)


#: keys compared with the trained run's saved config (``<run_dir>/.hydra/config.yaml``)
RUN_KEYS = ("model.name", "reward.name", "reward.aspects", "reward_data.name", "data.name", "seed")


def _path(cfg: DictConfig, key: str) -> Path | None:
    value = OmegaConf.select(cfg, key, default=None)
    return Path(str(value)).expanduser() if value not in (None, "") else None


def resolve_adapter(cfg: DictConfig) -> Path | None:
    """``eval.adapter`` if given, else ``<run_dir>/adapter``; None: base policy only.

    ConfigError naming the key when the given directory holds no saved adapter.
    """
    from mogrpo.stages.evaluation import check_adapter

    adapter = EvalConfig.of(cfg).adapter
    if adapter:
        return check_adapter(adapter, "eval.adapter")
    run_dir = _path(cfg, "run_dir")
    if run_dir is None:
        return None
    if not run_dir.is_dir():
        raise ConfigError("run_dir", f"{run_dir} is not a directory")
    if not (run_dir / "adapter" / "adapter_config.json").is_file():
        raise ConfigError(
            "run_dir", f"{run_dir} has no adapter/ (did its GRPO stage finish?); pass eval.adapter=DIR to evaluate another one"
        )
    return run_dir / "adapter"


def resolve_reward_dir(cfg: DictConfig, out_dir: Path) -> tuple[Path, dict[str, Any]]:
    """``reward_model.checkpoint``, else ``<run_dir>/reward_model``, else the cached or a freshly trained one."""
    from mogrpo.stages.reward import MODEL_DIR, resolve_reward_model

    run_dir = _path(cfg, "run_dir")
    if not OmegaConf.select(cfg, "reward_model.checkpoint", default=None) and run_dir is not None:
        if (run_dir / MODEL_DIR).is_dir():
            cfg = cfg.copy()
            OmegaConf.update(cfg, "reward_model.checkpoint", str(run_dir / MODEL_DIR), force_add=True)
    return resolve_reward_model(cfg, out_dir, force_train=False)


def run_config_differences(cfg: DictConfig, run_dir: Path | None) -> list[str]:
    """The :data:`RUN_KEYS` whose value differs from the trained run's saved config (a warning each)."""
    if run_dir is None or not (run_dir / ".hydra" / "config.yaml").is_file():
        return []
    saved = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    out = []
    for key in RUN_KEYS:
        theirs = OmegaConf.select(saved, key, default=None, throw_on_resolution_failure=False)
        ours = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
        theirs = OmegaConf.to_container(theirs) if OmegaConf.is_config(theirs) else theirs
        ours = OmegaConf.to_container(ours) if OmegaConf.is_config(ours) else ours
        if theirs is not None and theirs != ours:
            out.append(f"{key}: the run was trained with {theirs!r}, this evaluation uses {ours!r}")
    for line in out:
        log.warning("%s (override it on the command line to match)", line)
    return out


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate (or, with ``sensitivity=DIR``, summarise a G sweep); returns what ``eval.json`` holds."""
    out_dir = Path(str(cfg.paths.output_dir))
    if cfg.get("sensitivity"):
        from mogrpo.sweeps.sensitivity import group_size_sensitivity

        result = group_size_sensitivity(str(cfg.sensitivity), out_dir=out_dir)
        log.info("group-size sensitivity written to %s", result["markdown"])
        return result
    run = check_evaluate_config(cfg)  # before any model or data loads
    from mogrpo.stages.evaluation import run_eval_stage
    from mogrpo.utils.seed import seed_everything

    seed_everything(run.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter = resolve_adapter(cfg)
    differences = run_config_differences(cfg, _path(cfg, "run_dir"))
    reward_dir, reward_summary = resolve_reward_dir(cfg, out_dir)
    run_dir = _path(cfg, "run_dir")
    extra = {
        "run_dir": str(run_dir) if run_dir is not None else None,
        "run_config_differences": differences,
        "reward_model_status": reward_summary.get("status"),
    }
    return run_eval_stage(cfg, out_dir, reward_dir, adapter=adapter, extra=extra)


if __name__ == "__main__":
    main()
