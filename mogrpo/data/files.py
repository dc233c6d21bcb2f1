"""Aspect-labelled pairs from any local file (jsonl / json / csv / tsv / parquet) or `datasets` hub name.

labelled_from_file("helpsteer2.jsonl", aspect_columns={"meaningfulness": "helpfulness"},
                   score_range=(0, 4))    # score = (raw - 0) / (4 - 0)
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
from hydra.utils import to_absolute_path

from mogrpo.data.errors import DataError
from mogrpo.data.labelled import features, validate_rows

FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")


def _suffix(path: Path) -> str:
    """The format suffix, ignoring a trailing ``.gz``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _open_text(path: Path):
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def read_json_lines(path: Path, with_line_numbers: bool = False) -> list:
    """The objects of a JSON Lines file (``.gz`` ok); blank lines skipped; a bad line is a DataError.

    With ``with_line_numbers`` each item is ``(line_number, object)`` so callers can name the line
    of a bad value.
    """
    rows = []
    with _open_text(Path(path)) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"line {lineno} is not valid JSON ({err.msg})", source=str(path)) from None
            if not isinstance(obj, dict):
                raise DataError(f"line {lineno} is not a JSON object", source=str(path))
            rows.append((lineno, obj) if with_line_numbers else obj)
    return rows


def _read_json(path: Path) -> pd.DataFrame:
    """A JSON array of objects, an object of columns, or (as HF often writes ``.json``) JSON Lines."""
    with _open_text(path) as f:
        text = f.read()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        if err.msg == "Extra data":  # more than one top-level value: JSON Lines
            return pd.DataFrame(read_json_lines(path))
        raise DataError(f"line {err.lineno} is not valid JSON ({err.msg})", source=str(path)) from None
    if isinstance(obj, list):
        if not all(isinstance(r, dict) for r in obj):
            raise DataError("a JSON array must hold objects (one per row)", source=str(path))
        return pd.DataFrame(obj)
    if isinstance(obj, dict):
        if "data" in obj and isinstance(obj["data"], list):
            return pd.DataFrame(obj["data"])
        return pd.DataFrame(obj)
    raise DataError("expected a JSON array of objects or an object of columns", source=str(path))


def read_table(path: Path) -> pd.DataFrame:
    """Read a local data file into a DataFrame by its extension; errors name the file (and line)."""
    suffix = _suffix(path)
    try:
        if suffix == ".jsonl":
            return pd.DataFrame(read_json_lines(path))
        if suffix == ".json":
            return _read_json(path)
        if suffix in (".csv", ".tsv"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except DataError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise DataError(f"could not read the file: {err}", source=str(path)) from err
    raise DataError(f"unknown file type {suffix!r}; use one of {FILE_SUFFIXES}", source=str(path))


def _looks_like_file(path: str) -> bool:
    p = Path(path)
    return _suffix(p) in FILE_SUFFIXES or path.startswith((".", "/", "~")) or "\\" in path


def _load_hub(name: str, split: str) -> pd.DataFrame:
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as err:  # offline, unknown name, missing split, ...
        raise DataError(
            f"not a local file, and loading it as a `datasets` hub name (split={split!r}) failed: "
            f"{type(err).__name__}: {err}. Offline? Download the data and pass a local "
            f".jsonl / .csv / .parquet file as path",
            source=name,
        ) from None
    return ds.to_pandas()


def _column(df: pd.DataFrame, column: str, what: str, source: str) -> pd.Series:
    if column not in df.columns:
        raise DataError(
            f"column {column!r} (for {what}) not found; columns are {list(df.columns)}", source=source
        )
    return df[column]


def _text(values: pd.Series) -> list:
    """Strings stay, missing values become None (the row check then names them)."""
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def labelled_from_file(
    path: str | Path,
    split: str = "train",
    prompt_column: str = "prompt",
    response_column: str = "response",
    aspect_columns: Mapping[str, str] | None = None,
    score_range: Sequence[float] = (0.0, 1.0),
) -> datasets.Dataset:
    """Labelled pairs from a local file or a `datasets` hub name.

    ``path``: a ``.jsonl / .json / .csv / .tsv / .parquet`` file (optionally ``.gz`` for json/csv),
    relative to the launch directory; when no such file exists and the name does not look like a
    path, it is loaded with ``datasets.load_dataset(path, split=split)`` (``split`` is used only
    then). ``aspect_columns`` maps aspect -> column; empty or None means every numeric column
    besides the prompt and response columns, each named as its aspect. Scores are mapped linearly
    from ``score_range = (lo, hi)`` to [0, 1]:

        score = (raw - lo) / (hi - lo)

    and a raw value outside ``[lo, hi]`` is an error naming the file, row and column. Missing
    values (null / empty cell) are missing labels (NaN). ``source`` = ``"file:<file name>"``.
    """
    name = str(path)
    local = Path(to_absolute_path(str(Path(name).expanduser())))
    if local.is_file():
        df, where = read_table(local), str(local)
    elif local.exists():
        raise DataError("is not a file", source=str(local))
    elif _looks_like_file(name):
        raise DataError("file not found (config key reward_data.sources.<i>.path)", source=str(local))
    else:
        df, where = _load_hub(name, split), name

    if len(score_range) != 2 or not float(score_range[1]) > float(score_range[0]):
        raise DataError(
            f"score_range must be [low, high] with high > low, got {list(score_range)}", source=where
        )
    lo, hi = float(score_range[0]), float(score_range[1])

    prompts = _text(_column(df, prompt_column, "the prompt", where))
    responses = _text(_column(df, response_column, "the response", where))
    if not aspect_columns:
        aspect_columns = {
            c: c
            for c in df.columns
            if c not in (prompt_column, response_column) and pd.api.types.is_numeric_dtype(df[c])
        }
        if not aspect_columns:
            raise DataError(
                "no numeric score columns found; map aspects to columns with aspect_columns", source=where
            )
    data: dict[str, list | np.ndarray] = {
        "prompt": prompts,
        "response": responses,
        "source": [f"file:{Path(name).name}"] * len(df),
    }
    for aspect, column in aspect_columns.items():
        raw = pd.to_numeric(_column(df, column, f"aspect {aspect!r}", where), errors="coerce")
        bad_type = raw.isna() & _column(df, column, aspect, where).notna()
        if bad_type.any():
            row = int(np.argmax(bad_type.to_numpy()))
            raise DataError(
                f"column {column!r} = {df[column].iloc[row]!r} is not a number", source=where, row=row + 1
            )
        values = raw.to_numpy(dtype=np.float64)
        outside = ~np.isnan(values) & ((values < lo) | (values > hi))
        if outside.any():
            row = int(np.argmax(outside))
            raise DataError(
                f"column {column!r} (aspect {aspect!r}) = {values[row]:g} is outside score_range "
                f"[{lo:g}, {hi:g}] ({int(outside.sum())} such rows)",
                source=where,
                row=row + 1,
            )
        data[aspect] = ((values - lo) / (hi - lo)).astype(np.float32)
    ds = datasets.Dataset.from_dict(data, features=features(list(aspect_columns)))
    validate_rows(ds, list(aspect_columns), where)
    return ds
