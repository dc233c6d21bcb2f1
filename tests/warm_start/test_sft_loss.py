"""The warm start's completion-only NLL (mogrpo/warm_start/loss.py) on hand-computed numbers, and against
the Hugging Face loss with the prompt tokens masked out (``labels=-100``) on the tiny policy."""

from __future__ import annotations

import math

import pytest
import torch

from mogrpo.warm_start import completion_nll


def test_completion_nll_by_hand():
    # probabilities of the target tokens; the mask keeps 4 response tokens of 6 positions
    p = torch.tensor([[0.5, 0.25, 1.0], [0.125, 0.5, 0.5]])
    mask = torch.tensor([[1, 1, 0], [0, 1, 1]])
    # -(ln 0.5 + ln 0.25 + ln 0.5 + ln 0.5) / 4 = (1 + 2 + 1 + 1) ln 2 / 4
    assert float(completion_nll(p.log(), mask)) == pytest.approx(5 * math.log(2) / 4, rel=1e-6)


def test_the_mean_is_over_tokens_not_over_responses():
    # one response of 1 token (p = 1/e: NLL 1), one of 3 tokens (p = 1/e^3 each: NLL 3 each)
    logp = torch.tensor([[0.0, 0.0, -1.0], [-3.0, -3.0, -3.0]])
    mask = torch.tensor([[0, 0, 1], [1, 1, 1]])
    assert float(completion_nll(logp, mask)) == pytest.approx((1 + 3 * 3) / 4)  # not (1 + 3) / 2


def test_masked_positions_carry_no_gradient_and_an_empty_mask_gives_zero():
    logp = torch.log(torch.tensor([[0.5, 0.25], [0.9, 0.1]])).requires_grad_(True)
    mask = torch.tensor([[1, 0], [1, 1]])
    completion_nll(logp, mask).backward()
    assert torch.allclose(logp.grad, -mask.float() / 3)  # dL/dlogp = -m / sum(m)
    empty = completion_nll(logp, torch.zeros_like(mask))
    assert float(empty) == 0.0 and empty.requires_grad
    with pytest.raises(ValueError, match="differ"):
        completion_nll(logp, mask[:, :1])


def test_equals_the_hf_loss_with_the_prompt_masked(tmp_path):
    from conftest import compose_cfg
    from omegaconf import OmegaConf

    from mogrpo.data.demonstrations import builtin
    from mogrpo.models.logprobs import token_logprobs
    from mogrpo.models.policy import build_policy
    from mogrpo.warm_start.encode import collate, encode_demonstrations

    torch.manual_seed(0)
    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path)
    policy, tok = build_policy(OmegaConf.to_container(cfg.model, resolve=True))
    encoded, _ = encode_demonstrations(tok, builtin()[:3], 48, 12, overlong="truncate")
    ids, attn, mask = collate(encoded, tok.pad_token_id)
    with torch.no_grad():
        ours = completion_nll(token_logprobs(policy, ids, attn, mask.shape[1]), mask)
        labels = torch.full_like(ids, -100)
        labels[:, -mask.shape[1] :] = torch.where(mask.bool(), ids[:, -mask.shape[1] :], -100)
        position_ids = (attn.cumsum(-1) - 1).clamp(min=0)
        hf = policy(input_ids=ids, attention_mask=attn, position_ids=position_ids, labels=labels).loss
    assert float(ours) == pytest.approx(float(hf), rel=1e-5)
