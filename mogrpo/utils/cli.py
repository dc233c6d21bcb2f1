"""Shared pieces of the command-line entry points."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Hydra's config dir, as an absolute path: a relative one breaks under the console scripts.
CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")

log = logging.getLogger("mogrpo")


def run_reporting_user_errors(fn: Callable[[Any], Any], cfg: Any) -> Any:
    """Call ``fn(cfg)``; a config or data mistake exits with one clear line instead of a traceback."""
    from mogrpo.errors import ConfigError, DataError

    try:
        return fn(cfg)
    except (ConfigError, DataError) as err:
        log.error("%s: %s", type(err).__name__, err)
        raise SystemExit(f"error: {err}") from None
