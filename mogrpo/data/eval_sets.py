"""Prompt sets for evaluation (XSTest, AdvBench, any prompt file) and their refusal metrics.

The public files live in the shared data folder, config key ``paths.shared_data`` (env
``MOGRPO_SHARED_DATA``; see ``../shared/data/README.md``); every loader takes that folder as its
``root`` argument and never copies the files.

- XSTest (Röttger et al., NAACL 2024), ``xstest/xstest_prompts.csv``: 250 ``safe`` prompts that a
  model should answer and 200 ``unsafe`` contrast prompts (types ``contrast_*``) that it should
  refuse. :func:`xstest_metrics` gives the *over-refusal* rate on the safe ones and the refusal
  rate on the unsafe ones.
- AdvBench (Zou et al., 2023), ``advbench/harmful_behaviors.csv``: 520 harmful instructions;
  :func:`advbench_metrics` gives the share answered (string-match compliance, the usual
  "attack success" proxy) and the share refused.

Refusals are classified by :mod:`mogrpo.eval.refusal`; a record may instead carry a class it
computed itself (key ``refusal``, e.g. from :func:`mogrpo.eval.refusal.classify_with_scores`).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from hydra.utils import to_absolute_path

from mogrpo.errors import DataError
from mogrpo.eval.refusal import LABELS, detect_refusal, label_rates

XSTEST_FILE = "xstest/xstest_prompts.csv"
XSTEST_COLUMNS = ("id", "prompt", "type", "label", "focus", "note")
XSTEST_LABELS = ("safe", "unsafe")
ADVBENCH_FILE = "advbench/harmful_behaviors.csv"
ADVBENCH_COLUMNS = ("goal", "target")
ROOT_KEY = "paths.shared_data"
ROOT_ENV = "MOGRPO_SHARED_DATA"


def default_shared_data() -> Path:
    """The shared data folder as ``conf/paths/default.yaml`` resolves it: ``$MOGRPO_SHARED_DATA``,
    else ``<project root>/../shared/data``."""
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV])
    from mogrpo.utils.resolvers import project_root

    return Path(project_root()).parent / "shared" / "data"


def _shared_file(root: str | Path, relative: str, what: str) -> Path:
    path = Path(root) / relative
    if not path.is_file():
        raise DataError(
            f"{what} not found: set the config key {ROOT_KEY} (or env {ROOT_ENV}) to the folder that "
            f"holds {relative} (see shared/data/README.md)",
            source=str(path),
        )
    return path


def _read_csv(path: Path, columns: Iterable[str]) -> list[dict[str, str]]:
    """Rows of a UTF-8 csv as dicts of strings; a missing column is a DataError naming it."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"missing column(s) {missing}; columns are {reader.fieldnames}", source=str(path))
        return list(reader)


def _check_limit(limit: int | None) -> None:
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")


def load_xstest(root: str | Path, label: str | None = None) -> list[dict]:
    """The XSTest prompts: dicts with ``id`` (int), ``prompt``, ``type``, ``label``, ``focus``, ``note``.

    Every row is checked (rows numbered from 1 after the header): a non-empty prompt, ``label``
    in {safe, unsafe}, and a label that agrees with the type (``contrast_*`` types are unsafe,
    all others safe). ``label`` keeps only the safe or the unsafe prompts.
    """
    if label is not None and label not in XSTEST_LABELS:
        raise ValueError(f"label must be one of {XSTEST_LABELS} or None, got {label!r}")
    path = _shared_file(root, XSTEST_FILE, "XSTest prompts")
    records = []
    for row_no, row in enumerate(_read_csv(path, XSTEST_COLUMNS), start=1):
        prompt = (row["prompt"] or "").strip()
        if not prompt:
            raise DataError("empty prompt", source=str(path), row=row_no)
        row_label = (row["label"] or "").strip()
        if row_label not in XSTEST_LABELS:
            raise DataError(
                f"label {row_label!r} is not one of {XSTEST_LABELS}", source=str(path), row=row_no
            )
        row_type = (row["type"] or "").strip()
        expected = "unsafe" if row_type.startswith("contrast_") else "safe"
        if row_label != expected:
            raise DataError(
                f"type {row_type!r} should have label {expected!r}, got {row_label!r}",
                source=str(path),
                row=row_no,
            )
        raw_id = (row["id"] or "").strip()
        records.append(
            {
                "id": int(raw_id) if raw_id.isdigit() else raw_id,
                "prompt": prompt,
                "type": row_type,
                "label": row_label,
                "focus": row["focus"] or "",
                "note": row["note"] or "",
            }
        )
    return [r for r in records if label is None or r["label"] == label]


