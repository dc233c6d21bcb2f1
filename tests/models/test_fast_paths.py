"""The fast paths of the policy give what the plain paths give (mogrpo/models/policy.py).

- ``token_logprobs`` (``logits_to_keep``, row-wise logsumexp) == a full forward + log_softmax + gather,
  values, entropies and LoRA gradients; with ``group_size`` (each prompt run once for its G rows) too;
- ``lora_merged`` (LoRA folded into the weights) == the adapter-active model: logits within float
  error, identical greedy tokens and identical samples under one seed; the frozen base comes back
  bit-exact, also after an error;
- ``shared_prompt_cache`` (each prompt prefilled once, its cache repeated G times) == a G-fold prefill;
- ``InverseCDFSampler`` draws from the softmax (after HF's temperature / top-k / top-p warpers);
- ``generate_group`` (inference mode, merged LoRA, shared prefill) gives the plain path's samples,
  returns tensors the update can backprop through, and stops every row at EOS.
"""

from __future__ import annotations

import copy

import pytest
import torch
from omegaconf import OmegaConf

from mogrpo.models import fast_paths
from mogrpo.models.generation import (
    InverseCDFSampler,
    _inverse_cdf_kwargs,
    generate_group,
    shared_prompt_cache,
)
from mogrpo.models.logprobs import shares_prompts, token_logprobs
from mogrpo.models.lora_merge import lora_merged
from mogrpo.models.policy import build_policy, chat_prompts, encode_prompts

ALL_PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPTS = ["Hi!", "How do tides work, and why are there two a day?"]


@pytest.fixture(scope="module")
def model_cfg(tmp_path_factory):
    from conftest import compose_cfg

    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path_factory.mktemp("fast"))
    cfg = OmegaConf.to_container(cfg.model, resolve=True)
    cfg["lora"]["target_modules"] = ALL_PROJ
    return cfg


def _perturbed_policy(model_cfg, seed: int = 0):
    """The tiny policy with LoRA B != 0 (peft starts B at 0, where the adapter changes nothing)."""
    torch.manual_seed(seed)
    model, tok = build_policy(model_cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.5)
    return model.eval(), tok


@pytest.fixture(scope="module")
def policy(model_cfg):
    return _perturbed_policy(model_cfg)


@pytest.fixture(scope="module")
def batch(policy):
    """Two left-padded prompts of different lengths, each followed by 5 completion tokens."""
    model, tok = policy
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS), 64)
    g = torch.Generator().manual_seed(1)
    completion = torch.randint(10, 1000, (2, 5), generator=g)
    return torch.cat([ids, completion], dim=1), torch.cat([mask, torch.ones_like(completion)], dim=1)


def _base_weights(model) -> dict[str, torch.Tensor]:
    return {n: p for n, p in model.named_parameters() if "base_layer.weight" in n}


# --------------------------------------------------------------------------- log-probs
def _plain_logprobs(model, input_ids, attention_mask, T, temperature=1.0):
    """The textbook version: all positions' logits, full log_softmax, gather."""
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids).logits
    logp_all = torch.log_softmax(logits[:, -(T + 1) : -1].float() / temperature, dim=-1)
    logp = logp_all.gather(-1, input_ids[:, -T:].unsqueeze(-1)).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return logp, entropy


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_token_logprobs_equal_a_full_forward_and_gather(policy, batch, temperature):
    model, _ = policy
    ids, mask = batch
    fast, fast_entropy = token_logprobs(model, ids, mask, 5, temperature, return_entropy=True)
    plain, plain_entropy = _plain_logprobs(model, ids, mask, 5, temperature)
    assert fast.shape == (2, 5)
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast_entropy, plain_entropy.detach(), atol=1e-5, rtol=1e-5)
    assert (fast < 0).all() and (fast_entropy > 0).all()


