"""Lightning callbacks and W&B media helpers for the stages.

- :class:`CompletionsTable`  the GRPO completions table every ``grpo.log_completions_every`` steps
- :func:`log_image`          a PNG (calibration plot) into the W&B run
- :func:`log_eval_table`     the final base-vs-aligned per-aspect table
"""

from __future__ import annotations

from lightning.pytorch import Callback
from omegaconf import DictConfig, OmegaConf

from mogrpo.callbacks.completions_table import (
    CompletionsTable,
    completion_rows,
    eval_rows,
    log_eval_table,
    log_image,
    wandb_logger_of,
)


def grpo_callbacks(cfg: DictConfig) -> list[Callback]:
    """The callbacks of the GRPO stage's Trainer, from ``cfg.grpo`` and ``cfg.reward``."""
    every = int(OmegaConf.select(cfg, "grpo.log_completions_every", default=0) or 0)
    callbacks: list[Callback] = []
    if every > 0:
        aspects = OmegaConf.select(cfg, "reward.aspects", default=None)
        callbacks.append(CompletionsTable(every=every, aspects=list(aspects) if aspects else None))
    return callbacks


__all__ = [
    "CompletionsTable",
    "completion_rows",
    "eval_rows",
    "grpo_callbacks",
    "log_eval_table",
    "log_image",
    "wandb_logger_of",
]
