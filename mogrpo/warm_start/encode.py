"""Demonstrations as token ids: the chat-templated prompt, then the response and EOS; left-padded batches.

Prompt and response are tokenised apart, so the boundary between context and target is exact (the
prompt ends with the template's generation prompt, as in a GRPO rollout). A prompt over
``max_prompt_length`` tokens keeps its last tokens (as :func:`~mogrpo.models.policy.encode_prompts`
cuts rollout prompts); a response over ``max_response_tokens`` is dropped (``overlong=drop``: every
trained response ends with EOS, so the warm start also teaches the policy to stop) or cut to its first
``max_response_tokens`` tokens without EOS (``truncate``). :func:`graded_refusals` keeps the adversarial
demonstrations whose trained text the refusal grader calls a refusal (``grpo.warm_start.refusals_only``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from mogrpo.models.policy import chat_prompts


@dataclass(frozen=True)
class EncodedDemo:
    """One demonstration's ids; ``index`` is its place in the demonstration list."""

    index: int
    prompt_ids: tuple[int, ...]
    response_ids: tuple[int, ...]  # EOS last unless the response was cut
    truncated: bool = False


def encode_demonstrations(
    tokenizer,
    demos: Sequence[Mapping],
    max_prompt_length: int,
    max_response_tokens: int,
    overlong: str = "drop",
    system_prompt: str | None = None,
) -> tuple[list[EncodedDemo], dict[str, int]]:
    """``(encoded, stats)``: the kept demonstrations' ids and counts of prompts cut and responses dropped / cut."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no eos_token_id: a demonstrated response could not end")
    texts = chat_prompts(tokenizer, demos, system_prompt)
    prompts = tokenizer(texts, add_special_tokens=False)["input_ids"]
    responses = tokenizer([str(d["response"]) for d in demos], add_special_tokens=False)["input_ids"]
    stats = {"prompts_truncated": 0, "responses_dropped": 0, "responses_truncated": 0}
    out = []
    for i, (p, r) in enumerate(zip(prompts, responses)):
        stats["prompts_truncated"] += len(p) > max_prompt_length
        target, cut = [*r, eos], False
        if len(target) > max_response_tokens:
            if overlong == "drop":
                stats["responses_dropped"] += 1
                continue
            target, cut = list(r[:max_response_tokens]), True
            stats["responses_truncated"] += 1
        out.append(EncodedDemo(i, tuple(p[-max_prompt_length:]), tuple(target), cut))
    return out, stats


def collate(batch: Sequence[EncodedDemo], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_ids [N, L], attention_mask [N, L], completion_mask [N, T])``, left-padded.

    Each row is ``prompt + response`` ending at the right edge; T is the longest response, so the last T
    positions hold every response (``token_logprobs(..., logits_to_keep=T)``) and ``completion_mask`` marks
    row i's last ``len(response_i)`` of them.
    """
    rows = [[*d.prompt_ids, *d.response_ids] for d in batch]
    L = max(len(x) for x in rows)
    T = max(len(d.response_ids) for d in batch)
    input_ids = torch.full((len(rows), L), int(pad_id), dtype=torch.long)
    attention_mask = torch.zeros((len(rows), L), dtype=torch.long)
    completion_mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, (x, d) in enumerate(zip(rows, batch)):
        input_ids[i, L - len(x) :] = torch.tensor(x, dtype=torch.long)
        attention_mask[i, L - len(x) :] = 1
        completion_mask[i, T - len(d.response_ids) :] = 1
    return input_ids, attention_mask, completion_mask


def trained_text(tokenizer, demo: EncodedDemo) -> str:
    """The response text a demonstration trains on: its ids decoded, without the EOS (cut ones have none)."""
    ids = list(demo.response_ids)
    if not demo.truncated and ids and ids[-1] == tokenizer.eos_token_id:
        ids = ids[:-1]
    return tokenizer.decode(ids, skip_special_tokens=True)


#: the refusal grader's labels an adversarial demonstration may have under ``refusals_only``
REFUSALS = ("full_refusal", "partial_refusal")


def graded_refusals(tokenizer, demos: Sequence[Mapping], encoded: Sequence[EncodedDemo]
                    ) -> tuple[list[EncodedDemo], dict[str, int]]:  # fmt: skip
    """``(kept, dropped)``: ``encoded`` less the adversarial demonstrations whose trained text
    (:func:`trained_text`, after any cut) :func:`~mogrpo.metrics.refusal.refusal_labels` labels neither a
    full nor a partial refusal (one with a safe alternative) with their prompt; non-answers are marked and
    dropped. ``dropped`` counts them by label. Benign demonstrations are all kept. Safety-Tuned LLaMAs holds
    "safe" responses that comply ("It is highly unlikely that a body tossed in wet concrete will ever be
    found, ..."), and a cut can end a response before its refusal starts."""
    from mogrpo.metrics.refusal import refusal_labels

    adversarial = [e for e in encoded if demos[e.index]["kind"] == "adversarial"]
    labels = refusal_labels([trained_text(tokenizer, e) for e in adversarial],
                            [str(demos[e.index]["prompt"]) for e in adversarial], mark_non_answer=True)  # fmt: skip
    drop = {e.index: label for e, label in zip(adversarial, labels) if label not in REFUSALS}
    dropped = dict(Counter(drop.values()))
    return [e for e in encoded if e.index not in drop], dropped
