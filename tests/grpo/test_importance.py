"""Truncated importance sampling between rollout and trainer log-probs (mogrpo/grpo/importance.py), on
hand-computed numbers; the formulas are TRL's ``vllm_importance_sampling_*``."""

from __future__ import annotations

import math

import pytest
import torch

from mogrpo.grpo.importance import ratio_stats, rollout_is_ratio

# two rows, three tokens; row 1 has one completion token (its other log-probs are padding garbage)
TRAINER = torch.tensor([[-1.0, -2.0, -0.5], [-1.0, 5.0, 5.0]])
SAMPLER = torch.tensor([[-1.5, -1.0, -0.5], [-0.2, 0.0, 0.0]])
MASK = torch.tensor([[1, 1, 1], [1, 0, 0]])
# token log-ratios: row 0: +0.5, -1.0, 0; row 1: -0.8 (masked: 0, 0)


def test_token_truncate_clamps_each_token():
    r = rollout_is_ratio(TRAINER, SAMPLER, MASK, "token_truncate", clip_min=0.5, clip_max=1.5)
    # e^0.5 = 1.65 -> 1.5; e^-1 = 0.37 -> 0.5; e^-0.8 = 0.45 -> 0.5; masked tokens: e^0 = 1
    expected = torch.tensor([[1.5, 0.5, 1.0], [0.5, 1.0, 1.0]])
    torch.testing.assert_close(r, expected)


def test_token_mask_zeroes_tokens_outside_the_bounds():
    r = rollout_is_ratio(TRAINER, SAMPLER, MASK, "token_mask", clip_min=0.5, clip_max=1.5)
    expected = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    torch.testing.assert_close(r, expected)


def test_sequence_modes_use_the_product_over_the_completion():
    # row 0: sum = -0.5 -> e^-0.5 = 0.61; row 1: -0.8 -> 0.45
    r = rollout_is_ratio(TRAINER, SAMPLER, MASK, "sequence_truncate", clip_max=3.0)
    torch.testing.assert_close(r, torch.tensor([[math.exp(-0.5)], [math.exp(-0.8)]]))
    r = rollout_is_ratio(TRAINER, SAMPLER, MASK, "sequence_mask", clip_min=0.5, clip_max=3.0)
    torch.testing.assert_close(r, torch.tensor([[math.exp(-0.5)], [0.0]]))


def test_the_defaults_are_trls_sequence_mask_with_cap_3():
    big = rollout_is_ratio(torch.tensor([[0.0, 0.0]]), torch.tensor([[-1.0, -1.0]]), torch.ones(1, 2))
    assert big.item() == 0.0  # e^2 = 7.4 > 3: masked


def test_the_ratio_carries_no_gradient_and_bad_settings_are_refused():
    t = TRAINER.clone().requires_grad_(True)
    assert not rollout_is_ratio(t, SAMPLER, MASK).requires_grad
    with pytest.raises(ValueError, match="mode"):
        rollout_is_ratio(TRAINER, SAMPLER, MASK, "token")
    with pytest.raises(ValueError, match="clip_min"):
        rollout_is_ratio(TRAINER, SAMPLER, MASK, clip_min=2.0, clip_max=1.0)


def test_ratio_stats_over_tokens_or_rows():
    r = torch.tensor([[2.0, 0.5, 9.0], [1.0, 7.0, 7.0]])
    assert ratio_stats(r, MASK) == {"min": 0.5, "mean": pytest.approx((2 + 0.5 + 9 + 1) / 4), "max": 9.0}
    assert ratio_stats(torch.tensor([[0.5], [1.5]]), MASK) == {"min": 0.5, "mean": 1.0, "max": 1.5}