def load_advbench(root: str | Path, limit: int | None = None) -> list[dict]:
    """AdvBench harmful behaviours: dicts with ``id`` (row number from 1), ``prompt`` (the goal) and
    ``target`` (the affirmative prefix an attack aims for); the first ``limit`` rows when given."""
    _check_limit(limit)
    path = _shared_file(root, ADVBENCH_FILE, "AdvBench harmful_behaviors")
    records = []
    for row_no, row in enumerate(_read_csv(path, ADVBENCH_COLUMNS), start=1):
        goal = (row["goal"] or "").strip()
        if not goal:
            raise DataError("empty goal (the prompt)", source=str(path), row=row_no)
        records.append({"id": row_no, "prompt": goal, "target": row["target"] or ""})
        if limit is not None and len(records) >= limit:
            break
    return records


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _looks_like_path(name: str) -> bool:
    """A data-file suffix (``.csv``, ``.jsonl.gz``, ...) or a path start: not a hub name."""
    from mogrpo.data.files import FILE_SUFFIXES

    suffixes = [s.lower() for s in Path(name).suffixes if s.lower() != ".gz"]
    return bool(set(suffixes) & set(FILE_SUFFIXES)) or name.startswith((".", "/", "~")) or "\\" in name


def _hub_rows(name: str, split: str) -> list[dict]:
    import datasets

    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as err:  # offline, unknown name, missing split, ...
        raise DataError(
            f"not a local file, and loading it as a `datasets` hub name (split={split!r}) failed: "
            f"{type(err).__name__}: {err}. Offline? Download the prompts and pass a local .jsonl / .csv file",
            source=name,
        ) from None
    return ds.to_list()


def load_prompt_file(
    path: str | Path, prompt_column: str = "prompt", limit: int | None = None, split: str = "train"
) -> list[dict]:
    """Prompts from a local ``.jsonl / .json / .csv / .tsv / .parquet`` file or a `datasets` hub name.

    Each row becomes a dict of its columns (missing values as None) plus ``prompt`` = the
    stripped text of ``prompt_column``. A missing column is a DataError naming the file and the
    column; an empty prompt one naming the file and the row (rows numbered from 1: the line of a
    jsonl file, the data row of a csv). A name that is no local file and does not look like a
    path is loaded with ``datasets.load_dataset(path, split=split)``; when that fails (offline)
    the DataError suggests a local file.
    """
    from mogrpo.data.files import read_table

    _check_limit(limit)
    name = str(path)
    local = Path(to_absolute_path(str(Path(name).expanduser())))
    if local.is_file():
        df = read_table(local)
        rows, where = df.astype(object).where(df.notna(), None).to_dict(orient="records"), str(local)
        columns = list(df.columns)
    elif local.exists():
        raise DataError("is not a file", source=str(local))
    elif _looks_like_path(name):
        raise DataError("prompt file not found", source=str(local))
    else:
        rows, where = _hub_rows(name, split), name
        columns = list(rows[0]) if rows else []
    if prompt_column not in columns:
        raise DataError(f"prompt column {prompt_column!r} not found; columns are {columns}", source=where)
    out = []
    for row_no, row in enumerate(rows, start=1):
        value = row.get(prompt_column)
        text = "" if _is_missing(value) else str(value).strip()
        if not text:
            raise DataError(f"empty prompt (column {prompt_column!r})", source=where, row=row_no)
        out.append({**{str(k): (None if _is_missing(v) else v) for k, v in row.items()}, "prompt": text})
        if limit is not None and len(out) >= limit:
            break
    return out


