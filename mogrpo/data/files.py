"""Aspect-labelled rows from any local file (jsonl / json / csv / tsv / parquet) or `datasets` hub name.

Absolute rows, one score column per aspect (a number scaled from its range, or a boolean):

    labelled_from_file("nvidia/HelpSteer2", aspect_columns={"meaningfulness": "helpfulness"},
                       score_range=(0, 4))    # score = (raw - 0) / (4 - 0)
    labelled_from_file("PKU-Alignment/BeaverTails", split="30k_train",
                       aspect_columns={"safety": "is_safe"})    # True -> 1, False -> 0
    labelled_from_file("ratings.csv", aspect_columns={"safety": {"column": "harmful", "invert": True}})

Preference rows (:mod:`mogrpo.data.file_pairs`), from two reply columns and, per aspect, a column
naming the better one, or from chosen / rejected columns:

    labelled_from_file("PKU-Alignment/PKU-SafeRLHF", response_columns=["response_0", "response_1"],
                       better_columns={"meaningfulness": "better_response_id",
                                       "safety": "safer_response_id"})
    labelled_from_file("pairs.jsonl", response_column="chosen", rejected_column="rejected",
                       pair_labels={"safety": 1.0})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from mogrpo.data import file_pairs
from mogrpo.data.labelled import features, validate_rows
from mogrpo.data.reader import read_rows
from mogrpo.data.splits import prompt_split
from mogrpo.errors import DataError

log = logging.getLogger(__name__)

def _column(df: pd.DataFrame, column: str, what: str, source: str) -> pd.Series:
    if column not in df.columns:
        raise DataError(
            f"column {column!r} (for {what}) not found; columns are {list(df.columns)}", source=source
        )
    return df[column]


def _text(values: pd.Series) -> list:
    """Strings stay, missing values become None (the row check then names them)."""
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


@dataclass(frozen=True)
class AspectColumn:
    """How one aspect is read from a column: score = (raw - lo) / (hi - lo), then 1 - score if invert."""

    column: str
    lo: float = 0.0
    hi: float = 1.0
    invert: bool = False


SPEC_KEYS = ("column", "score_range", "invert")


def _check_range(score_range: Sequence[float], where: str, key: str = "score_range") -> tuple[float, float]:
    if len(score_range) != 2 or not float(score_range[1]) > float(score_range[0]):
        raise DataError(f"{key} must be [low, high] with high > low, got {list(score_range)}", source=where)
    return float(score_range[0]), float(score_range[1])


def aspect_column(aspect: str, spec, score_range: Sequence[float], where: str) -> AspectColumn:
    """An ``aspect_columns`` entry: a column name (scaled from ``score_range``) or a mapping
    ``{column, score_range (optional, this aspect's own), invert (optional, default false)}``."""
    if isinstance(spec, str):
        return AspectColumn(spec, *_check_range(score_range, where))
    if isinstance(spec, Mapping) and "column" in spec and not set(spec) - set(SPEC_KEYS):
        key = f"aspect_columns.{aspect}.score_range"
        lo, hi = _check_range(spec.get("score_range") or score_range, where, key)
        return AspectColumn(str(spec["column"]), lo, hi, bool(spec.get("invert", False)))
    raise DataError(
        f"aspect_columns.{aspect} must be a column name or a mapping with keys {list(SPEC_KEYS)} "
        f"('column' required), got {spec!r}",
        source=where,
    )


def _is_missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))


def _is_bool_column(values: pd.Series) -> bool:
    """A bool column, or an object column whose present values are all booleans (nulls beside)."""
    if pd.api.types.is_bool_dtype(values):
        return True
    if values.dtype != object:
        return False
    present = [v for v in values if not _is_missing(v)]
    return bool(present) and all(isinstance(v, (bool, np.bool_)) for v in present)