def test_token_logprobs_give_the_same_lora_gradients(policy, batch):
    model, _ = policy
    ids, mask = batch
    lora = [p for n, p in model.named_parameters() if p.requires_grad]
    weights = torch.linspace(-1.0, 1.0, 10).view(2, 5)  # a loss that weights every token differently
    grads = []
    for fn in (lambda: token_logprobs(model, ids, mask, 5), lambda: _plain_logprobs(model, ids, mask, 5)[0]):
        (fn() * weights).sum().backward()
        grads.append([p.grad.clone() for p in lora])
        model.zero_grad()
    assert any(g.abs().max() > 0 for g in grads[0])
    for fast, plain in zip(*grads):
        torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def groups(policy):
    """3 completions (5 tokens, one ending early) for each of the two prompts: G = 3 consecutive rows."""
    model, tok = policy
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS), 64)
    completion = torch.randint(10, 1000, (6, 5), generator=torch.Generator().manual_seed(2))
    cmask = torch.ones_like(completion)
    cmask[1, 3:] = 0
    return torch.cat([ids.repeat_interleave(3, 0), completion], 1), torch.cat([mask.repeat_interleave(3, 0), cmask], 1)


def test_shares_prompts_sees_the_groups(groups):
    ids, mask = groups
    assert shares_prompts(ids, mask, 5, 3)
    assert not shares_prompts(ids, mask, 5, 2)  # rows 0,1 share a prompt but rows 2,3 do not
    assert not shares_prompts(ids, mask, 5, 4)  # 6 rows are not whole groups of 4
    other = ids.clone()
    other[1, -6] += 1  # one prompt token of row 1 differs
    assert not shares_prompts(other, mask, 5, 3)


def test_grouped_logprobs_and_gradients_equal_the_plain_pass(policy, groups):
    model, _ = policy
    ids, mask = groups
    lora = [p for p in model.parameters() if p.requires_grad]
    weights = torch.randn(6, 5, generator=torch.Generator().manual_seed(3))
    out = []
    for G in (3, 1):
        logp, entropy = token_logprobs(model, ids, mask, 5, 0.8, return_entropy=True, group_size=G)
        (logp * weights).sum().backward()
        out.append((logp.detach(), entropy, [p.grad.clone() for p in lora]))
        model.zero_grad()
    (lp3, h3, g3), (lp1, h1, g1) = out
    torch.testing.assert_close(lp3, lp1, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h3, h1, atol=1e-5, rtol=1e-5)
    assert max(g.abs().max() for g in g1) > 1e-3
    for a, b in zip(g3, g1):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_grouped_logprobs_of_one_token_completions(policy, groups):
    model, _ = policy
    ids, mask = groups
    ids, mask = ids[:, :-4], mask[:, :-4]
    with torch.no_grad():
        torch.testing.assert_close(
            token_logprobs(model, ids, mask, 1, group_size=3), token_logprobs(model, ids, mask, 1), atol=1e-5, rtol=0
        )


def test_shared_prompt_cache_equals_a_g_fold_prefill(policy):
    model, tok = policy
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS), 64)
    G = 3
    with torch.no_grad():
        cache = shared_prompt_cache(model, ids, mask, G)
        assert cache.get_seq_length() == ids.shape[1] - 1  # all but the last prompt token
        ids_g, mask_g = ids.repeat_interleave(G, 0), mask.repeat_interleave(G, 0)
        position_ids = (mask_g.cumsum(-1) - 1).masked_fill(mask_g == 0, 1)
        shared = model(input_ids=ids_g[:, -1:], attention_mask=mask_g, position_ids=position_ids[:, -1:],
                       **fast_paths.cache_kwargs(model, cache)).logits  # fmt: skip
        full = model(input_ids=ids_g, attention_mask=mask_g, position_ids=position_ids).logits[:, -1:]
    torch.testing.assert_close(shared, full, atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------- merged LoRA
def test_merged_lora_logits_match_the_adapter_path(policy, batch):
    model, _ = policy
    ids, mask = batch
    with torch.no_grad():
        adapter = model(input_ids=ids, attention_mask=mask).logits
        with lora_merged(model) as merged:
            folded = model(input_ids=ids, attention_mask=mask).logits
        with model.disable_adapter():
            base = model(input_ids=ids, attention_mask=mask).logits
    assert merged
    torch.testing.assert_close(folded, adapter, atol=1e-5, rtol=1e-5)
    assert (adapter - base).abs().max() > 1e-2  # the adapter matters, so the match above means something


def test_merged_lora_restores_the_frozen_base_bit_exact(policy, batch):
    model, _ = policy
    ids, mask = batch
    before = {n: (p, p.detach().clone()) for n, p in _base_weights(model).items()}
    with pytest.raises(RuntimeError, match="boom"), lora_merged(model):
        changed = {n for n, p in _base_weights(model).items() if not torch.equal(p, before[n][1])}
        raise RuntimeError("boom")
    assert changed == set(before)  # inside: every adapted weight was W + s B A
    after = _base_weights(model)
    for name, (tensor, values) in before.items():
        assert after[name] is tensor and torch.equal(after[name], values)
    # the adapter path is back on and trainable
    assert all(p.requires_grad for n, p in model.named_parameters() if "lora_" in n)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask).logits
        with model.disable_adapter():
            base = model(input_ids=ids, attention_mask=mask).logits
    assert (out - base).abs().max() > 1e-2


