"""How often the reward ranks the better of two responses first: per aspect head and for the aggregate.

For pairs (prompt, better, worse) and the configured aspect weights w:

    R = sum_k w_k r_k                         (the aggregate GRPO optimises)
    rate = (#{R_better > R_worse} + #{R_better = R_worse} / 2) / #pairs

and the same per head r_k. This is the figure that matters for GRPO: the policy climbs whatever the
aggregate ranks highest, so a rate under 1/2 on "refusal over harmful compliance" means GRPO will
teach the model to comply (CONVENTIONS.md: judge a reward by the ranking it induces, not its R²).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch


def win_rate(better: torch.Tensor, worse: torch.Tensor) -> float:
    """Share of pairs where ``better > worse``, ties counted 1/2; NaN for no pairs."""
    if better.numel() == 0:
        return float("nan")
    return float(((better > worse).float() + 0.5 * (better == worse).float()).mean())


def pair_scores(regressor, pairs: Sequence[Mapping[str, str]], batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """The regressor's ``[P, K]`` scores of the better and the worse responses."""
    prompts = [p["prompt"] for p in pairs]
    better = regressor.score(prompts, [p["better"] for p in pairs], batch_size=batch_size)
    worse = regressor.score(prompts, [p["worse"] for p in pairs], batch_size=batch_size)
    return better, worse


def ranking_report(
    better: torch.Tensor,
    worse: torch.Tensor,
    weights: Sequence[float],
    aspects: Sequence[str],
    sources: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``{"n", "aggregate", "aspects": {aspect: rate}, "margin", "sources": {source: {"n", "aggregate"}}}``
    from the ``[P, K]`` scores of the better and worse responses (``margin``: mean R_better - R_worse)."""
    w = torch.as_tensor(list(weights), dtype=better.dtype)
    r_better, r_worse = better @ w, worse @ w
    out: dict[str, Any] = {
        "n": int(better.shape[0]),
        "aggregate": win_rate(r_better, r_worse),
        "aspects": {a: win_rate(better[:, k], worse[:, k]) for k, a in enumerate(aspects)},
        "margin": float((r_better - r_worse).mean()) if better.shape[0] else float("nan"),
    }
    if sources is not None:
        by: dict[str, list[int]] = {}
        for i, s in enumerate(sources):
            by.setdefault(s, []).append(i)
        out["sources"] = {
            s: {"n": len(idx), "aggregate": win_rate(r_better[idx], r_worse[idx])} for s, idx in sorted(by.items())
        }
    return out


def ranking_checks(
    regressor, checks: Mapping[str, Sequence[Mapping[str, str]]], weights: Sequence[float], batch_size: int = 64
) -> dict[str, dict[str, Any]]:
    """:func:`ranking_report` for each named check's pairs (a check without pairs: ``{"n": 0}``)."""
    out = {}
    for name, pairs in checks.items():
        if not pairs:
            out[name] = {"n": 0}
            continue
        better, worse = pair_scores(regressor, pairs, batch_size)
        out[name] = ranking_report(better, worse, weights, regressor.aspects, [p.get("source", "?") for p in pairs])
    return out
