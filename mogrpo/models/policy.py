"""The policy: a causal LM with LoRA adapters on a frozen base, and the three things GRPO asks of it.

- :func:`build_policy`     config entry -> (peft model, tokenizer); refuses to train nothing
- :func:`chat_prompts`, :func:`encode_prompts`   user prompts -> left-padded, left-truncated ids
- :func:`generate_group`   G sampled completions per prompt, consecutive rows, in one ``generate`` call
  (fast path: LoRA folded into the weights, :func:`lora_merged`; each prompt prefilled once,
  :func:`shared_prompt_cache`)
- :func:`token_logprobs`   log pi(o_t | q, o_<t) of the completion tokens, one batched forward pass
  (fast path: only the completion's logits; each prompt run once for its G rows)
- :func:`reference_logprobs`  the same under the base model (adapters disabled), for the KL term
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf


def to_plain(node: Any) -> Any:
    """An OmegaConf node as plain Python containers (peft and HF want JSON-serialisable values)."""
    if isinstance(node, DictConfig) or OmegaConf.is_config(node):
        return OmegaConf.to_container(node, resolve=True)
    return node


def count_trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build_policy(model_cfg: Mapping | DictConfig):
    """``(peft_model, tokenizer)`` from a ``model`` config node: frozen base + LoRA from ``model.lora``.

    Raises :class:`~mogrpo.config.ConfigError` (a ValueError) naming ``model.lora.target_modules``
    when the adapters match no module or leave no parameter trainable (``inference_mode: true``).
    """
    from hydra.utils import instantiate
    from peft import get_peft_model

    from mogrpo.config import ConfigError
    from mogrpo.models.loading import load_causal_lm

    model_cfg = to_plain(model_cfg)
    model, tokenizer = load_causal_lm(model_cfg["spec"])
    for p in model.parameters():
        p.requires_grad_(False)
    if model_cfg.get("gradient_checkpointing", False):
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5
            model.activation_checkpointing_enable({"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()  # so checkpointed blocks see a tensor that requires grad
        model.config.use_cache = False  # the update pass; generate() asks for the cache explicitly
    lora_cfg = instantiate(model_cfg["lora"], _convert_="all")
    target = getattr(lora_cfg, "target_modules", None)
    try:
        peft_model = get_peft_model(model, lora_cfg)
    except ValueError as err:
        raise ConfigError(
            "model.lora.target_modules", f"{target!r} could not be applied to {model_cfg.get('name', 'the model')}: {err}"
        ) from err
    if count_trainable(peft_model) == 0:
        raise ConfigError(
            "model.lora.target_modules",
            f"{target!r} left no trainable parameter (inference_mode={getattr(lora_cfg, 'inference_mode', None)}); "
            "GRPO would train nothing",
        )
    return peft_model, tokenizer


# --------------------------------------------------------------------------- prompts
def chat_prompts(tokenizer, prompts: Sequence[str], system_prompt: str | None = None) -> list[str]:
    """The prompts as the model sees them: chat template + generation prompt (plain text without a template)."""
    out = []
    for prompt in prompts:
        if getattr(tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
            messages.append({"role": "user", "content": prompt})
            out.append(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
        else:
            out.append(f"{system_prompt}\n\n{prompt}" if system_prompt else prompt)
    return out


def encode_prompts(
    tokenizer, texts: Sequence[str], max_prompt_length: int, add_special_tokens: bool = False
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``(input_ids, attention_mask, n_truncated)``: left-padded ``[B, P]``; a prompt over
    ``max_prompt_length`` tokens keeps its LAST tokens (the generation prompt) and is counted."""
    if max_prompt_length < 1:
        raise ValueError(f"model.max_prompt_length must be >= 1, got {max_prompt_length}")
    ids = tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]
    n_truncated = sum(len(x) > max_prompt_length for x in ids)
    ids = [x[-max_prompt_length:] for x in ids]
    width = max((len(x) for x in ids), default=0)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        if x:
            input_ids[i, width - len(x) :] = torch.tensor(x, dtype=torch.long)
            mask[i, width - len(x) :] = 1
    return input_ids, mask, n_truncated