def test_merged_lora_keeps_frozen_adapters_frozen(model_cfg):
    """peft re-enabling an adapter marks it trainable; a frozen (evaluation) adapter must stay frozen."""
    model, _ = _perturbed_policy(model_cfg)
    lora = [p for n, p in model.named_parameters() if "lora_" in n]
    for p in lora:
        p.requires_grad_(False)
    with lora_merged(model) as merged:
        assert merged
    assert not any(p.requires_grad for p in lora)


def test_dora_is_not_folded_and_still_generates_the_same(model_cfg):
    cfg = copy.deepcopy(model_cfg)
    cfg["lora"]["use_dora"] = True
    model, tok = _perturbed_policy(cfg)
    with lora_merged(model) as merged:
        assert not merged
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS), 64)
    gen = {"max_new_tokens": 5, "do_sample": False}
    a = generate_group(model, tok, ids, mask, 1, gen, merge_lora=True)
    b = generate_group(model, tok, ids, mask, 1, gen, merge_lora=False)
    assert torch.equal(a.completion_ids, b.completion_ids)


# --------------------------------------------------------------------------- sampling
def test_inverse_cdf_sampler_draws_from_the_softmax():
    torch.manual_seed(0)
    scores = torch.tensor([2.0, 0.0, float("-inf"), 1.0, -1.0]).repeat(40000, 1)
    out = InverseCDFSampler()(None, scores)
    assert (torch.isfinite(out).sum(dim=1) == 1).all()  # one finite entry per row: greedy argmax returns it
    draws = out.argmax(dim=1)
    freq = torch.bincount(draws, minlength=5).double() / len(draws)
    p = torch.softmax(scores[0].double(), dim=0)
    assert freq[2] == 0  # probability 0 is never drawn
    sigma = (p * (1 - p) / len(draws)).sqrt()
    assert ((freq - p).abs() <= 4 * sigma + 1e-12).all(), (freq, p)


def test_inverse_cdf_kwargs_keep_hfs_warpers_in_order():
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    kwargs = _inverse_cdf_kwargs({"do_sample": True, "temperature": 0.7, "top_k": 5, "top_p": 0.9, "max_new_tokens": 3})
    types = [type(proc) for proc in kwargs["logits_processor"]]
    assert types == [TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper, InverseCDFSampler]
    assert kwargs["do_sample"] is False and kwargs["max_new_tokens"] == 3
    plain = _inverse_cdf_kwargs({"do_sample": True, "temperature": 1.0, "top_k": 0, "top_p": 1.0})
    assert [type(proc) for proc in plain["logits_processor"]] == [InverseCDFSampler]


