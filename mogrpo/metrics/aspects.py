"""Base vs aligned policy on the same prompts: the per-aspect table of their reward-model scores.

    change_k     = mean_aligned(r_k) - mean_base(r_k)
    rel_change_k = change_k / mean_base(r_k)          (None when the base mean is 0)
    R            = sum_k w_k r_k                      (the aggregate reward, weights from the config)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def _change(base: float, aligned: float | None) -> dict[str, float | None]:
    if aligned is None:
        return {"base": base, "aligned": None, "abs_change": None, "rel_change": None}
    return {
        "base": base,
        "aligned": aligned,
        "abs_change": aligned - base,
        "rel_change": (aligned - base) / base if base != 0 else None,
    }


def aspect_table(
    base_scores: torch.Tensor,
    aligned_scores: torch.Tensor | None,
    aspects: Sequence[str],
    weights: Sequence[float],
) -> dict[str, Any]:
    """Per-aspect means of base and aligned scores with absolute and relative change, and the same
    for the aggregate reward ``R = scores @ w``. ``aligned_scores=None`` gives a base-only table."""
    if base_scores.ndim != 2 or base_scores.shape[1] != len(aspects):
        raise ValueError(f"scores must be [N, {len(aspects)}], got {tuple(base_scores.shape)}")
    if aligned_scores is not None and aligned_scores.shape != base_scores.shape:
        raise ValueError(f"base {tuple(base_scores.shape)} and aligned {tuple(aligned_scores.shape)} scores differ")
    w = torch.as_tensor(list(weights), dtype=base_scores.dtype)
    base_mean = base_scores.mean(dim=0).tolist()
    aligned_mean = aligned_scores.mean(dim=0).tolist() if aligned_scores is not None else [None] * len(aspects)
    table = {a: _change(b, al) for a, b, al in zip(aspects, base_mean, aligned_mean)}
    aggregate = _change(
        float((base_scores @ w).mean()), float((aligned_scores @ w).mean()) if aligned_scores is not None else None
    )
    return {"n": int(base_scores.shape[0]), "aspects": table, "aggregate": aggregate, "weights": dict(zip(aspects, w.tolist()))}
