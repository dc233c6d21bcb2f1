"""Generalised advantage estimation (Schulman et al. 2016) over the tokens of a completion, with a mask.

Per completion, with the per-token reward r_t, the value V_t of the state before token t and the
completion mask m_t (1 up to and including EOS, 0 after it, so the sequence ends where m does):

    delta_t = r_t + gamma * m_{t+1} V_{t+1} - V_t          (V_{T} = 0: the end is terminal)
    A_t     = delta_t + gamma * lam * m_{t+1} A_{t+1}
    R_t     = A_t + V_t                                       (the value target, "returns")

Both ``A`` and ``R`` are 0 at masked positions. This is TRL's ``PPOTrainer`` recursion (values and
rewards zeroed past EOS, the next value 0 at the last token), written with the mask explicit.
"""

from __future__ import annotations

import torch


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(advantages, returns)``, each ``[N, T]``, from per-token ``rewards`` and ``values`` ``[N, T]``.

    Args:
        rewards: the per-token rewards (e.g. :func:`mogrpo.ppo.kl_shaped_rewards`).
        values: the value head's predictions (detached: GAE is a target, not a loss).
        mask: the completion mask ``[N, T]`` (1 for tokens of the completion, 0 for padding after it).
        gamma: the discount, in [0, 1] (TRL's default 1: the reward comes at the end of a short text).
        lam: the GAE lambda, in [0, 1] (0: one-step TD; 1: Monte-Carlo returns minus V).
    """
    if not 0 <= gamma <= 1 or not 0 <= lam <= 1:
        raise ValueError(f"gamma and lam must be in [0, 1], got gamma={gamma}, lam={lam}")
    m = mask.to(values.dtype)
    r, v = rewards.to(values.dtype) * m, values.detach() * m
    T = r.shape[1]
    adv = torch.zeros_like(v)
    next_value = torch.zeros_like(v[:, 0])
    next_adv = torch.zeros_like(v[:, 0])
    for t in reversed(range(T)):
        delta = r[:, t] + gamma * next_value - v[:, t]
        adv[:, t] = (delta + gamma * lam * next_adv) * m[:, t]
        next_value, next_adv = v[:, t], adv[:, t]
    return adv, (adv + v) * m


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``(x - mean) / sqrt(var + eps)`` over the masked entries (0 elsewhere); TRL's ``masked_whiten``.

    The variance is the unbiased one (Bessel's correction), as TRL's ``masked_var``.
    """
    m = mask.to(x.dtype)
    n = m.sum().clamp(min=1)
    mean = (x * m).sum() / n
    var = (((x - mean) ** 2) * m).sum() / (n - 1).clamp(min=1)
    return (x - mean) * torch.rsqrt(var + eps) * m
