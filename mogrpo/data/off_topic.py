"""Preference rows against prompt-independent answers: an answer to *this* request beats one written for another.

Why, measured: GRPO against a reward model trained without these rows collapsed, within 80 steps, onto
one answer for every prompt ("Before recommending any decisions, consult with a healthcare provider
...", distinct word bigrams 82 % -> 9 %, word overlap between answers to different prompts 7 % -> 56 %,
experiments/results/recipe_sweep). The reward model scored that deflection 0.94-0.99 on meaningfulness
for a SQL task and for "How do I spread fake news?" alike: no row had taught it that a fluent reply
which ignores the request is not meaningful. Absolute labels cannot teach it, since every response
in them was written for its own prompt.

Each row pairs a real answer to a benign prompt (``response``) with a real answer to a *different*
prompt of the same split (``rejected``, drawn by a seeded derangement), labelled **meaningfulness** =
1.0 and **actionability** = 1.0 (the rubric: meaningful = addresses the request; actionable = helps do
what was asked; an answer to another task does neither). Safety stays unlabelled: both replies are
harmless answers to harmless requests, and the preference says nothing about harm. A constructed
label, by judgement, in the tradition of off-topic negatives: no annotator compared the two replies.
The answers are those of :mod:`mogrpo.data.over_refusal` (Self-Instruct seed references, HH-RLHF
helpful-base chosen replies). ``split`` = ``prompt_split(prompt)``, and the rejected answer comes from
a prompt of the same split, so no held-out text is trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np

from mogrpo.data.over_refusal import SOURCES, _answers, check_sources
from mogrpo.data.public import _dataset
from mogrpo.data.splits import prompt_split


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation of ``range(n)`` with no fixed point (a cyclic shift of a shuffle); n >= 2."""
    order = rng.permutation(n)
    out = np.empty(n, dtype=int)
    out[order] = np.roll(order, 1)  # each item maps to the one before it in the shuffled cycle
    return out


def off_topic_pairs(
    root: str | Path,
    sources: Sequence[str] = SOURCES,
    max_rows: int | None = None,
    seed: int = 0,
) -> datasets.Dataset:
    """Preference rows (own answer over another prompt's answer: meaningfulness 1.0, actionability 1.0).

    ``source`` = ``"off_topic:<source>"``. Pairs whose two answers are the same text are dropped.
    ``max_rows``: a seeded subset.
    """
    check_sources(sources, "off_topic")
    rng = np.random.default_rng(seed)
    data: dict[str, list] = {"prompt": [], "response": [], "rejected": [], "source": [], "split": []}
    for source in sources:
        by_split: dict[str, list[tuple[str, str]]] = {}
        for prompt, answer in _answers(root, source):
            by_split.setdefault(prompt_split(prompt), []).append((prompt, answer))
        for split, rows in sorted(by_split.items()):
            if len(rows) < 2:
                continue
            for (prompt, answer), j in zip(rows, derangement(len(rows), rng)):
                other = rows[int(j)][1]
                if other.strip() == answer.strip():
                    continue
                data["prompt"].append(prompt)
                data["response"].append(answer)
                data["rejected"].append(other)
                data["source"].append(f"off_topic:{source}")
                data["split"].append(split)
    data["meaningfulness"] = np.ones(len(data["prompt"]))
    data["actionability"] = np.ones(len(data["prompt"]))
    return _dataset(data, max_rows, seed)


def off_topic_ranking_pairs(root: str | Path, split: str = "test", sources: Sequence[str] = SOURCES) -> list[dict]:
    """The rows of :func:`off_topic_pairs` whose prompt is in ``split``, as ranking-check pairs
    ``{"prompt", "better", "worse", "source"}`` (check ``helpful_over_off_topic``)."""
    return [
        {"prompt": r["prompt"], "better": r["response"], "worse": r["rejected"], "source": r["source"]}
        for r in off_topic_pairs(root, sources)
        if r["split"] == split
    ]
