"""The policy: a causal LM with LoRA adapters on a frozen base, and its prompts.

- :func:`build_policy`     config entry -> (peft model, tokenizer); refuses to train nothing
- :func:`read_lora_weights`, :func:`load_lora_weights`   a saved adapter's LoRA weights, into the policy
- :func:`chat_prompts`, :func:`encode_prompts`   user prompts or chat messages -> left-padded, left-truncated ids

Generation lives in :mod:`mogrpo.models.generation`, log-probs in :mod:`mogrpo.models.logprobs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from mogrpo.errors import ConfigError


def read_lora_weights(adapter_dir: str | Path, key: str) -> dict[str, torch.Tensor]:
    """The LoRA weights of the peft adapter saved in ``adapter_dir`` (a ConfigError naming ``key`` if there is none)."""
    from safetensors.torch import load_file

    path = Path(adapter_dir) / "adapter_model.safetensors"
    if not path.is_file():
        raise ConfigError(key, f"{adapter_dir} holds no saved LoRA adapter (no adapter_model.safetensors)")
    return load_file(str(path))


def load_lora_weights(policy, adapter_dir: str | Path, key: str) -> None:
    """Load the adapter saved in ``adapter_dir`` into the peft ``policy`` in place. Its LoRA weights must be the
    policy's (the same ``model.lora``, the same base): a ConfigError naming ``key`` otherwise."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    state = read_lora_weights(adapter_dir, key)
    own = get_peft_model_state_dict(policy)
    if set(state) != set(own):
        raise ConfigError(key, f"the adapter in {adapter_dir} has other LoRA weights than this run's "
                          f"({sorted(set(own) ^ set(state))[:2]}); use the model / model.lora it was saved with")  # fmt: skip
    shapes = [k for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
    if shapes:
        raise ConfigError(key, f"the adapter in {adapter_dir} has other LoRA shapes than this run's ({shapes[0]}: "
                          f"{tuple(state[shapes[0]].shape)} vs {tuple(own[shapes[0]].shape)}); use the model / "
                          "model.lora it was saved with")  # fmt: skip
    set_peft_model_state_dict(policy, state)


def count_trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build_policy(model):
    """``(peft_model, tokenizer)`` from the ``model`` settings (a :class:`~mogrpo.configs.ModelConfig`, or a
    node of that group): frozen base + LoRA from ``model.lora``.

    Raises :class:`~mogrpo.errors.ConfigError` (a ValueError) naming ``model.lora.target_modules``
    when the adapters match no module or leave no parameter trainable (``inference_mode: true``).
    """
    from hydra.utils import instantiate
    from peft import get_peft_model

    from mogrpo.configs import ModelConfig
    from mogrpo.models.loading import load_causal_lm

    model_cfg = ModelConfig.from_node(model, ModelConfig.KEY)
    model, tokenizer = load_causal_lm(model_cfg.spec)
    for p in model.parameters():
        p.requires_grad_(False)
    if model_cfg.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
            model.activation_checkpointing_enable({"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()  # so checkpointed blocks see a tensor that requires grad
        model.config.use_cache = False  # the update pass; generate() asks for the cache explicitly
    lora_cfg = instantiate(model_cfg.lora, _convert_="all")
    target = getattr(lora_cfg, "target_modules", None)
    try:
        peft_model = get_peft_model(model, lora_cfg)
    except ValueError as err:
        raise ConfigError(
            "model.lora.target_modules", f"{target!r} could not be applied to {model_cfg.name}: {err}"
        ) from err
    if count_trainable(peft_model) == 0:
        raise ConfigError(
            "model.lora.target_modules",
            f"{target!r} left no trainable parameter (inference_mode={getattr(lora_cfg, 'inference_mode', None)}); "
            "GRPO would train nothing",
        )
    return peft_model, tokenizer


# --------------------------------------------------------------------------- prompts
def chat_prompts(
    tokenizer, prompts: Sequence[str | Mapping | Sequence[Mapping]], system_prompt: str | None = None
) -> list[str]:
    """The prompts as the model sees them: chat template + generation prompt.

    Each prompt is a user prompt string, a prompt dict (its ``messages``, else its ``prompt``) or a list
    of ``{"role", "content"}`` chat messages ending with a user turn (:mod:`mogrpo.data.messages`), so a
    multi-turn conversation reaches the template turn by turn. ``system_prompt`` goes first unless the
    conversation has a system message of its own. Without a chat template: plain text, the system
    prompt and a blank line before the user prompt (a conversation: ``Human: ... Assistant: ...``
    turns, then an ``Assistant:`` cue).
    """
    from mogrpo.data.messages import as_messages

    out = []
    for prompt in prompts:
        messages = as_messages(prompt)
        if system_prompt and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": system_prompt}, *messages]
        if getattr(tokenizer, "chat_template", None):
            out.append(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
        else:
            out.append(_plain_chat(messages))
    return out


def _plain_chat(messages: Sequence[Mapping]) -> str:
    """A conversation as plain text for a tokenizer without a chat template (see :func:`chat_prompts`)."""
    from mogrpo.data.messages import render_conversation

    system = messages[0]["content"] if messages[0]["role"] == "system" else None
    turns = messages[1:] if system is not None else messages
    text = render_conversation(turns)
    if len(turns) > 1:
        text += "\n\nAssistant:"
    return f"{system}\n\n{text}" if system else text


def encode_prompts(
    tokenizer, texts: Sequence[str], max_prompt_length: int, add_special_tokens: bool = False
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(input_ids, attention_mask, n_truncated)``: left-padded ``[B, P]`` (the tokenizer's ``pad``); a prompt
    over ``max_prompt_length`` tokens keeps its LAST tokens (the generation prompt) and is counted.

    The cut is a slice, not the tokenizer's ``truncation_side="left"``: counting the cut prompts
    (``train/prompts_truncated``) needs their full lengths, which a truncating call would hide."""
    if max_prompt_length < 1:
        raise ValueError(f"model.max_prompt_length must be >= 1, got {max_prompt_length}")
    ids = tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]
    n_truncated = sum(len(x) > max_prompt_length for x in ids)
    if not ids:
        return torch.zeros((0, 0), dtype=torch.long), torch.zeros((0, 0), dtype=torch.long), 0
    padded = tokenizer.pad({"input_ids": [x[-max_prompt_length:] for x in ids]}, padding=True, padding_side="left",
                           return_tensors="pt")  # fmt: skip
    return padded["input_ids"].long(), padded["attention_mask"].long(), n_truncated


def disable_dropout(model: torch.nn.Module) -> int:
    """Set every ``torch.nn.Dropout`` of ``model`` to p = 0 (peft's ``lora_dropout`` is one); returns how many
    had p > 0. What TRL's ``disable_dropout`` does: the old / reference log-probs are computed without
    dropout, so the update must not see it either, or the ratio is not 1 at the first iteration."""
    n = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout) and m.p > 0:
            m.p = 0.0
            n += 1
        if isinstance(getattr(m, "attention_dropout", None), float) and m.attention_dropout > 0:  # HF attention
            m.attention_dropout = 0.0
            n += 1
    return n
