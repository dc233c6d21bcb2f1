"""One reader of prompt and label files: a local ``.jsonl`` / ``.json`` / ``.csv`` / ``.tsv`` / ``.parquet`` file
(``.gz`` for the JSON ones) or a `datasets` hub name, as rows; every error names the file (and line or row).

Built on `datasets`: tables through ``Dataset.from_csv`` / ``Dataset.from_parquet`` (typed columns, as pandas
reads them), hub names through ``datasets.load_dataset(name, split=...)``. Two parts stay hand-read, each for
a reason the tests pin down:

- JSON (:func:`mogrpo.utils.io.read_json_lines`): `datasets`' JSON reader names no broken line and wants one
  type per column, and a prompt file's rows may differ (``messages`` on some, ids of two types);
- CSV as text (``text_csv=True``, the ``csv`` module): pandas drops whitespace-only lines and reads a quoted
  ``""`` as missing, so a blank prompt would vanish instead of failing with its row; a file scored and
  written back (``mogrpo.score``) keeps every cell's text (``0.10`` stays ``0.10``).

Readers: :func:`mogrpo.data.prompts.prompts_from_file` (GRPO prompts, text CSV), :func:`mogrpo.data.files.labelled_from_file`
(labelled rows), :func:`mogrpo.data.eval_sets.load_prompt_file` (the evaluation's prompt file), :mod:`mogrpo.score`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mogrpo.errors import DataError
from mogrpo.utils.io import open_text, read_json_lines

FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")


@dataclass
class Table:
    """The rows of a file or hub data set, each a dict as read (a JSON line holds only its own keys)."""

    rows: list[dict[str, Any]]
    columns: list[str]  # every column of any row, in the order they first appear
    where: str  # the file read (absolute), or the hub name
    numbers: list[int] = field(default_factory=list)  # each row's number in errors: its line in JSON Lines, else 1, 2, ..

    def __post_init__(self):
        if not self.numbers:
            self.numbers = list(range(1, len(self.rows) + 1))

    def filled(self) -> list[dict[str, Any]]:
        """The rows, each with every column (None where a row has no value)."""
        return [{c: row.get(c) for c in self.columns} for row in self.rows]

    def frame(self):
        """The rows as a pandas DataFrame (missing values NaN / None, as pandas reads them)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)


def suffix(path: Path) -> str:
    """The format suffix, ignoring a trailing ``.gz``."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def looks_like_file(name: str) -> bool:
    """A data-file suffix or a path start: a missing file, not a hub name."""
    return suffix(Path(name)) in FILE_SUFFIXES or name.startswith((".", "/", "~")) or "\\" in name


def _records(objects: list[dict], numbers: list[int], where: str) -> Table:
    return Table(list(objects), list(dict.fromkeys(k for obj in objects for k in obj)), where, numbers)


def _read_json(path: Path) -> Table:
    """A JSON array of objects, an object of columns (or ``{"data": [...]}``), or (as HF often writes ``.json``)
    JSON Lines."""
    with open_text(path) as f:
        text = f.read()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg == "Extra data":  # more than one top-level value: JSON Lines
            numbered = read_json_lines(path, with_line_numbers=True)
            return _records([o for _, o in numbered], [n for n, _ in numbered], str(path))
        raise DataError(f"line {err.lineno} is not valid JSON ({err.msg})", source=str(path)) from None
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):
        obj = obj["data"]
    if isinstance(obj, list):
        if not all(isinstance(r, dict) for r in obj):
            raise DataError("a JSON array must hold objects (one per row)", source=str(path))
        return _records(obj, [], str(path))
    if isinstance(obj, dict):  # an object of columns
        try:
            import pandas as pd

            frame = pd.DataFrame(obj)
        except ValueError as err:
            raise DataError(f"could not read the columns: {err}", source=str(path)) from None
        frame = frame.astype(object).where(frame.notna(), None)
        return Table(frame.to_dict(orient="records"), [str(c) for c in frame.columns], str(path))
    raise DataError("expected a JSON array of objects or an object of columns", source=str(path))


def _read_csv_text(path: Path, sep: str) -> Table:
    """A CSV file as text rows (``csv.DictReader``: every row kept, every cell its text; rows from 1 after the
    header)."""
    import csv

    with open_text(path) as f:
        reader = csv.DictReader(f, delimiter=sep)
        rows = list(reader)
        return Table(rows, list(reader.fieldnames or []), str(path))


def read_local(path: Path, text_csv: bool = False) -> Table:
    """A local data file by its extension (``text_csv``: CSV cells as their text, see the module docstring)."""
    path = Path(path)
    kind = suffix(path)
    if kind in (".csv", ".tsv") and text_csv:
        return _read_csv_text(path, "\t" if kind == ".tsv" else ",")
    if kind == ".jsonl":
        numbered = read_json_lines(path, with_line_numbers=True)
        return _records([o for _, o in numbered], [n for n, _ in numbered], str(path))
    if kind == ".json":
        return _read_json(path)
    if kind not in FILE_SUFFIXES:
        raise DataError(f"unknown file type {kind!r}; use one of {FILE_SUFFIXES}", source=str(path))
    import datasets

    try:
        if kind == ".parquet":
            ds = datasets.Dataset.from_parquet(str(path))
        else:
            ds = datasets.Dataset.from_csv(str(path), sep="\t" if kind == ".tsv" else ",")
    except Exception as err:  # a malformed table: name the file
        cause = err.__cause__ or err
        raise DataError(f"could not read the file: {type(cause).__name__}: {cause}", source=str(path)) from None
    return Table(ds.to_list(), list(ds.column_names), str(path))


def read_hub(name: str, split: str) -> Table:
    """A `datasets` hub data set's split; a DataError that suggests a local file when it cannot load (offline)."""
    import datasets

    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as err:  # offline, unknown name, missing split, ...
        raise DataError(
            f"not a local file, and loading it as a `datasets` hub name (split={split!r}) failed: "
            f"{type(err).__name__}: {err}. Offline? Download the data and pass a local "
            f".jsonl / .csv / .parquet file as path",
            source=name,
        ) from None
    return Table(ds.to_list(), list(ds.column_names), name)


def read_rows(path: str | Path, split: str = "train", missing: str = "file not found", text_csv: bool = False) -> Table:
    """A local file (relative to the launch directory), or a `datasets` hub name when no such file exists and the
    name does not look like a path (``split``: the hub split). A path that does not exist is a DataError with the
    ``missing`` message."""
    from hydra.utils import to_absolute_path

    name = str(path)
    local = Path(to_absolute_path(str(Path(name).expanduser())))
    if local.is_file():
        return read_local(local, text_csv)
    if local.exists():
        raise DataError("is not a file", source=str(local))
    if looks_like_file(name):
        raise DataError(missing, source=str(local))
    return read_hub(name, split)
