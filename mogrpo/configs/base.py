"""How a node of the composed config becomes its typed, checked dataclass (the pattern of every config here).

A config is a frozen dataclass whose every field is declared with :func:`option` (a default and a help
text, as TRL's ``GRPOConfig``) and whose ``__post_init__`` checks its values, raising
:class:`~mogrpo.errors.ConfigError` with the field's name (``G``, ``clip.low``). :meth:`Config.from_node`
builds one from a config node: unknown keys are refused, nested configs are built the same way, and
every error is re-keyed to the full dotted key (``grpo.G``), so the message names what to fix.

The checks are explicit (not OmegaConf's type conversion): ``"4"`` is not an integer and ``true`` is
not a number, as before this module existed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, field, fields
from typing import Any, ClassVar

from omegaconf import OmegaConf

from mogrpo.errors import ConfigError

#: renamed keys -> (new key, why): an old command line names the new key in its error (mogrpo.utils.cli)
RENAMED = {
    "grpo.eps": ("grpo.advantage_eps", "the advantages' std epsilon; TRL's `epsilon` is the clip range, "
                 "here grpo.clip.low / grpo.clip.high"),
    "adapter": ("eval.adapter", "one key for the adapter to evaluate, in train and evaluate alike"),
}  # fmt: skip


def option(default: Any = MISSING, help: str = "", factory: Any = None, config: type | None = None) -> Any:
    """A dataclass field with its help text; ``factory`` for a mutable default, ``config`` for a nested config
    (its ``from_node`` builds the value)."""
    metadata = {"help": help, "config": config}
    if config is not None and factory is None and default is MISSING:
        factory = config
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def help_of(cls: type, name: str) -> str:
    """The help text of field ``name`` of config ``cls``."""
    return next(f.metadata.get("help", "") for f in fields(cls) if f.name == name)


def plain(node: Any, key: str) -> Any:
    """A config node as plain Python containers, resolved; a failed interpolation is a ConfigError."""
    if not OmegaConf.is_config(node):
        return node
    try:
        return OmegaConf.to_container(node, resolve=True)
    except Exception as err:  # an unresolvable ${...} or a missing ??? value
        raise ConfigError(key, f"could not be resolved: {err}") from None


def select(cfg: Any, key: str) -> Any:
    """The plain value at ``key`` of a composed config (None when absent); ``???`` or a failed ``${...}`` is a
    ConfigError naming ``key``."""
    from omegaconf.errors import MissingMandatoryValue

    try:
        node = OmegaConf.select(cfg, key, throw_on_missing=True)
    except MissingMandatoryValue:
        raise ConfigError(key, "is required (???) but was not given") from None
    except Exception as err:
        raise ConfigError(key, f"could not be resolved: {err}") from None
    return plain(node, key)


def join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix and key else prefix or key


class Config:
    """The mix-in of every config dataclass: :meth:`from_node` and :meth:`of`."""

    #: the dotted key of this config in the composed tree ("" for a root config)
    KEY: ClassVar[str] = ""
    #: how an unknown key is reported: ``unknown key; the keys are [...]``
    WHAT: ClassVar[str] = "key"

    @classmethod
    def of(cls, cfg: Any):
        """This config read from the whole composed config: the node at :attr:`KEY`, or for a root config
        (``KEY = ""``) its own keys of the root (the groups below it have configs of their own)."""
        if cls.KEY:
            return cls.from_node(OmegaConf.select(cfg, cls.KEY), cls.KEY)
        for old, (new, why) in RENAMED.items():  # a renamed root key given with +old=...
            if "." not in old and old in cfg:
                raise ConfigError(old, f"renamed to {new} ({why})")
        return cls.from_node({f.name: select(cfg, f.name) for f in fields(cls) if f.name in cfg}, "")

    @classmethod
    def from_node(cls, node: Any, key: str | None = None):
        """Build from a node (a DictConfig, a mapping or None for the defaults); errors name ``key.<field>``."""
        key = cls.KEY if key is None else key
        values = plain(node, key)
        if values is None:
            values = {}
        if isinstance(values, cls):
            return values
        names = [f.name for f in fields(cls)]
        if not isinstance(values, Mapping):
            raise ConfigError(key, f"must be a mapping of settings ({', '.join(names[:3])}, ...), got {values!r}")
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name not in names:
                full = join(key, str(name))
                if full in RENAMED:
                    new, why = RENAMED[full]
                    raise ConfigError(full, f"renamed to {new} ({why})")
                raise ConfigError(full, f"unknown {cls.WHAT}; the keys are {sorted(names)}")
            nested = next(f.metadata.get("config") for f in fields(cls) if f.name == name)
            kwargs[name] = nested.from_node(value, join(key, name)) if nested is not None else value
        try:
            return cls(**kwargs)
        except ConfigError as err:  # __post_init__ names the field; the full key names the place in the tree
            raise ConfigError(join(key, err.key), err.message) from None

    def to_dict(self) -> dict[str, Any]:
        """Plain containers (tuples as lists), e.g. for JSON records."""
        from dataclasses import asdict

        def lists(x: Any) -> Any:
            if isinstance(x, dict):
                return {k: lists(v) for k, v in x.items()}
            return [lists(v) for v in x] if isinstance(x, list | tuple) else x

        return lists(asdict(self))


# ---------------------------------------------------------------- value checks (raise ConfigError(name, ...))
def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_int(name: str, v: Any, low: int | None = None, none: bool = False) -> None:
    """``v`` is an integer (>= ``low``), or None when ``none``."""
    if v is None and none:
        return
    if not is_int(v) or (low is not None and v < low):
        bound = f" >= {low}" if low is not None else ""
        raise ConfigError(name, f"must be an integer{bound}{' or null' if none else ''}, got {v!r}")


def check_number(name: str, v: Any, low: float | None = None, high: float | None = None, open_low: bool = False,
                 none: bool = False) -> None:  # fmt: skip
    """``v`` is a finite number in ``[low, high]`` (``(low, high]`` with ``open_low``), or None when ``none``."""
    if v is None and none:
        return
    ok = is_number(v) and math.isfinite(v)
    if ok and low is not None:
        ok = v > low if open_low else v >= low
    if ok and high is not None:
        ok = v <= high
    if not ok:
        if low is not None and high is not None:
            what = f"a number in {'(' if open_low else '['}{low:g}, {high:g}]"
        elif low is not None:
            what = f"a number {'>' if open_low else '>='} {low:g}"
        else:
            what = "a number"
        raise ConfigError(name, f"must be {what}{' or null' if none else ''}, got {v!r}")


def check_bool(name: str, v: Any) -> None:
    if not isinstance(v, bool):
        raise ConfigError(name, f"must be true or false, got {v!r}")


def check_choice(name: str, v: Any, choices: Sequence[Any]) -> None:
    if v not in choices:
        raise ConfigError(name, f"must be one of {tuple(choices)}, got {v!r}")


def check_str(name: str, v: Any, none: bool = False) -> None:
    if v is None and none:
        return
    if not isinstance(v, str):
        raise ConfigError(name, f"must be a string{' or null' if none else ''}, got {v!r}")


def as_tuple(v: Any) -> Any:
    """A list value as a tuple (frozen configs hold tuples); anything else unchanged (the check names it)."""
    return tuple(v) if isinstance(v, list) else v
