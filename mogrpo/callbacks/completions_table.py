"""W&B media for the stages: the GRPO completions table, images, and the final evaluation table.

Every function here is a no-op unless the logger is a Lightning ``WandbLogger`` (CSV, none, or a
W&B run that failed to start log nothing), and none of them raises: logging never kills a run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer

from mogrpo.metrics.results import eval_means, finite_or_none

log = logging.getLogger(__name__)


def wandb_logger_of(obj: Any):
    """The ``WandbLogger`` among a trainer's loggers (or ``obj`` itself if it is one), else None."""
    try:
        from lightning.pytorch.loggers import WandbLogger
    except Exception:  # pragma: no cover - lightning always ships it
        return None
    if isinstance(obj, WandbLogger):
        return obj
    for logger in getattr(obj, "loggers", None) or []:
        if isinstance(logger, WandbLogger):
            return logger
    return None


def _field(obj: Any, *names: str) -> Any:
    """The first of ``names`` present in a mapping or as an attribute of ``obj``, else None."""
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj and obj[name] is not None:
                return obj[name]
        elif getattr(obj, name, None) is not None:
            return getattr(obj, name)
    return None


def _as_list(x: Any) -> list:
    """Tensors / arrays / sequences -> nested Python lists of floats or strings."""
    if x is None:
        return []
    if hasattr(x, "detach"):
        x = x.detach().float().cpu()
    if hasattr(x, "tolist"):
        return x.tolist()
    return list(x)


def completion_rows(
    rollout: Any, step: int, aspects: Sequence[str] | None = None, max_rows: int | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Columns ``step, prompt, completion, <aspect>..., reward, advantage`` and one row per completion.

    ``rollout`` (a mapping or an object, e.g. ``GRPOModule.last_rollout``) holds ``completions`` [N],
    ``prompts`` ([N], or one per group: [N / G], repeated G times), per-aspect ``scores`` (a mapping
    aspect -> [N], or [N, K]), ``reward`` [N] and ``advantage`` [N] (plural names also accepted).
    ``aspects`` defaults to the rollout's own (the mapping's keys, or ``aspects``).
    """
    completions = [str(c) for c in _as_list(_field(rollout, "completions", "completion"))]
    n = len(completions)
    prompts = [str(p) for p in _as_list(_field(rollout, "prompts", "prompt"))]
    if prompts and n % len(prompts) == 0 and len(prompts) != n:
        g = n // len(prompts)
        prompts = [p for p in prompts for _ in range(g)]
    raw_scores = _field(rollout, "scores", "aspect_scores", "aspect_rewards")
    if isinstance(raw_scores, Mapping):  # aspect -> [N] (the GRPO module's layout) -> [N, K]
        aspects = list(aspects or raw_scores)
        columns_k = [_as_list(raw_scores.get(a)) for a in aspects]
        raw_scores = [[col[i] if i < len(col) else None for col in columns_k] for i in range(n)]
    aspects = list(aspects or _field(rollout, "aspects", "aspect_names") or [])
    scores = _as_list(raw_scores)
    if not aspects and scores and isinstance(scores[0], list):
        aspects = [f"aspect_{k}" for k in range(len(scores[0]))]
    rewards = _as_list(_field(rollout, "rewards", "reward"))
    advantages = _as_list(_field(rollout, "advantages", "advantage"))
    columns = ["step", "prompt", "completion", *aspects, "reward", "advantage"]
    rows = []
    for i in range(n if max_rows is None else min(n, max_rows)):
        row_scores = scores[i] if i < len(scores) and isinstance(scores[i], list) else []
        rows.append(
            [
                int(step),
                prompts[i] if i < len(prompts) else "",
                completions[i],
                *[finite_or_none(row_scores[k]) if k < len(row_scores) else None for k in range(len(aspects))],
                finite_or_none(rewards[i]) if i < len(rewards) else None,
                finite_or_none(advantages[i]) if i < len(advantages) else None,
            ]
        )
    return columns, rows


class CompletionsTable(Callback):
    """Every ``every`` optimizer steps, log ``pl_module.last_rollout`` as a ``wandb.Table``.

    Args:
        every: log at global steps divisible by ``every`` (0 = never).
        aspects: the aspect column names (``cfg.reward.aspects``); default: the rollout's own.
        key: the W&B key of the table.
        max_rows: at most this many completions per table (None = the whole batch).
    """

    def __init__(
        self,
        every: int,
        aspects: Sequence[str] | None = None,
        key: str = "completions",
        max_rows: int | None = None,
    ):
        super().__init__()
        if every < 0:
            raise ValueError(f"grpo.log_completions_every must be >= 0, got {every}")
        self.every = int(every)
        self.aspects = list(aspects) if aspects else None
        self.key = key
        self.max_rows = max_rows
        self.logged_steps: list[int] = []

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = int(trainer.global_step)
        if self.every <= 0 or step == 0 or step % self.every or step in self.logged_steps:
            return
        logger = wandb_logger_of(trainer)
        rollout = getattr(pl_module, "last_rollout", None)
        if logger is None or rollout is None:
            return
        try:
            columns, rows = completion_rows(rollout, step, self.aspects, self.max_rows)
            logger.log_table(key=self.key, columns=columns, data=rows, step=step)
            self.logged_steps.append(step)
        except Exception as err:  # never crash training over a table
            log.warning("could not log the completions table at step %d: %s", step, err)


def log_image(logger: Any, key: str, path: str | Path, caption: str | None = None) -> bool:
    """Log a PNG (e.g. ``calibration.png``) to W&B; True if it was logged."""
    wb = wandb_logger_of(logger)
    if wb is None or not Path(path).is_file():
        return False
    try:
        kwargs = {"caption": [caption]} if caption else {}
        wb.log_image(key=key, images=[str(path)], **kwargs)
        return True
    except Exception as err:
        log.warning("could not log image %s: %s", path, err)
        return False


def eval_rows(eval_result: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Columns ``aspect, base, aligned, delta, rel_change`` from an evaluation result.

    Reads per-aspect means from ``eval_result["aspects"][aspect] = {"base": .., "aligned": ..}``
    (or ``eval_result["base"][aspect]`` / ``eval_result["aligned"][aspect]``); the aggregate
    reward (``reward``) is the last row when present.
    """
    means = eval_means(eval_result)
    columns = ["aspect", "base", "aligned", "delta", "rel_change"]
    rows = []
    for name, (base, aligned) in means.items():
        delta = None if base is None or aligned is None else aligned - base
        rel = None if delta is None or not base else delta / abs(base)
        rows.append([name, finite_or_none(base), finite_or_none(aligned), finite_or_none(delta), finite_or_none(rel)])
    return columns, rows


def log_eval_table(logger: Any, eval_result: Mapping[str, Any], key: str = "eval/aspects") -> bool:
    """Log the base-vs-aligned per-aspect table and put ``eval/<aspect>/{base,aligned}`` in the run summary."""
    wb = wandb_logger_of(logger)
    if wb is None or not eval_result:
        return False
    try:
        columns, rows = eval_rows(eval_result)
        if not rows:
            return False
        wb.log_table(key=key, columns=columns, data=rows)
        summary = {}
        for name, base, aligned, _, _ in rows:
            summary[f"eval/{name}/base"] = base
            summary[f"eval/{name}/aligned"] = aligned
        wb.experiment.summary.update(summary)
        return True
    except Exception as err:
        log.warning("could not log the evaluation table: %s", err)
        return False
