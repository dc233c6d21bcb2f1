"""Truncated importance sampling between the rollout's and the trainer's log-probs.

When the completions are sampled by another numerical policy than the one the update differentiates
(bfloat16 rollouts of a float32 / bf16-autocast trainer: ``grpo.generation.dtype``), the samples come
from pi_sample, not pi_theta. The loss is reweighted by the (detached) ratio, capped so that a few
tokens cannot dominate the batch (TRL's ``vllm_importance_sampling_*``; verl, OpenRLHF and NeMo-RL
have the same "truncated IS" / "TIS"):

    token level:     rho_t = exp(log pi_theta(o_t) - log pi_sample(o_t))                     [N, T]
    sequence level:  rho   = exp(sum_t m_t (log pi_theta(o_t) - log pi_sample(o_t)))          [N, 1]
    truncate:  rho <- clamp(rho, clip_min, clip_max)
    mask:      rho <- 0 where rho < clip_min or rho > clip_max

``log pi_theta`` is the trainer's log-prob before this batch's updates (the old log-probs), no gradient;
the per-token policy loss is multiplied by rho before the KL term is added (TRL's order).
"""

from __future__ import annotations

import math

import torch

from mogrpo.configs.grpo import IS_MODES


def rollout_is_ratio(
    trainer_logp: torch.Tensor,
    sampler_logp: torch.Tensor,
    mask: torch.Tensor,
    mode: str = "sequence_mask",
    clip_min: float | None = None,
    clip_max: float | None = 3.0,
) -> torch.Tensor:
    """The truncated / masked importance ratio pi_theta / pi_sample (module docstring); ``[N, T]`` for
    ``token_*`` modes, ``[N, 1]`` for ``sequence_*``. Inputs ``[N, T]``; masked tokens do not count
    (their token ratio is exp(0) = 1). No gradient flows through it."""
    if mode not in IS_MODES:
        raise ValueError(f"mode must be one of {IS_MODES}, got {mode!r}")
    if clip_min is not None and clip_max is not None and clip_min >= clip_max:
        raise ValueError(f"clip_min ({clip_min}) must be < clip_max ({clip_max})")
    with torch.no_grad():
        diff = (trainer_logp.float() - sampler_logp.float()) * mask.float()
        if mode.startswith("sequence"):
            diff = diff.sum(dim=-1, keepdim=True)
        ratio = torch.exp(diff)
        if mode.endswith("truncate"):
            return torch.clamp(ratio, min=clip_min, max=clip_max)
        low = -math.inf if clip_min is None else clip_min
        high = math.inf if clip_max is None else clip_max
        return ratio.masked_fill((ratio < low) | (ratio > high), 0.0)


def ratio_stats(ratio: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """``{min, mean, max}`` of the ratio over the completion tokens (token modes) or over the rows
    (sequence modes, ``[N, 1]``); zeros for an empty batch."""
    flat = ratio.flatten() if ratio.shape[-1] == 1 else ratio[mask.bool()]
    if flat.numel() == 0:
        return {"min": 0.0, "mean": 0.0, "max": 0.0}
    return {"min": float(flat.min()), "mean": float(flat.mean()), "max": float(flat.max())}
