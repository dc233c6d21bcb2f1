"""``reward.schedule``: the aspect weights and the constraint threshold as functions of the GRPO step.

The schedule moves from the start values (``reward.weights``, ``reward.constraint.threshold``) to the final
ones (``final_weights``, ``final_threshold``) between ``start_step`` and ``end_step`` (null: ``grpo.max_steps``)
with the shape ``kind``; the math is in :mod:`mogrpo.grpo.schedules`. ``kind=constant`` (the default) keeps
the start values and takes no final value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mogrpo.configs.base import Config, check_choice, check_int, check_number, option
from mogrpo.errors import ConfigError

SCHEDULE_KINDS = ("constant", "linear", "cosine", "step")


@dataclass(frozen=True)
class ScheduleConfig(Config):
    """value(step) = start + p(step) (final - start), p from 0 at ``start_step`` to 1 at ``end_step`` (``kind``)."""

    kind: str = option("constant", "constant (the start values throughout) | linear | cosine (p = (1 - cos(pi "
                       "t)) / 2) | step (p = floor(t stages) / stages: stages equal jumps), t the linear progress")
    final_weights: Any = option(None, "the aspect weights at end_step: a mapping aspect -> weight (an aspect left "
                                "out keeps its reward.weights value) or a list in aspect order; null = unchanged")
    final_threshold: float | None = option(None, "the constraint threshold at end_step, in [0, 1] "
                                           "(aggregation=constrained only); null = unchanged")
    start_step: int = option(0, "the optimizer step where the schedule starts moving (>= 0)")
    end_step: int | None = option(None, "the optimizer step where it reaches the final values (> start_step); "
                                  "null = grpo.max_steps")
    stages: int = option(1, "kind=step only: the number of equal jumps (1 = one switch at end_step)")

    def __post_init__(self):
        check_choice("kind", self.kind, SCHEDULE_KINDS)
        fw = self.final_weights
        if fw is not None and not isinstance(fw, Mapping) and (isinstance(fw, str) or not isinstance(fw, Sequence)):
            raise ConfigError("final_weights", f"must be a mapping aspect -> weight, a list or null, got {fw!r}")
        if isinstance(fw, Sequence) and not isinstance(fw, str):
            object.__setattr__(self, "final_weights", list(fw))
        check_number("final_threshold", self.final_threshold, low=0, high=1, none=True)
        check_int("start_step", self.start_step, low=0)
        check_int("end_step", self.end_step, low=1, none=True)
        if self.end_step is not None and self.end_step <= self.start_step:
            raise ConfigError("end_step", f"must be > start_step={self.start_step}, got {self.end_step}")
        check_int("stages", self.stages, low=1)
        moving = self.final_weights is not None or self.final_threshold is not None
        if self.kind == "constant" and moving:
            raise ConfigError("kind", "is constant but final_weights / final_threshold are given: choose linear, "
                              "cosine or step, or drop the final values")  # fmt: skip
        if self.kind != "constant" and not moving:
            raise ConfigError("final_weights", f"kind={self.kind} needs final_weights or final_threshold (the "
                              "values the schedule moves to)")  # fmt: skip

    def end(self, max_steps: int) -> int:
        """The step where the final values are reached: ``end_step`` or ``max_steps``."""
        return int(self.end_step) if self.end_step is not None else int(max_steps)
