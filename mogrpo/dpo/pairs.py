"""On-policy preference pairs from a group of scored samples (online DPO: the reward picks the pair).

For each prompt with G >= 2 sampled answers and their aggregate rewards R (the same reward GRPO's
advantages start from), the chosen answer is ``argmax_i R_i`` and the rejected one ``argmin_i R_i``
(the first on ties). A group whose rewards are all equal (max - min <= ``min_gap``) says nothing about
which answer is better: its pair gets weight 0.
"""

from __future__ import annotations

import torch


def best_worst_pairs(
    rewards: torch.Tensor, group_size: int, min_gap: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(chosen [B], rejected [B], weight [B])``: row indices into the ``[B * G]`` rewards, and 1.0 / 0.0 per pair.

    The G answers of one prompt are consecutive rows (a rollout's layout).
    """
    if group_size < 2:
        raise ValueError(f"a pair needs a group of >= 2 answers, got group_size={group_size}")
    if rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards do not fill groups of {group_size}")
    r = rewards.detach().float().view(-1, group_size)
    offset = torch.arange(r.shape[0], device=r.device) * group_size
    best, worst = r.argmax(dim=1), r.argmin(dim=1)
    weight = ((r.max(dim=1).values - r.min(dim=1).values) > min_gap).float()
    return offset + best, offset + worst, weight
