"""The PPO-RLHF objective (Ouyang et al. 2022, InstructGPT; TRL's ``PPOTrainer``), per token, as losses to minimise.

The sequence-level score s (the aggregated multi-aspect reward, as in GRPO) is folded into per-token
rewards with a KL penalty against the reference (the base model, adapters disabled):

    r_t = -beta * (log pi_old(o_t) - log pi_ref(o_t))  +  s * [t = last completion token]

The clipped surrogate on GAE advantages A_t (``mogrpo.ppo.gae``), with ratio_t = pi_theta / pi_old:

    l^pg_t = max(-A_t ratio_t, -A_t clip(ratio_t, 1 - eps, 1 + eps))

and the clipped value loss on the returns R_t, with V_old the values at sampling time:

    V^clip_t = V_old_t + clip(V_t - V_old_t, -eps_v, eps_v)
    l^vf_t   = 1/2 max((V_t - R_t)^2, (V^clip_t - R_t)^2)

Both are token means over the mask (TRL's ``masked_mean``); the total is ``l^pg + vf_coef * l^vf``.
"""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``sum(x m) / sum(m)`` (0 when the mask is empty)."""
    m = mask.to(x.dtype)
    return (x * m).sum() / m.sum().clamp(min=1)


def last_token_index(mask: torch.Tensor) -> torch.Tensor:
    """The index of each row's last completion token ``[N]`` (0 for an empty row)."""
    return (mask.long().sum(dim=1) - 1).clamp(min=0)


def kl_shaped_rewards(
    scores: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor, beta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rewards [N, T], kl [N, T])``: ``r_t = -beta kl_t + s [t = last]`` with the k1 estimate
    ``kl_t = log pi_old(o_t) - log pi_ref(o_t)`` (TRL's default ``kl_estimator="k1"``), 0 past the mask.

    Args:
        scores: one sequence-level score per completion ``[N]`` (the aggregated aspect reward).
        logp: log-probs of the sampled tokens under the sampling policy ``[N, T]`` (detached).
        ref_logp: the same under the reference model ``[N, T]``.
        mask: the completion mask ``[N, T]``.
        beta: the KL coefficient, >= 0.
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    m = mask.to(logp.dtype)
    kl = (logp.detach() - ref_logp) * m
    rewards = -beta * kl
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    rewards[rows, last_token_index(mask)] += scores.to(rewards.dtype) * (m.sum(dim=1) > 0).to(rewards.dtype)
    return rewards, kl


def ppo_policy_loss(
    logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip: float = 0.2
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped surrogate with per-token advantages ``[N, T]``; returns ``(loss, {clip_ratio, approx_kl})``.

    ``approx_kl`` is ``mean(1/2 (log ratio)^2)`` (TRL's ``approxkl``), a diagnostic of how far the epochs
    moved the policy from the sampling one.
    """
    ratio = torch.exp(logp - old_logp)
    loss1 = -advantages * ratio
    loss2 = -advantages * torch.clamp(ratio, 1 - clip, 1 + clip)
    loss = masked_mean(torch.max(loss1, loss2), mask)
    with torch.no_grad():
        metrics = {
            "clip_ratio": masked_mean((loss2 > loss1).to(logp.dtype), mask),
            "approx_kl": masked_mean(0.5 * (logp - old_logp) ** 2, mask),
        }
    return loss, metrics


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, clip: float = 0.2
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The clipped value loss ``1/2 max((V - R)^2, (V_clip - R)^2)``, token mean; returns ``(loss, {clip_frac})``.

    ``clip_frac`` is the share of tokens where the clipped term is the larger (TRL's ``vf_clipfrac``).
    """
    clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    loss1 = (values - returns) ** 2
    loss2 = (clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.max(loss1, loss2), mask)
    with torch.no_grad():
        metrics = {"clip_frac": masked_mean((loss2 > loss1).to(values.dtype), mask)}
    return loss, metrics


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1 - Var(R - V) / Var(R)`` over the masked tokens: 1 = the critic predicts the returns, <= 0 = useless."""
    m = mask.to(values.dtype)
    n = m.sum().clamp(min=1)

    def var(x):
        mean = (x * m).sum() / n
        return (((x - mean) ** 2) * m).sum() / n

    return 1 - var(returns - values) / var(returns).clamp(min=1e-12)
