"""Rollouts sample the policy the update trains, in any dtype (mogrpo/models/lora_merge.py).

The bf16 parity test is the one that would have caught issue 13: with the old merge (W + s B A
folded into the bf16 weight), the sampler's log-probs were those of a model close to the base, and
this test failed (run against the old ``lora_merged`` on 2026-12-02: mean |sampler - update| 0.042,
max 0.26, against 0.008 / 0.065 with the fix; the adapter moves the log-probs by 0.040 on average).
"""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from mogrpo.models.generation import generate_group
from mogrpo.models.logprobs import token_logprobs
from mogrpo.models.lora_merge import fold_problem, lora_merged, plain_lora_layers
from mogrpo.models.policy import build_policy, chat_prompts, encode_prompts

ALL_PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPTS = ["Hi!", "How do tides work?"]


def _policy(tmp_path, dtype: str, rel: float = 2e-3, hidden: int = 128):
    """A tiny random Llama in ``dtype`` with logits of a realistic scale (initializer_range 0.2) and an
    adapter whose delta is SMALL: ``mean |s B A| = rel * mean |W|`` in every adapted layer."""
    from conftest import compose_cfg

    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path)
    cfg = OmegaConf.to_container(cfg.model, resolve=True)
    cfg["spec"]["dtype"] = dtype
    cfg["spec"]["tiny_config"].update(hidden_size=hidden, intermediate_size=2 * hidden, initializer_range=0.2)
    cfg["lora"]["target_modules"] = ALL_PROJ
    torch.manual_seed(0)
    model, tok = build_policy(cfg)
    with torch.no_grad():
        for layer in plain_lora_layers(model, any_dtype=True):
            layer.lora_B["default"].weight.normal_()
            delta = layer.get_delta_weight("default").float()
            w = layer.get_base_layer().weight.float()
            layer.lora_B["default"].weight.mul_(rel * w.abs().mean() / delta.abs().mean())
    return model.train(), tok


def _rollout(model, tok, G=4, tokens=16, temperature=1.0, fast_sampling=True, **kwargs):
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS), 64)
    torch.manual_seed(1)
    gen = {"max_new_tokens": tokens, "temperature": temperature, "fast_sampling": fast_sampling}
    return generate_group(model, tok, ids, mask, G, gen, return_logprobs=True, **kwargs)


def test_bf16_sampler_logprobs_equal_the_updates(tmp_path):
    """bf16 base, small adapter: the sampler's log-probs (recorded during generate) equal the log-probs the
    update computes (token_logprobs, train mode) within bf16 tolerance, and the adapter matters."""
    model, tok = _policy(tmp_path, "bfloat16")
    roll = _rollout(model, tok)
    T = roll.completion_ids.shape[1]
    m = roll.completion_mask.bool()
    update = token_logprobs(model, roll.input_ids, roll.attention_mask, T).detach()
    with torch.no_grad(), model.disable_adapter():
        base = token_logprobs(model, roll.input_ids, roll.attention_mask, T)
    gap = (roll.logprobs - update)[m].abs()
    effect = (update - base)[m].abs()
    assert roll.dtype == torch.bfloat16 and int(m.sum()) >= 32
    assert effect.mean() > 0.02  # the adapter moves the log-probs, so the parity below means something
    assert gap.mean() < 0.02 and gap.max() < 0.15, (float(gap.mean()), float(gap.max()), float(effect.mean()))


def test_a_bf16_base_is_not_folded_and_says_why(tmp_path):
    model, _ = _policy(tmp_path, "bfloat16")
    assert plain_lora_layers(model) is None
    assert "bfloat16" in fold_problem(model)
    with lora_merged(model) as merged:
        assert not merged


def test_rollouts_in_another_dtype_cast_the_whole_model_and_restore_it_bit_exact(tmp_path):
    """float32 policy, bf16 rollouts on purpose: inside, every parameter is bf16 (W + s B A folded in float32
    first); afterwards the very same float32 tensors are back, and the sampler's log-probs are bf16-close."""
    model, tok = _policy(tmp_path, "float32")
    before = {n: (p, p.detach().clone()) for n, p in model.named_parameters()}
    with lora_merged(model, dtype=torch.bfloat16) as merged:
        inside = {p.dtype for n, p in model.named_parameters() if "lora_" not in n}
    assert merged and inside == {torch.bfloat16}
    for name, p in model.named_parameters():
        assert p is before[name][0] and torch.equal(p, before[name][1]), name
    roll = _rollout(model, tok, dtype=torch.bfloat16)
    assert roll.dtype == torch.bfloat16 and "merged_lora" in roll.fast_paths
    T = roll.completion_ids.shape[1]
    update = token_logprobs(model, roll.input_ids, roll.attention_mask, T).detach()
    gap = (roll.logprobs - update)[roll.completion_mask.bool()].abs()
    assert 0 < gap.mean() < 0.1  # lower precision: close, not equal (importance sampling corrects the rest)


@pytest.mark.parametrize(("G", "temperature", "fast_sampling"), [(1, 1.0, True), (3, 1.0, True), (3, 0.7, False)])
def test_float32_sampler_logprobs_equal_the_updates_exactly(tmp_path, G, temperature, fast_sampling):
    """The recorder sees the raw logits (before HF's temperature warper, in both sampling paths) and applies
    the temperature itself, as the update does."""
    model, tok = _policy(tmp_path, "float32", rel=0.05, hidden=32)
    roll = _rollout(model, tok, G=G, tokens=8, temperature=temperature, fast_sampling=fast_sampling)
    assert ("fast_sampling" in roll.fast_paths) is fast_sampling
    T = roll.completion_ids.shape[1]
    update = token_logprobs(model, roll.input_ids, roll.attention_mask, T, temperature).detach()
    m = roll.completion_mask.bool()
    torch.testing.assert_close(roll.logprobs[m], update[m], atol=1e-4, rtol=1e-4)


def test_sharded_weights_are_never_replaced(tmp_path, monkeypatch):
    """Under FSDP the parameters outside a unit's forward are shard views: no fold, no dtype copy."""
    import mogrpo.models.lora_merge as lm

    model, _ = _policy(tmp_path, "float32", hidden=32)
    monkeypatch.setattr(lm, "sharded", lambda m: True)
    before = {n: p for n, p in model.named_parameters()}
    with lm.lora_merged(model) as merged, lm.lora_merged(model, dtype=torch.bfloat16) as cast:
        assert not merged and not cast
        assert all(p is before[n] for n, p in model.named_parameters())
    assert "FSDP" in lm.fold_problem(model)
