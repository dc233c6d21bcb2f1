"""Safety as a Lagrangian constraint (mogrpo/grpo/constraint.py)."""

from __future__ import annotations

import pytest
import torch

from mogrpo.grpo import advantages, lagrangian_weights, update_lagrange_multiplier


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
