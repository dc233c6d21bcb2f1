"""The ``grpo.warm_start`` node as one typed, checked object (conf/grpo/default.yaml documents every key)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

#: what happens to a demonstration whose response is longer than ``max_response_tokens``
OVERLONG = ("drop", "truncate")
#: the demonstration sources (mogrpo/data/demonstrations.py SOURCES), in their default order
DEFAULT_SOURCES = ("safety_tuned_llamas", "self_instruct_seed", "builtin")


class WarmStartConfigError(ValueError):
    """A wrong ``grpo.warm_start`` value; ``key`` is the key below ``grpo.warm_start``."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(f"{key}: {message}")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class WarmStartConfig:
    """A short supervised fine-tuning of the LoRA adapter on safe demonstrations, before GRPO.

    Off by default: a sweep (``experiment=ablation_warm_start``) decides whether it pays.
    """

    enabled: bool = False  # run the warm start before the first GRPO step
    steps: int = 40  # optimiser steps
    batch_size: int = 8  # demonstrations per step
    lr: float = 2.0e-4  # AdamW learning rate of the LoRA parameters (constant)
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0  # clip the gradient norm (null = no clipping)
    max_response_tokens: int = 64  # longer responses are dropped or cut (``overlong``); conf: the GRPO cap
    overlong: str = "drop"  # drop: every trained response ends with EOS; truncate: keep its head, no EOS
    adversarial_fraction: float | None = 0.5  # share of adversarial demonstrations (null = all of them)
    sources: tuple[str, ...] = DEFAULT_SOURCES  # mogrpo/data/demonstrations.py SOURCES
    mix_seed: int = 0  # seed of the ratio's subsample (fixed, like data.mix_seed); the order uses ``seed``

    def __post_init__(self):
        if not isinstance(self.enabled, bool):
            raise WarmStartConfigError("enabled", f"must be true or false, got {self.enabled!r}")
        for key in ("steps", "batch_size", "max_response_tokens"):
            v = getattr(self, key)
            if not _is_int(v) or v < 1:
                raise WarmStartConfigError(key, f"must be an integer >= 1, got {v!r}")
        if not _is_number(self.lr) or not self.lr > 0:
            raise WarmStartConfigError("lr", f"must be a number > 0, got {self.lr!r}")
        if not _is_number(self.weight_decay) or not self.weight_decay >= 0:
            raise WarmStartConfigError("weight_decay", f"must be a number >= 0, got {self.weight_decay!r}")
        if self.max_grad_norm is not None and (not _is_number(self.max_grad_norm) or not self.max_grad_norm > 0):
            raise WarmStartConfigError("max_grad_norm", f"must be a number > 0 or null, got {self.max_grad_norm!r}")
        if self.overlong not in OVERLONG:
            raise WarmStartConfigError("overlong", f"must be one of {OVERLONG}, got {self.overlong!r}")
        f = self.adversarial_fraction
        if f is not None and (not _is_number(f) or not 0 <= f <= 1):
            raise WarmStartConfigError("adversarial_fraction", f"must be a number in [0, 1] or null, got {f!r}")
        if not _is_int(self.mix_seed):
            raise WarmStartConfigError("mix_seed", f"must be an integer, got {self.mix_seed!r}")
        from mogrpo.data.demonstrations import SOURCES

        sources = self.sources
        if isinstance(sources, str) or not isinstance(sources, tuple) or not sources:
            raise WarmStartConfigError("sources", f"must be a non-empty list of {list(SOURCES)}, got {sources!r}")
        unknown = [s for s in sources if s not in SOURCES]
        if unknown:
            raise WarmStartConfigError("sources", f"unknown source(s) {unknown}; the sources are {list(SOURCES)}")

    @classmethod
    def from_config(cls, node: Mapping | None) -> WarmStartConfig:
        """From the ``grpo.warm_start`` node (None or missing keys: the defaults; an unknown key is an error)."""
        if node is None:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = [k for k in node if k not in known]
        if unknown:
            raise WarmStartConfigError(str(unknown[0]), f"unknown key; the keys are {sorted(known)}")
        kwargs = dict(node.items())
        if "sources" in kwargs and not isinstance(kwargs["sources"], str):
            try:
                kwargs["sources"] = tuple(kwargs["sources"])
            except TypeError:
                pass  # __post_init__ names the key
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["sources"] = list(self.sources)
        return out


