"""Safety as a Lagrangian constraint (mogrpo/grpo/constraint.py)."""

from __future__ import annotations

import math

import pytest
import torch

from mogrpo.grpo import (
    advantages,
    constrained_advantages,
    constraint_stats,
    lagrangian_weights,
    update_lagrange_multiplier,
)


def test_lagrangian_weights_replace_the_constrained_weight():
    w = [1.0, 0.5, 2.0, 1.0]
    out = lagrangian_weights(w, constraint_index=3, lam=2.5)
    assert out.tolist() == [1.0, 0.5, 2.0, 2.5]
    assert w == [1.0, 0.5, 2.0, 1.0]  # input untouched


def test_multiplier_grows_while_the_constraint_is_violated():
    # 1.0 + 0.5 * (0.8 - 0.6) = 1.1
    assert update_lagrange_multiplier(1.0, constraint_mean=0.6, threshold=0.8, lr=0.5) == pytest.approx(1.1)


def test_multiplier_shrinks_when_satisfied_and_is_projected_at_zero():
    # 1.0 + 0.5 * (0.8 - 0.9) = 0.95
    assert update_lagrange_multiplier(1.0, 0.9, 0.8, 0.5) == pytest.approx(0.95)
    # 0.05 + 0.5 * (0.8 - 0.95) = -0.025 -> 0
    assert update_lagrange_multiplier(0.05, 0.95, 0.8, 0.5) == 0.0


def test_the_constant_minus_lambda_tau_cancels_in_the_advantage():
    # R = r_0 + lam (r_1 - tau) with lam = 2, tau = 0.8: [0.2 + 2(0.9 - 0.8), 0.6 + 2(0.1 - 0.8)] = [0.4, -0.8]
    # -> G = 2 advantages -+1/sqrt(2) in that order, the same as from the Lagrangian weights without tau
    scores = torch.tensor([[0.2, 0.9], [0.6, 0.1]])
    adv = advantages(scores, lagrangian_weights([1.0, 1.0], 1, 2.0), group_size=2, eps=0.0)
    torch.testing.assert_close(adv, torch.tensor([2**-0.5, -(2**-0.5)]))


# ---------------------------------------------------------------- scalarised rewards vs scalarised advantages
SQ7, SQ3 = math.sqrt(7.0), math.sqrt(3.0)


def test_reward_weights_mode_is_the_group_normalised_lagrangian_reward():
    # R = a + 2 c = [1, 2, 12]: mean 5, centred [-4, -3, 7], sample var (16 + 9 + 49) / 2 = 37
    scores = torch.tensor([[1.0, 0.0], [2.0, 0.0], [6.0, 3.0]])
    adv = constrained_advantages(scores, [1.0, 5.0], 1, 2.0, group_size=3, mode="reward_weights", eps=0.0)
    s = math.sqrt(37.0)
    torch.testing.assert_close(adv, torch.tensor([-4 / s, -3 / s, 7 / s]))


@pytest.mark.parametrize(("rescale", "divisor"), [("none", 1.0), ("sum", 3.0)])
def test_normalized_advantages_weight_the_per_aspect_z_scores(rescale, divisor):
    # a = [1, 2, 6] -> Z_a = [-2, -1, 3] / sqrt(7);  c = [0, 0, 3] -> Z_c = [-1, -1, 2] / sqrt(3)
    # A = (1 Z_a + 2 Z_c) / S with S = 1 (none) or |1| + 2 = 3 (sum); the configured weight 5 of c is replaced
    scores = torch.tensor([[1.0, 0.0], [2.0, 0.0], [6.0, 3.0]])
    adv = constrained_advantages(scores, [1.0, 5.0], 1, 2.0, group_size=3, eps=0.0, rescale=rescale)
    expected = [(-2 / SQ7 - 2 / SQ3) / divisor, (-1 / SQ7 - 2 / SQ3) / divisor, (3 / SQ7 + 4 / SQ3) / divisor]
    torch.testing.assert_close(adv, torch.tensor(expected))


def test_a_constraint_with_little_spread_needs_a_huge_lambda_only_with_scalarised_rewards():
    # G = 2. Helpfulness prefers the second completion by 0.6, safety the first by 0.01 (both scores ~0.9).
    # Scalarised rewards: R = [0.2 + 0.91 lam, 0.8 + 0.90 lam]: the second wins until lam > 60.
    # Scalarised advantages: A = (Z_a + lam Z_c) / (1 + lam), Z_a = [-1, 1] / sqrt 2, Z_c = [1, -1] / sqrt 2:
    # the first (safer) wins as soon as lam > 1, as the multiplier says.
    scores = torch.tensor([[0.2, 0.91], [0.8, 0.90]])
    for lam in (2.0, 10.0, 50.0):
        rw = constrained_advantages(scores, [1.0, 0.0], 1, lam, group_size=2, mode="reward_weights", eps=0.0)
        na = constrained_advantages(scores, [1.0, 0.0], 1, lam, group_size=2, mode="normalized_advantages", eps=0.0)
        assert rw[1] > 0 > rw[0]
        torch.testing.assert_close(na, torch.tensor([1.0, -1.0]) * (lam - 1) / ((1 + lam) * math.sqrt(2)))


def test_scalarised_rewards_reweight_each_z_score_by_its_spread():
    # Theorem 4.1 of Constrained GRPO: A_ScRew = sum_j (v_j sigma_j / sigma_R) Z_j, on one random group
    torch.manual_seed(0)
    scores = torch.rand(6, 3) * torch.tensor([1.0, 0.1, 0.5])
    v = torch.tensor([1.0, 2.0, 3.0])
    rw = constrained_advantages(scores, [1.0, 2.0, 9.0], 2, 3.0, group_size=6, mode="reward_weights", eps=0.0)
    z = (scores - scores.mean(0)) / scores.std(0)
    sigma_r = (scores @ v).std()
    torch.testing.assert_close(rw, z @ (v * scores.std(0) / sigma_r))


def test_normalized_advantages_with_every_weight_zero_are_zero_not_nan():
    scores = torch.tensor([[0.2, 0.9], [0.8, 0.1]])
    adv = constrained_advantages(scores, [0.0, 1.0], 1, 0.0, group_size=2)
    assert torch.equal(adv, torch.zeros(2))


def test_unknown_mode_or_rescale_is_refused():
    scores = torch.tensor([[0.2, 0.9], [0.8, 0.1]])
    with pytest.raises(ValueError, match="mode"):
        constrained_advantages(scores, [1.0, 1.0], 1, 1.0, group_size=2, mode="scalarized")
    with pytest.raises(ValueError, match="rescale"):
        constrained_advantages(scores, [1.0, 1.0], 1, 1.0, group_size=2, rescale="l2")


def test_constraint_stats_value_slack_and_violation_rate():
    # r_c = [0.9, 0.7, 0.8, 0.4], tau = 0.8: mean 0.7, slack -0.1, below tau: 0.7 and 0.4 (0.8 is not below)
    stats = constraint_stats(torch.tensor([0.9, 0.7, 0.8, 0.4]), threshold=0.8)
    assert stats == pytest.approx({"value": 0.7, "slack": -0.1, "violation_rate": 0.5})
