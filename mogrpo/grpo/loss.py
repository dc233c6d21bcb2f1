"""The GRPO objective (DeepSeekMath eq. 3), per token, as a loss to minimise.

    ratio_t = exp(log pi_theta(o_t) - log pi_old(o_t))
    l_t     = -min(ratio_t A, clip(ratio_t, 1 - clip_low, 1 + clip_high) A) + beta * k3_t

Reductions (``loss_type``), with m the completion mask:
    grpo     mean over sequences of  sum_t l_t m_t / sum_t m_t          (the paper)
    bnpo     sum_{i,t} l_t m_t / sum_{i,t} m_t                          (token mean over the batch)
    dr_grpo  sum_{i,t} l_t m_t / (N * max_completion_length)            (Dr. GRPO, no length bias)
    dapo     sum_{i,t} l_t m_t / num_items                              (DAPO: token mean over the WHOLE
             step's batch, every micro-batch and rank: num_items = its active tokens / ranks, as TRL)
    gspo     the grpo reduction of a SEQUENCE-level ratio (GSPO, Zheng et al. 2025; TRL's
             importance_sampling_level="sequence"):
                 s_i = exp( sum_t m_t (log pi_theta - log pi_old) / sum_t m_t ),  l_t = -min(s_i A, clip(s_i) A) + beta k3_t

With ``is_ratio`` (rollouts from another numerical policy, mogrpo/grpo/importance.py) the surrogate term
is multiplied by that detached ratio before the KL is added: l_t = rho_t * surrogate_t + beta * k3_t.
"""

from __future__ import annotations

import torch

from mogrpo.configs.grpo import LOSS_TYPES
from mogrpo.grpo.kl import k3_kl


def policy_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    ref_logp: torch.Tensor | None = None,
    beta: float = 0.0,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    loss_type: str = "grpo",
    max_completion_length: int | None = None,
    return_metrics: bool = False,
    is_ratio: torch.Tensor | None = None,
    num_items: float | None = None,
):
    """Clipped GRPO surrogate with an optional k3 KL penalty.

    Args:
        logp: per-token log-probs of the sampled completions under the policy, ``[N, T]``.
        old_logp: the same under the sampling policy, ``[N, T]``; ``None`` means on-policy
            (``logp.detach()``: ratio 1, the gradient of the plain policy gradient).
        advantages: one advantage per completion, ``[N]``.
        mask: completion mask ``[N, T]`` (1 for completion tokens up to and including EOS).
        ref_logp: per-token log-probs under the reference model; needed when ``beta > 0``.
        beta: KL coefficient.
        clip_low, clip_high: the ratio is clipped to ``[1 - clip_low, 1 + clip_high]``.
        loss_type: ``grpo``, ``bnpo`` or ``dr_grpo`` (see the module docstring).
        max_completion_length: the ``dr_grpo`` normaliser (defaults to T).
        return_metrics: also return a dict of detached metrics (kl, clip_ratio, ratio_mean).
        is_ratio: the rollout importance ratio ``[N, T]`` or ``[N, 1]`` (no gradient), or None.
        num_items: the ``dapo`` normaliser (the step's active tokens / ranks); defaults to ``mask.sum()``.

    Returns:
        the scalar loss, or ``(loss, metrics)`` with ``return_metrics=True``.
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if beta > 0 and ref_logp is None:
        raise ValueError("beta > 0 needs ref_logp")
    mask = mask.to(logp.dtype)
    if old_logp is None:
        old_logp = logp.detach()
    adv = advantages.to(logp.dtype).unsqueeze(1)  # [N, 1]
    log_ratio = logp - old_logp
    if loss_type == "gspo":  # one ratio per sequence: the length-normalised sequence likelihood ratio
        log_ratio = (log_ratio * mask).sum(dim=1, keepdim=True) / mask.sum(dim=1, keepdim=True).clamp(min=1)
    ratio = torch.exp(log_ratio)  # [N, T], or [N, 1] for gspo
    clipped = torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    per_token = -torch.min(ratio * adv, clipped * adv)
    if is_ratio is not None:
        per_token = per_token * is_ratio.detach().to(per_token.dtype)
    per_token = per_token.expand_as(logp)
    kl = None
    if beta > 0:
        kl = k3_kl(logp, ref_logp)
        per_token = per_token + beta * kl

    tokens = mask.sum()
    if loss_type in ("grpo", "gspo"):
        loss = ((per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)).mean()
    elif loss_type == "bnpo":
        loss = (per_token * mask).sum() / tokens.clamp(min=1)
    elif loss_type == "dapo":
        loss = (per_token * mask).sum() / max(float(num_items if num_items is not None else tokens), 1.0)
    else:
        length = max_completion_length or logp.shape[1]
        loss = (per_token * mask).sum() / (logp.shape[0] * length)
    if not return_metrics:
        return loss

    with torch.no_grad():
        denom = tokens.clamp(min=1)
        is_clipped = ((ratio < 1 - clip_low) & (adv < 0)) | ((ratio > 1 + clip_high) & (adv > 0))
        is_clipped, ratio = is_clipped.expand_as(logp), ratio.expand_as(logp)
        metrics = {
            "clip_ratio": (is_clipped.to(mask.dtype) * mask).sum() / denom,
            "ratio_mean": (ratio * mask).sum() / denom,
            "kl": (kl * mask).sum() / denom if kl is not None else torch.zeros((), dtype=logp.dtype),
        }
    return loss, metrics


def micro_batch_weight(loss_type: str, rows: int, tokens: float, active_rows: int, active_tokens: float) -> float:
    """The factor that makes the sum of micro-batch losses equal the full-batch loss.

    ``policy_loss`` on a micro-batch of ``rows`` completions normalises by its own rows (grpo,
    dr_grpo) or tokens (bnpo); the full batch normalises by the ``active_rows`` / ``active_tokens``
    that stay in the loss (rows masked with ``zero_std=mask`` are out of both):

        grpo, gspo, dr_grpo:  rows / active_rows        bnpo:  tokens / active_tokens
        dapo:  1 (its normaliser ``num_items`` is already the whole step's)
    """
    if loss_type == "dapo":
        return 1.0
    if loss_type == "bnpo":
        return float(tokens) / max(float(active_tokens), 1.0)
    return rows / max(active_rows, 1)
