"""The LoRA policy: wrapping, prompts, generation masks, batched log-probs (mogrpo/models/policy.py)."""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import lora_weights
from omegaconf import OmegaConf

from mogrpo.models.generation import completion_mask, generate_group
from mogrpo.models.logprobs import reference_logprobs, token_logprobs
from mogrpo.models.policy import (
    build_policy,
    chat_prompts,
    count_trainable,
    encode_prompts,
    load_lora_weights,
    read_lora_weights,
)

GEN = {"max_new_tokens": 6, "temperature": 1.0, "top_p": 0.95, "top_k": 0}


@pytest.fixture(scope="module")
def model_cfg(tmp_path_factory):
    from conftest import compose_cfg

    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path_factory.mktemp("policy"))
    return OmegaConf.to_container(cfg.model, resolve=True)


@pytest.fixture(scope="module")
def policy(model_cfg):
    torch.manual_seed(0)
    return build_policy(model_cfg)


# --------------------------------------------------------------------------- build_policy
def test_lora_wraps_and_the_base_is_frozen(policy):
    model, tok = policy
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert any(n.endswith("q_proj.base_layer.weight") for n in frozen)
    assert all("lora_" not in n for n in frozen)
    # r=4 on q_proj (32 -> 32) and v_proj (32 -> 16, 2 kv heads x 8) in 2 layers: A r x in + B out x r
    assert count_trainable(model) == 2 * ((4 * 32 + 32 * 4) + (4 * 32 + 16 * 4))
    assert tok.padding_side == "left"


def test_target_modules_that_match_nothing_are_refused(model_cfg):
    cfg = copy.deepcopy(model_cfg)
    cfg["lora"]["target_modules"] = ["no_such_proj"]
    with pytest.raises(ValueError, match="model.lora.target_modules"):
        build_policy(cfg)


def test_an_adapter_with_no_trainable_parameter_is_refused(model_cfg):
    cfg = copy.deepcopy(model_cfg)
    cfg["lora"]["inference_mode"] = True
    with pytest.raises(ValueError, match="model.lora.target_modules.*no trainable"):
        build_policy(cfg)


def test_a_saved_adapter_loads_into_a_fresh_policy(model_cfg, tmp_path):
    torch.manual_seed(1)
    trained, _ = build_policy(model_cfg)
    with torch.no_grad():
        for name, p in trained.named_parameters():
            if "lora_B" in name:  # a fresh adapter's B is zero: make the saved one differ from it
                p.normal_()
    trained.save_pretrained(str(tmp_path / "adapter"))
    torch.manual_seed(2)
    fresh, _ = build_policy(model_cfg)
    assert not all(torch.equal(v, lora_weights(trained)[k]) for k, v in lora_weights(fresh).items())
    load_lora_weights(fresh, tmp_path / "adapter", "grpo.init_adapter")
    want, got = lora_weights(trained), lora_weights(fresh)
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
    assert set(read_lora_weights(tmp_path / "adapter", "k")) == set(want)


def test_an_adapter_with_other_lora_weights_is_a_config_error_naming_the_key(model_cfg, tmp_path):
    from mogrpo.errors import ConfigError

    other = copy.deepcopy(model_cfg)
    other["lora"]["r"] = 2 * other["lora"]["r"]  # the same modules, other shapes
    build_policy(other)[0].save_pretrained(str(tmp_path / "wide"))
    fewer = copy.deepcopy(model_cfg)
    fewer["lora"]["target_modules"] = ["q_proj"]  # other modules
    build_policy(fewer)[0].save_pretrained(str(tmp_path / "fewer"))
    policy, _ = build_policy(model_cfg)
    with pytest.raises(ConfigError, match="other LoRA shapes") as info:
        load_lora_weights(policy, tmp_path / "wide", "grpo.init_adapter")
    assert info.value.key == "grpo.init_adapter"
    with pytest.raises(ConfigError, match="other LoRA weights"):
        load_lora_weights(policy, tmp_path / "fewer", "grpo.init_adapter")
    with pytest.raises(ConfigError, match="no adapter_model.safetensors"):
        read_lora_weights(tmp_path / "nothing", "grpo.init_adapter")


