"""``reward`` (conf/reward/): the aspects the regressor scores, their weights and how they become one advantage.

The weights are parsed here, once: :attr:`RewardConfig.weight_list` is what the GRPO module, the reward
stage's ranking checks and the evaluation use. The math is in :mod:`mogrpo.grpo.advantages` and
:mod:`mogrpo.grpo.constraint`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mogrpo.configs.base import Config, as_tuple, check_choice, is_number, option
from mogrpo.configs.schedule import ScheduleConfig
from mogrpo.errors import ConfigError

AGGREGATIONS = ("sum_then_normalize", "normalize_then_sum")
REWARD_AGGREGATIONS = (*AGGREGATIONS, "constrained")
CONSTRAINT_MODES = ("reward_weights", "normalized_advantages")
RESCALES = ("sum", "none")


def _non_negative(name: str, value: Any) -> None:
    if not is_number(value) or not value >= 0:
        raise ConfigError(name, f"must be a number >= 0, got {value!r}")


@dataclass(frozen=True)
class ConstraintConfig(Config):
    """Safety as a constraint (``aggregation=constrained``): keep E[aspect] >= threshold with a multiplier."""

    aspect: str = option("safety", "the constrained aspect")
    threshold: float = option(0.8, "tau in E[r_aspect] >= tau, in [0, 1]")
    lambda_init: float = option(1.0, "the Lagrange multiplier's start, >= 0")
    lambda_lr: float = option(0.5, "the dual-ascent step: lambda <- max(0, lambda + lr (tau - mean r_aspect))")
    mode: str = option("normalized_advantages", "how lambda enters the advantages: reward_weights (normalise "
                       "sum_{k!=c} w_k r_k + lambda r_c) or normalized_advantages (sum_{k!=c} w_k Z_k + lambda Z_c)")
    rescale: str = option("sum", "normalized_advantages only: sum (divide by sum_{k!=c} |w_k| + lambda) or none")

    def __post_init__(self):
        # checked even when the aggregation is not constrained, so a typo never passes silently
        check_choice("mode", self.mode, CONSTRAINT_MODES)
        check_choice("rescale", self.rescale, RESCALES)


@dataclass(frozen=True)
class EnsembleConfig(Config):
    """A conservative ensemble of reward models: mean - k std per aspect (mogrpo/models/ensemble.py)."""

    checkpoints: tuple[str, ...] = option((), "saved regressor directories (run dirs' reward_model/, other seeds) "
                                          "scored with this run's regressor; [] = this run's regressor alone")
    k: float = option(1.0, "the reward is mean - k std over the regressors, k >= 0")

    def __post_init__(self):
        checkpoints = () if self.checkpoints is None else self.checkpoints
        if isinstance(checkpoints, str) or not isinstance(checkpoints, Sequence):
            raise ConfigError("checkpoints", f"must be a list of regressor directories, got {checkpoints!r}")
        object.__setattr__(self, "checkpoints", tuple(str(c) for c in checkpoints))
        for i, path in enumerate(self.checkpoints):
            if not Path(path).is_dir():
                raise ConfigError(f"checkpoints.{i}", f"{path} is not a directory (a saved regressor)")
        _non_negative("k", self.k)


@dataclass(frozen=True)
class RewardConfig(Config):
    """R = sum_k w_k r_k over the regressor's K aspect scores, aggregated into group-relative advantages."""

    KEY = "reward"

    name: str = option("multilabel", "the name of the reward entry (conf/reward/<name>.yaml)")
    aspects: tuple[str, ...] = option(("politeness", "meaningfulness", "actionability", "safety"),
                                      "the regressor's heads, in order (K = len(aspects))")
    weights: Any = option(help="one weight per aspect: a mapping aspect -> weight (a list in aspect order also "
                          "works); an aspect left out weighs 0",
                          factory=lambda: {"politeness": 1.0, "meaningfulness": 0.5, "actionability": 1.0,
                                           "safety": 4.0})  # fmt: skip  (conf/reward/multilabel.yaml: why)
    aggregation: str = option("sum_then_normalize", "sum_then_normalize | normalize_then_sum | constrained "
                              "(the constraint's aspect as a Lagrangian constraint)")
    constraint: ConstraintConfig = option(help="used when aggregation=constrained", config=ConstraintConfig)
    ensemble: EnsembleConfig = option(help="a conservative ensemble of reward models", config=EnsembleConfig)
    schedule: ScheduleConfig = option(help="the weights / the constraint threshold as functions of the step "
                                      "(mogrpo/grpo/schedules.py)", config=ScheduleConfig)

    def __post_init__(self):
        object.__setattr__(self, "aspects", as_tuple(self.aspects))
        aspects = list(self.aspects) if isinstance(self.aspects, tuple) else self.aspects
        if not isinstance(aspects, list) or not aspects:
            raise ConfigError("aspects", "needs at least one aspect")
        if len(set(aspects)) != len(aspects):
            raise ConfigError("aspects", f"aspect names must be unique, got {aspects}")
        weights = _weight_list(self.weights, aspects)
        object.__setattr__(self, "weights", dict(zip(aspects, weights)))
        if all(w == 0 for w in weights) and self.aggregation != "constrained":
            raise ConfigError("weights", "all weights are 0: the reward would carry no signal")
        if self.aggregation not in REWARD_AGGREGATIONS:
            raise ConfigError("aggregation", f"must be one of {REWARD_AGGREGATIONS}, got {self.aggregation!r}")
        if self.constrained:
            c = self.constraint
            if c.aspect not in aspects:
                raise ConfigError("constraint.aspect", f"{c.aspect!r} is not one of {aspects}")
            if not is_number(c.threshold) or not 0 <= c.threshold <= 1:
                raise ConfigError("constraint.threshold", f"must be in [0, 1], got {c.threshold}")
            for key in ("lambda_init", "lambda_lr"):
                _non_negative(f"constraint.{key}", getattr(c, key))
        self._check_schedule(aspects)

    def _check_schedule(self, aspects: list[str]) -> None:
        """``schedule.final_weights`` parsed like the weights (a left-out aspect keeps its start weight)."""
        s = self.schedule
        if s.final_threshold is not None and not self.constrained:
            raise ConfigError("schedule.final_threshold", "only applies with aggregation=constrained (the threshold "
                              f"of the constraint), got aggregation={self.aggregation}")  # fmt: skip
        if s.final_weights is None:
            return
        final = s.final_weights
        if isinstance(final, Mapping):
            final = {**self.weights, **final}
        try:
            values = _weight_list(final, aspects)
        except ConfigError as err:
            raise ConfigError("schedule.final_weights", err.message) from None
        if all(w == 0 for w in values) and not self.constrained:
            raise ConfigError("schedule.final_weights", "all final weights are 0: the reward would carry no signal")
        object.__setattr__(self, "schedule", replace(s, final_weights=dict(zip(aspects, values))))

    @property
    def weight_list(self) -> list[float]:
        """The weights in aspect order."""
        return [self.weights[a] for a in self.aspects]

    @property
    def final_weight_list(self) -> list[float]:
        """The weights the schedule ends at, in aspect order (the weights when it does not move them)."""
        final = self.schedule.final_weights
        return [final[a] for a in self.aspects] if final is not None else self.weight_list

    @property
    def constrained(self) -> bool:
        return self.aggregation == "constrained"

    @property
    def constraint_index(self) -> int:
        return self.aspects.index(self.constraint.aspect)


def _weight_list(weights: Any, aspects: list[str]) -> list[float]:
    """The aspect weights in aspect order, from a mapping aspect -> weight or a list (the one parse)."""
    if isinstance(weights, Mapping):
        unknown = [k for k in weights if k not in aspects]
        if unknown:
            raise ConfigError(
                "weights", f"weight given for aspect(s) {unknown} that do not exist; aspects are {aspects}"
            )
        values = [weights.get(a, 0.0) for a in aspects]
    elif isinstance(weights, Sequence) and not isinstance(weights, str):
        values = list(weights)
        if len(values) != len(aspects):
            raise ConfigError("weights", f"{len(values)} weights for {len(aspects)} aspects {aspects}; give one per aspect")
    else:
        raise ConfigError("weights", f"must be a mapping aspect -> weight or a list, got {weights!r}")
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError) as err:
        raise ConfigError("weights", f"weights must be numbers, got {values}") from err