# --------------------------------------------------------------------------- generation
@dataclass
class Rollout:
    """N = B * G completions, the G of one prompt in consecutive rows."""

    prompt_ids: torch.Tensor  # [N, P] left-padded
    prompt_mask: torch.Tensor  # [N, P]
    completion_ids: torch.Tensor  # [N, T]
    completion_mask: torch.Tensor  # [N, T] 1 up to and including the first EOS
    texts: list[str]  # decoded completions, special tokens skipped
    truncated: torch.Tensor  # [N] bool: no EOS within max_new_tokens
    generate_s: float  # wall time of the generate call
    num_tokens: int  # completion tokens counted by the mask

    @property
    def input_ids(self) -> torch.Tensor:
        return torch.cat([self.prompt_ids, self.completion_ids], dim=1)

    @property
    def attention_mask(self) -> torch.Tensor:
        return torch.cat([self.prompt_mask, self.completion_mask], dim=1)

    @property
    def lengths(self) -> torch.Tensor:
        return self.completion_mask.sum(dim=1)


def eos_token_ids(model, tokenizer) -> list[int]:
    """Every id that ends a completion: the generation config's EOS id(s) and the tokenizer's."""
    ids: set[int] = set()
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen_eos, tokenizer.eos_token_id):
        if value is None:
            continue
        ids.update([value] if isinstance(value, int) else list(value))
    if not ids:
        raise ValueError("the tokenizer and generation config name no EOS token: completions would never end")
    return sorted(ids)


