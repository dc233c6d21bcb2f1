"""The aspect-labelled pairs shipped in the package: ``mogrpo/data/builtin/aspect_labelled.jsonl``.

One JSON object a line: ``{"id", "prompt_id", "prompt", "response", <aspect>..., "source"}`` with
each aspect score in [0, 1] or null (missing). See ``mogrpo/data/builtin/DATA_CARD.md``.
"""

from __future__ import annotations

import numbers
from importlib import resources
from pathlib import Path

import datasets
import numpy as np

from mogrpo.data.errors import DataError
from mogrpo.data.files import read_json_lines
from mogrpo.data.labelled import features, validate_rows

FILE_NAME = "aspect_labelled.jsonl"
# fields of a row that are not scores
META_FIELDS = ("id", "prompt_id", "prompt", "response", "source")


def builtin_path() -> Path:
    """The shipped ``aspect_labelled.jsonl`` (beside this module, inside the installed package)."""
    return Path(str(resources.files("mogrpo.data") / "builtin" / FILE_NAME))


def _is_score(value) -> bool:
    return value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool))


def builtin_labelled(path: str | Path | None = None) -> datasets.Dataset:
    """The shipped pairs as a Dataset: prompt, response, source = ``"builtin:<source>"``, one float32
    column per score field (null -> NaN).

    A score field is any field besides ``id, prompt_id, prompt, response, source`` whose values are
    all numbers or null. Rows are checked with :func:`validate_rows` (errors name the file and row).
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
    ds = datasets.Dataset.from_dict(data, features=features(aspects))
    validate_rows(ds, aspects, str(path))
    return ds
