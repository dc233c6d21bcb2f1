"""Small file and container helpers shared by every layer (no torch, no models).

- :func:`to_plain`         an OmegaConf node as plain Python containers (peft, HF and JSON want those)
- :func:`write_json`       indented JSON written through a temp file renamed into place (safe if killed)
- :func:`read_json_lines`  the objects of a JSON Lines file, a bad line named (or skipped, for logs of a killed job)
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from mogrpo.errors import DataError


def to_plain(node: Any) -> Any:
    """An OmegaConf node as plain Python containers, resolved; any other value as it is."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON via a temp file renamed into place; returns the path."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)
    return path


def open_text(path: str | Path):
    """A text file opened for reading as UTF-8 (``.gz``: decompressed)."""
    path = Path(path)
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def read_json_lines(path: str | Path, with_line_numbers: bool = False, skip_bad: bool = False) -> list:
    """The objects of a JSON Lines file (``.gz`` ok); blank lines skipped; a bad line is a DataError naming it.

    With ``with_line_numbers`` each item is ``(line_number, object)`` so callers can name the line of a bad
    value; with ``skip_bad`` a line that is not a JSON object is left out instead (the last line of a history
    file a killed job was writing).
    """
    rows = []
    with open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                if skip_bad:
                    continue
                raise DataError(f"line {lineno} is not valid JSON ({err.msg})", source=str(path)) from None
            if not isinstance(obj, dict):
                if skip_bad:
                    continue
                raise DataError(f"line {lineno} is not a JSON object", source=str(path))
            rows.append((lineno, obj) if with_line_numbers else obj)
    return rows
