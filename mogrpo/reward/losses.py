"""Losses of the multi-label reward regressor: absolute scores and preferences in one K-head model.

A batch holds absolute rows (one label in [0, 1] per labelled aspect) and preference rows (a
chosen and a rejected response to one prompt; per labelled aspect, the probability y in [0, 1]
that the chosen one is better, usually 1). The regressor gives pre-sigmoid logits z ``[B, K]``.

    absolute:    L_abs  = sum_ik M_ik (sigmoid(z_ik) - y_ik)^2 / sum_ik M_ik
    preference:  d_pk   = z_chosen_pk - z_rejected_pk
                 L_pair = sum_pk M_pk [ -y_pk log sigmoid(d_pk) - (1 - y_pk) log sigmoid(-d_pk) ] / sum_pk M_pk
    total:       L = w_abs L_abs + w_pair L_pair

M is 1 where the label is present (not NaN). The preference term is Bradley-Terry on the logit of
that aspect's head (Bradley & Terry 1952; the reward-model loss of InstructGPT, Ouyang et al. 2022),
so the heads still output sigmoid scores in [0, 1]: GRPO and scoring are unchanged. With y = 1 it
is ``-log sigmoid(d)``; y = 0.5 (a tie) pulls the two logits together.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _check(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes {tuple(a.shape)} and {tuple(b.shape)} differ")


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the labelled entries only.

        M_ik = 1 if target_ik is not NaN else 0
        L = sum_ik M_ik (pred_ik - target_ik)^2 / max(1, sum_ik M_ik)

    With no labelled entry the result is 0 and still depends on ``pred`` (a zero gradient, not
    a broken graph), so a batch without labels trains nothing instead of crashing.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    mask = ~torch.isnan(target)
    diff = torch.where(mask, pred - torch.nan_to_num(target, nan=0.0), torch.zeros_like(pred))
    return diff.pow(2).sum() / mask.sum().clamp(min=1)


def masked_bradley_terry(
    chosen_logits: torch.Tensor, rejected_logits: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """Bradley-Terry loss over the labelled (pair, aspect) entries, ``[P, K]`` inputs -> scalar.

        d = z_chosen - z_rejected
        L = sum M [ -y log sigmoid(d) - (1 - y) log sigmoid(-d) ] / max(1, sum M)

    ``target`` y is P(chosen better) per aspect, NaN = this pair says nothing about the aspect.
    No labelled entry: 0, still attached to the graph (zero gradients).
    """
    _check(chosen_logits, rejected_logits, "chosen and rejected logits")
    _check(chosen_logits, target, "logits and target")
    mask = ~torch.isnan(target)
    y = torch.nan_to_num(target, nan=0.0).to(chosen_logits.dtype)
    d = chosen_logits - rejected_logits
    per = -(y * F.logsigmoid(d) + (1 - y) * F.logsigmoid(-d))
    per = torch.where(mask, per, torch.zeros_like(per))
    return per.sum() / mask.sum().clamp(min=1)


def reward_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    pair_index: torch.Tensor | None = None,
    rejected_logits: torch.Tensor | None = None,
    absolute_weight: float = 1.0,
    pair_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The regressor's loss on a mixed batch; returns ``(loss, {"mse", "bt", "n_abs", "n_pair"})``.

    Args:
        logits: ``[B, K]`` pre-sigmoid scores of every row's ``response``.
        labels: ``[B, K]`` absolute labels for absolute rows, P(response better) for preference rows.
        pair_index: ``[P]`` the rows that are preferences (None or empty: no preference row).
        rejected_logits: ``[P, K]`` logits of those rows' rejected responses.
        absolute_weight, pair_weight: w_abs and w_pair.
    """
    _check(logits, labels, "logits and labels")
    is_pair = torch.zeros(logits.shape[0], dtype=torch.bool, device=logits.device)
    if pair_index is not None and pair_index.numel():
        if rejected_logits is None or rejected_logits.shape != (pair_index.numel(), logits.shape[1]):
            raise ValueError("rejected_logits must be [P, K] for the P rows of pair_index")
        is_pair[pair_index] = True
    absolute = torch.where(is_pair.unsqueeze(1), torch.full_like(labels, float("nan")), labels)
    mse = masked_mse(torch.sigmoid(logits), absolute)
    if is_pair.any():
        bt = masked_bradley_terry(logits[pair_index], rejected_logits, labels[pair_index])
        n_pair = (~torch.isnan(labels[pair_index])).sum()
    else:
        bt, n_pair = logits.sum() * 0.0, torch.zeros((), dtype=torch.long, device=logits.device)
    loss = absolute_weight * mse + pair_weight * bt
    return loss, {"mse": mse.detach(), "bt": bt.detach(), "n_abs": (~torch.isnan(absolute)).sum(), "n_pair": n_pair}


def pairwise_accuracy(chosen: torch.Tensor, rejected: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per aspect, the share of labelled pairs ranked the labelled way, ``[P, K]`` -> ``[K]``.

    A pair counts where y != 0.5: correct when sign(chosen - rejected) = sign(y - 0.5); a tie of
    the two scores counts 1/2. NaN for an aspect without such pairs.
    """
    _check(chosen, rejected, "chosen and rejected")
    _check(chosen, target, "scores and target")
    mask = ~torch.isnan(target) & (target != 0.5)
    sign = torch.sign(torch.nan_to_num(target, nan=0.5) - 0.5)
    d = (chosen - rejected) * sign
    correct = (d > 0).float() + 0.5 * (d == 0).float()
    counts = mask.sum(0)
    acc = torch.where(mask, correct, torch.zeros_like(correct)).sum(0) / counts.clamp(min=1)
    return torch.where(counts > 0, acc, torch.full_like(acc, float("nan")))
