"""The DPO objective (Rafailov et al. 2023) and its IPO variant (Azar et al. 2023), as losses to minimise.

With the summed log-probs of the chosen (w) and rejected (l) answers under the policy and the
reference (the base model, adapters disabled):

    h = (log pi(y_w) - log pi(y_l)) - (log pi_ref(y_w) - log pi_ref(y_l))

    sigmoid (DPO):  l = -(1 - ls) log sigma(beta h) - ls log sigma(-beta h)   (ls: label smoothing, cDPO)
    ipo:            l = (h - 1 / (2 beta))^2

The mean over pairs is the loss. As TRL's ``DPOTrainer``, IPO takes the *mean* log-prob per token of
each answer (``average_log_prob``), DPO the sum: see :func:`sequence_logps`. The implicit rewards
``beta (log pi(y) - log pi_ref(y))`` of both answers are returned as metrics.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DPO_LOSS_TYPES = ("sigmoid", "ipo")


def sequence_logps(token_logp: torch.Tensor, mask: torch.Tensor, average: bool = False) -> torch.Tensor:
    """``sum_t log pi(o_t) m_t`` per row ``[N]``; with ``average`` divided by ``sum_t m_t`` (IPO)."""
    m = mask.to(token_logp.dtype)
    total = (token_logp * m).sum(dim=1)
    return total / m.sum(dim=1).clamp(min=1) if average else total


def dpo_loss(
    chosen_logp: torch.Tensor,
    rejected_logp: torch.Tensor,
    ref_chosen_logp: torch.Tensor,
    ref_rejected_logp: torch.Tensor,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The DPO / IPO loss over pairs ``[P]`` (sequence log-probs); returns ``(loss, metrics)``.

    Args:
        chosen_logp, rejected_logp: the policy's sequence log-probs of the chosen / rejected answers ``[P]``.
        ref_chosen_logp, ref_rejected_logp: the same under the reference ``[P]`` (no gradient).
        beta: the KL strength (> 0): DPO's temperature, IPO's target margin 1 / (2 beta).
        loss_type: ``sigmoid`` (DPO) or ``ipo``.
        label_smoothing: the assumed share of flipped labels (cDPO), in [0, 0.5); sigmoid only.
        weights: per-pair weights ``[P]`` (0 drops a pair, e.g. a tie); the loss is their weighted mean.

    Metrics: ``margin`` (mean h), ``accuracy`` (share of pairs with h > 0), ``chosen_reward`` and
    ``rejected_reward`` (the mean implicit rewards).
    """
    if loss_type not in DPO_LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {DPO_LOSS_TYPES}, got {loss_type!r}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    h = (chosen_logp - rejected_logp) - (ref_chosen_logp - ref_rejected_logp)
    if loss_type == "sigmoid":
        per_pair = -(1 - label_smoothing) * F.logsigmoid(beta * h) - label_smoothing * F.logsigmoid(-beta * h)
    else:
        per_pair = (h - 1 / (2 * beta)) ** 2
    w = torch.ones_like(per_pair) if weights is None else weights.to(per_pair.dtype)
    loss = (per_pair * w).sum() / w.sum().clamp(min=1e-12)
    with torch.no_grad():
        n = w.sum().clamp(min=1e-12)
        metrics = {
            "margin": (h * w).sum() / n,
            "accuracy": ((h > 0).to(h.dtype) * w).sum() / n,
            "chosen_reward": (beta * (chosen_logp - ref_chosen_logp) * w).sum() / n,
            "rejected_reward": (beta * (rejected_logp - ref_rejected_logp) * w).sum() / n,
        }
    return loss, metrics
