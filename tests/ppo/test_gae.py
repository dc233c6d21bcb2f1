"""GAE with a mask on hand-computed numbers, and against TRL's PPOTrainer recursion (mogrpo/ppo/gae.py)."""

from __future__ import annotations

import pytest
import torch

from mogrpo.ppo import gae, masked_whiten

# one completion of 2 tokens in a row of T = 3: the padding's reward and value must not count
REWARDS = torch.tensor([[0.1, 1.0, 9.0]])
VALUES = torch.tensor([[0.5, 0.2, 7.0]])
MASK = torch.tensor([[1, 1, 0]])


def test_gae_by_hand():
    # t=1 (last): delta = 1.0 + 0.9 * 0 - 0.2 = 0.8 = A_1
    # t=0: delta = 0.1 + 0.9 * 0.2 - 0.5 = -0.22; A_0 = -0.22 + 0.9 * 0.5 * 0.8 = 0.14
    adv, ret = gae(REWARDS, VALUES, MASK, gamma=0.9, lam=0.5)
    torch.testing.assert_close(adv, torch.tensor([[0.14, 0.8, 0.0]]))
    torch.testing.assert_close(ret, torch.tensor([[0.64, 1.0, 0.0]]))


def test_gae_lambda_one_is_monte_carlo_and_lambda_zero_is_td():
    adv, ret = gae(REWARDS, VALUES, MASK, gamma=1.0, lam=1.0)
    torch.testing.assert_close(ret, torch.tensor([[1.1, 1.0, 0.0]]))  # the summed future rewards
    torch.testing.assert_close(adv, torch.tensor([[0.6, 0.8, 0.0]]))
    adv, _ = gae(REWARDS, VALUES, MASK, gamma=0.9, lam=0.0)
    torch.testing.assert_close(adv, torch.tensor([[-0.22, 0.8, 0.0]]))  # one-step deltas


def _trl_gae(rewards, values, mask, gamma, lam):
    """TRL's PPOTrainer loop: values and rewards zeroed on padding, next value 0 past the end."""
    values = values.masked_fill(mask == 0, 0.0)
    rewards = rewards.masked_fill(mask == 0, 0.0)
    last, out = 0, []
    T = rewards.shape[1]
    for t in reversed(range(T)):
        nextvalues = values[:, t + 1] if t < T - 1 else 0.0
        delta = rewards[:, t] + gamma * nextvalues - values[:, t]
        last = delta + gamma * lam * last
        out.append(last)
    adv = torch.stack(out[::-1], dim=1)
    return adv.masked_fill(mask == 0, 0.0), (adv + values).masked_fill(mask == 0, 0.0)


def test_gae_matches_trl_recursion_on_right_padded_rows():
    g = torch.Generator().manual_seed(0)
    r, v = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    lengths = torch.tensor([7, 1, 4, 3, 6])
    mask = (torch.arange(7)[None] < lengths[:, None]).long()
    ours, trl = gae(r, v, mask, 0.99, 0.95), _trl_gae(r, v, mask, 0.99, 0.95)
    torch.testing.assert_close(ours[0], trl[0])
    torch.testing.assert_close(ours[1], trl[1])


def test_gae_detaches_values_and_checks_its_range():
    v = VALUES.clone().requires_grad_(True)
    adv, ret = gae(REWARDS, v, MASK)
    assert not adv.requires_grad and not ret.requires_grad
    with pytest.raises(ValueError, match="gamma"):
        gae(REWARDS, VALUES, MASK, gamma=1.5)


def test_masked_whiten_by_hand():
    # the masked entries 1, 2, 3: mean 2, unbiased variance 1; the padding stays 0
    out = masked_whiten(torch.tensor([[1.0, 2.0, 3.0, 100.0]]), torch.tensor([[1, 1, 1, 0]]), eps=0.0)
    torch.testing.assert_close(out, torch.tensor([[-1.0, 0.0, 1.0, 0.0]]))
