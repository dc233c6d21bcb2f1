"""Base vs aligned policy on the same prompts: batched generation, scoring, the per-aspect table.

    change_k     = mean_aligned(r_k) - mean_base(r_k)
    rel_change_k = change_k / mean_base(r_k)          (None when the base mean is 0)
    R            = sum_k w_k r_k                      (the aggregate reward, weights from the config)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from tqdm.auto import tqdm

from mogrpo.models.generation import generate_group
from mogrpo.models.policy import chat_prompts, encode_prompts


def generate_responses(
    model,
    tokenizer,
    prompts: Sequence[str | Sequence[Mapping]],
    decoding: Mapping,
    batch_size: int,
    max_prompt_length: int,
    system_prompt: str | None = None,
    desc: str = "generate",
) -> list[str]:
    """One response per prompt, in order, ``batch_size`` prompts per ``generate`` call.

    ``prompts``: user prompt strings or chat messages (a multi-turn prompt, see ``chat_prompts``).

    ``decoding``: ``do_sample``, ``max_new_tokens`` and, when sampling, ``temperature`` / ``top_p`` / ``top_k``.
    """
    if batch_size < 1:
        raise ValueError(f"eval.batch_size must be >= 1, got {batch_size}")
    device = next(model.parameters()).device
    texts = chat_prompts(tokenizer, prompts, system_prompt)
    out: list[str] = []
    for start in tqdm(range(0, len(texts), batch_size), desc=desc, leave=False):
        ids, mask, _ = encode_prompts(tokenizer, texts[start : start + batch_size], max_prompt_length)
        out.extend(generate_group(model, tokenizer, ids.to(device), mask.to(device), 1, decoding).texts)
    return out


def score_responses(regressor, prompts: Sequence[str], responses: Sequence[str], run_dir=None) -> torch.Tensor:
    """Aspect scores ``[N, K]`` of (prompt, response) pairs; raises if any is NaN/inf (see ``check_finite_scores``)."""
    from mogrpo.models.regressor import check_finite_scores

    scores = regressor.score(list(prompts), list(responses))
    check_finite_scores(scores, prompts, responses, regressor.aspects, run_dir)
    return scores


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
