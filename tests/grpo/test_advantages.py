"""Group-relative advantages on hand-computed numbers (mogrpo/grpo/advantages.py)."""

from __future__ import annotations

import math

import pytest
import torch

from mogrpo.grpo import advantages, group_stats, weighted_reward

SQ7, SQ3 = math.sqrt(7.0), math.sqrt(3.0)


def _close(actual: torch.Tensor, expected: list[float], atol: float = 1e-5) -> None:
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=actual.dtype), atol=atol, rtol=0)


def test_weighted_reward_is_scores_times_weights():
    scores = torch.tensor([[0.5, 1.0], [0.0, 0.25]])
    _close(weighted_reward(scores, [2.0, 1.0]), [2.0, 0.25])


def test_sum_then_normalize_group_scale_bessel():
    # R = 2 a + b = [2, 4, 15]: mean 7, centred [-5, -3, 8], sample var (25 + 9 + 64) / 2 = 49, std 7
    scores = torch.tensor([[1.0, 0.0], [2.0, 0.0], [6.0, 3.0]])
    adv = advantages(scores, [2.0, 1.0], group_size=3, aggregation="sum_then_normalize", eps=0.0)
    _close(adv, [-5 / 7, -3 / 7, 8 / 7])


def test_normalize_then_sum_group_scale():
    # a = [1, 2, 6] -> [-2, -1, 3] / sqrt(7);  b = [0, 0, 3] -> [-1, -1, 2] / sqrt(3);  A = 2 a' + b'
    scores = torch.tensor([[1.0, 0.0], [2.0, 0.0], [6.0, 3.0]])
    adv = advantages(scores, [2.0, 1.0], group_size=3, aggregation="normalize_then_sum", eps=0.0)
    _close(adv, [-4 / SQ7 - 1 / SQ3, -2 / SQ7 - 1 / SQ3, 6 / SQ7 + 2 / SQ3])


def test_aggregations_disagree_on_a_designed_case_with_g2():
    # G = 2: any non-constant pair normalises to -+1/sqrt(2) (centred -+d/2, sample std |d|/sqrt(2)).
    # R = a + b = [1.0, 0.5]: the first completion wins.  Per aspect: a says first, b says second -> they cancel.
    scores = torch.tensor([[1.0, 0.0], [0.0, 0.5]])
    s = advantages(scores, [1.0, 1.0], group_size=2, aggregation="sum_then_normalize", eps=0.0)
    n = advantages(scores, [1.0, 1.0], group_size=2, aggregation="normalize_then_sum", eps=0.0)
    _close(s, [1 / math.sqrt(2), -1 / math.sqrt(2)])
    _close(n, [0.0, 0.0])


def test_scales_group_batch_none_on_two_groups():
    # K = 1, B = 2 groups of G = 3: R = [1, 2, 6 | 0, 0, 3]
    scores = torch.tensor([[1.0], [2.0], [6.0], [0.0], [0.0], [3.0]])
    group = advantages(scores, [1.0], group_size=3, scale="group", eps=0.0)
    _close(group, [-2 / SQ7, -1 / SQ7, 3 / SQ7, -1 / SQ3, -1 / SQ3, 2 / SQ3])
    # batch: one sample std over all six rewards: mean 2, squared deviations 1+0+16+4+4+1 = 26, var 26 / 5
    batch_std = math.sqrt(26 / 5)
    batch = advantages(scores, [1.0], group_size=3, scale="batch", eps=0.0)
    _close(batch, [c / batch_std for c in (-2, -1, 3, -1, -1, 2)])
    none = advantages(scores, [1.0], group_size=3, scale="none")
    _close(none, [-2.0, -1.0, 3.0, -1.0, -1.0, 2.0])


def test_k1_equals_plain_grpo_with_eps():
    # (r - mean) / (std + eps), eps = 1e-4, std sqrt(7)
    scores = torch.tensor([[1.0], [2.0], [6.0]])
    adv = advantages(scores, [1.0], group_size=3, eps=1e-4)
    _close(adv, [c / (SQ7 + 1e-4) for c in (-2, -1, 3)], atol=1e-6)


@pytest.mark.parametrize("aggregation", ["sum_then_normalize", "normalize_then_sum"])
@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_zero_std_group_gets_exactly_zero(aggregation, scale):
    # group 1 constant in every aspect, group 2 varies
    scores = torch.tensor([[0.5, 0.2], [0.5, 0.2], [0.1, 0.9], [0.7, 0.5]])
    adv = advantages(scores, [1.0, 1.0], group_size=2, aggregation=aggregation, scale=scale)
    assert adv[0].item() == 0.0 and adv[1].item() == 0.0
    assert adv[2].item() != 0.0


def test_normalize_then_sum_constant_aspect_contributes_nothing():
    # aspect b constant in the group: only a counts -> w_a * (-+1/sqrt(2))
    scores = torch.tensor([[1.0, 0.3], [0.0, 0.3]])
    adv = advantages(scores, [3.0, 5.0], group_size=2, aggregation="normalize_then_sum", eps=0.0)
    _close(adv, [3 / math.sqrt(2), -3 / math.sqrt(2)])


def test_bad_arguments_raise():
    scores = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="group_size"):
        advantages(scores, [1.0, 1.0], group_size=1)
    with pytest.raises(ValueError, match="groups of 3"):
        advantages(scores, [1.0, 1.0], group_size=3)
    with pytest.raises(ValueError, match="one entry per aspect"):
        advantages(scores, [1.0], group_size=2)
    with pytest.raises(ValueError, match="aggregation"):
        advantages(scores, [1.0, 1.0], group_size=2, aggregation="max")


def test_group_stats():
    # groups [1, 3] (sample std sqrt(2)) and [2, 2] (std 0, constant)
    stats = group_stats(torch.tensor([1.0, 3.0, 2.0, 2.0]), group_size=2)
    assert stats["group_std"].item() == pytest.approx(math.sqrt(2) / 2)
    assert stats["frac_zero_std"].item() == 0.5


def test_batch_scale_divides_by_the_std_of_the_whole_batch_when_given():
    """DDP: this rank holds rewards [0, 2] (one group, G = 2); the other rank [10, 30]. The batch std is that of
    all four, 13.70 (Bessel), not this rank's 1.41 (what dividing by the per-rank std gave)."""
    local = torch.tensor([[0.0], [2.0]])
    every = torch.tensor([[0.0], [2.0], [10.0], [30.0]])
    std = float(torch.tensor([0.0, 2.0, 10.0, 30.0]).std())
    adv = advantages(local, [1.0], 2, scale="batch", eps=0.0, batch_scores=every)
    torch.testing.assert_close(adv, torch.tensor([-1.0, 1.0]) / std)
    assert std == pytest.approx(math.sqrt(563 / 3))  # mean 10.5; squared deviations 110.25 + 72.25 + 0.25 + 380.25
    # one process: the batch is its own rows
    torch.testing.assert_close(advantages(local, [1.0], 2, scale="batch", eps=0.0),
                               torch.tensor([-1.0, 1.0]) / float(local.std()))  # fmt: skip
    # normalize_then_sum: per aspect over the whole batch
    adv = advantages(local, [1.0], 2, "normalize_then_sum", "batch", 0.0, batch_scores=every)
    torch.testing.assert_close(adv, torch.tensor([-1.0, 1.0]) / std)
