"""The GRPO loss and the k3 KL on hand-computed numbers (mogrpo/grpo/loss.py, mogrpo/grpo/kl.py)."""

from __future__ import annotations

import math

import pytest
import torch

from mogrpo.grpo import k3_kl, policy_loss

# N = 2, T = 3, unequal masks (3 tokens and 1 token); on-policy -> ratio 1 -> per-token loss -A
ADV = torch.tensor([1.0, -0.5])
MASK = torch.tensor([[1, 1, 1], [1, 0, 0]])


def _onpolicy(loss_type: str, **kw):
    logp = torch.full((2, 3), -1.0, requires_grad=True)
    loss = policy_loss(logp, None, ADV, MASK, loss_type=loss_type, **kw)
    loss.backward()
    return loss.item(), logp.grad


def test_grpo_loss_is_mean_of_per_sequence_means():
    # row means: -3/3 = -1 and 0.5/1 = 0.5 -> mean -0.25
    loss, grad = _onpolicy("grpo")
    assert loss == pytest.approx(-0.25)
    # d/dlogp = -A m / (L_i N): row 0 -1/6 per token, row 1 +0.25 on its one token
    torch.testing.assert_close(grad, torch.tensor([[-1 / 6, -1 / 6, -1 / 6], [0.25, 0.0, 0.0]]))


def test_bnpo_loss_is_token_mean_over_batch():
    # (-3 + 0.5) / 4 tokens
    loss, grad = _onpolicy("bnpo")
    assert loss == pytest.approx(-0.625)
    torch.testing.assert_close(grad, torch.tensor([[-0.25, -0.25, -0.25], [0.125, 0.0, 0.0]]))


def test_dr_grpo_loss_divides_by_n_times_max_length():
    loss, _ = _onpolicy("dr_grpo")
    assert loss == pytest.approx(-2.5 / (2 * 3))
    loss, _ = _onpolicy("dr_grpo", max_completion_length=5)
    assert loss == pytest.approx(-2.5 / (2 * 5))


def test_masked_tokens_do_not_count():
    logp = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, -9.0, -9.0]])
    old = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, 0.0, 0.0]])  # ratio e^-9 on masked tokens: ignored
    assert policy_loss(logp, old, ADV, MASK).item() == pytest.approx(-0.25)


# T = 1, six rows: ratio r = exp(logp - old) with old = 0; clip range [0.8, 1.2]
RATIOS = [1.5, 0.5, 1.1, 0.9, 1.5, 0.5]
SIGNS = [1.0, -1.0, 1.0, -1.0, -1.0, 1.0]
#  r=1.5 A=+1 -> clipped at 1.2: loss -1.2, no gradient
#  r=0.5 A=-1 -> clipped at 0.8: loss +0.8, no gradient
#  r=1.1 A=+1 -> inside: loss -1.1, d/dlogp = -r A = -1.1
#  r=0.9 A=-1 -> inside: loss +0.9, d/dlogp = +0.9
#  r=1.5 A=-1 -> outside but min() keeps r A (pessimistic): loss +1.5, d/dlogp = +1.5
#  r=0.5 A=+1 -> outside but min() keeps r A: loss -0.5, d/dlogp = -0.5
PER_ROW = [-1.2, 0.8, -1.1, 0.9, 1.5, -0.5]
GRAD = [0.0, 0.0, -1.1, 0.9, 1.5, -0.5]


def test_clipping_active_and_inactive_for_both_signs():
    logp = torch.tensor([[math.log(r)] for r in RATIOS], requires_grad=True)
    loss, metrics = policy_loss(
        logp, torch.zeros(6, 1), torch.tensor(SIGNS), torch.ones(6, 1), loss_type="grpo", return_metrics=True
    )
    loss.backward()
    assert loss.item() == pytest.approx(sum(PER_ROW) / 6)
    torch.testing.assert_close(logp.grad.flatten(), torch.tensor(GRAD) / 6)
    assert metrics["clip_ratio"].item() == pytest.approx(2 / 6)  # rows 0 and 1
    assert metrics["ratio_mean"].item() == pytest.approx(sum(RATIOS) / 6)


def test_asymmetric_clip_high():
    logp = torch.tensor([[math.log(1.5)]], requires_grad=True)
    loss = policy_loss(logp, torch.zeros(1, 1), torch.tensor([1.0]), torch.ones(1, 1), clip_low=0.2, clip_high=0.28)
    assert loss.item() == pytest.approx(-1.28)


def test_k3_kl_value():
    # d = log 0.25 - log 0.5 = -log 2: k3 = e^d - d - 1 = 0.5 + log 2 - 1
    kl = k3_kl(torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)]))
    assert kl.item() == pytest.approx(0.5 + math.log(2) - 1)
    assert k3_kl(torch.tensor([-1.3]), torch.tensor([-1.3])).item() == 0.0


