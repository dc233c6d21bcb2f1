"""Online DPO's pairs: the aggregate reward picks chosen and rejected per group (mogrpo/dpo/pairs.py)."""

from __future__ import annotations

import pytest
import torch

from mogrpo.dpo import best_worst_pairs


def test_best_and_worst_of_each_group_and_ties_get_no_weight():
    rewards = torch.tensor([0.1, 0.9, 0.5, 0.3, 0.3, 0.3])  # two prompts, G = 3; the second group all tied
    chosen, rejected, weight = best_worst_pairs(rewards, 3)
    assert chosen.tolist() == [1, 3] and rejected.tolist() == [0, 3]
    assert weight.tolist() == [1.0, 0.0]


def test_min_gap_and_bad_groups():
    _, _, weight = best_worst_pairs(torch.tensor([0.0, 0.05, 0.0, 1.0]), 2, min_gap=0.1)
    assert weight.tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="group_size"):
        best_worst_pairs(torch.tensor([1.0, 2.0]), 1)
    with pytest.raises(ValueError, match="fill"):
        best_worst_pairs(torch.tensor([1.0, 2.0, 3.0]), 2)