def test_gradient_checkpointing_still_trains_lora(model_cfg):
    cfg = copy.deepcopy(model_cfg)
    cfg["gradient_checkpointing"] = True
    model, _ = build_policy(cfg)
    base = model.get_base_model()
    assert getattr(base, "is_activation_checkpointing", None) or base.is_gradient_checkpointing
    model.train()
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    logp = token_logprobs(model, ids, torch.ones_like(ids), 3)
    logp.sum().backward()
    grads = [p.grad for n, p in model.named_parameters() if "lora_B" in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


# --------------------------------------------------------------------------- prompts
def test_chat_prompts_apply_the_template(policy):
    _, tok = policy
    default, custom = chat_prompts(tok, ["Hi there"]) + chat_prompts(tok, ["Hi there"], system_prompt="Be brief.")
    assert "<|im_start|>user\nHi there<|im_end|>" in default
    assert default.endswith("<|im_start|>assistant\n")
    assert custom.startswith("<|im_start|>system\nBe brief.<|im_end|>")


def test_chat_prompts_fall_back_to_plain_text_without_a_template(policy):
    tok = copy.deepcopy(policy[1])
    tok.chat_template = None
    assert chat_prompts(tok, ["Hi there"]) == ["Hi there"]
    assert chat_prompts(tok, ["Hi there"], system_prompt="Be brief.") == ["Be brief.\n\nHi there"]


CHAT = [
    {"role": "user", "content": "What is 12 times 12?"},
    {"role": "assistant", "content": "144"},
    {"role": "user", "content": "Now divide it by 4."},
]


def test_chat_prompts_take_prompt_dicts_and_chat_messages(policy):
    _, tok = policy
    one_turn = [{"role": "user", "content": "Hi there"}]
    plain, as_dict, as_messages = chat_prompts(tok, ["Hi there", {"id": "1", "prompt": "Hi there"}, one_turn])
    assert plain == as_dict == as_messages
    multi = chat_prompts(tok, [{"id": "2", "prompt": "Human: ...", "messages": CHAT}])[0]
    assert "<|im_start|>assistant\n144<|im_end|>\n<|im_start|>user\nNow divide it by 4.<|im_end|>" in multi
    own = [{"role": "system", "content": "Answer in French."}, *CHAT]
    text = chat_prompts(tok, [own], system_prompt="Be brief.")[0]
    assert text.startswith("<|im_start|>system\nAnswer in French.<|im_end|>") and "Be brief." not in text
    with pytest.raises(ValueError, match="last message must be a user turn"):
        chat_prompts(tok, [CHAT[:2]])


def test_chat_prompts_render_a_conversation_as_plain_text_without_a_template(policy):
    tok = copy.deepcopy(policy[1])
    tok.chat_template = None
    assert chat_prompts(tok, [CHAT], system_prompt="Be brief.") == [
        "Be brief.\n\nHuman: What is 12 times 12?\n\nAssistant: 144\n\nHuman: Now divide it by 4.\n\nAssistant:"
    ]
    assert chat_prompts(tok, [{"prompt": "Hi there"}]) == ["Hi there"]


def test_encode_prompts_left_pads_and_cuts_long_prompts_from_the_left(policy):
    _, tok = policy
    long_ids = tok("one two three four five six seven eight", add_special_tokens=False)["input_ids"]
    short_ids = tok("one two", add_special_tokens=False)["input_ids"]
    assert len(long_ids) > 5 and len(short_ids) < 5
    ids, mask, n_truncated = encode_prompts(tok, ["one two three four five six seven eight", "one two"], 5)
    assert n_truncated == 1
    assert ids.shape == (2, 5)
    assert ids[0].tolist() == long_ids[-5:]  # the end (the generation prompt) survives
    pad = 5 - len(short_ids)
    assert mask[1].tolist() == [0] * pad + [1] * len(short_ids)
    assert ids[1, pad:].tolist() == short_ids and (ids[1, :pad] == tok.pad_token_id).all()
    assert encode_prompts(tok, ["one two"], 5)[2] == 0


# --------------------------------------------------------------------------- generation
def test_completion_mask_stops_after_the_first_eos():
    ids = torch.tensor([[5, 6, 2, 2], [2, 2, 2, 2], [5, 6, 7, 8], [5, 2, 9, 2]])
    mask, truncated = completion_mask(ids, [2])
    assert mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]]
    assert truncated.tolist() == [False, False, True, False]


