"""Safety as a constraint with a Lagrange multiplier (as in Safe RLHF, Dai et al. 2023).

maximise  sum_{k != c} w_k r_k   subject to   E[r_c] >= tau

Lagrangian reward: R = sum_{k != c} w_k r_k + lambda (r_c - tau). The constant -lambda tau is
the same for every completion, so it cancels in the group-relative advantage: the constrained
reward is a weighted sum in which the constrained aspect's weight is lambda. Lambda follows
dual ascent: lambda <- max(0, lambda + lr (tau - mean r_c)).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def lagrangian_weights(weights: torch.Tensor | Sequence[float], constraint_index: int, lam: float) -> torch.Tensor:
    """The weights with the constrained aspect's weight replaced by the multiplier ``lam``."""
    w = torch.as_tensor(weights, dtype=torch.float32).clone()
    w[constraint_index] = float(lam)
    return w


def update_lagrange_multiplier(lam: float, constraint_mean: float, threshold: float, lr: float) -> float:
    """One projected dual-ascent step: lambda grows while the constraint is violated (mean < tau)."""
    return max(0.0, float(lam) + float(lr) * (float(threshold) - float(constraint_mean)))
