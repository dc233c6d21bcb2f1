"""Preference rows from a table: two replies and which is better, or chosen / rejected columns.

:func:`mogrpo.data.files.labelled_from_file` picks the layout from its arguments:

- **ids**: ``response_columns = [a, b]`` and ``better_columns = {aspect: id column}``, where the
  id column names the better reply on that aspect as 0 (column a) or 1 (column b)
  (PKU-SafeRLHF: ``response_0``, ``response_1``, ``better_response_id``, ``safer_response_id``).
  Per row, with id_k the id of aspect k (NaN: not judged),

      c        = id of the first aspect in better_columns that has one (the row's chosen reply)
      response = reply c,  rejected = reply 1 - c
      label_k  = 1 if id_k = c,  0 if id_k = 1 - c,  NaN if id_k is missing

  so where two aspects disagree (the more helpful reply is the less safe one) the row keeps both
  judgements: P(response better) is 1 on the first aspect and 0 on the other.
- **chosen / rejected**: ``response_column`` holds the preferred reply and ``rejected_column`` the
  other; each aspect's label is a constant (``pair_labels``, usually 1.0) or a numeric column of
  P(chosen better) (``aspect_columns``, scaled like absolute scores).

Rows whose two replies are empty or identical carry no preference, and rows without any label
carry no signal: both are dropped (:func:`informative`, logged by the caller).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mogrpo.errors import DataError


def better_ids(values: pd.Series, column: str, where: str) -> np.ndarray:
    """An id column as float64: 0 or 1 (the better reply), NaN where missing; else a DataError."""
    raw = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isin(raw, (0.0, 1.0)) & (~np.isnan(raw) | values.notna().to_numpy())
    if bad.any():
        row = int(np.argmax(bad))
        value = values.iloc[row]
        value = value.item() if isinstance(value, np.generic) else value
        raise DataError(
            f"column {column!r} = {value!r} must name the better reply as 0 or 1 "
            f"({int(bad.sum())} such rows)",
            source=where,
            row=row + 1,
        )
    return raw


def pairs_from_ids(
    replies: Sequence[Sequence], ids: Mapping[str, np.ndarray]
) -> tuple[list, list, dict[str, np.ndarray]]:
    """``(response, rejected, labels)`` of the ids layout (module docstring).

    ``replies``: the two reply columns; ``ids``: aspect -> :func:`better_ids` array, in priority
    order. A row where no aspect has an id gets response = reply 0 and NaN labels.
    """
    first, second = list(replies[0]), list(replies[1])
    stacked = np.stack(list(ids.values()), axis=1)  # [N, K]
    has = ~np.isnan(stacked)
    chosen = np.where(has.any(axis=1), stacked[np.arange(len(stacked)), np.argmax(has, axis=1)], 0.0)
    response = [b if c == 1 else a for a, b, c in zip(first, second, chosen)]
    rejected = [a if c == 1 else b for a, b, c in zip(first, second, chosen)]
    labels = {a: np.where(np.isnan(v), np.nan, (v == chosen).astype(np.float64)) for a, v in ids.items()}
    return response, rejected, labels


def constant_labels(n: int, pair_labels: Mapping[str, float], where: str) -> dict[str, np.ndarray]:
    """``pair_labels`` (aspect -> P(chosen better) in [0, 1]) as ``n``-row columns."""
    out = {}
    for aspect, value in pair_labels.items():
        try:
            p = float(value)
        except (TypeError, ValueError):
            p = float("nan")
        if not 0 <= p <= 1:
            raise DataError(
                f"pair_labels[{aspect!r}] = {value!r} must be a probability in [0, 1]", source=where
            )
        out[aspect] = np.full(n, p)
    return out


def informative(response: Sequence, rejected: Sequence, labels: Mapping[str, np.ndarray]) -> np.ndarray:
    """``[N]`` bool: two non-empty, different replies and at least one label."""

    def text(x) -> bool:
        return isinstance(x, str) and bool(x.strip())

    distinct = np.fromiter(
        (text(a) and text(b) and a != b for a, b in zip(response, rejected)), bool, len(response)
    )
    if not labels:
        return distinct
    labelled = ~np.isnan(np.stack(list(labels.values()), axis=1)).all(axis=1)
    return distinct & labelled
