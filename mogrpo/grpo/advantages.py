"""Group-relative advantages from multi-aspect scores.

Rows are laid out as B groups of G consecutive completions of one prompt: ``scores`` is
``[N, K]`` with ``N = B * G``. GRPO replaces the value network by the group's own statistics:

    A_i = (R_i - mean_{j in group(i)} R_j) / (std_{j in group(i)} R_j + eps)

with ``R_i = sum_k w_k r_ik`` (``sum_then_normalize``), or, with ``normalize_then_sum``, each
aspect is normalised within its group first and the normalised aspects are summed with the
weights: ``A_i = sum_k w_k (r_ik - mean_k) / (std_k + eps)``, so an aspect with a large
spread cannot drown the others.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mogrpo.configs.grpo import SCALES
from mogrpo.configs.reward import AGGREGATIONS


def _as_weights(weights: torch.Tensor | Sequence[float], like: torch.Tensor) -> torch.Tensor:
    w = torch.as_tensor(weights, dtype=like.dtype, device=like.device)
    if w.ndim != 1 or w.shape[0] != like.shape[-1]:
        raise ValueError(f"weights must have one entry per aspect ({like.shape[-1]}), got shape {tuple(w.shape)}")
    return w


def weighted_reward(scores: torch.Tensor, weights: torch.Tensor | Sequence[float]) -> torch.Tensor:
    """R = scores @ w: one scalar reward per completion, ``[N, K] -> [N]``."""
    return scores @ _as_weights(weights, scores)


def _normalize(x: torch.Tensor, group_size: int, scale: str, eps: float, batch_x: torch.Tensor | None = None):
    """Centre ``x`` ([N] or [N, K]) within groups and divide by the ``scale`` std; constant groups give 0.
    ``batch_x``: the whole batch the ``batch`` std is taken over (every rank's rows; default ``x``)."""
    grouped = x.reshape(-1, group_size, *x.shape[1:])  # [B, G] or [B, G, K]
    mean = grouped.mean(dim=1, keepdim=True)
    centred = grouped - mean
    constant = (grouped.amax(dim=1, keepdim=True) - grouped.amin(dim=1, keepdim=True)) == 0
    if scale == "group":
        std = grouped.std(dim=1, keepdim=True)  # Bessel-corrected, as TRL
        out = centred / (std + eps)
    elif scale == "batch":
        std = (x if batch_x is None else batch_x).std(dim=0)  # one std over all rewards (per aspect when K dims)
        out = centred / (std + eps)
    else:  # "none"
        out = centred
    out = torch.where(constant, torch.zeros_like(out), out)
    return out.reshape(x.shape)


def advantages(
    scores: torch.Tensor,
    weights: torch.Tensor | Sequence[float],
    group_size: int,
    aggregation: str = "sum_then_normalize",
    scale: str = "group",
    eps: float = 1e-4,
    batch_scores: torch.Tensor | None = None,
) -> torch.Tensor:
    """Group-relative advantages, ``[N, K] -> [N]``.

    Args:
        scores: aspect scores ``[N, K]``, N = B * G, each group's G completions in consecutive rows.
        weights: one weight per aspect ``[K]``.
        group_size: G, the completions sampled per prompt (>= 2).
        aggregation: ``sum_then_normalize`` (normalise R = scores @ w within the group) or
            ``normalize_then_sum`` (normalise each aspect within the group, then weight and sum).
        scale: ``group`` divides by the group's sample std, ``batch`` by the std over all N,
            ``none`` only centres (Dr. GRPO).
        eps: added to the std.
        batch_scores: ``scale="batch"`` only: the scores of the WHOLE batch ``[N_all, K]`` whose std divides,
            under DDP every rank's rows (TRL gathers the rewards across processes before the std);
            None: ``scores`` themselves (one process).

    A group whose rewards are all equal gets advantage 0.
    """
    if scores.ndim != 2:
        raise ValueError(f"scores must be [N, K], got shape {tuple(scores.shape)}")
    if group_size < 2:
        raise ValueError(f"group_size must be >= 2, got {group_size}")
    if scores.shape[0] % group_size:
        raise ValueError(f"N={scores.shape[0]} rows do not split into groups of {group_size}")
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    w = _as_weights(weights, scores)
    if batch_scores is not None:
        batch_scores = batch_scores.to(scores.dtype)
    if aggregation == "sum_then_normalize":
        batch = batch_scores @ w if batch_scores is not None else None
        return _normalize(scores @ w, group_size, scale, eps, batch)
    return _normalize(scores, group_size, scale, eps, batch_scores) @ w


def group_stats(rewards: torch.Tensor, group_size: int) -> dict[str, torch.Tensor]:
    """Mean group std and the fraction of groups whose rewards are all equal (no learning signal)."""
    grouped = rewards.reshape(-1, group_size)
    std = grouped.std(dim=1)
    constant = (grouped.amax(dim=1) - grouped.amin(dim=1)) == 0
    return {"group_std": std.mean(), "frac_zero_std": constant.float().mean()}
