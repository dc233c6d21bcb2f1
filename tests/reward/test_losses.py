"""The reward model's losses on hand-computed numbers (mogrpo/reward/losses.py)."""

from __future__ import annotations

import math

import pytest
import torch

from mogrpo.reward import masked_bradley_terry, masked_mse, pairwise_accuracy, reward_loss

NAN = float("nan")


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


# --------------------------------------------------------------------------- masked MSE
def test_masked_mse_on_hand_computed_numbers():
    pred = torch.tensor([[0.5, 0.2], [0.1, 0.9]], requires_grad=True)
    target = torch.tensor([[1.0, NAN], [NAN, 0.5]])
    loss = masked_mse(pred, target)
    # labelled entries: (0.5 - 1.0)^2 = 0.25 and (0.9 - 0.5)^2 = 0.16, mean over 2 -> 0.205
    assert loss.item() == pytest.approx(0.205)
    loss.backward()
    # d/dp = 2 (p - t) / 2 on labelled entries, 0 on the unlabelled ones
    assert torch.allclose(pred.grad, torch.tensor([[-0.5, 0.0], [0.0, 0.4]]))


def test_masked_mse_without_labels_is_zero_with_a_gradient_path():
    pred = torch.tensor([[0.3, 0.7]], requires_grad=True)
    loss = masked_mse(pred, torch.tensor([[NAN, NAN]]))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros(1, 2))


def test_masked_mse_shape_check():
    with pytest.raises(ValueError, match="shape"):
        masked_mse(torch.zeros(2, 3), torch.zeros(2, 2))


# --------------------------------------------------------------------------- Bradley-Terry
def test_bradley_terry_on_hand_computed_numbers():
    chosen = torch.tensor([[0.0, 1.0], [2.0, 0.0]], requires_grad=True)
    rejected = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    target = torch.tensor([[1.0, NAN], [1.0, 0.5]])
    loss = masked_bradley_terry(chosen, rejected, target)
    # d = -1 (y=1), 2 (y=1), 0 (y=0.5); the NaN entry is out
    expected = (-_log_sigmoid(-1.0) - _log_sigmoid(2.0) + math.log(2.0)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    # dL/dz_chosen = -(y - sigmoid(d)) / 3 on labelled entries
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    want = torch.tensor([[-(1 - sig(-1.0)) / 3, 0.0], [-(1 - sig(2.0)) / 3, -(0.5 - 0.5) / 3]])
    assert torch.allclose(chosen.grad, want, atol=1e-6)


def test_bradley_terry_with_y_zero_prefers_the_rejected_one():
    z_c, z_r = torch.tensor([[0.5]]), torch.tensor([[-0.5]])
    assert masked_bradley_terry(z_c, z_r, torch.tensor([[0.0]])).item() == pytest.approx(-_log_sigmoid(-1.0))
    assert masked_bradley_terry(z_r, z_c, torch.tensor([[1.0]])).item() == pytest.approx(-_log_sigmoid(-1.0))


def test_bradley_terry_without_labels_is_zero_with_a_gradient_path():
    chosen = torch.tensor([[0.3, 0.7]], requires_grad=True)
    loss = masked_bradley_terry(chosen, torch.zeros(1, 2), torch.tensor([[NAN, NAN]]))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(chosen.grad, torch.zeros(1, 2))


# --------------------------------------------------------------------------- both in one batch
def test_mixed_batch_combines_both_terms_with_their_weights():
    logits = torch.tensor([[0.0, 0.0], [1.0, -1.0], [2.0, 0.0]])
    labels = torch.tensor([[1.0, NAN], [NAN, 0.0], [1.0, NAN]])  # rows 0, 1 absolute; row 2 a preference
    pair_index = torch.tensor([2])
    rejected = torch.tensor([[0.0, 3.0]])
    loss, parts = reward_loss(logits, labels, pair_index, rejected, absolute_weight=2.0, pair_weight=0.5)
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    mse = ((sig(0.0) - 1.0) ** 2 + (sig(-1.0) - 0.0) ** 2) / 2
    bt = -_log_sigmoid(2.0)
    assert parts["mse"].item() == pytest.approx(mse, rel=1e-6)
    assert parts["bt"].item() == pytest.approx(bt, rel=1e-6)
    assert loss.item() == pytest.approx(2.0 * mse + 0.5 * bt, rel=1e-6)
    assert int(parts["n_abs"]) == 2 and int(parts["n_pair"]) == 1


def test_mixed_batch_gives_gradients_to_exactly_the_labelled_heads():
    """Three heads; absolute rows label head 0, the preference row labels head 1, nobody head 2."""
    torch.manual_seed(0)
    features = torch.randn(3, 5)
    rejected_features = torch.randn(1, 5)
    heads = torch.nn.Linear(5, 3)
    labels = torch.tensor([[0.9, NAN, NAN], [0.1, NAN, NAN], [NAN, 1.0, NAN]])
    loss, _ = reward_loss(heads(features), labels, torch.tensor([2]), heads(rejected_features))
    loss.backward()
    per_head = heads.weight.grad.abs().sum(dim=1)
    assert per_head[0] > 0 and per_head[1] > 0
    assert per_head[2] == 0 and heads.bias.grad[2] == 0


def test_a_preference_row_never_enters_the_mse():
    logits = torch.tensor([[5.0]], requires_grad=True)
    loss, parts = reward_loss(logits, torch.tensor([[1.0]]), torch.tensor([0]), torch.tensor([[5.0]]))
    assert parts["mse"].item() == 0.0 and parts["bt"].item() == pytest.approx(math.log(2.0))


def test_reward_loss_checks_the_rejected_logits():
    with pytest.raises(ValueError, match="rejected_logits"):
        reward_loss(torch.zeros(2, 2), torch.zeros(2, 2), torch.tensor([1]), None)


def test_pairwise_accuracy_counts_ties_half_and_skips_unlabelled():
    chosen = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    rejected = torch.tensor([[0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    target = torch.tensor([[1.0, 0.0], [1.0, 0.5], [1.0, NAN]])
    acc = pairwise_accuracy(chosen, rejected, target)
    # aspect 0: right, tie (1/2), wrong -> 0.5; aspect 1: row 0 says rejected is better and it is -> 1
    assert acc.tolist() == pytest.approx([0.5, 1.0])
    assert math.isnan(pairwise_accuracy(chosen[:1], rejected[:1], torch.tensor([[NAN, 0.5]]))[0].item())
