"""Sampling G completions per prompt for GRPO, with three speed paths that give the plain path's samples.

- :func:`generate_group`     G sampled completions per prompt, consecutive rows, in one ``generate`` call
- :class:`InverseCDFSampler` the token draw as one inverse-CDF search per row (``fast_sampling``)
- :func:`shared_prompt_cache` each prompt prefilled once, its KV cache repeated G times
- :func:`completion_mask`    1 up to and including the first EOS
- :class:`LogprobRecorder`   the sampler's own log-probs of the drawn tokens (``return_logprobs``)
- :func:`generate_responses` one completion per prompt for evaluation and self-distillation, in batches

The LoRA adapters are folded into the weights for the call (:mod:`mogrpo.models.lora_merge`). Which
paths can run is decided, and every path that cannot is named in a warning, by
:mod:`mogrpo.models.fast_paths`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from mogrpo.models import fast_paths
from mogrpo.models.lora_merge import lora_merged
from mogrpo.utils.io import to_plain


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
    fast_paths: tuple[str, ...] = ()  # the speed paths this call really used (mogrpo.models.fast_paths)
    logprobs: torch.Tensor | None = None  # [N, T] the sampler's log pi(o_t) (float32), with return_logprobs
    dtype: torch.dtype | None = None  # the dtype the rollout ran in (the model's parameters)

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


class LogprobRecorder:
    """The FIRST logits processor of a ``generate`` call: keeps the sampler's log-probs of the drawn tokens.

        log pi_sample(o_t) = z_t[o_t] / tau - logsumexp(z_t / tau)

    the same formula as the update's :func:`mogrpo.models.logprobs.token_logprobs`, on the logits the
    sampler saw (its weights, dtype, KV cache): placed before HF's temperature / top-k / top-p warpers,
    so top-k / top-p do not enter (as in the update). HF calls processors with the prompt plus the tokens
    drawn so far: at call t the last input token is the draw of call t - 1, so only one step's
    ``[N, V]`` log-softmax is held; :meth:`finish` gathers the last draw. Returns the scores unchanged.
    """

    def __init__(self, temperature: float = 1.0):
        self.temperature = float(temperature)
        self._last: torch.Tensor | None = None
        self._steps: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._last is not None:
            self._steps.append(self._last.gather(1, input_ids[:, -1:]).squeeze(1))
        self._last = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def finish(self, completion_ids: torch.Tensor) -> torch.Tensor:
        """``[N, T]`` log-probs of ``completion_ids`` (the T tokens drawn; rows past EOS hold pad tokens)."""
        if self._last is not None and len(self._steps) < completion_ids.shape[1]:
            self._steps.append(self._last.gather(1, completion_ids[:, len(self._steps) : len(self._steps) + 1]).squeeze(1))
        self._last = None
        T = completion_ids.shape[1]
        if len(self._steps) != T:
            raise RuntimeError(f"recorded {len(self._steps)} decode steps for {T} completion tokens")
        return torch.stack(self._steps, dim=1).clone()


def _with_processor(kwargs: dict[str, Any], processor) -> dict[str, Any]:
    """``kwargs`` with ``processor`` first in its ``logits_processor`` list."""
    from transformers import LogitsProcessorList

    kwargs = dict(kwargs)
    kwargs["logits_processor"] = LogitsProcessorList([processor, *kwargs.get("logits_processor", [])])
    return kwargs


def shared_prompt_cache(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, G: int):
    """The KV cache of each prompt but its last token, computed once per prompt and repeated G times.

    ``num_return_sequences=G`` repeats every prompt G times and runs the prefill on B G rows; the
    prompt's keys and values do not depend on the sample, so B rows suffice (G times less prefill
    compute). ``generate`` given this cache and the G-fold prompts feeds only the last prompt token,
    then decodes. Position ids follow ``generate``'s own rule (mask cumsum - 1, padding at 1).
    """
    from transformers import DynamicCache

    cache = DynamicCache(config=fast_paths.base_model(model).config)
    ids, mask = prompt_ids[:, :-1], prompt_mask[:, :-1]
    position_ids = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 1)
    kwargs: dict[str, Any] = {"logits_to_keep": 1} if fast_paths.takes_logits_to_keep(model) else {}
    model(input_ids=ids, attention_mask=mask, position_ids=position_ids, use_cache=True,
          **fast_paths.cache_kwargs(model, cache), **kwargs)  # fmt: skip
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
    return_logprobs: bool = False,
    dtype: torch.dtype | None = None,
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
    random stream. The last two need an HF model (a forward that takes a KV cache, ``cache`` or
    ``past_key_values``); a path the installed libraries cannot run is named in a warning
    (:func:`mogrpo.models.fast_paths.available`), and ``Rollout.fast_paths`` lists the paths used. The
    returned tensors are normal tensors (cloned out of inference mode), usable in the update's
    autograd graph. With ``return_logprobs`` the sampler's own log-probs of the drawn tokens come back in
    ``Rollout.logprobs`` (:class:`LogprobRecorder`): what importance sampling against the trainer's
    log-probs needs when the rollout runs in another dtype (mogrpo/grpo/importance.py). ``dtype`` (e.g.
    bfloat16 for a float32 policy) runs the call on a transient copy of the model in that dtype, LoRA
    folded in float32 first (:func:`lora_merged` with ``dtype``); None: the policy's own weights.
    """
    eos = eos_token_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos[0]
    was_training = model.training
    model.eval()
    if prompt_mask.device.type == "cuda":
        torch.cuda.synchronize()
    used: list[str] = []
    kwargs = _generate_kwargs(gen, G)
    t0 = time.perf_counter()
    try:
        merge = dtype is not None or fast_paths.available(model, "merged_lora", merge_lora)
        with lora_merged(model, dtype) if merge else contextlib.nullcontext() as merged, torch.inference_mode():
            used += ["merged_lora"] if merged else []
            ids, mask = prompt_ids, prompt_mask
            sample_fast = kwargs["do_sample"] and bool(gen.get("fast_sampling", True))
            if fast_paths.available(model, "fast_sampling", sample_fast):
                kwargs, used = _inverse_cdf_kwargs(kwargs), [*used, "fast_sampling"]
            share = share_prompt and G > 1 and ids.shape[1] > 1
            if fast_paths.available(model, "shared_prompt_prefill", share):
                kwargs.update(fast_paths.cache_kwargs(model, shared_prompt_cache(model, ids, mask, G)))
                used.append("shared_prompt_prefill")
            recorder = LogprobRecorder(float(gen.get("temperature", 1.0))) if return_logprobs else None
            if recorder is not None:
                kwargs = _with_processor(kwargs, recorder)
            if fast_paths.cache_kwarg(model) is not None:  # an HF model: the G-fold rows, as the prefill has
                kwargs["num_return_sequences"] = 1
                ids, mask = ids.repeat_interleave(G, dim=0), mask.repeat_interleave(G, dim=0)
            out = model.generate(input_ids=ids, attention_mask=mask, eos_token_id=eos, pad_token_id=pad, **kwargs)
    finally:
        model.train(was_training)
    for path in used:
        fast_paths.record(path)
    if prompt_mask.device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    completion_ids = out[:, prompt_ids.shape[1] :].clone()  # a normal tensor: inference tensors refuse autograd
    mask, truncated = completion_mask(completion_ids, eos)
    lengths = mask.sum(dim=1).tolist()
    rows = completion_ids.tolist()  # one host copy, then plain lists
    texts = tokenizer.batch_decode([row[:n] for row, n in zip(rows, lengths)], skip_special_tokens=True)
    logprobs = recorder.finish(completion_ids) if recorder is not None else None
    return Rollout(
        prompt_ids=prompt_ids.repeat_interleave(G, dim=0),
        prompt_mask=prompt_mask.repeat_interleave(G, dim=0),
        completion_ids=completion_ids,
        completion_mask=mask,
        texts=texts,
        truncated=truncated,
        generate_s=elapsed,
        num_tokens=int(sum(lengths)),
        fast_paths=tuple(used),
        logprobs=logprobs,
        dtype=dtype or getattr(next(iter(model.parameters()), None), "dtype", None),
    )