def completion_mask(completion_ids: torch.Tensor, eos_ids: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mask, truncated)``: mask is 1 up to and including the first EOS and 0 after;
    ``truncated`` marks rows with no EOS (mask all 1)."""
    is_eos = torch.isin(completion_ids, torch.as_tensor(list(eos_ids), device=completion_ids.device))
    has_eos = is_eos.any(dim=1)
    T = completion_ids.shape[1]
    first = torch.where(has_eos, is_eos.int().argmax(dim=1), torch.full_like(has_eos, T, dtype=torch.long))
    positions = torch.arange(T, device=completion_ids.device).unsqueeze(0)
    mask = (positions <= first.unsqueeze(1)).long()
    return mask, ~has_eos


def _generate_kwargs(gen: Mapping, num_return_sequences: int) -> dict[str, Any]:
    gen = dict(to_plain(gen))
    do_sample = bool(gen.get("do_sample", True))
    kwargs: dict[str, Any] = {
        "max_new_tokens": int(gen["max_new_tokens"]),
        "do_sample": do_sample,
        "num_return_sequences": num_return_sequences,
        "use_cache": True,
        # explicit, so a model's generation_config.json (e.g. Qwen's 1.05) cannot skew the samples
        "repetition_penalty": float(gen.get("repetition_penalty", 1.0)),
    }
    if gen.get("min_new_tokens"):  # EOS suppressed before this many tokens (benchmarks use it to fix the work)
        kwargs["min_new_tokens"] = int(gen["min_new_tokens"])
    if do_sample:
        kwargs["temperature"] = float(gen.get("temperature", 1.0))
        kwargs["top_p"] = float(gen.get("top_p", 1.0))
        kwargs["top_k"] = int(gen.get("top_k") or 0)  # 0 = no top-k filter
    return kwargs


class InverseCDFSampler:
    """The last logits processor of a greedy ``generate`` that makes it sample: draws one token per
    row from ``softmax(scores)`` and leaves only that token finite, so the argmax returns the draw.

        i = min { i : sum_{j <= i} p_j >= u sum_j p_j },   u ~ U(0, 1]

    The distribution ``torch.multinomial(probs, 1)`` (HF's sampler) draws from, computed in float64
    (a token of probability 0 is never drawn), with one uniform per row and a binary search instead
    of V exponentials: 0.1 ms instead of 7 ms per decode step for 8 x 49k logits on 2 CPU threads.
    The random stream differs from HF's, so a seed gives other (equally distributed) samples.
    """

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        cdf = torch.softmax(scores.double(), dim=-1).cumsum(dim=-1)
        u = (1.0 - torch.rand(scores.shape[0], 1, dtype=cdf.dtype, device=cdf.device)) * cdf[:, -1:]
        token = torch.searchsorted(cdf, u).clamp_(max=scores.shape[-1] - 1)
        return torch.full_like(scores, float("-inf")).scatter_(1, token, 0.0)


def _inverse_cdf_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``generate`` kwargs that sample with :class:`InverseCDFSampler`: greedy decoding after HF's own
    temperature / top-k / top-p warpers (in HF's order), then the sampler."""
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    kwargs = dict(kwargs)
    temperature, top_k, top_p = kwargs.pop("temperature"), kwargs.pop("top_k"), kwargs.pop("top_p")
    warpers = [
        *([TemperatureLogitsWarper(temperature)] if temperature != 1.0 else []),
        *([TopKLogitsWarper(top_k)] if top_k else []),
        *([TopPLogitsWarper(top_p)] if top_p < 1.0 else []),
    ]
    kwargs.update(do_sample=False, top_k=None, top_p=None, temperature=None,
                  logits_processor=LogitsProcessorList([*warpers, InverseCDFSampler()]))  # fmt: skip
    return kwargs


def _plain_lora_layers(model) -> list | None:
    """The LoRA layers of ``model`` if every one is a plain LoRA ``Linear`` whose active adapters
    fold into the base weight as ``W + s B A``; None when some layer cannot be folded (DoRA or
    another variant, LoRA biases, embeddings, already merged), so the caller keeps the adapter path."""
    try:
        from peft.tuners.lora import Linear, LoraLayer
    except ImportError:  # pragma: no cover - peft is a dependency
        return None
    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    for layer in layers:
        if not isinstance(layer, Linear) or layer.merged or layer.disable_adapters:
            return None
        for name in layer.active_adapters:
            if name not in layer.lora_A:
                continue
            if layer.lora_variant.get(name) is not None or layer.lora_bias.get(name, False):
                return None
    return layers


@contextlib.contextmanager
def lora_merged(model) -> Iterator[bool]:
    """Run the peft ``model`` with each LoRA layer folded into its base weight; yields whether it did.

        W' = W + (alpha / r) B A        (peft's ``get_delta_weight``)

    Inside, every adapted base layer holds a NEW tensor W' and its adapter path is switched off, so
    a forward pass costs what the base model's does (no 2 x 7 extra low-rank matmuls per block).
    On exit the original W tensors, the adapter switches and the adapters' ``requires_grad`` flags
    are put back. W is never written, so the frozen base stays bit-exact (peft's ``merge_adapter`` /
    ``unmerge_adapter`` add and subtract B A in place: the rounding error would accumulate in W over
    thousands of steps). Transient memory: one copy of the adapted weights. Outputs equal the
    adapter-active ones up to float rounding. Not for training: W' has no gradient path to A and B.
    Models without LoRA layers, or with DoRA / LoRA biases, run as they are (yields False).
    """
    layers = _plain_lora_layers(model)
    if not layers:
        yield False
        return
    saved = []  # (layer, base layer, original weight, adapter params' requires_grad)
    try:
        with torch.no_grad():
            for layer in layers:
                base = layer.get_base_layer()
                weight = base.weight
                grads = [(p, p.requires_grad) for n, p in layer.named_parameters() if "lora_" in n]
                merged = weight.detach().clone()
                for name in layer.active_adapters:
                    if name in layer.lora_A:
                        merged += layer.get_delta_weight(name).to(merged.dtype)
                saved.append((layer, base, weight, grads))
                base.weight = torch.nn.Parameter(merged, requires_grad=False)
                layer.enable_adapters(False)
        yield True
    finally:
        for layer, base, weight, grads in saved:
            base.weight = weight
            layer.enable_adapters(True)
            for p, flag in grads:
                p.requires_grad_(flag)


def _takes_cache(model) -> bool:
    """Whether ``model`` is an HF model whose forward takes a KV cache (``past_key_values``)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return hasattr(base, "config") and "past_key_values" in inspect.signature(base.forward).parameters


def shared_prompt_cache(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, G: int):
    """The KV cache of each prompt but its last token, computed once per prompt and repeated G times.

    ``num_return_sequences=G`` repeats every prompt G times and runs the prefill on B G rows; the
    prompt's keys and values do not depend on the sample, so B rows suffice (G times less prefill
    compute). ``generate`` given this cache and the G-fold prompts feeds only the last prompt token,
    then decodes. Position ids follow ``generate``'s own rule (mask cumsum - 1, padding at 1).
    """
    from transformers import DynamicCache

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    cache = DynamicCache(config=base.config)
    ids, mask = prompt_ids[:, :-1], prompt_mask[:, :-1]
    position_ids = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 1)
    kwargs: dict[str, Any] = {"logits_to_keep": 1} if _supports_logits_to_keep(model) else {}
    model(input_ids=ids, attention_mask=mask, position_ids=position_ids, past_key_values=cache, use_cache=True,
          **kwargs)  # fmt: skip
    cache.batch_repeat_interleave(G)
    return cache


def generate_group(
    model,
    tokenizer,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    G: int,
    gen: Mapping,
    merge_lora: bool = True,
    share_prompt: bool = True,
) -> Rollout:
    """G completions for each of B prompts (rows ``b G .. b G + G - 1``) in one ``generate`` call.

    ``gen`` holds ``max_new_tokens`` and, when sampling (``do_sample``, default true), ``temperature``,
    ``top_p``, ``top_k`` (0 = off); ``repetition_penalty`` defaults to 1 whatever the model's own
    generation config says. The model is put in eval mode for the call and restored afterwards.
    Generation stops when every row has produced an EOS (or at ``max_new_tokens``).

    Speed: ``torch.inference_mode`` (no autograd bookkeeping at all); with ``merge_lora`` the LoRA
    adapters folded into the base weights for the call (:func:`lora_merged`); with ``share_prompt``
    each prompt's prefill run once, not G times (:func:`shared_prompt_cache`); with
    ``gen["fast_sampling"]`` (default true) tokens drawn by :class:`InverseCDFSampler` instead of ``torch.multinomial``. The first two give
    the samples of the plain path up to float rounding, the third the same distribution from another
    random stream. The last two need an HF model (a forward that takes ``past_key_values``). The
    returned tensors are normal tensors (cloned out of inference mode), usable in the update's
    autograd graph.
    """
    eos = eos_token_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    was_training = model.training
    model.eval()
    if prompt_mask.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    try:
        with lora_merged(model) if merge_lora else contextlib.nullcontext(), torch.inference_mode():
            kwargs = _generate_kwargs(gen, G)
            ids, mask = prompt_ids, prompt_mask
            if _takes_cache(model):  # an HF model: the rows repeated here, not by num_return_sequences
                if bool(gen.get("fast_sampling", True)) and kwargs["do_sample"]:
                    kwargs = _inverse_cdf_kwargs(kwargs)
                if share_prompt and G > 1 and ids.shape[1] > 1:
                    kwargs["past_key_values"] = shared_prompt_cache(model, ids, mask, G)
                kwargs["num_return_sequences"] = 1
                ids, mask = ids.repeat_interleave(G, dim=0), mask.repeat_interleave(G, dim=0)
            out = model.generate(input_ids=ids, attention_mask=mask, eos_token_id=eos, pad_token_id=pad, **kwargs)
    finally:
        model.train(was_training)
    if prompt_mask.device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    completion_ids = out[:, prompt_ids.shape[1] :].clone()  # a normal tensor: inference tensors refuse autograd
    mask, truncated = completion_mask(completion_ids, eos)
    lengths = mask.sum(dim=1).tolist()
    rows = completion_ids.tolist()  # one host copy, then plain lists
    texts = tokenizer.batch_decode([row[:n] for row, n in zip(rows, lengths)], skip_special_tokens=True)
    return Rollout(
        prompt_ids=prompt_ids.repeat_interleave(G, dim=0),
        prompt_mask=prompt_mask.repeat_interleave(G, dim=0),
        completion_ids=completion_ids,
        completion_mask=mask,
        texts=texts,
        truncated=truncated,
        generate_s=elapsed,
        num_tokens=int(sum(lengths)),
    )


# --------------------------------------------------------------------------- log-probs
def _supports_logits_to_keep(model) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


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
    if _supports_logits_to_keep(model):
        kwargs["logits_to_keep"] = T + 1
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
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    position_ids = (attention_mask.long().cumsum(dim=-1) - 1).clamp(min=0)
    cache = DynamicCache(config=base.config)
    keep: dict[str, Any] = {"logits_to_keep": 1} if _supports_logits_to_keep(model) else {}
    first = model(
        input_ids=input_ids[::G, :P], attention_mask=attention_mask[::G, :P], position_ids=position_ids[::G, :P],
        past_key_values=cache, use_cache=True, **keep,
    ).logits[:, -1:]  # fmt: skip
    if T == 1:
        return first.repeat_interleave(G, dim=0)
    cache.batch_repeat_interleave(G)
    rest = model(
        input_ids=input_ids[:, P : P + T - 1], attention_mask=attention_mask[:, : P + T - 1],
        position_ids=position_ids[:, P : P + T - 1], past_key_values=cache, use_cache=True,
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
    if shares_prompts(input_ids, attention_mask, T, group_size) and not _checkpointing(model):
        logits = _grouped_completion_logits(model, input_ids, attention_mask, T, group_size)
    else:
        logits = _completion_logits(model, input_ids, attention_mask, T)
    targets = input_ids[:, -T:]
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
    model, input_ids, attention_mask, logits_to_keep: int, temperature: float = 1.0, group_size: int = 1
):
    """Log-probs under the base model: the same peft model with its adapters disabled."""
    with model.disable_adapter():
        return token_logprobs(model, input_ids, attention_mask, logits_to_keep, temperature, group_size=group_size)