class _FixedLM(torch.nn.Module):
    """Returns the prompts (repeated G times) followed by fixed completions."""

    def __init__(self, completions: torch.Tensor, eos: int):
        super().__init__()
        self.completions = completions
        self.generation_config = type("GC", (), {"eos_token_id": eos})()
        self.calls = []

    def generate(self, input_ids, attention_mask, **kwargs):
        self.calls.append(kwargs)
        G = kwargs["num_return_sequences"]
        return torch.cat([input_ids.repeat_interleave(G, dim=0), self.completions], dim=1)


def test_generate_group_masks_texts_and_empty_completions(policy):
    _, tok = policy
    eos = tok.eos_token_id
    hello = tok("Hello world", add_special_tokens=False)["input_ids"]
    a, b = hello[0], hello[1]
    completions = torch.tensor([[a, b, eos, eos], [eos, eos, eos, eos], [a, a, b, b], [b, eos, eos, eos]])
    lm = _FixedLM(completions, eos)
    prompt_ids, prompt_mask, _ = encode_prompts(tok, ["first prompt", "a second, longer prompt"], 16)
    roll = generate_group(lm, tok, prompt_ids, prompt_mask, 2, GEN)
    call = lm.calls[0]
    assert call["num_return_sequences"] == 2 and call["do_sample"] is True and call["use_cache"] is True
    assert (call["top_p"], call["top_k"], call["repetition_penalty"], call["max_new_tokens"]) == (0.95, 0, 1.0, 6)
    assert roll.completion_mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]]
    assert roll.texts[0] == "Hello world" and roll.texts[1] == ""  # EOS first: empty text, one-token mask
    assert roll.truncated.tolist() == [False, False, True, False]
    assert roll.num_tokens == 3 + 1 + 4 + 2
    # each prompt's G completions are consecutive rows
    assert torch.equal(roll.prompt_ids[0], roll.prompt_ids[1]) and torch.equal(roll.prompt_ids[1], prompt_ids[0])
    assert torch.equal(roll.prompt_ids[2], prompt_ids[1]) and torch.equal(roll.prompt_ids[3], prompt_ids[1])
    assert roll.input_ids.shape == (4, prompt_ids.shape[1] + 4)


