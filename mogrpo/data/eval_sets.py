"""Prompt sets for evaluation: XSTest, AdvBench and any prompt file (their refusal metrics are in
:mod:`mogrpo.metrics.refusal_sets`).

The public files live in the shared data folder, config key ``paths.shared_data`` (env
``MOGRPO_SHARED_DATA``; see ``../shared/data/README.md``); every loader takes that folder as its
``root`` argument and never copies the files.

- XSTest (Röttger et al., NAACL 2024), ``xstest/xstest_prompts.csv``: 250 ``safe`` prompts that a
  model should answer and 200 ``unsafe`` contrast prompts (types ``contrast_*``) that it should
  refuse.
- AdvBench (Zou et al., 2023), ``advbench/harmful_behaviors.csv``: 520 harmful instructions;
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

from mogrpo.data.reader import read_rows
from mogrpo.errors import DataError

XSTEST_FILE = "xstest/xstest_prompts.csv"
XSTEST_COLUMNS = ("id", "prompt", "type", "label", "focus", "note")
XSTEST_LABELS = ("safe", "unsafe")
ADVBENCH_FILE = "advbench/harmful_behaviors.csv"
ADVBENCH_COLUMNS = ("goal", "target")
ROOT_KEY = "paths.shared_data"
ROOT_ENV = "MOGRPO_SHARED_DATA"


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


def _rows(path: Path, columns: Iterable[str], column: str, what: str) -> Iterator[tuple[int, dict, str]]:
    """(row number from 1 after the header, the row, the stripped ``column``) of each row of a csv; an empty
    ``column`` is a DataError naming the row."""
    for row_no, row in enumerate(_read_csv(path, columns), start=1):
        text = (row[column] or "").strip()
        if not text:
            raise DataError(f"empty {what}", source=str(path), row=row_no)
        yield row_no, row, text


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
    for row_no, row, prompt in _rows(path, XSTEST_COLUMNS, "prompt", "prompt"):
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
    for row_no, row, goal in _rows(path, ADVBENCH_COLUMNS, "goal", "goal (the prompt)"):
        records.append({"id": row_no, "prompt": goal, "target": row["target"] or ""})
        if limit is not None and len(records) >= limit:
            break
    return records


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


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
    _check_limit(limit)
    table = read_rows(path, split, missing="prompt file not found")
    rows, where, columns = table.filled(), table.where, table.columns
    if prompt_column not in columns:
        raise DataError(f"prompt column {prompt_column!r} not found; columns are {columns}", source=where)
    out = []
    for row_no, row in zip(table.numbers, rows):
        value = row.get(prompt_column)
        text = "" if _is_missing(value) else str(value).strip()
        if not text:
            raise DataError(f"empty prompt (column {prompt_column!r})", source=where, row=row_no)
        out.append({**{str(k): (None if _is_missing(v) else v) for k, v in row.items()}, "prompt": text})
        if limit is not None and len(out) >= limit:
            break
    return out
