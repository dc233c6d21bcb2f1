"""Preference rows against over-refusal: on a benign request, an answer beats "I can't help with that".

GRPO climbs whatever the aggregate reward ranks first. A reward that scores refusals as safe and
never sees a refusal of a *harmless* request lets the policy refuse everything; the builtin data has
only 35 such rows. These rows pair a real answer to a benign prompt (``response``) with a generic
refusal (``rejected``) taken from Do-Not-Answer's real model refusals
(:func:`mogrpo.data.ranking_pairs.generic_refusals`: "Sorry, but I can't assist with that.", which
name no request and so fit any prompt), label **meaningfulness** = 1.0 (the rubric: a refusal of a
harmless request "misreads the request", 0) and **safety** = 0.5, a tie: answering a harmless request
harms no one, and neither does refusing it. Without the tie the safety head learns "a refusal is
safer" on every prompt (measured: it preferred the refusal on all 268 validation pairs after one
epoch), and any weight on safety then rewards over-refusal. A constructed label, by judgement: no annotator
compared these two replies, but every source answer was judged good by its authors (Self-Instruct's
reference outputs) or preferred by a crowdworker (HH-RLHF helpful-base's chosen replies), and none
asks for anything harmful. Other aspects stay unlabelled.

Sources: ``self_instruct_seed`` (the 175 seed tasks; the 252 user-oriented ones are evaluation
only), ``hh_helpful`` (HH-RLHF helpful-base test chosen replies).

:func:`benign_answers` gives the same answers as absolute rows with **safety** = 1.0. The reason,
measured: Do-Not-Answer's direct answers are nearly all the harmful ones (172 of its 185
"follows the instruction" responses are labelled harmful), so a safety head trained on it learns
"a direct answer is unsafe" and scored plain answers to Self-Instruct tasks (a list of party
games, how to do a burpee) 0.3-0.4 against 0.85 for "Sorry, but I can't assist with that.". The
label is a judgement, not an annotation: these answers were written (Self-Instruct) or chosen
(HH-RLHF helpful-base, the helpfulness collection, not the red-teaming one) as good replies to
ordinary requests, and nothing in them harms anyone. Split pinned by prompt
(:func:`mogrpo.data.splits.prompt_split`), so the held-out ranking check
(:func:`over_refusal_pairs`) never sees a training prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np

from mogrpo.data.preference_pairs import hh_rlhf_pairs
from mogrpo.data.public import _dataset, shared_file
from mogrpo.data.ranking_pairs import SEED_TASKS_FILE, generic_refusals, seed_task_prompt
from mogrpo.data.splits import prompt_split
from mogrpo.errors import DataError
from mogrpo.utils.io import read_json_lines

SOURCES = ("self_instruct_seed", "hh_helpful")


def check_sources(sources: Sequence[str], name: str) -> None:
    """Raise a DataError naming ``name`` when ``sources`` holds a name outside :data:`SOURCES`."""
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise DataError(f"unknown source(s) {unknown}; sources are {SOURCES}", source=name)


def _answers(root: str | Path, source: str) -> list[tuple[str, str]]:
    if source == "self_instruct_seed":
        rows = []
        for task in read_json_lines(shared_file(root, SEED_TASKS_FILE)):
            output = str(((task.get("instances") or [{}])[0]).get("output") or "").strip()
            prompt = seed_task_prompt(task)
            if prompt and output:
                rows.append((prompt, output))
        return rows
    ds = hh_rlhf_pairs(root, subset="helpful-base")
    return list(zip(ds["prompt"], ds["response"]))


def benign_over_refusal(
    root: str | Path,
    sources: Sequence[str] = SOURCES,
    max_rows: int | None = None,
    seed: int = 0,
) -> datasets.Dataset:
    """Preference rows (benign answer over a generic refusal: meaningfulness 1.0, safety 0.5) from ``sources``.

    Refusals are assigned round-robin over the most frequent generic refusals. ``source`` =
    ``"over_refusal:<source>"``; ``split`` = ``prompt_split(prompt)``. ``max_rows``: a seeded subset.
    """
    check_sources(sources, "over_refusal")
    refusals = generic_refusals(root)
    data: dict[str, list] = {"prompt": [], "response": [], "rejected": [], "source": [], "split": []}
    for source in sources:
        for prompt, answer in _answers(root, source):
            data["prompt"].append(prompt)
            data["response"].append(answer)
            data["rejected"].append(refusals[len(data["rejected"]) % len(refusals)])
            data["source"].append(f"over_refusal:{source}")
            data["split"].append(prompt_split(prompt))
    data["meaningfulness"] = np.ones(len(data["prompt"]))
    data["safety"] = np.full(len(data["prompt"]), 0.5)  # a tie: both replies are safe
    return _dataset(data, max_rows, seed)


def over_refusal_pairs(root: str | Path, split: str = "test", sources: Sequence[str] = SOURCES) -> list[dict]:
    """The rows of :func:`benign_over_refusal` whose prompt is in ``split``, as ranking-check pairs
    ``{"prompt", "better", "worse", "source"}`` (check ``helpful_over_refusal``)."""
    ds = benign_over_refusal(root, sources)
    return [
        {"prompt": r["prompt"], "better": r["response"], "worse": r["rejected"], "source": r["source"]}
        for r in ds
        if r["split"] == split
    ]


def benign_answers(
    root: str | Path, sources: Sequence[str] = SOURCES, max_rows: int | None = None, seed: int = 0
) -> datasets.Dataset:
    """Absolute rows: a real answer to a benign prompt, **safety** = 1.0 (see the module docstring).

    ``source`` = ``"benign_answers:<source>"``; ``split`` = ``prompt_split(prompt)``, the same split
    as the prompt's :func:`benign_over_refusal` row. ``max_rows``: a seeded subset.
    """
    check_sources(sources, "benign_answers")
    data: dict[str, list] = {"prompt": [], "response": [], "source": [], "split": []}
    for source in sources:
        for prompt, answer in _answers(root, source):
            data["prompt"].append(prompt)
            data["response"].append(answer)
            data["source"].append(f"benign_answers:{source}")
            data["split"].append(prompt_split(prompt))
    data["safety"] = np.ones(len(data["prompt"]))
    return _dataset(data, max_rows, seed)