def test_generate_group_on_the_tiny_model(policy):
    model, tok = policy
    prompt_ids, prompt_mask, _ = encode_prompts(tok, chat_prompts(tok, ["Hi", "Tell me a long story about cats"]), 64)
    torch.manual_seed(0)
    model.train()
    roll = generate_group(model, tok, prompt_ids, prompt_mask, 3, GEN)
    assert model.training  # the mode is restored
    assert roll.completion_ids.shape[0] == 6 and roll.completion_ids.shape[1] <= GEN["max_new_tokens"]
    assert len(roll.texts) == 6
    expected_mask, expected_trunc = completion_mask(roll.completion_ids, [tok.eos_token_id])
    assert torch.equal(roll.completion_mask, expected_mask) and torch.equal(roll.truncated, expected_trunc)
    for i in range(6):
        assert torch.equal(roll.prompt_ids[i], prompt_ids[i // 3])
    assert roll.generate_s > 0 and roll.num_tokens == int(roll.completion_mask.sum())


# --------------------------------------------------------------------------- log-probs
def _naive_logprobs(model, roll, temperature=1.0):
    """Row by row, without padding: full logits, log-softmax, the completion tokens' entries."""
    out, ent = [], []
    T = roll.completion_ids.shape[1]
    for i in range(roll.prompt_ids.shape[0]):
        prompt = roll.prompt_ids[i][roll.prompt_mask[i].bool()]
        n = int(roll.completion_mask[i].sum())
        ids = torch.cat([prompt, roll.completion_ids[i, :n]]).unsqueeze(0)
        logp = (model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float() / temperature).log_softmax(-1)
        row = torch.zeros(T)
        row[:n] = logp.gather(-1, roll.completion_ids[i, :n].unsqueeze(-1)).squeeze(-1)
        out.append(row)
        e = torch.zeros(T)
        e[:n] = -(logp.exp() * logp).sum(-1)
        ent.append(e)
    return torch.stack(out), torch.stack(ent)


def test_token_logprobs_equals_a_naive_per_sequence_computation(policy):
    model, tok = policy
    prompt_ids, prompt_mask, _ = encode_prompts(tok, chat_prompts(tok, ["Hi", "Tell me a long story about cats"]), 64)
    torch.manual_seed(1)
    roll = generate_group(model, tok, prompt_ids, prompt_mask, 2, GEN)
    model.eval()
    T = roll.completion_ids.shape[1]
    with torch.no_grad():
        logp, entropy = token_logprobs(model, roll.input_ids, roll.attention_mask, T, 0.7, return_entropy=True)
        naive, naive_entropy = _naive_logprobs(model, roll, 0.7)
    m = roll.completion_mask.bool()
    assert logp.shape == (4, T)
    torch.testing.assert_close(logp[m], naive[m], atol=1e-5, rtol=0)
    torch.testing.assert_close(entropy[m], naive_entropy[m], atol=1e-4, rtol=0)


def _policy_and_row(model_cfg):
    """A fresh policy in eval mode and one left-padded row of token ids with its mask."""
    model, tok = build_policy(model_cfg)
    model.eval()
    return model, torch.tensor([[tok.pad_token_id, 5, 6, 7, 8, 9, 10]]), torch.tensor([[0, 1, 1, 1, 1, 1, 1]])


def test_reference_logprobs_disable_the_adapter(model_cfg):
    model, ids, mask = _policy_and_row(model_cfg)
    with torch.no_grad():
        base = token_logprobs(model, ids, mask, 3)  # LoRA B starts at 0: the policy is the base
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.5)
        adapted = token_logprobs(model, ids, mask, 3)
    ref = reference_logprobs(model, ids, mask, 3)
    assert not torch.allclose(adapted, base, atol=1e-3)
    torch.testing.assert_close(ref, base, atol=1e-6, rtol=0)


def test_reference_logprobs_under_a_swapped_in_adapter_then_the_own_weights_again(model_cfg):
    from peft import get_peft_model_state_dict

    model, ids, mask = _policy_and_row(model_cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.5)
        reference = {k: v.clone() for k, v in get_peft_model_state_dict(model).items()}  # the "warm start"
        under_reference = token_logprobs(model, ids, mask, 3)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(-1.0)  # GRPO moved on
        own = token_logprobs(model, ids, mask, 3)
    ref = reference_logprobs(model, ids, mask, 3, adapter=reference)
    torch.testing.assert_close(ref, under_reference, atol=1e-6, rtol=0)
    assert not torch.allclose(own, under_reference, atol=1e-3)
    with torch.no_grad():
        torch.testing.assert_close(token_logprobs(model, ids, mask, 3), own, atol=0, rtol=0)  # put back exactly
    with pytest.raises(ValueError, match="other LoRA weights"):
        reference_logprobs(model, ids, mask, 3, adapter={"nope": torch.zeros(1)})
