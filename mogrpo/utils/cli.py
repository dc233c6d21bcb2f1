"""Shared pieces of the command-line entry points (imports hydra and omegaconf only)."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mogrpo.configs import RENAMED
from mogrpo.errors import ConfigError, DataError

# Hydra's config dir, as an absolute path: a relative one breaks under the console scripts.
CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")

log = logging.getLogger("mogrpo")


def run_reporting_user_errors(fn: Callable[[Any], Any], cfg: Any) -> Any:
    """Call ``fn(cfg)``; a config or data mistake exits with one clear line instead of a traceback."""
    try:
        return fn(cfg)
    except (ConfigError, DataError) as err:
        log.error("%s: %s", type(err).__name__, err)
        raise SystemExit(f"error: {err}") from None


def _override_key(arg: str) -> str | None:
    """The dotted key of a ``key=value`` override (``+`` / ``++`` / ``~`` stripped); None for a group
    choice (``grpo/shaping=both``, ``group@pkg=x``) or anything else."""
    if "=" not in arg:
        return None
    key = arg.split("=", 1)[0].lstrip("+~")
    return None if "/" in key or "@" in key else key


def _unknown_key_error(config_name: str, overrides: list[str], key: str, value: str) -> ConfigError:
    """The ConfigError for an override whose key is not in the composed config."""
    if key in RENAMED:
        new, why = RENAMED[key]
        return ConfigError(key, f"renamed to {new} ({why}): use {new}={value}")
    if key.startswith("reward.weights."):
        aspects = None
        try:
            rest = [o for o in overrides if _override_key(o) != key]
            aspects = list(_compose(config_name, rest).reward.aspects)
        except Exception:  # another override is broken too: name this one without the aspects
            pass
        return ConfigError(key, f"{key.rsplit('.', 1)[1]!r} is not an aspect of reward.aspects {aspects}: a weight "
                           "needs a regressor head (add the aspect to reward.aspects, then +" + f"{key}={value})")  # fmt: skip
    return ConfigError(key, f"is not a key of the config (a typo?); a new key is added with +{key}={value}")


def _compose(config_name: str, overrides: Sequence[str]):
    from hydra import compose, initialize_config_dir

    from mogrpo.utils import resolvers  # noqa: F401  (registers ${mogrpo.project_root:})

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


def check_command_line(config_name: str, argv: Sequence[str] | None = None) -> None:
    """Before Hydra starts the job: a renamed key, or (one run) a key the config does not have, exits with
    one ConfigError line naming it and the fix. Hydra's own message (``Could not override ...``) names no
    fix; everything else is left to Hydra and to the config checks of the job itself.

    A multirun (``-m``) or a Hydra flag (``--cfg``, ``--help``, ...) is only scanned for renamed keys: its
    config is composed by Hydra per job.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    overrides = [a for a in args if not a.startswith("-")]
    try:
        for arg in overrides:
            key = _override_key(arg)
            if key in RENAMED:
                raise _unknown_key_error(config_name, overrides, key, arg.split("=", 1)[1])
        if len(overrides) != len(args):
            return
        from hydra.errors import ConfigCompositionException

        try:
            _compose(config_name, overrides)
        except ConfigCompositionException as err:
            message = str(err)
            if not message.startswith("Could not override '"):
                return  # Hydra's message says it well (an unknown group option lists the choices)
            key = message.split("'", 2)[1]
            value = next((o.split("=", 1)[1] for o in overrides if _override_key(o) == key), "...")
            raise _unknown_key_error(config_name, overrides, key, value) from None
        except Exception:  # anything else: Hydra reports it as it always has
            return
    except ConfigError as err:
        raise SystemExit(f"error: {err}") from None


def console_entry(config_name: str) -> Callable[[Callable[..., Any]], Callable[[], None]]:
    """Decorates an entry point's ``@hydra.main`` app: :func:`check_command_line` first, then the app.
    ``main.__wrapped__(cfg)`` still runs the app's body on a composed config, as Hydra's own decorator allows."""

    def decorate(app: Callable[..., Any]) -> Callable[[], None]:
        @functools.wraps(app)
        def main() -> None:
            check_command_line(config_name)
            app()

        return main

    return decorate