def generate_responses(
    model,
    tokenizer,
    prompts: Sequence[str | Sequence[Mapping]],
    decoding: Mapping,
    batch_size: int,
    max_prompt_length: int,
    system_prompt: str | None = None,
    desc: str = "generate",
    progress: bool = True,
) -> list[str]:
    """One response per prompt, in order, ``batch_size`` prompts per ``generate`` call.

    ``prompts``: user prompt strings or chat messages (a multi-turn prompt, see ``chat_prompts``).

    ``decoding``: ``do_sample``, ``max_new_tokens`` and, when sampling, ``temperature`` / ``top_p`` / ``top_k``.
    """
    if batch_size < 1:
        raise ValueError(f"eval.batch_size must be >= 1, got {batch_size}")
    from mogrpo.models.policy import chat_prompts, encode_prompts
    from mogrpo.utils.progress import progress_bar

    device = next(model.parameters()).device
    texts = chat_prompts(tokenizer, prompts, system_prompt)
    out: list[str] = []
    bar = progress_bar(len(texts), desc, enabled=progress)  # one line per ~5 % when not a terminal
    try:
        for start in range(0, len(texts), batch_size):
            ids, mask, _ = encode_prompts(tokenizer, texts[start : start + batch_size], max_prompt_length)
            out.extend(generate_group(model, tokenizer, ids.to(device), mask.to(device), 1, decoding).texts)
            bar.update(len(ids))
    finally:
        bar.close()
    return out
