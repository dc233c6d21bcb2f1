"""The two places where a GRPO step depends on the Lightning strategy: the gradient clip and a global token count.

- :func:`clip_gradient_norm`  the norm clip; under FSDP by the root FSDP module (the gradients are shards)
- :func:`step_tokens`         DAPO's normaliser: the step's active tokens over every rank / the ranks
- :func:`check_finite_on_every_rank`  a NaN / inf reward on one rank stops every rank
"""

from __future__ import annotations

from pathlib import Path

import torch

from mogrpo.errors import RewardError
from mogrpo.models.regressor import check_finite_scores


def clip_gradient_norm(module, opt, params: list[torch.nn.Parameter], max_norm: float) -> float:
    """Clip the gradient norm of ``params`` to ``max_norm`` (0 = no clipping); returns the norm before clipping.

    Under FSDP the gradients are shards: the norm is over every rank's shards, by the root FSDP module's
    ``clip_grad_norm_`` (Lightning's ``clip_gradients`` raises under its ``FSDPPrecision`` for "norm").
    Elsewhere Lightning's ``module.clip_gradients`` (its precision plugin unscales first where it must)."""
    wrapped = getattr(module.trainer.strategy, "model", None) if module._trainer is not None else None
    if hasattr(wrapped, "clip_grad_norm_"):  # torch FSDP
        return float(wrapped.clip_grad_norm_(max_norm if max_norm else float("inf")))
    grads = [p.grad for p in params if p.grad is not None]
    norm = float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0
    if max_norm:
        module.clip_gradients(opt, gradient_clip_val=max_norm, gradient_clip_algorithm="norm")
    return norm


def step_tokens(module, active_tokens: float, n_ranks: int) -> float:
    """The step's active tokens summed over ranks, divided by the ranks (TRL's ``num_items_in_batch /
    num_processes``): DDP averages the ranks' gradients, so each rank's sum / this is a global token mean."""
    if n_ranks <= 1:
        return float(active_tokens)
    total = module.trainer.strategy.reduce(torch.tensor(float(active_tokens), device=module.device), reduce_op="sum")
    return float(total) / n_ranks


def check_finite_on_every_rank(module, scores: torch.Tensor, prompts, completions) -> None:
    """:func:`check_finite_scores` on this rank; under DDP every rank stops when any rank saw a bad score
    (the rank that saw it saves the rows), so no rank waits forever at the next collective."""
    if module._n_ranks() > 1:
        bad = torch.tensor(float((~torch.isfinite(scores)).any()), device=module.device)
        if float(module.trainer.strategy.reduce(bad, reduce_op="sum")) > 0 and torch.isfinite(scores).all():
            raise RewardError(
                "another rank's reward regressor returned non-finite scores (its rows are in "
                f"{Path(module.run_dir or '.') / 'bad_reward.jsonl'}); stopping every rank"
            )
    check_finite_scores(scores, prompts, completions, module.aspects, module.run_dir)
