"""Learning-rate factors of the two Lightning modules (``torch.optim.lr_scheduler.LambdaLR`` lambdas).

Hand-written, not transformers' ``get_constant_schedule_with_warmup`` / ``get_linear_schedule_with_warmup``:
theirs start the warm-up at ``step / warmup`` (lr 0 on the first step, which would leave the adapter where
it was), these at ``(step + 1) / warmup``; after the warm-up the linear decay is the same as theirs.
"""

from __future__ import annotations


def linear_warmup(step: int, warmup_steps: int) -> float:
    """LR factor: (step + 1) / warmup_steps for the first ``warmup_steps`` optimiser steps, then 1."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (step + 1) / warmup_steps)


def linear_warmup_decay(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR factor: ``step / warmup`` while warming up, then linear decay to 0 at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    remaining = max(1, total_steps - warmup_steps)
    return max(0.0, 1.0 - (step - warmup_steps) / remaining)
