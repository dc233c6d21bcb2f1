"""Preference rows for the quality of a refusal: on a harmful request, a specific refusal beats a generic one.

The reward data teaches "a refusal is safe" (Do-Not-Answer, Safety-Tuned LLaMAs) and "a generic refusal of a
*benign* request is not meaningful" (:mod:`mogrpo.data.over_refusal`), and nothing says what a good refusal
of a *harmful* request is. Measured on the eighth recipe round's held-out answers (the default reward
model): the refusals GRPO learned ("I'm sorry, but with no data available, I'm unable to ...", "I'm not sure
what you're asking.") score meaningfulness 0.018 against 0.135 for the base model's compliance on the same 98
harmful prompts, and politeness 0.52 against 0.61. So every run that refused more lost those aspects, and
the policy's cheapest refusal was a non-answer that names nothing.

These rows pair a curated refusal from Safety-Tuned LLaMAs (Bianchi et al., 2024), which addresses the
request, says why it will not help and often redirects ("As an AI language model, I cannot ... Rape is a
serious crime ... It is important to support survivors ..."), with one that names nothing:

- Do-Not-Answer's most frequent short real model refusals (:func:`mogrpo.data.ranking_pairs.generic_refusals`,
  "Sorry, but I can't assist with that."), and
- :data:`NON_ANSWERS`, the non-answers our own policy drifted to (written here, modelled on the eighth
  round's answers; the grader counts them as refusals, :data:`mogrpo.metrics.refusal_patterns.NON_ANSWER_PATTERN`).

Labels: **meaningfulness** = 1.0 (the specific refusal engages with what was asked; the generic one would fit
any prompt) and **safety** = 0.5, a tie: both decline, and a safety head that learned "longer refusals are
safer" would pay for lectures. Other aspects stay unlabelled. A constructed label, by judgement: nobody
compared the two replies, but the chosen side was written as the safe reply to that very instruction.

Measured, and so not in the default reward data: trained in (600 rows of ``reward_data=real_mix``), the rows
made the reward model *worse* at the check they target (validation: 96.3 % -> 79.8 %), because the safety
tie taught its safety head that the generic refusal is the safer one. The default model already ranks the
specific refusal first (96.3 %), so :func:`specific_refusal_pairs` stays as a ranking check only.

``split`` = ``prompt_split(prompt)`` (:mod:`mogrpo.data.splits`): the split by prompt shared with the GRPO
prompt sets and the ranking checks, so the held-out check :func:`specific_refusal_pairs` (check
``specific_over_generic_refusal``) never sees a training prompt.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from mogrpo.data.public import _dataset, safety_tuned_llamas
from mogrpo.data.ranking_pairs import generic_refusals
from mogrpo.data.splits import prompt_split

#: non-answers that decline without naming the request: the shapes the eighth round's policy refused with
NON_ANSWERS = (
    "I'm not sure what you're asking.",
    "I'm sorry, but I'm not sure.",
    "I'm here to help. What do you need?",
    "I'm sorry, but I'm unable to provide that. If you have any other questions, feel free to ask.",
    "I'm not sure yet.",
    "I'm sorry, but I don't have that information.",
)


def rejected_refusals(root: str | Path) -> list[str]:
    """The generic side of the pairs: Do-Not-Answer's generic refusals, then :data:`NON_ANSWERS`."""
    return [*generic_refusals(root), *NON_ANSWERS]


def specific_over_generic_refusal(
    root: str | Path, max_rows: int | None = None, seed: int = 0
) -> datasets.Dataset:
    """Preference rows (a Safety-Tuned LLaMAs refusal over a generic one: meaningfulness 1.0, safety 0.5).

    The generic refusals are assigned round-robin over :func:`rejected_refusals`. ``source`` =
    ``"refusal_quality:safety_tuned_llamas"``; ``split`` = ``prompt_split(prompt)``. ``max_rows``: a seeded
    subset (2483 rows in all).
    """
    stl = safety_tuned_llamas(root)
    worse = rejected_refusals(root)
    data: dict[str, list] = {"prompt": [], "response": [], "rejected": [], "source": [], "split": []}
    for i, row in enumerate(stl):
        data["prompt"].append(row["prompt"])
        data["response"].append(row["response"])
        data["rejected"].append(worse[i % len(worse)])
        data["source"].append("refusal_quality:safety_tuned_llamas")
        data["split"].append(prompt_split(row["prompt"]))
    data["meaningfulness"] = np.ones(len(data["prompt"]))
    data["safety"] = np.full(len(data["prompt"]), 0.5)  # a tie: both replies decline
    return _dataset(data, max_rows, seed)


def specific_refusal_pairs(root: str | Path, split: str = "test") -> list[dict]:
    """The rows of :func:`specific_over_generic_refusal` whose prompt is in ``split``, as ranking-check pairs
    ``{"prompt", "better", "worse", "source"}`` (check ``specific_over_generic_refusal``)."""
    return [
        {"prompt": r["prompt"], "better": r["response"], "worse": r["rejected"], "source": r["source"]}
        for r in specific_over_generic_refusal(root)
        if r["split"] == split
    ]
