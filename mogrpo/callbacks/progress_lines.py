"""Progress that shows when output goes to a file: one log line every few seconds of training.

Lightning's progress bar redraws one terminal line; written to a file (``make train > log``, a
SLURM job) it shows nothing until the end, or a wall of carriage returns. When the stream is not a
terminal, :class:`ProgressLines` logs a plain line instead, at most every ``every_s`` seconds:

    reward: epoch 1/3, step 120/918 (13%), 2.31 s/step, 30m43s left, train/loss 0.214

``left`` extrapolates the mean step time of this run over the remaining steps.
"""

from __future__ import annotations

import logging
import sys
import time

from lightning.pytorch import Callback

log = logging.getLogger("mogrpo.progress")


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def progress_line(name: str, step: int, total: int | None, elapsed: float, epoch: int | None = None,
                  epochs: int | None = None, metrics: dict[str, float] | None = None) -> str:  # fmt: skip
    """One progress line (see the module docstring); ``total`` None or 0 when unknown."""
    parts = [f"epoch {epoch + 1}/{epochs}"] if epoch is not None and epochs and epochs > 0 else []
    per = elapsed / step if step else float("nan")
    if total:
        parts.append(f"step {step}/{total} ({100 * step / total:.0f}%)")
        parts.append(f"{per:.2f} s/step")
        parts.append(f"{format_duration(per * (total - step))} left")
    else:
        parts += [f"step {step}", f"{per:.2f} s/step"]
    parts += [f"{k} {v:.4g}" for k, v in (metrics or {}).items()]
    return f"{name}: " + ", ".join(parts)


class ProgressLines(Callback):
    """Logs :func:`progress_line` every ``every_s`` seconds (and at the last step) when stderr is
    not a terminal, or always with ``force``. ``keys``: the logged metrics to show."""

    def __init__(self, name: str, every_s: float = 30.0, keys: tuple[str, ...] = ("train/loss",), force: bool = False):
        self.name = name
        self.every_s = float(every_s)
        self.keys = keys
        self.active = force or not sys.stderr.isatty()
        self._t0 = self._last = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self._t0 = self._last = time.time()
        self._start_step = int(trainer.global_step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.active or not trainer.is_global_zero:
            return
        now = time.time()
        total = int(trainer.estimated_stepping_batches) if trainer.max_epochs not in (None, -1) else int(trainer.max_steps)
        step = int(trainer.global_step)
        if now - self._last < self.every_s and step < total:
            return
        self._last = now
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k in self.keys and v.numel() == 1}
        done = step - self._start_step
        log.info(progress_line(self.name, step, total, (now - self._t0) * step / max(done, 1), trainer.current_epoch,
                               trainer.max_epochs if trainer.max_epochs not in (None, -1) else None, metrics))  # fmt: skip
