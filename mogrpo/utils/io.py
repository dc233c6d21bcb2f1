"""Small file and container helpers shared by every layer (no torch, no models).

- :func:`to_plain`    an OmegaConf node as plain Python containers (peft, HF and JSON want those)
- :func:`write_json`  indented JSON written through a temp file renamed into place (safe if killed)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
