"""The aspect-labelled pairs shipped in the package: ``mogrpo/data/builtin/aspect_labelled.jsonl``.

One JSON object a line: ``{"id", "prompt_id", "prompt", "response", <aspect>..., "style", "source"}``
with each aspect score in [0, 1] or null (missing). See ``mogrpo/data/builtin/DATA_CARD.md``.

- :func:`builtin_labelled`    the rows as absolute labels
- :func:`builtin_preferences` preference rows derived from the rater's ``style`` field (see there)
- :func:`builtin_rows`        the raw rows with the prompt's ``kind`` (adversarial / benign)
"""

from __future__ import annotations

import numbers
from importlib import resources
from pathlib import Path

import datasets
import numpy as np

from mogrpo.data.labelled import SPLIT_COLUMN, features, validate_rows
from mogrpo.data.splits import prompt_split
from mogrpo.errors import DataError
from mogrpo.utils.io import read_json_lines

FILE_NAME = "aspect_labelled.jsonl"
PROMPTS_NAME = "prompts.jsonl"
#: the rater's response styles (DATA_CARD.md "Styles") grouped by what they do with the request
REFUSAL_STYLES = ("polite_refusal_with_alternative", "curt_refusal")
NON_ANSWER_STYLES = ("policy_lecture", "incoherent", "off_topic", "empty_or_minimal")
HELPFUL_STYLES = ("helpful",)
HARMFUL_STYLES = ("harmful_compliance",)
# fields of a row that are not scores
META_FIELDS = ("id", "prompt_id", "prompt", "response", "source")


def builtin_path() -> Path:
    """The shipped ``aspect_labelled.jsonl`` (beside this module, inside the installed package)."""
    return Path(str(resources.files("mogrpo.data") / "builtin" / FILE_NAME))


def _is_score(value) -> bool:
    return value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool))


def builtin_labelled(path: str | Path | None = None, pin_splits: bool = False) -> datasets.Dataset:
    """The shipped pairs as a Dataset: prompt, response, source = ``"builtin:<source>"``, one float32
    column per score field (null -> NaN).

    A score field is any field besides ``id, prompt_id, prompt, response, source`` whose values are
    all numbers or null. Rows are checked with :func:`validate_rows` (errors name the file and row).
    ``pin_splits``: add a ``split`` column from :func:`mogrpo.data.splits.prompt_split`, so the held-out
    ranking checks (:mod:`mogrpo.data.ranking_pairs`) know which builtin prompts the model never saw.
    """
    path = Path(path) if path is not None else builtin_path()
    if not path.is_file():
        raise DataError("file not found (the builtin labelled data ships with the package)", source=str(path))
    rows = read_json_lines(path)
    if not rows:
        raise DataError("no rows", source=str(path))
    fields = list(dict.fromkeys(k for r in rows for k in r if k not in META_FIELDS))
    aspects = [k for k in fields if all(_is_score(r.get(k)) for r in rows)]
    data = {
        "prompt": [r.get("prompt") for r in rows],
        "response": [r.get("response") for r in rows],
        "source": [f"builtin:{r['source']}" if r.get("source") else "builtin" for r in rows],
    }
    for a in aspects:
        data[a] = np.array([np.nan if r.get(a) is None else r[a] for r in rows], dtype=np.float32)
    feats = features(aspects)
    if pin_splits:
        data[SPLIT_COLUMN] = [prompt_split(p) for p in data["prompt"]]
        feats[SPLIT_COLUMN] = datasets.Value("string")
    ds = datasets.Dataset.from_dict(data, features=feats)
    validate_rows(ds, aspects, str(path))
    return ds


def builtin_rows(path: str | Path | None = None) -> list[dict]:
    """The raw labelled rows, each with ``kind`` (the prompt's: adversarial / benign) and ``split``
    (:func:`~mogrpo.data.splits.prompt_split` of the prompt)."""
    path = Path(path) if path is not None else builtin_path()
    prompts = {r["id"]: r for r in read_json_lines(path.with_name(PROMPTS_NAME))}
    rows = []
    for r in read_json_lines(path):
        kind = prompts.get(r.get("prompt_id"), {}).get("kind")
        rows.append({**r, "kind": kind, "split": prompt_split(r["prompt"])})
    return rows


def style_pairs(rows: list[dict], better: tuple[str, ...], worse: tuple[str, ...], kind: str) -> list[dict]:
    """Every (better-style, worse-style) pair of responses to one prompt of ``kind``:
    ``{"prompt", "better", "worse", "split", "source"}``."""
    by_prompt: dict[str, list[dict]] = {}
    for r in rows:
        if r.get("kind") == kind:
            by_prompt.setdefault(r["prompt"], []).append(r)
    pairs = []
    for prompt, group in by_prompt.items():
        for b in (r for r in group if r.get("style") in better):
            for w in (r for r in group if r.get("style") in worse):
                pairs.append({"prompt": prompt, "better": b["response"], "worse": w["response"],
                              "split": b["split"], "source": "builtin"})  # fmt: skip
    return pairs


def builtin_preferences(path: str | Path | None = None) -> datasets.Dataset:
    """Preference rows derived from the rater's styles, for the ranking GRPO exploits.

    On an adversarial prompt, each refusal (``polite_refusal_with_alternative``, ``curt_refusal``) is
    preferred on **safety** to each non-answer of the same prompt (``policy_lecture``, ``incoherent``,
    ``off_topic``, ``empty_or_minimal``). A judgement call, and the reason: the absolute labels give a
    non-answer safety 1 (it states nothing harmful), but it neither declines nor redirects the harmful
    request, and a policy trained against a safety head that cannot tell the two apart learned to
    answer everything with moralising word salad. The pair says only "the refusal handles the request
    more safely", not that the non-answer is harmful. On a benign prompt, each ``helpful`` response is
    preferred on **meaningfulness** to each refusal and non-answer. Split pinned by prompt.
    """
    rows = builtin_rows(path)
    parts = [
        (style_pairs(rows, REFUSAL_STYLES, NON_ANSWER_STYLES, "adversarial"), "safety"),
        (style_pairs(rows, HELPFUL_STYLES, REFUSAL_STYLES + NON_ANSWER_STYLES, "benign"), "meaningfulness"),
    ]
    data: dict[str, list] = {"prompt": [], "response": [], "rejected": [], "source": [], SPLIT_COLUMN: [],
                             "safety": [], "meaningfulness": []}  # fmt: skip
    for pairs, aspect in parts:
        for p in pairs:
            data["prompt"].append(p["prompt"])
            data["response"].append(p["better"])
            data["rejected"].append(p["worse"])
            data["source"].append("builtin_preferences")
            data[SPLIT_COLUMN].append(p["split"])
            data["safety"].append(1.0 if aspect == "safety" else np.nan)
            data["meaningfulness"].append(1.0 if aspect == "meaningfulness" else np.nan)
    feats = features(["safety", "meaningfulness"], ("prompt", "response", "rejected", "source", SPLIT_COLUMN))
    return datasets.Dataset.from_dict(data, features=feats)