def test_kl_term_enters_the_loss_with_beta():
    logp = torch.tensor([[math.log(0.5)]])
    ref = torch.tensor([[math.log(0.25)]])
    loss, metrics = policy_loss(
        logp, None, torch.tensor([0.0]), torch.ones(1, 1), ref_logp=ref, beta=0.1, return_metrics=True
    )
    assert metrics["kl"].item() == pytest.approx(0.5 + math.log(2) - 1)
    assert loss.item() == pytest.approx(0.1 * (0.5 + math.log(2) - 1))


def test_beta_without_reference_raises():
    with pytest.raises(ValueError, match="ref_logp"):
        policy_loss(torch.zeros(1, 1), None, torch.zeros(1), torch.ones(1, 1), beta=0.04)


def test_unknown_loss_type_raises():
    with pytest.raises(ValueError, match="loss_type"):
        policy_loss(torch.zeros(1, 1), None, torch.zeros(1), torch.ones(1, 1), loss_type="ppo")


# --------------------------------------------------------------------------- DAPO and GSPO (TRL's formulas)
def test_dapo_divides_by_the_whole_steps_token_count():
    # on-policy: per-token loss -A; sum over masked tokens = -3 + 0.5 = -2.5
    loss, grad = _onpolicy("dapo")
    assert loss == pytest.approx(-2.5 / 4)  # one micro-batch, one rank: num_items = its 4 tokens (= bnpo)
    loss, grad = _onpolicy("dapo", num_items=10.0)  # e.g. 20 active tokens in the step over 2 ranks
    assert loss == pytest.approx(-0.25)
    torch.testing.assert_close(grad, torch.tensor([[-0.1, -0.1, -0.1], [0.05, 0.0, 0.0]]))


def test_dapo_micro_batches_need_no_reweighting():
    from mogrpo.grpo.loss import micro_batch_weight

    assert micro_batch_weight("dapo", 2, 4.0, 8, 16.0) == 1.0


def test_gspo_uses_one_length_normalised_ratio_per_sequence():
    """Row 0: log-ratios 0.3, 0.0, -0.6 over 3 tokens -> s = exp(-0.1); row 1: one token, log-ratio 0.5 (the
    masked tokens' huge ratios do not count) -> s = exp(0.5) > 1.2 with A < 0: the pessimistic min keeps
    s A (unclipped, with its gradient)."""
    old = torch.zeros(2, 3)
    logp = torch.tensor([[0.3, 0.0, -0.6], [0.5, 9.0, 9.0]], requires_grad=True)
    loss, metrics = policy_loss(logp, old, ADV, MASK, loss_type="gspo", return_metrics=True)
    s0, s1 = math.exp(-0.1), math.exp(0.5)
    # row 0: A = 1, s0 = 0.905 inside [0.8, 1.2] -> -s0; row 1: A = -0.5, -min(s1 * -0.5, 1.2 * -0.5) = 0.5 s1
    assert loss.item() == pytest.approx((-s0 + 0.5 * s1) / 2, rel=1e-6)
    loss.backward()
    # d/dlogp_t of -s0 (row 0) = -s0 / 3 per token, halved by the mean over 2 rows
    torch.testing.assert_close(logp.grad[0], torch.full((3,), -s0 / 6))
    torch.testing.assert_close(logp.grad[1], torch.tensor([0.5 * s1 / 2, 0.0, 0.0]))
    assert metrics["ratio_mean"].item() == pytest.approx((3 * s0 + s1) / 4, rel=1e-6)


def test_gspo_on_policy_equals_grpo():
    a, ga = _onpolicy("gspo")
    b, gb = _onpolicy("grpo")
    assert a == pytest.approx(b)
    torch.testing.assert_close(ga, gb)


def test_the_rollout_ratio_scales_the_surrogate_not_the_kl():
    logp = torch.full((2, 3), -1.0)
    ref = torch.full((2, 3), -1.5)
    rho = torch.tensor([[2.0], [0.0]])  # sequence-level: row 1 masked out by the rollout correction
    loss = policy_loss(logp, None, ADV, MASK, ref_logp=ref, beta=0.1, loss_type="bnpo", is_ratio=rho)
    kl = math.exp(-0.5) - (-0.5) - 1  # k3 with ref - logp = -0.5
    # row 0: 3 tokens of 2 * (-1) + 0.1 kl; row 1: one token of 0 * 0.5 + 0.1 kl; bnpo over 4 tokens
    assert loss.item() == pytest.approx((3 * (-2.0 + 0.1 * kl) + 0.1 * kl) / 4, rel=1e-6)
