"""Per-token log-probs of sampled completions, one batched forward pass, with two speed paths.

- :func:`token_logprobs`      log pi(o_t | q, o_<t) of the completion tokens ``[N, T]`` (and entropies)
- :func:`reference_logprobs`  the same under the reference (the base model, adapters disabled; or another
  adapter swapped in, :func:`swapped_adapter`), for the KL term
- :func:`shares_prompts`      whether every G consecutive rows hold one prompt (a rollout's layout)

Speed paths (:mod:`mogrpo.models.fast_paths` says which can run): ``logits_to_keep`` computes only
the completion's logits; ``grouped_logprobs`` runs each prompt once for its G rows.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import torch

from mogrpo.models import fast_paths


def _checkpointing(model) -> bool:
    return any(getattr(m, "gradient_checkpointing", False) for m in model.modules())


def shares_prompts(input_ids: torch.Tensor, attention_mask: torch.Tensor, T: int, group_size: int) -> bool:
    """Whether every block of ``group_size`` consecutive rows has one prompt (the first L - T tokens)."""
    N, L = input_ids.shape
    if group_size < 2 or N % group_size or L - T < 1:
        return False
    ids = input_ids[:, : L - T].view(N // group_size, group_size, L - T)
    mask = attention_mask[:, : L - T].view(N // group_size, group_size, L - T)
    return bool((ids == ids[:, :1]).all() and (mask == mask[:, :1]).all())


def _completion_logits(model, input_ids, attention_mask, T: int) -> torch.Tensor:
    """Logits at the T positions that predict the last T tokens, ``[N, T, V]``: one forward pass."""
    position_ids = (attention_mask.long().cumsum(dim=-1) - 1).clamp(min=0)
    kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}
    if fast_paths.available(model, "logits_to_keep"):
        kwargs["logits_to_keep"] = T + 1
        fast_paths.record("logits_to_keep")
    return model(**kwargs, use_cache=False).logits[:, -(T + 1) : -1]  # position t predicts token t + 1


def _grouped_completion_logits(model, input_ids, attention_mask, T: int, G: int) -> torch.Tensor:
    """The same logits with each prompt run once per group of G rows (its keys and values repeated).

    Causal attention: a prompt token sees only the prompt, so its hidden states are the same in
    the G rows of a group. Pass 1 runs the B = N / G prompts (P tokens) and keeps their keys/values
    and the last position's logits (they predict completion token 0); pass 2 runs the first T - 1
    completion tokens of all N rows against the G-fold repeated prompt cache. Gradients flow through
    both passes (``repeat_interleave`` sums the G rows' gradients into the shared prompt), so the
    result and its gradients equal :func:`_completion_logits` up to float rounding, with G times less
    prompt compute and activation memory.
    """
    from transformers import DynamicCache

    P = input_ids.shape[1] - T
    position_ids = (attention_mask.long().cumsum(dim=-1) - 1).clamp(min=0)
    cache = DynamicCache(config=fast_paths.base_model(model).config)
    keep: dict[str, Any] = {}
    if fast_paths.available(model, "logits_to_keep"):
        keep["logits_to_keep"] = 1
        fast_paths.record("logits_to_keep")
    first = model(
        input_ids=input_ids[::G, :P], attention_mask=attention_mask[::G, :P], position_ids=position_ids[::G, :P],
        use_cache=True, **fast_paths.cache_kwargs(model, cache), **keep,
    ).logits[:, -1:]  # fmt: skip
    if T == 1:
        return first.repeat_interleave(G, dim=0)
    cache.batch_repeat_interleave(G)
    rest = model(
        input_ids=input_ids[:, P : P + T - 1], attention_mask=attention_mask[:, : P + T - 1],
        position_ids=position_ids[:, P : P + T - 1], use_cache=True, **fast_paths.cache_kwargs(model, cache),
    ).logits  # fmt: skip
    return torch.cat([first.repeat_interleave(G, dim=0), rest], dim=1)


def token_logprobs(
    model,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    logits_to_keep: int,
    temperature: float = 1.0,
    return_entropy: bool = False,
    group_size: int = 1,
):
    """Per-token log-probs of the last ``logits_to_keep`` tokens (the completion), ``[N, T]``.

        log pi(o_t | q, o_<t) = z_t[o_t] / tau - logsumexp(z_t / tau)

    One batched forward pass over prompt + completion (left padding: position ids from the mask,
    as ``generate`` uses); only the last T + 1 positions' logits are computed where the model takes
    ``logits_to_keep``. With ``group_size`` G > 1 and every G consecutive rows sharing one prompt (as
    a rollout's do), each prompt is run once, not G times (:func:`_grouped_completion_logits`; not
    under gradient checkpointing, which drops the cache). The log-softmax is the logsumexp trick in
    float32, one row at a time: no ``[N, T, V]`` log-softmax is materialised (backward keeps only
    the logits themselves). With ``return_entropy`` also returns the per-token entropy
    ``-sum_v p log p`` ``[N, T]`` (no gradients).
    """
    T = int(logits_to_keep)
    grouped = shares_prompts(input_ids, attention_mask, T, group_size) and not _checkpointing(model)
    if fast_paths.available(model, "grouped_logprobs", grouped):
        logits = _grouped_completion_logits(model, input_ids, attention_mask, T, group_size)
        fast_paths.record("grouped_logprobs")
    else:
        logits = _completion_logits(model, input_ids, attention_mask, T)
    return logprobs_from_logits(logits, input_ids[:, -T:], temperature, return_entropy)


def logprobs_from_logits(logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0,
                         return_entropy: bool = False):  # fmt: skip
    """``log softmax(z / tau)[target]`` per position ``[N, T]`` from logits ``[N, T, V]`` (and the entropies).

    The logsumexp trick in float32, one row at a time: no ``[N, T, V]`` log-softmax is materialised."""
    logps, entropies = [], []
    for row_logits, row_targets in zip(logits, targets):  # one row at a time: [T, V] transients only
        z = row_logits.float()
        if temperature != 1.0:
            z = z / temperature
        lse = torch.logsumexp(z, dim=-1)
        logps.append(z.gather(-1, row_targets.unsqueeze(-1)).squeeze(-1) - lse)
        if return_entropy:
            with torch.no_grad():  # H = -sum_v p log p = logsumexp(z) - sum_v p z
                entropies.append(lse - (torch.softmax(z, dim=-1) * z).sum(dim=-1))
    logp = torch.stack(logps)
    if return_entropy:
        return logp, torch.stack(entropies)
    return logp


@torch.no_grad()
def reference_logprobs(
    model, input_ids, attention_mask, logits_to_keep: int, temperature: float = 1.0, group_size: int = 1,
    adapter: dict[str, torch.Tensor] | None = None,
):
    """Log-probs under the reference: the same peft model with its adapters disabled (the base model), or,
    given ``adapter`` (a peft adapter state dict, e.g. the warm start's), with those LoRA weights swapped in
    for the pass and the trained ones put back after it (no second copy of the model)."""
    if adapter is None:
        with model.disable_adapter():
            return token_logprobs(model, input_ids, attention_mask, logits_to_keep, temperature, group_size=group_size)
    with swapped_adapter(model, adapter):
        return token_logprobs(model, input_ids, attention_mask, logits_to_keep, temperature, group_size=group_size)


@contextmanager
def swapped_adapter(model, adapter: dict[str, torch.Tensor]):
    """Inside the block the peft ``model`` holds the LoRA weights ``adapter``; after it, its own again (in place,
    gradients and optimiser state untouched)."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    with torch.no_grad():
        own = {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}
        if set(own) != set(adapter):
            raise ValueError(f"the reference adapter has other LoRA weights than the policy "
                             f"({sorted(set(own) ^ set(adapter))[:2]})")  # fmt: skip
        set_peft_model_state_dict(model, adapter)
    try:
        yield
    finally:
        with torch.no_grad():
            set_peft_model_state_dict(model, own)