def aspect_scores(df: pd.DataFrame, aspect: str, spec: AspectColumn, where: str) -> np.ndarray:
    """One aspect's scores in [0, 1] (NaN where missing):

        boolean column:  x = 1 (true) / 0 (false)
        numeric column:  x = (raw - lo) / (hi - lo), a raw value outside [lo, hi] is a DataError
        score = 1 - x if spec.invert else x

    A value that is neither a number nor missing is a DataError naming the row and column.
    """
    values = _column(df, spec.column, f"aspect {aspect!r}", where)
    if _is_bool_column(values):
        x = np.array([np.nan if _is_missing(v) else float(bool(v)) for v in values], dtype=np.float64)
        return 1.0 - x if spec.invert else x
    raw = pd.to_numeric(values, errors="coerce")
    bad_type = raw.isna() & values.notna()
    if bad_type.any():
        row = int(np.argmax(bad_type.to_numpy()))
        raise DataError(
            f"column {spec.column!r} = {values.iloc[row]!r} is not a number", source=where, row=row + 1
        )
    v = raw.to_numpy(dtype=np.float64)
    outside = ~np.isnan(v) & ((v < spec.lo) | (v > spec.hi))
    if outside.any():
        row = int(np.argmax(outside))
        raise DataError(
            f"column {spec.column!r} (aspect {aspect!r}) = {v[row]:g} is outside score_range "
            f"[{spec.lo:g}, {spec.hi:g}] ({int(outside.sum())} such rows)",
            source=where,
            row=row + 1,
        )
    x = (v - spec.lo) / (spec.hi - spec.lo)
    return 1.0 - x if spec.invert else x


def read_source(path: str | Path, split: str) -> tuple[pd.DataFrame, str]:
    """``(table, where)`` of a local file, or of a `datasets` hub name when no such file exists
    (:func:`mogrpo.data.reader.read_rows`)."""
    table = read_rows(path, split, missing="file not found (config key reward_data.sources.<i>.path)")
    return table.frame(), table.where


def _default_columns(df: pd.DataFrame, skip: Sequence[str], where: str) -> dict[str, str]:
    """Every numeric column besides ``skip``, named as its aspect."""
    out = {c: c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])}
    if not out:
        raise DataError(
            "no numeric score columns found; map aspects to columns with aspect_columns", source=where
        )
    return out


def _ids_layout(df, response_columns, better_columns, where) -> tuple[list, list, dict[str, np.ndarray]]:
    if len(response_columns or []) != 2 or not better_columns:
        raise DataError(
            "the two-reply layout needs response_columns = [column_0, column_1] and better_columns = "
            f"{{aspect: id column}}, got {response_columns!r} and {better_columns!r}",
            source=where,
        )
    replies = [_text(_column(df, c, "a reply", where)) for c in response_columns]
    ids = {
        a: file_pairs.better_ids(_column(df, c, f"aspect {a!r}", where), c, where)
        for a, c in better_columns.items()
    }
    return file_pairs.pairs_from_ids(replies, ids)


def _informative_pairs(prompts, responses, rejected, labels, where) -> tuple[dict, dict[str, np.ndarray]]:
    """The text columns and labels of the preference rows that carry a preference
    (:func:`mogrpo.data.file_pairs.informative`); the others are dropped (logged). An empty prompt
    is a DataError naming the row of the file (checked first, so the row number is the file's)."""
    blank = [i for i, p in enumerate(prompts) if p is None or not p.strip()]
    if blank:
        raise DataError(f"empty prompt ({len(blank)} such rows)", source=where, row=blank[0] + 1)
    keep = file_pairs.informative(responses, rejected, labels)
    if not keep.all():
        log.info(
            "%s: dropped %d pairs with empty or identical replies or no label", where, int((~keep).sum())
        )
    columns = {"prompt": prompts, "response": responses, "rejected": rejected}
    data = {c: [x for x, k in zip(v, keep) if k] for c, v in columns.items()}
    return data, {a: v[keep] for a, v in labels.items()}


