"""The PPO-RLHF losses on hand-computed numbers (mogrpo/ppo/losses.py), the formulas of TRL's PPOTrainer."""

from __future__ import annotations

import math

import pytest
import torch

from mogrpo.ppo import explained_variance, kl_shaped_rewards, ppo_policy_loss, value_loss


def test_kl_shaped_reward_puts_the_score_on_the_last_token():
    scores = torch.tensor([2.0, -1.0])
    logp = torch.tensor([[-1.0, -2.0, -3.0], [-0.5, -0.5, -0.5]])
    ref = torch.tensor([[-1.5, -2.0, -2.0], [-1.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    rewards, kl = kl_shaped_rewards(scores, logp, ref, mask, beta=0.1)
    # kl_t = logp - ref on the mask: row 0 [0.5, 0, .], row 1 [0.5, ., .]; r_t = -0.1 kl_t (+ s at the last token)
    torch.testing.assert_close(kl, torch.tensor([[0.5, 0.0, 0.0], [0.5, 0.0, 0.0]]))
    torch.testing.assert_close(rewards, torch.tensor([[-0.05, 2.0, 0.0], [-1.05, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="beta"):
        kl_shaped_rewards(scores, logp, ref, mask, beta=-1)


def test_ppo_surrogate_is_pessimistic_and_clipped_tokens_get_no_gradient():
    # ratios [1.5, 0.5] in both rows; advantage +1 in row 0, -1 in row 1; clip 0.2
    logp = torch.log(torch.tensor([[1.5, 0.5], [1.5, 0.5]])).requires_grad_(True)
    old = torch.zeros(2, 2)
    adv = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    loss, metrics = ppo_policy_loss(logp, old, adv, torch.ones(2, 2), clip=0.2)
    # row 0: max(-1.5, -1.2) = -1.2 (clipped), max(-0.5, -0.8) = -0.5
    # row 1: max(1.5, 1.2) = 1.5, max(0.5, 0.8) = 0.8 (clipped); mean of the four = 0.15
    assert loss.item() == pytest.approx((-1.2 - 0.5 + 1.5 + 0.8) / 4)
    assert metrics["clip_ratio"].item() == pytest.approx(0.5)
    loss.backward()
    # d(-A ratio)/dlogp = -A ratio, / 4 tokens; the clipped tokens have none
    torch.testing.assert_close(logp.grad, torch.tensor([[0.0, -0.5 / 4], [1.5 / 4, 0.0]]))
    assert metrics["approx_kl"].item() == pytest.approx(0.5 * (math.log(1.5) ** 2 + math.log(0.5) ** 2) / 2)


def test_clipped_value_loss_by_hand():
    values = torch.tensor([[1.0, 0.0, 5.0]], requires_grad=True)
    old = torch.tensor([[0.5, 0.5, 0.0]])
    returns = torch.tensor([[2.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 0]])
    loss, metrics = value_loss(values, old, returns, mask, clip=0.2)
    # token 0: V_clip = 0.7: max((1-2)^2, (0.7-2)^2) = 1.69; token 1: V_clip = 0.3: max(0, 0.09) = 0.09
    assert loss.item() == pytest.approx(0.5 * (1.69 + 0.09) / 2)
    assert metrics["clip_frac"].item() == pytest.approx(1.0)
    loss.backward()  # both tokens took the clipped term: the value gets no gradient (TRL's behaviour)
    torch.testing.assert_close(values.grad, torch.zeros(1, 3))


def test_unclipped_value_loss_is_half_the_squared_error():
    values = torch.tensor([[1.1, 0.0]])
    loss, _ = value_loss(values, torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 1.0]]), torch.ones(1, 2), clip=0.2)
    # token 0 inside the clip: 0.81 (clipped 1.1 as well); token 1: max(1, 1) = 1 -> 0.5 * mean = 0.4525
    assert loss.item() == pytest.approx(0.5 * (0.81 + 1.0) / 2)


def test_explained_variance():
    ret = torch.tensor([[1.0, 2.0, 3.0]])
    assert explained_variance(ret, ret, torch.ones(1, 3)).item() == pytest.approx(1.0)
    assert explained_variance(torch.full((1, 3), 2.0), ret, torch.ones(1, 3)).item() == pytest.approx(0.0)