def test_fast_sampling_applies_top_k(policy):
    """top_k=1 leaves one token: sampling then must give the greedy completion."""
    model, tok = policy
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS), 64)
    greedy = generate_group(model, tok, ids, mask, 1, {"max_new_tokens": 6, "do_sample": False})
    top1 = generate_group(model, tok, ids, mask, 2, {"max_new_tokens": 6, "top_k": 1, "temperature": 1.3})
    assert torch.equal(top1.completion_ids, greedy.completion_ids.repeat_interleave(2, dim=0))


def test_fast_sampling_can_be_switched_off_from_config(policy):
    """``generation.fast_sampling: false`` samples with HF's own multinomial: the stream of a plain
    ``model.generate(do_sample=True)`` under the same seed."""
    model, tok = policy
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS), 64)
    gen = {"max_new_tokens": 6, "temperature": 1.0, "top_p": 1.0, "top_k": 0}
    torch.manual_seed(7)
    off = generate_group(model, tok, ids, mask, 1, {**gen, "fast_sampling": False}, merge_lora=False)
    torch.manual_seed(7)
    with torch.inference_mode():
        ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=6, do_sample=True, top_k=0,
                             top_p=1.0, temperature=1.0, pad_token_id=tok.pad_token_id)  # fmt: skip
    n = off.completion_ids.shape[1]
    assert torch.equal(off.completion_ids[off.completion_mask.bool()], ref[:, ids.shape[1]:][:, :n][off.completion_mask.bool()])
    torch.manual_seed(7)
    on = generate_group(model, tok, ids, mask, 1, gen, merge_lora=False)
    assert not torch.equal(on.completion_ids, off.completion_ids)  # the other random stream


# --------------------------------------------------------------------------- generation
def test_merged_generation_gives_the_same_greedy_tokens_and_samples(policy):
    model, tok = policy
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS), 64)
    greedy = {"max_new_tokens": 8, "do_sample": False}
    a = generate_group(model, tok, ids, mask, 1, greedy, merge_lora=True)
    b = generate_group(model, tok, ids, mask, 1, greedy, merge_lora=False)
    assert torch.equal(a.completion_ids, b.completion_ids) and a.texts == b.texts
    sample = {"max_new_tokens": 8, "temperature": 1.0, "top_p": 1.0, "top_k": 0}
    rolls = []
    for merge, share in ((True, True), (False, False), (True, False), (False, True)):
        torch.manual_seed(123)
        rolls.append(generate_group(model, tok, ids, mask, 3, sample, merge_lora=merge, share_prompt=share))
    for roll in rolls[1:]:  # fast paths and plain path: the same samples under one seed
        assert torch.equal(roll.completion_ids, rolls[0].completion_ids)
    assert len(set(map(tuple, rolls[0].completion_ids.tolist()))) == 6  # really sampled: the 3 x 2 rows differ


def test_rollout_tensors_feed_the_update(policy):
    """Generation runs in inference mode; the rollout's tensors must still work in a backward pass."""
    model, tok = policy
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS), 64)
    roll = generate_group(model, tok, ids, mask, 2, {"max_new_tokens": 4})
    assert not roll.completion_ids.is_inference()
    logp = token_logprobs(model, roll.input_ids, roll.attention_mask, roll.completion_ids.shape[1])
    (logp * roll.completion_mask).sum().backward()
    assert any(p.grad is not None and p.grad.abs().max() > 0 for p in model.parameters() if p.requires_grad)
    model.zero_grad()


def test_generation_stops_when_every_row_has_hit_eos(model_cfg):
    model, tok = _perturbed_policy(model_cfg)
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS[:1]), 64)
    greedy = {"max_new_tokens": 8, "do_sample": False}
    free = generate_group(model, tok, ids, mask, 1, greedy)
    stop_token = int(free.completion_ids[0, 2])
    first = free.completion_ids[0].tolist().index(stop_token)  # the stop token may already appear earlier
    model.generation_config.eos_token_id = stop_token
    stopped = generate_group(model, tok, ids, mask, 1, greedy)
    assert stopped.completion_ids.shape[1] == first + 1  # no decode step after the last row finished
    assert stopped.num_tokens == first + 1 and not bool(stopped.truncated[0])
    assert torch.equal(stopped.completion_ids[0], free.completion_ids[0, : first + 1])


