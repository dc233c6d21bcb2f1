"""``soup`` (conf/soup.yaml): which adapters ``python -m mogrpo.soup`` mixes, and at which coefficients."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mogrpo.configs.base import Config, is_number, option
from mogrpo.errors import ConfigError


@dataclass(frozen=True)
class SoupConfig(Config):
    """theta_soup = sum_i lambda_i theta_i over the adapters (mogrpo/models/lora_soup.py), one soup per vector."""

    KEY = "soup"

    adapters: tuple[str, ...] = option((), "two or more run dirs of `python -m mogrpo.train` (their adapter/) or "
                                       "adapter dirs, trained from one base with one LoRA config")
    coefficients: tuple = option((0.0, 0.25, 0.5, 0.75, 1.0), "one soup per entry: with two adapters a number c "
                                 "(theta = (1 - c) theta_A + c theta_B: 0 is the first adapter, 1 the second), or "
                                 "for any number of adapters a list of one lambda per adapter")

    def __post_init__(self):
        adapters = self.adapters
        if adapters == "???":
            raise ConfigError("adapters", "is required: soup.adapters=[RUN_A,RUN_B] (run dirs or adapter dirs)")
        if isinstance(adapters, str) or not isinstance(adapters, Sequence) or len(adapters) < 2:
            raise ConfigError("adapters", f"needs two or more adapters (run dirs or adapter dirs), got {adapters!r}")
        object.__setattr__(self, "adapters", tuple(str(a) for a in adapters))
        coefficients = self.coefficients
        if isinstance(coefficients, str) or not isinstance(coefficients, Sequence) or not coefficients:
            raise ConfigError("coefficients", f"must be a non-empty list, got {coefficients!r}")
        vectors = []
        for i, c in enumerate(coefficients):
            if is_number(c) and len(self.adapters) == 2:
                c = [1.0 - float(c), float(c)]
            if isinstance(c, str) or not isinstance(c, Sequence) or len(c) != len(self.adapters):
                raise ConfigError(f"coefficients.{i}", f"must be a number (two adapters) or a list of "
                                  f"{len(self.adapters)} numbers (one per adapter), got {c!r}")  # fmt: skip
            if not all(is_number(x) and math.isfinite(x) for x in c):
                raise ConfigError(f"coefficients.{i}", f"must be finite numbers, got {c!r}")
            vectors.append(tuple(float(x) for x in c))
        object.__setattr__(self, "coefficients", tuple(coefficients))
        object.__setattr__(self, "_vectors", tuple(vectors))

    @property
    def vectors(self) -> list[tuple[float, ...]]:
        """One lambda vector (one weight per adapter) per soup."""
        return list(self._vectors)
