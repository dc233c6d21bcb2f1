"""Safety as a constraint with a Lagrange multiplier (as in Safe RLHF, Dai et al. 2023).

maximise  sum_{k != c} w_k r_k   subject to   E[r_c] >= tau

Lambda follows projected dual ascent: lambda <- max(0, lambda + lr (tau - mean r_c)). Two ways turn
the Lagrangian into group-relative advantages (``reward.constraint.mode``):

``reward_weights`` (scalarised rewards): R = sum_{k != c} w_k r_k + lambda (r_c - tau), then one group
normalisation of R. The constant -lambda tau cancels, so this is a weighted sum in which the
constrained aspect's weight is lambda.

``normalized_advantages`` (scalarised advantages, Constrained GRPO, Girgis et al. 2026, arXiv
2602.05863): every aspect is group-normalised on its own, Z_k = (r_k - mean_k) / (std_k + eps), and
the normalised aspects are combined with the multiplier:

    A = (sum_{k != c} w_k Z_k + lambda Z_c) / S,   S = sum_{k != c} |w_k| + lambda  (rescale="sum")
                                                   S = 1                             (rescale="none")

Why: with scalarised rewards the advantage is A = sum_j (v_j sigma_j / sigma_R) Z_j (the paper's
Theorem 4.1, v = the weights with lambda at c), so the constraint's effective weight is lambda
sigma_c / sigma_R, not lambda: when the safety scores of a group barely differ (sigma_c small),
raising lambda barely moves the advantage, and the dual ascent loses its grip. Scalarised
advantages keep the effective weights equal to the multipliers. ``rescale="sum"`` (the (A_R - lambda
A_C) / (1 + lambda) of PPO-Lagrangian, Ray et al. 2019) keeps the ratios lambda / w_k and keeps the
advantage's scale from growing with lambda.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mogrpo.configs.reward import CONSTRAINT_MODES, RESCALES
from mogrpo.grpo.advantages import advantages


def lagrangian_weights(weights: torch.Tensor | Sequence[float], constraint_index: int, lam: float) -> torch.Tensor:
    """The weights with the constrained aspect's weight replaced by the multiplier ``lam``."""
    w = torch.as_tensor(weights, dtype=torch.float32).clone()
    w[constraint_index] = float(lam)
    return w


def constrained_advantages(
    scores: torch.Tensor,
    weights: torch.Tensor | Sequence[float],
    constraint_index: int,
    lam: float,
    group_size: int,
    mode: str = "normalized_advantages",
    scale: str = "group",
    eps: float = 1e-4,
    rescale: str = "sum",
    batch_scores: torch.Tensor | None = None,
) -> torch.Tensor:
    """Group-relative advantages of the Lagrangian, ``[N, K] -> [N]`` (formulas in the module docstring).

    Args:
        scores: ``[N, K]``, each group's G completions in consecutive rows (extra columns such as
            shaping penalties are terms like any aspect, with their own weight).
        weights: ``[K]``; the entry at ``constraint_index`` is replaced by ``lam``.
        mode: ``reward_weights`` (normalise the weighted sum) or ``normalized_advantages`` (weight
            the per-aspect normalised scores).
        scale, eps, batch_scores: as in :func:`mogrpo.grpo.advantages.advantages`.
        rescale: ``normalized_advantages`` only: ``sum`` divides by the sum of the absolute weights
            (lambda included), ``none`` does not.
    """
    if mode not in CONSTRAINT_MODES:
        raise ValueError(f"mode must be one of {CONSTRAINT_MODES}, got {mode!r}")
    if rescale not in RESCALES:
        raise ValueError(f"rescale must be one of {RESCALES}, got {rescale!r}")
    w = lagrangian_weights(weights, constraint_index, lam)
    if mode == "reward_weights":
        return advantages(scores, w, group_size, "sum_then_normalize", scale, eps, batch_scores)
    adv = advantages(scores, w, group_size, "normalize_then_sum", scale, eps, batch_scores)
    total = float(w.abs().sum())
    if rescale == "sum" and total > 0:
        adv = adv / total
    return adv


def constraint_stats(constraint_scores: torch.Tensor, threshold: float) -> dict[str, float]:
    """The constraint this step: ``value`` = mean r_c, ``slack`` = mean r_c - tau (>= 0: satisfied),
    ``violation_rate`` = share of completions with r_c < tau (the indicator cost of the paper)."""
    c = constraint_scores.float()
    value = float(c.mean())
    return {
        "value": value,
        "slack": value - float(threshold),
        "violation_rate": float((c < float(threshold)).float().mean()),
    }


def update_lagrange_multiplier(lam: float, constraint_mean: float, threshold: float, lr: float) -> float:
    """One projected dual-ascent step: lambda grows while the constraint is violated (mean < tau)."""
    return max(0.0, float(lam) + float(lr) * (float(threshold) - float(constraint_mean)))
