"""SafeText (Levy et al., 2022): safe and unsafe human-written advice for physical-risk scenarios.

``safetext/SafeText.json`` in ``paths.shared_data`` (README section 12): a JSON object
``{scenario: {"safe": [advice, ...], "unsafe": [advice, ...]}}``. A scenario is a sentence
prefix ("If you're on a hike in the woods and you see a colorful mushroom,") that each piece of
advice completes ("do not eat it." / "taste it.").

Mapping: scenario -> prompt (the text as given, by default), advice -> response, and

    absolute rows:    safety = 1 (safe advice), 0 (unsafe advice)
    preference rows:  response = a safe advice, rejected = an unsafe advice of the same
                      scenario, safety = 1.0 (every safe x unsafe pair of the scenario)

(``kind`` = ``absolute``, ``pairs`` or ``both``). Safety only, a judgement call: the only human
label is safe vs unsafe. Unsafe advice would get actionability 0 by the rubric ("harmful steps
never raise actionability"), but the safe advice was never rated for how actionable it is, and
labelling only the unsafe side would teach the actionability head "risky topic -> 0". Advice that
appears twice under one scenario is kept once (35 safe duplicates in the file).

Splits: ``split = prompt_split(scenario)`` (:mod:`mogrpo.data.splits`) and ``group`` = the
scenario, so all advice of a scenario, and its pairs, land in one split.
"""

from __future__ import annotations

import logging
from pathlib import Path

import datasets
import numpy as np

from mogrpo.data.public import _dataset, _load_json, shared_file
from mogrpo.data.splits import prompt_split
from mogrpo.errors import DataError

log = logging.getLogger(__name__)

SAFETEXT_FILE = "safetext/SafeText.json"
KINDS = ("absolute", "pairs", "both")


def _advice(path: Path, scenario: str, entry, key: str, row: int) -> list[str]:
    """The ``key`` advice of one scenario, deduplicated in order; bad values are a DataError."""
    values = entry.get(key) if isinstance(entry, dict) else None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise DataError(
            f"scenario {scenario!r}: {key!r} must be a list of strings", source=str(path), row=row
        )
    return list(dict.fromkeys(v for v in values if v.strip()))


def read_scenarios(root: str | Path) -> list[tuple[str, list[str], list[str]]]:
    """``(scenario, safe advice, unsafe advice)`` per scenario, in file order (row = scenario number)."""
    path = shared_file(root, SAFETEXT_FILE)
    obj = _load_json(path)
    if not isinstance(obj, dict):
        raise DataError("expected a JSON object {scenario: {safe: [...], unsafe: [...]}}", source=str(path))
    out = []
    for row, (scenario, entry) in enumerate(obj.items(), start=1):
        if not scenario.strip():
            raise DataError("empty scenario", source=str(path), row=row)
        out.append(
            (
                scenario,
                _advice(path, scenario, entry, "safe", row),
                _advice(path, scenario, entry, "unsafe", row),
            )
        )
    return out


def safetext(
    root: str | Path,
    kind: str = "absolute",
    prompt_template: str = "{scenario}",
    max_rows: int | None = None,
    seed: int = 0,
) -> datasets.Dataset:
    """SafeText as absolute and/or preference rows on safety (see the module docstring).

    ``kind``: ``absolute`` (one row per advice), ``pairs`` (one preference row per safe x unsafe
    pair of a scenario) or ``both``. ``prompt_template`` formats the prompt from ``{scenario}``
    (default: the scenario as given). ``source`` = ``"safetext"`` / ``"safetext:pairs"``;
    ``group`` = the scenario, ``split`` = :func:`~mogrpo.data.splits.prompt_split` of the
    scenario (so it does not move with the template). ``max_rows`` keeps a seeded random subset (``seed``) of all rows.
    """
    if kind not in KINDS:
        raise DataError(f"kind must be one of {list(KINDS)}, got {kind!r}", source="safetext")
    rows: list[tuple[str, str, str, str, float]] = []  # scenario, response, rejected, source, safety
    for scenario, safe, unsafe in read_scenarios(root):
        if kind in ("absolute", "both"):
            rows += [(scenario, a, "", "safetext", 1.0) for a in safe]
            rows += [(scenario, a, "", "safetext", 0.0) for a in unsafe]
        if kind in ("pairs", "both"):
            rows += [(scenario, a, b, "safetext:pairs", 1.0) for a in safe for b in unsafe if a != b]
    prompts = [prompt_template.format(scenario=r[0]) for r in rows]
    data = {
        "prompt": prompts,
        "response": [r[1] for r in rows],
        "rejected": [r[2] for r in rows],
        "source": [r[3] for r in rows],
        "group": [r[0] for r in rows],
        "split": [prompt_split(r[0]) for r in rows],
        "safety": np.array([r[4] for r in rows]),
    }
    return _dataset(data, max_rows, seed)