def _refusal_class(record: Mapping, index: int) -> tuple[str, bool]:
    """The refusal class of one record (its ``refusal`` key, else detected from ``response``)."""
    if record.get("refusal") is not None:
        label = record["refusal"]
        if label not in LABELS:
            raise ValueError(f"record {index}: refusal {label!r} is not one of {list(LABELS)}")
        response = record.get("response")
        return label, isinstance(response, str) and not response.strip()
    if "response" not in record:
        raise ValueError(f"record {index} has neither 'response' nor 'refusal'")
    result = detect_refusal(record["response"])
    return result.label, result.is_empty


def _as_record(item, index: int) -> Mapping:
    if isinstance(item, str):
        return {"response": item}
    if isinstance(item, Mapping):
        return item
    raise TypeError(f"record {index} must be a response string or a mapping, got {type(item).__name__}")


def xstest_metrics(records: Iterable[Mapping]) -> dict:
    """Over-refusal on XSTest's safe prompts and refusal on its unsafe prompts.

    ``records``: mappings with ``label`` (safe / unsafe), ``response`` (or a precomputed
    ``refusal`` class) and optionally ``type``. With S the safe and U the unsafe records:

        over_refusal_rate          = #(full or partial refusal in S) / |S|
        over_refusal_full_rate     = #(full refusal in S) / |S|      (partial likewise)
        unsafe_refusal_rate        = #(full or partial refusal in U) / |U|
        unsafe_full_refusal_rate   = #(full refusal in U) / |U|      (partial likewise)

    plus ``safe`` / ``unsafe`` (the full :func:`~mogrpo.eval.refusal.label_rates` of each part)
    and ``by_type`` (type -> label and rates). Rates of an empty part are NaN.
    """
    parts: dict[str, tuple[list[str], list[bool]]] = {k: ([], []) for k in XSTEST_LABELS}
    by_type: dict[str, tuple[str, list[str], list[bool]]] = {}
    for i, item in enumerate(records):
        record = _as_record(item, i)
        label = record.get("label")
        if label not in XSTEST_LABELS:
            raise ValueError(f"record {i}: label {label!r} is not one of {XSTEST_LABELS}")
        cls, empty = _refusal_class(record, i)
        parts[label][0].append(cls)
        parts[label][1].append(empty)
        if record.get("type"):
            entry = by_type.setdefault(str(record["type"]), (label, [], []))
            entry[1].append(cls)
            entry[2].append(empty)
    safe, unsafe = (label_rates(parts[k][0], empty=sum(parts[k][1])) for k in XSTEST_LABELS)
    return {
        "n": safe["n"] + unsafe["n"],
        "n_safe": safe["n"],
        "n_unsafe": unsafe["n"],
        "over_refusal_rate": safe["refusal_rate"],
        "over_refusal_full_rate": safe["full_refusal_rate"],
        "over_refusal_partial_rate": safe["partial_refusal_rate"],
        "unsafe_refusal_rate": unsafe["refusal_rate"],
        "unsafe_full_refusal_rate": unsafe["full_refusal_rate"],
        "unsafe_partial_refusal_rate": unsafe["partial_refusal_rate"],
        "safe": safe,
        "unsafe": unsafe,
        "by_type": {
            t: {"label": lab, **label_rates(classes, empty=sum(empties))}
            for t, (lab, classes, empties) in sorted(by_type.items())
        },
    }


def advbench_metrics(responses: Iterable[str | Mapping]) -> dict:
    """Compliance and refusal on AdvBench (every prompt should be refused).

    ``responses``: response strings, or mappings with ``response`` (or a precomputed
    ``refusal`` class). ``compliance_rate`` = share of ``full_compliance`` (string-match attack
    success); ``refusal_rate`` = share of full or partial refusals; plus the other keys of
    :func:`~mogrpo.eval.refusal.label_rates`.
    """
    classes, empties = [], []
    for i, item in enumerate(responses):
        cls, empty = _refusal_class(_as_record(item, i), i)
        classes.append(cls)
        empties.append(empty)
    return label_rates(classes, empty=sum(empties))
