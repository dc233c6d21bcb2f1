"""PPO's critic: a scalar value head on the policy's last hidden state, and one forward for log-probs and values.

The choice (documented in :class:`mogrpo.configs.method.PPOConfig`): no second network. The head is one
``Linear(hidden_size, 1)`` (``hidden_size + 1`` parameters: 577 on SmolLM2-135M, 897 on Qwen2.5-0.5B)
read from the same forward pass that gives the log-probs, so the critic shares the LoRA-adapted trunk
(as TRL's ``AutoModelForCausalLMWithValueHead``) and costs no extra forward, no second copy of the
weights and only a ``[N, T]`` tensor of activations (the LM head runs on the completion positions only). The head starts at zero (V = 0 for every state),
so the first advantages are the plain returns.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mogrpo.models.logprobs import logprobs_from_logits


class ValueHead(nn.Module):
    """``V(s_t) = w . h_t + b`` on the last hidden state ``h_t`` (float32), zero-initialised."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.linear = nn.Linear(int(hidden_size), 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden.float()).squeeze(-1)


def hidden_size(model) -> int:
    """The hidden size of a (peft-wrapped) causal LM's config."""
    config = model.config
    return int(getattr(config, "hidden_size", None) or config.get_text_config().hidden_size)


def _trunk_and_head(model):
    """(the decoder stack, the LM head) of a (peft-wrapped) causal LM, or None when the model's logits are more
    than ``lm_head(last hidden state)`` (e.g. Gemma's soft-capping) or its parts are not exposed."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = getattr(base, "config", None)
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    get_decoder, get_head = getattr(base, "get_decoder", None), getattr(base, "get_output_embeddings", None)
    trunk, head = (get_decoder() if get_decoder else None), (get_head() if get_head else None)
    return (trunk, head) if trunk is not None and head is not None else None


def logprobs_and_values(
    model, head: ValueHead, input_ids: torch.Tensor, attention_mask: torch.Tensor, T: int,
    temperature: float = 1.0, return_entropy: bool = False,
):  # fmt: skip
    """``(logp [N, T], values [N, T])`` (and the entropies) of the last T tokens, from one forward pass.

    Position t's hidden state is the state before completion token t + 1 is drawn; as for the logits, the
    value of the state that draws completion token t is read at position ``L - T - 1 + t``. Left padding:
    position ids from the mask, as :func:`~mogrpo.models.logprobs.token_logprobs`. The decoder stack runs once
    and the LM head only on the last T + 1 positions (as ``logits_to_keep``); a model whose logits are not
    ``lm_head(h)`` falls back to ``output_hidden_states`` (every layer's states kept for the pass).
    """
    position_ids = (attention_mask.long().cumsum(dim=-1) - 1).clamp(min=0)
    kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}
    parts = _trunk_and_head(model)
    if parts is not None:
        trunk, lm_head = parts
        hidden = trunk(**kwargs, use_cache=False).last_hidden_state[:, -(T + 1) : -1]
        logits = lm_head(hidden)
    else:
        out = model(**kwargs, use_cache=False, output_hidden_states=True)
        logits, hidden = out.logits[:, -(T + 1) : -1], out.hidden_states[-1][:, -(T + 1) : -1]
    values = head(hidden)
    result = logprobs_from_logits(logits, input_ids[:, -T:], temperature, return_entropy)
    if return_entropy:
        return result[0], values, result[1]
    return result, values