def labelled_from_file(
    path: str | Path,
    split: str = "train",
    prompt_column: str = "prompt",
    response_column: str = "response",
    aspect_columns: Mapping[str, str | Mapping] | None = None,
    score_range: Sequence[float] = (0.0, 1.0),
    rejected_column: str | None = None,
    response_columns: Sequence[str] | None = None,
    better_columns: Mapping[str, str] | None = None,
    pair_labels: Mapping[str, float] | None = None,
    split_by_prompt: bool = False,
    max_rows: int | None = None,
    seed: int = 0,
) -> datasets.Dataset:
    """Labelled rows from a local file or a `datasets` hub name, absolute or pairwise.

    ``path``: a ``.jsonl / .json / .csv / .tsv / .parquet`` file (optionally ``.gz`` for json/csv),
    relative to the launch directory; when no such file exists and the name does not look like a
    path, it is loaded with ``datasets.load_dataset(path, split=split)`` (``split`` is used only
    then). Missing values (null / empty cell) are missing labels (NaN). ``source`` =
    ``"file:<file name>"``. Three layouts:

    - **absolute** (default): ``response_column`` and ``aspect_columns``, aspect -> a column name
      or ``{column, score_range, invert}`` (:func:`aspect_column`, :func:`aspect_scores`):

          score = (raw - lo) / (hi - lo)      (lo, hi) = the aspect's score_range or ``score_range``
          score = 1 - score                   if invert (a "harmful" column -> safety)

      and a boolean column gives 1 / 0 (then ``invert``). Empty or None ``aspect_columns``: every
      numeric column besides the prompt and response columns, each named as its aspect. A raw
      value outside the range is an error naming the file, row and column.
    - **chosen / rejected**: ``rejected_column`` set; ``response_column`` is the preferred reply.
      Labels (P(response better)): ``pair_labels`` (aspect -> constant, e.g. ``{safety: 1.0}``)
      and/or ``aspect_columns`` as above.
    - **two replies**: ``response_columns = [a, b]`` and ``better_columns`` (aspect -> a column
      holding 0 or 1, the better reply on that aspect; the first aspect decides which reply is
      ``response``); see :mod:`mogrpo.data.file_pairs`.

    In both pairwise layouts rows with empty or identical replies, or without any label, are
    dropped (logged). ``split_by_prompt``: add ``split`` = :func:`~mogrpo.data.splits.prompt_split`
    of the prompt, the split by prompt shared with the GRPO prompt sets. ``max_rows`` keeps a
    seeded random subset (``seed``), after the checks.
    """
    # imported here, not at the top: mogrpo.data.public must stay free to import this module
    from mogrpo.data.public import subsample

    df, where = read_source(path, split)
    _check_range(score_range, where)
    prompts = _text(_column(df, prompt_column, "the prompt", where))
    rejected = None
    if response_columns is not None or better_columns is not None:
        if rejected_column or aspect_columns or pair_labels:
            raise DataError(
                "response_columns / better_columns is a layout of its own: leave rejected_column, "
                "aspect_columns and pair_labels unset",
                source=where,
            )
        responses, rejected, labels = _ids_layout(df, response_columns, better_columns, where)
    else:
        responses = _text(_column(df, response_column, "the response", where))
        if rejected_column:
            rejected = _text(_column(df, rejected_column, "the rejected reply", where))
        labels = file_pairs.constant_labels(len(df), pair_labels or {}, where)
        if not aspect_columns and not labels:
            aspect_columns = _default_columns(df, (prompt_column, response_column, rejected_column), where)
        for aspect, spec in (aspect_columns or {}).items():
            labels[aspect] = aspect_scores(df, aspect, aspect_column(aspect, spec, score_range, where), where)

    data: dict[str, list | np.ndarray] = {"prompt": prompts, "response": responses}
    if rejected is not None:
        data, labels = _informative_pairs(prompts, responses, rejected, labels, where)
    n = len(data["prompt"])
    data["source"] = [f"file:{Path(str(path)).name}"] * n
    if split_by_prompt:
        data["split"] = [prompt_split(p) if p else "" for p in data["prompt"]]
    data.update({a: v.astype(np.float32) for a, v in labels.items()})
    text = [c for c in data if c not in labels]
    ds = datasets.Dataset.from_dict(data, features=features(list(labels), text))
    validate_rows(ds, list(labels), where)
    return ds.select(subsample(len(ds), max_rows, seed)) if max_rows is not None else ds
