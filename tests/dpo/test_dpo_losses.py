"""DPO (sigmoid, cDPO) and IPO on hand-computed numbers (mogrpo/dpo/losses.py), TRL's DPOTrainer formulas."""

from __future__ import annotations

import math

import pytest
import torch

from mogrpo.dpo import dpo_loss, sequence_logps

# h = (pi_c - pi_r) - (ref_c - ref_r) = (-1 - -3) - (-2 - -2) = 2
PC, PR, RC, RR = (torch.tensor([x]) for x in (-1.0, -3.0, -2.0, -2.0))


def _sigma(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_dpo_sigmoid_by_hand_and_its_gradient():
    pc = PC.clone().requires_grad_(True)
    loss, metrics = dpo_loss(pc, PR, RC, RR, beta=0.5)
    assert loss.item() == pytest.approx(-math.log(_sigma(1.0)))  # -log sigma(0.5 * 2)
    loss.backward()
    assert pc.grad.item() == pytest.approx(-0.5 * _sigma(-1.0))  # -beta sigma(-beta h)
    assert metrics["margin"].item() == pytest.approx(2.0)
    assert metrics["accuracy"].item() == 1.0
    assert metrics["chosen_reward"].item() == pytest.approx(0.5)  # beta (pi_c - ref_c)
    assert metrics["rejected_reward"].item() == pytest.approx(-0.5)


def test_label_smoothing_is_cdpo():
    loss, _ = dpo_loss(PC, PR, RC, RR, beta=0.5, label_smoothing=0.1)
    expected = -0.9 * math.log(_sigma(1.0)) - 0.1 * math.log(_sigma(-1.0))
    assert loss.item() == pytest.approx(expected)


def test_ipo_by_hand():
    loss, _ = dpo_loss(PC, PR, RC, RR, beta=0.5, loss_type="ipo")
    assert loss.item() == pytest.approx((2.0 - 1 / (2 * 0.5)) ** 2)  # (h - 1/(2 beta))^2 = 1


def test_zero_weight_drops_a_pair():
    two = [torch.tensor([a, b]) for a, b in ((-1.0, 0.0), (-3.0, 0.0), (-2.0, 5.0), (-2.0, -5.0))]
    loss, metrics = dpo_loss(*two, beta=0.5, weights=torch.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(-math.log(_sigma(1.0)))
    assert metrics["margin"].item() == pytest.approx(2.0)


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="loss_type"):
        dpo_loss(PC, PR, RC, RR, loss_type="hinge")
    with pytest.raises(ValueError, match="beta"):
        dpo_loss(PC, PR, RC, RR, beta=0.0)


def test_sequence_logps_sum_and_mean():
    logp = torch.tensor([[-1.0, -2.0, -9.0], [-4.0, -9.0, -9.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    torch.testing.assert_close(sequence_logps(logp, mask), torch.tensor([-3.0, -4.0]))
    torch.testing.assert_close(sequence_logps(logp, mask, average=True), torch.tensor([-1.5, -4.0]))
