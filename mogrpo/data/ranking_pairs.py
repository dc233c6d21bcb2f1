"""Held-out pairs for the checks GRPO depends on: does the *aggregate* reward rank the right answer first?

A reward model can score each aspect well on its own test split while its weighted sum prefers
harmful compliance to a refusal, and the policy then learns exactly that. So the calibration
reports, on prompts the regressor never trained on, how often R = sum_k w_k r_k ranks

==========================  ==========================================  ============================
check                       better / worse                              prompts
==========================  ==========================================  ============================
``refusal_over_harmful``    a refusal / harmful compliance              harmful
``helpful_over_refusal``    a helpful answer / a refusal                benign
``refusal_over_non_answer`` a refusal / a moralising or incoherent       harmful
                            non-answer (the collapse GRPO found)
``helpful_over_non_answer`` a helpful answer / such a non-answer        benign
``answer_over_empty``       a refusal or a helpful answer / the empty   both
                            answer (the hack a safety-only run found)
==========================  ==========================================  ============================

Each builder returns pair dicts ``{"prompt", "better", "worse", "source"}`` from the test split by
prompt (:func:`mogrpo.data.splits.prompt_split`), the split the reward data pins these prompts to.

- :func:`builtin_pairs`: the builtin rows of held-out prompts, paired by the rater's ``style``.
  Non-answers are also paired across prompts: a collapsed policy gives the same word salad to
  every prompt, so a held-out non-answer written for one prompt is a fair probe for another.
- :func:`mogrpo.data.over_refusal.over_refusal_pairs`: real answers to benign prompts (Self-Instruct
  seed tasks' reference outputs, HH-RLHF helpful-base chosen replies) against a generic refusal
  from Do-Not-Answer's real model refusals (:func:`generic_refusals`: "Sorry, but I can't assist
  with that.", which refuse without naming the request, so they fit any prompt).
- Do-Not-Answer's human labels give refusal vs harmful pairs on its held-out questions
  (:mod:`mogrpo.data.do_not_answer`).
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from pathlib import Path

from mogrpo.data.builtin import (
    HARMFUL_STYLES,
    HELPFUL_STYLES,
    NON_ANSWER_STYLES,
    REFUSAL_STYLES,
    builtin_rows,
    style_pairs,
)
from mogrpo.errors import DataError

CHECKS = ("refusal_over_harmful", "helpful_over_refusal", "refusal_over_non_answer", "helpful_over_non_answer")
DNA_FILE = "do-not-answer/do_not_answer_data.csv"
SEED_TASKS_FILE = "self-instruct/seed_tasks.jsonl"
DNA_MODELS = ("GPT4", "ChatGPT", "Claude", "ChatGLM2", "llama2-7b-chat", "vicuna-7b")


def _check_name(check: str) -> None:
    if check not in CHECKS:
        raise ValueError(f"check must be one of {CHECKS}, got {check!r}")


def _cross_prompt(rows: list[dict], better: tuple[str, ...], worse: tuple[str, ...], kind: str,
                  per_prompt: int) -> list[dict]:  # fmt: skip
    """Each held-out ``better`` response against ``per_prompt`` ``worse`` responses of OTHER prompts."""
    goods = [r for r in rows if r.get("kind") == kind and r.get("style") in better]
    bads = [r for r in rows if r.get("style") in worse]
    if not bads:
        return []
    cycle = itertools.cycle(bads)
    pairs = []
    for good in goods:
        taken = 0
        for _ in range(len(bads)):
            bad = next(cycle)
            if bad["prompt"] == good["prompt"]:
                continue
            pairs.append({"prompt": good["prompt"], "better": good["response"], "worse": bad["response"],
                          "source": "builtin:cross_prompt"})  # fmt: skip
            taken += 1
            if taken == per_prompt:
                break
    return pairs


def builtin_pairs(check: str, split: str = "test", path: str | Path | None = None, cross_prompt: int = 2) -> list[dict]:
    """The builtin rows' pairs for ``check`` on prompts of ``split`` (see the module docstring)."""
    _check_name(check)
    rows = [r for r in builtin_rows(path) if r["split"] == split]
    spec = {
        "refusal_over_harmful": (REFUSAL_STYLES, HARMFUL_STYLES, "adversarial"),
        "helpful_over_refusal": (HELPFUL_STYLES, REFUSAL_STYLES, "benign"),
        "refusal_over_non_answer": (REFUSAL_STYLES, NON_ANSWER_STYLES, "adversarial"),
        "helpful_over_non_answer": (HELPFUL_STYLES, NON_ANSWER_STYLES, "benign"),
    }[check]
    pairs = [{k: p[k] for k in ("prompt", "better", "worse", "source")} for p in style_pairs(rows, *spec)]
    if check.endswith("non_answer") and cross_prompt:
        pairs += _cross_prompt(rows, spec[0], spec[1], spec[2], cross_prompt)
    return pairs


def empty_answer_pairs(split: str = "test", path: str | Path | None = None) -> list[dict]:
    """``answer_over_empty``: every builtin refusal of a harmful prompt and every helpful answer to a benign
    prompt of ``split``, each against the empty answer to the same prompt. A reward model that scores
    silence as safe lets GRPO collapse to empty completions (seen with safety-only weights)."""
    rows = [r for r in builtin_rows(path) if r["split"] == split]
    good = [r for r in rows if (r.get("kind") == "adversarial" and r.get("style") in REFUSAL_STYLES)
            or (r.get("kind") == "benign" and r.get("style") in HELPFUL_STYLES)]  # fmt: skip
    return [{"prompt": r["prompt"], "better": r["response"], "worse": "", "source": "builtin:empty"} for r in good]


def generic_refusals(root: str | Path, max_words: int = 12, limit: int = 8) -> list[str]:
    """The most frequent short refusals of Do-Not-Answer's models (action 0, not harmful): refusals
    that name no request, e.g. "Sorry, but I can't assist with that.", most common first."""
    path = Path(root) / DNA_FILE
    if not path.is_file():
        raise DataError("file not found; set paths.shared_data to the shared data folder", source=str(path))
    counts: Counter[str] = Counter()
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            for m in DNA_MODELS:
                text = (row.get(f"{m}_response") or "").strip()
                if row.get(f"{m}_action") == "0" and row.get(f"{m}_harmful") == "0" and len(text.split()) <= max_words:
                    counts[text] += 1
    return [t for t, _ in counts.most_common(limit)]


def seed_task_prompt(task: dict) -> str:
    """A Self-Instruct seed task as one user prompt: the instruction, then its input if any."""
    instruction = str(task.get("instruction") or "").strip()
    instance = (task.get("instances") or [{}])[0]
    extra = str(instance.get("input") or "").strip()
    return f"{instruction}\n\n{extra}" if extra else instruction
