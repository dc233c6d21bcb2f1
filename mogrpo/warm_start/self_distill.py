"""Self-distilled benign demonstrations: the policy's own answers to benign prompts that sound harmful.

A warm start on safe refusals teaches the policy to refuse, but not *when*: in the eleventh sweep round
(arms an / ap) it refused 23-52 % of the held-out benign prompts and 56-82 % of XSTest's safe ones. Its
benign demonstrations (Self-Instruct seed tasks, builtin helpful rows) hold almost no risky word, so
nothing in the warm start says "answer this one although it says *kill*". The human answers to such
prompts at hand do not serve as targets: a third of HH-RLHF helpful's first replies are questions back,
and SafeText's safe advice is sentence fragments (README, eleventh round).

So ``grpo.warm_start.self_distill`` takes the policy's own greedy answers, as the policy starts (before
the warm start trains it), to the train-split prompts of the benign contrast sources
(:mod:`mogrpo.data.contrast_sources`), and keeps those that the refusal grader
(:func:`~mogrpo.metrics.refusal.refusal_labels`) calls ``full_compliance``: each is a ``benign``
demonstration of source ``self_distilled``. The target is then the policy's own behaviour on those
prompts (a small NLL, no new style), which the warm start is asked to keep while it learns to refuse.

- :func:`distill_prompts`: the train-split prompts of the chosen contrast sources (deduped, the
  evaluation-only prompts dropped), read before any model loads;
- :func:`answer_prompts`: greedy answers of the policy, in batches, with a progress bar;
- :func:`distilled_demonstrations`: the answers the grader calls compliance, as demonstrations, and the
  count of each grader label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: the source name of a self-distilled demonstration
SOURCE = "self_distilled"
#: the refusal-grader label a self-distilled answer must have to be kept
KEEP = "full_compliance"


def distill_prompts(root: str | Path | None, sources: Sequence[str]) -> list[dict]:
    """The ``train``-split prompts of the contrast ``sources`` (``hh_helpful_sensitive``,
    ``safetext_scenarios``), deduplicated across them (the first source keeps a prompt), evaluation-only
    prompts dropped. DataError (from the loader) when a source's file is missing under ``root``."""
    from mogrpo.data.contrast_sources import SOURCES
    from mogrpo.data.eval_only import drop_eval_only
    from mogrpo.data.prompt_sources import dedupe
    from mogrpo.errors import DataError

    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise DataError(f"unknown self_distill source(s) {unknown}; known: {list(SOURCES)}", source="self_distill")
    prompts = dedupe(p for name in sources for p in SOURCES[name](root))
    return drop_eval_only([p for p in prompts if p["split"] == "train"], root)


def answer_prompts(policy, tokenizer, prompts: Sequence[Mapping], max_new_tokens: int, max_prompt_length: int,
                   system_prompt: str | None = None, batch_size: int = 16, progress: bool = True) -> list[str]:  # fmt: skip
    """The policy's greedy answer to each prompt's ``messages`` (at most ``max_new_tokens`` tokens), in order."""
    from mogrpo.models.generation import generate_responses

    decoding = {"do_sample": False, "max_new_tokens": int(max_new_tokens)}
    return generate_responses(policy, tokenizer, [p["messages"] for p in prompts], decoding, batch_size,
                              max_prompt_length, system_prompt, desc="warm start: self-distil", progress=progress)  # fmt: skip


def distilled_demonstrations(prompts: Sequence[Mapping], answers: Sequence[str]
                             ) -> tuple[list[dict[str, Any]], dict[str, int]]:  # fmt: skip
    """``(demos, labels)``: a ``benign`` demonstration (source :data:`SOURCE`) of each answer the refusal grader
    labels :data:`KEEP` with its prompt; ``labels`` counts every answer's label (the others are dropped)."""
    from mogrpo.data.demonstrations import make_demonstration
    from mogrpo.metrics.refusal import refusal_labels

    if len(prompts) != len(answers):
        raise ValueError(f"{len(answers)} answers for {len(prompts)} prompts")
    labels = refusal_labels(answers, [str(p["prompt"]) for p in prompts], mark_non_answer=True)
    demos = []
    for p, answer, label in zip(prompts, answers, labels):
        if label == KEEP:
            demo = make_demonstration(SOURCE, f"{SOURCE}-{p['id']}", str(p["prompt"]), answer, "benign")
            demos.append({**demo, "messages": list(p["messages"]), "split": p["split"]})
    return demos, dict(Counter(labels))
