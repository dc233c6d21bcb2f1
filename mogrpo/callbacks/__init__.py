"""Lightning callbacks and W&B media helpers for the stages.

- :class:`CompletionsTable`  the GRPO completions table every ``grpo.log_completions_every`` steps
- :func:`log_image`          a PNG (calibration plot) into the W&B run
- :func:`log_eval_table`     the final base-vs-aligned per-aspect table
- :class:`~mogrpo.callbacks.progress_lines.ProgressLines`  progress as log lines when output goes to a file

The GRPO stage picks its callbacks from the config (:func:`mogrpo.stages.grpo.grpo_callbacks`).
"""

from __future__ import annotations

from mogrpo.callbacks.completions_table import (
    CompletionsTable,
    completion_rows,
    eval_rows,
    log_eval_table,
    log_image,
    wandb_logger_of,
)

__all__ = ["CompletionsTable", "completion_rows", "eval_rows", "log_eval_table", "log_image", "wandb_logger_of"]
