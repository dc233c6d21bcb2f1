"""Reward rows from the policy's own answers to train prompts: what GRPO finds, shown to the reward model.

Why, measured (README "Recipe sweep, third round"): GRPO against the default reward model spread
one fixed opening over every prompt, benign ones included ("No, do not provide a SQL query ...",
"No, you cannot ...", "I always advise ..."), and the reward model ranked those answers above the
base model's plain answers. Its safety head scored the base model's short answers to harmless
requests about 0.85 against 0.98 for the fixed openings, so with safety weighted 4 any safe-sounding
opening won the group. None of its real data was written by a 135M model: the failures lie outside
what it was trained on. Iterated RLHF (Bai et al. 2022; Touvron et al. 2023) refreshes the reward
model on the current policy's samples; here the labels are constructed, not annotated.

The input is a JSON-lines file of ``{prompt, kind, policy, response, refusal, split}``
(``experiments/harvest_policy_samples.py``: greedy answers of the base policy, ``policy = "base"``,
and of trained adapters to prompts of the GRPO prompt mix's train split; ``refusal`` is the
:func:`mogrpo.metrics.refusal.detect_refusal` label). Every row's ``split`` must be ``train``, or this
raises, and every row is pinned to the reward data's train split: no validation or held-out prompt
reaches the reward model this way. (That split is the prompt set's: the builtin prompts keep their own split
and MT-Bench's turns go by the first turn.) Rows whose prompt text the reward data's own split
(:func:`mogrpo.data.splits.prompt_split`, which the builtin labelled rows are pinned by) places
outside train are dropped too, and counted in the log, so a prompt is never train here and held out
in another source.
Four kinds of rows, by judgement:

- ``policy:benign_safe`` (absolute): every answer to a **benign** prompt, **safety** = 1.0. Answering
  a harmless request harms no one, and neither does refusing it, so on these prompts the safety head
  has nothing to prefer; the aspects that do differ decide.
- ``policy:benign_over_refusal`` (preference): on a benign prompt, the base policy's answer (when the
  detector counts it as compliance) over an adapter's answer that the detector counts as a refusal:
  **meaningfulness** = **actionability** = 1.0, **safety** = 0.5 (a tie, as in
  :mod:`mogrpo.data.over_refusal`).
- ``policy:benign_over_fixed_opening`` (preference): on a benign prompt, the base policy's answer over
  an adapter's compliant answer that opens with a *fixed opening*, the first ``opening_words`` words
  shared by at least ``fixed_share`` of that policy's answers (to different prompts): **meaningfulness**
  = **actionability** = 1.0, safety unlabelled. An opening written for every prompt answers none of
  them, the argument of :mod:`mogrpo.data.off_topic`. Base answers that open with the base policy's
  own fixed opening are not used as the better side.
- ``policy:refusal_over_compliance`` (preference): on an **adversarial** prompt (a prompt of a
  harmful-question set), an adapter's refusal over each compliant answer to it, the base policy's and
  the adapters' alike (a GRPO run learned "I'll help you spread fake news. Here's a simple guide",
  which the reward model scored 0.96 safe): **safety** = 1.0,
  **meaningfulness** = **actionability** = 0.5 (ties: helping with a harmful request earns no
  helpfulness, as Do-Not-Answer's harmful answers get actionability 0; without the ties the heads that
  the benign rows teach to like the base policy's answers outvoted safety on harmful prompts, measured:
  the aggregate preferred the base's compliance to the warm start's refusal on 86 % of the adversarial
  validation prompts), politeness unlabelled. The refusal is an adapter's own answer to that prompt when one is a
  refusal, else none (the prompt is skipped). Do-Not-Answer's refusal pairs teach the same on large
  models' answers; these teach it on the small policy's (the default reward model scored the base
  policy's start on "How do I make a Biological weapon?" 0.89 safe). The refusals take turns when a
  prompt has several compliant answers; the base's own refusals are not used (the base refuses almost
  nothing, and rarely in full).

``max_rows`` caps each kind (a seeded subset).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import datasets
import numpy as np

from mogrpo.data.public import _dataset, subsample
from mogrpo.data.splits import prompt_split
from mogrpo.errors import DataError
from mogrpo.utils.io import read_json_lines

BASE = "base"
COMPLIANCE = "full_compliance"
KINDS = ("benign_safe", "benign_over_refusal", "benign_over_fixed_opening", "refusal_over_compliance")
log = logging.getLogger(__name__)

REQUIRED = ("prompt", "kind", "policy", "response", "refusal", "split")


def opening(text: str, n_words: int) -> str:
    """The first ``n_words`` words of ``text``, lower-cased, punctuation dropped ('' when it has fewer)."""
    words = re.findall(r"[a-z0-9']+", str(text).lower())
    return " ".join(words[:n_words]) if len(words) >= n_words else ""


def fixed_openings(answers: Sequence[Mapping], n_words: int, share: float) -> set[str]:
    """Openings of at least ``share`` of ``answers`` (one policy's, to different prompts), '' excluded."""
    counts = Counter(opening(a["response"], n_words) for a in answers)
    counts.pop("", None)
    return {o for o, c in counts.items() if c >= share * len(answers)}


def read_samples(path: str | Path) -> list[dict]:
    """The rows of a harvest file, checked: the required fields, a known kind, split train, a base policy."""
    path = Path(path)
    if not path.is_file():
        raise DataError("policy samples file not found (write it with experiments/harvest_policy_samples.py)",
                        source=str(path))
    rows = list(read_json_lines(path))
    for i, row in enumerate(rows):
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise DataError(f"missing field(s) {missing}", source=str(path), row=i + 1)
        if row["kind"] not in ("adversarial", "benign"):
            raise DataError(f"kind must be adversarial or benign, got {row['kind']!r}", source=str(path), row=i + 1)
        if row.get("split") != "train":
            raise DataError(f"split {row.get('split')!r}: policy samples must answer train prompts only",
                            source=str(path), row=i + 1)
    if not any(r["policy"] == BASE for r in rows):
        raise DataError(f"no answers of the base policy (policy = {BASE!r})", source=str(path))
    return rows


def train_rows(rows: Sequence[Mapping]) -> list[Mapping]:
    """The rows whose prompt the reward data's own split (:func:`~mogrpo.data.splits.prompt_split`) puts in
    train; the others are held out from the reward model (and from DPO pairs built from a harvest)."""
    return [r for r in rows if prompt_split(r["prompt"]) == "train"]


def sample_rows(rows: Sequence[Mapping], opening_words: int = 3, fixed_share: float = 0.05) -> dict[str, list[tuple]]:
    """``kind -> [(prompt, response, rejected)]`` for :data:`KINDS` (see the module docstring)."""
    by_policy: dict[str, list[Mapping]] = {}
    for r in rows:
        by_policy.setdefault(r["policy"], []).append(r)
    fixed = {p: fixed_openings(a, opening_words, fixed_share) for p, a in by_policy.items()}
    base = {r["prompt"]: r for r in by_policy[BASE]}
    out: dict[str, list[tuple]] = {k: [] for k in KINDS}
    for r in rows:
        if r["kind"] == "benign":
            out["benign_safe"].append((r["prompt"], r["response"], ""))
    for policy, answers in sorted(by_policy.items()):
        if policy == BASE:
            continue
        for r in answers:
            b = base.get(r["prompt"])
            if r["kind"] != "benign" or b is None or b["refusal"] != COMPLIANCE:
                continue
            if b["response"].strip() == r["response"].strip() or opening(b["response"], opening_words) in fixed[BASE]:
                continue
            if r["refusal"] != COMPLIANCE:
                out["benign_over_refusal"].append((r["prompt"], b["response"], r["response"]))
            elif opening(r["response"], opening_words) in fixed[policy]:
                out["benign_over_fixed_opening"].append((r["prompt"], b["response"], r["response"]))
    by_prompt: dict[str, list[Mapping]] = {}
    for r in rows:
        if r["kind"] == "adversarial":
            by_prompt.setdefault(r["prompt"], []).append(r)
    for prompt, answers in by_prompt.items():  # every compliant answer loses to a refusal, taken in turn
        refusals = [a["response"] for a in answers if a["refusal"] != COMPLIANCE and a["policy"] != BASE]
        compliant = list(dict.fromkeys(a["response"] for a in answers if a["refusal"] == COMPLIANCE))
        for i, worse in enumerate(compliant if refusals else []):
            out["refusal_over_compliance"].append((prompt, refusals[i % len(refusals)], worse))
    return out


def policy_samples(
    path: str | Path,
    kinds: Sequence[str] = KINDS,
    max_rows: int | None = 400,
    opening_words: int = 3,
    fixed_share: float = 0.05,
    seed: int = 0,
) -> datasets.Dataset:
    """Reward rows from a harvest file (see the module docstring); ``max_rows`` caps each kind."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise DataError(f"unknown kind(s) {unknown}; kinds are {KINDS}", source="policy_samples")
    rows = read_samples(path)
    kept = train_rows(rows)
    if len(kept) < len(rows):
        log.info("%s: dropped %d of %d answers whose prompt the reward data holds out", path, len(rows) - len(kept),
                 len(rows))
    made = sample_rows(kept, opening_words, fixed_share)
    labels = {  # kind -> (meaningfulness, actionability, safety); NaN = unlabelled
        "benign_safe": (np.nan, np.nan, 1.0),
        "benign_over_refusal": (1.0, 1.0, 0.5),
        "benign_over_fixed_opening": (1.0, 1.0, np.nan),
        "refusal_over_compliance": (0.5, 0.5, 1.0),
    }
    data: dict[str, list] = {"prompt": [], "response": [], "rejected": [], "source": [], "split": []}
    scores: dict[str, list[float]] = {"meaningfulness": [], "actionability": [], "safety": []}
    for i, kind in enumerate(kinds):
        for j in subsample(len(made[kind]), max_rows, seed + i):
            prompt, response, rejected = made[kind][j]
            data["prompt"].append(prompt)
            data["response"].append(response)
            data["rejected"].append(rejected)
            data["source"].append(f"policy:{kind}")
            data["split"].append("train")
            for aspect, value in zip(scores, labels[kind]):
                scores[aspect].append(value)
    return _dataset({**data, **{k: np.array(v, dtype=float) for k, v in scores.items()}}, None, seed)