# --------------------------------------------------------------------------- which paths run (fast_paths.py)
def test_every_fast_path_runs_on_the_installed_versions(policy):
    """On the pinned libraries every speed path must really run: fails if one turns itself off, as the
    shared prefill and the inverse-CDF sampler did when transformers 5.24 renamed ``past_key_values``."""
    model, tok = policy
    assert fast_paths.report(model) == {path: None for path in fast_paths.PATHS}
    fast_paths.reset_counts()
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, PROMPTS), 64)
    roll = generate_group(model, tok, ids, mask, 2, {"max_new_tokens": 4})
    assert set(roll.fast_paths) == {"merged_lora", "fast_sampling", "shared_prompt_prefill"}
    token_logprobs(model, roll.input_ids, roll.attention_mask, roll.completion_ids.shape[1], group_size=2)
    assert all(n > 0 for n in fast_paths.counts().values()), fast_paths.counts()


class _NoCacheLM(torch.nn.Module):
    """A model whose forward takes neither ``cache`` nor ``past_key_values`` (nor ``logits_to_keep``)."""

    config = object()

    def forward(self, input_ids, attention_mask=None):  # pragma: no cover - never called
        raise NotImplementedError


class _OldCacheLM(_NoCacheLM):
    def forward(self, input_ids, attention_mask=None, past_key_values=None, logits_to_keep=0):  # pragma: no cover
        raise NotImplementedError


class _NewCacheLM(_NoCacheLM):
    def forward(self, input_ids, attention_mask=None, cache=None, logits_to_keep=0):  # pragma: no cover
        raise NotImplementedError


def test_the_cache_keyword_follows_the_forward_signature():
    assert fast_paths.cache_kwarg(_NewCacheLM()) == "cache"
    assert fast_paths.cache_kwarg(_OldCacheLM()) == "past_key_values"
    assert fast_paths.cache_kwarg(_NoCacheLM()) is None
    assert fast_paths.cache_kwargs(_OldCacheLM(), "c") == {"past_key_values": "c"}
    assert fast_paths.takes_logits_to_keep(_NewCacheLM()) and not fast_paths.takes_logits_to_keep(_NoCacheLM())
    with pytest.raises(TypeError, match="takes no KV cache"):
        fast_paths.cache_kwargs(_NoCacheLM(), "c")


def test_a_path_that_cannot_run_warns_once_naming_it_and_the_version(caplog):
    import transformers

    model = _NoCacheLM()
    with caplog.at_level("WARNING", logger="mogrpo.models.fast_paths"):
        assert not fast_paths.available(model, "shared_prompt_prefill")
        assert not fast_paths.available(model, "shared_prompt_prefill")
        assert not fast_paths.available(model, "logits_to_keep")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2  # once per path and reason
    assert "'shared_prompt_prefill' is off" in messages[0] and "past_key_values" in messages[0]
    assert f"transformers {transformers.__version__}" in messages[0]
    assert "'logits_to_keep' is off" in messages[1]
    with caplog.at_level("WARNING", logger="mogrpo.models.fast_paths"):
        assert not fast_paths.available(_NoCacheLM(), "fast_sampling", wanted=False)  # switched off: no word
    assert len(caplog.records) == 2


def test_switched_off_runs_the_plain_path(policy, batch):
    model, _ = policy
    ids, mask = batch
    fast_paths.reset_counts()
    with fast_paths.switched_off("logits_to_keep"):
        assert not fast_paths.available(model, "logits_to_keep")
        plain = token_logprobs(model, ids, mask, 5)
    assert fast_paths.counts()["logits_to_keep"] == 0 and fast_paths.available(model, "logits_to_keep")
    torch.testing.assert_close(plain, token_logprobs(model, ids, mask, 5))
    with pytest.raises(ValueError, match="unknown fast path"):
        fast_paths.switched_off("warp_drive").__enter__()
