"""Weight and threshold schedules: the aspect weights and the constraint threshold at a GRPO step.

With the linear progress ``t = clip((step - start_step) / (end_step - start_step), 0, 1)``, the schedule's
progress ``p`` is

    constant  p = 0                          (the start values throughout)
    linear    p = t
    cosine    p = (1 - cos(pi t)) / 2        (slow, fast, slow; p(0.5) = 0.5)
    step      p = floor(t stages) / stages   (``stages`` equal jumps; stages = 1 switches at end_step)

and every scheduled value is ``v(step) = v_start + p (v_final - v_start)``, per aspect for the weights
(``reward.weights`` -> ``reward.schedule.final_weights``) and for the threshold tau of the constraint
(``reward.constraint.threshold`` -> ``reward.schedule.final_threshold``). ``step`` is the number of optimizer
steps done before the batch (the ``step`` of ``history.jsonl``), so a resumed run continues the schedule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mogrpo.configs.reward import RewardConfig
from mogrpo.configs.schedule import SCHEDULE_KINDS


def schedule_progress(step: int, kind: str, start_step: int, end_step: int, stages: int = 1) -> float:
    """p(step) in [0, 1] (formulas in the module docstring)."""
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"kind must be one of {SCHEDULE_KINDS}, got {kind!r}")
    if end_step <= start_step:
        raise ValueError(f"end_step ({end_step}) must be > start_step ({start_step})")
    if kind == "constant":
        return 0.0
    t = min(1.0, max(0.0, (step - start_step) / (end_step - start_step)))
    if kind == "linear":
        return t
    if kind == "cosine":
        return (1.0 - math.cos(math.pi * t)) / 2.0
    return math.floor(t * stages + 1e-9) / stages  # step (1e-9: t * stages = 3 exactly on float noise)


def interpolate(start: Sequence[float], final: Sequence[float], p: float) -> list[float]:
    """``start + p (final - start)`` per coordinate."""
    if len(start) != len(final):
        raise ValueError(f"start and final need one length, got {len(start)} and {len(final)}")
    return [float(a) + p * (float(b) - float(a)) for a, b in zip(start, final)]


def scheduled(reward: RewardConfig, step: int, max_steps: int) -> tuple[list[float], float | None]:
    """The aspect weights (aspect order) and the constraint threshold (None unless constrained) at ``step``."""
    s = reward.schedule
    p = schedule_progress(step, s.kind, s.start_step, s.end(max_steps), s.stages) if s.kind != "constant" else 0.0
    weights = interpolate(reward.weight_list, reward.final_weight_list, p)
    if not reward.constrained:
        return weights, None
    tau = float(reward.constraint.threshold)
    final = s.final_threshold if s.final_threshold is not None else tau
    return weights, interpolate([tau], [final], p)[0]


def schedule_metrics(aspects: Sequence[str], weights: Sequence[float], threshold: float | None) -> dict[str, float]:
    """The step's logged schedule: ``train/weight/<aspect>`` (the weights the advantages used) and, constrained,
    ``train/constraint_threshold`` (the names: mogrpo/modules/step_metrics.py)."""
    out = {f"train/weight/{a}": float(w) for a, w in zip(aspects, weights)}
    if threshold is not None:
        out["train/constraint_threshold"] = float(threshold)
    return out
