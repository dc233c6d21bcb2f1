"""The reward stage's held-out report pieces: the aggregate ranking checks of ``reward_data.ranking``
(check -> builders of (prompt, better, worse) pairs, :mod:`mogrpo.data.ranking_pairs`) and the
calibration figures as W&B summary fields with stable names. Used by :mod:`mogrpo.stages.reward`, the
evaluation (:mod:`mogrpo.stages.evaluation_calibration`) and ``experiments/ranking_weights.py``."""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def ranking_pairs(cfg: DictConfig) -> tuple[dict[str, list[dict]], dict[str, str]]:
    """The held-out pairs of each check in ``reward_data.ranking`` (check -> list of ``_target_``
    builders, :mod:`mogrpo.data.ranking_pairs`), and the reason for each builder that could not run
    (its data absent): ``(pairs, skipped)``."""
    import hydra

    node = OmegaConf.select(cfg, "reward_data.ranking")
    pairs: dict[str, list[dict]] = {}
    skipped: dict[str, str] = {}
    for check, builders in (node or {}).items():
        pairs[check] = []
        for i, builder in enumerate(builders or []):
            try:
                built = hydra.utils.instantiate(builder)
                if hasattr(built, "column_names"):  # preference rows (a Dataset): response over rejected
                    built = [{"prompt": r["prompt"], "better": r["response"], "worse": r["rejected"],
                              "source": r.get("source", "?")} for r in built]  # fmt: skip
                pairs[check] += list(built)
            except Exception as err:  # a missing shared file: report the check without this builder
                cause = err.__cause__ if err.__cause__ is not None else err
                skipped[f"{check}.{i}"] = f"{type(cause).__name__}: {cause}"
                log.warning("ranking check %s: builder %d skipped (%s)", check, i, cause)
    return pairs, skipped


def ranking_calibration(cfg: DictConfig, regressor, weights: list[float], batch_size: int) -> dict[str, Any]:
    """:func:`mogrpo.metrics.ranking.ranking_checks` on ``reward_data.ranking``'s held-out pairs."""
    from mogrpo.metrics.ranking import ranking_checks

    pairs, skipped = ranking_pairs(cfg)
    out = ranking_checks(regressor, pairs, weights, batch_size=batch_size)
    for key, reason in skipped.items():
        check = key.rsplit(".", 1)[0]
        out[check].setdefault("skipped", []).append(reason)
    return out


def log_calibration_summary(logger, calibration: dict[str, Any]) -> None:
    """Held-out figures as W&B summary fields with stable names: ``calibration/<source>/<aspect>/auroc``
    (and ``/r2``, ``/spearman``, ``/pair_acc``) and ``calibration/ranking/<check>``."""
    fields: dict[str, float] = {}
    for fam, entry in (calibration.get("sources") or {}).items():
        for aspect, m in (entry.get("aspects") or {}).items():
            for name in ("auroc", "r2", "spearman"):
                if m.get(name) is not None:
                    fields[f"calibration/{fam}/{aspect}/{name}"] = m[name]
        for aspect, m in (entry.get("pairs") or {}).items():
            if m.get("accuracy") is not None:
                fields[f"calibration/{fam}/{aspect}/pair_acc"] = m["accuracy"]
    for check, r in (calibration.get("ranking") or {}).items():
        if r.get("aggregate") is not None:
            fields[f"calibration/ranking/{check}"] = r["aggregate"]
    try:
        from lightning.pytorch.loggers import WandbLogger
    except ImportError:  # pragma: no cover
        return
    if isinstance(logger, WandbLogger) and fields:
        try:
            logger.experiment.summary.update(fields)
        except Exception as err:
            log.warning("could not write the calibration summary to W&B: %s", err)
