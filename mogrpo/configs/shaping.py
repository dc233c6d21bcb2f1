"""``grpo.shaping`` (conf/grpo/shaping/): the penalties against reward hacking, one coefficient each, 0 = off.

The penalties themselves are pure tensor functions in :mod:`mogrpo.grpo.shaping`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from mogrpo.configs.base import Config, is_int, is_number, join, option, plain
from mogrpo.errors import ConfigError

PENALTIES = ("repetition", "overlong", "short", "refusal")

#: ``ShapingConfig.from_config`` raises this (a ConfigError whose key is below ``grpo.shaping``)
ShapingConfigError = ConfigError


@dataclass(frozen=True)
class ShapingConfig(Config):
    """The ``grpo.shaping`` node, flattened: ``repetition.coef`` is ``repetition_coef``."""

    KEY = "grpo.shaping"

    repetition_coef: float = option(0.0, "weight of the repetition penalty P_rep = 1 - distinct-n of the "
                                    "completion's own word n-grams, against aspect weights of ~1 (0 = off)")
    repetition_n: int = option(2, "n of the word n-grams of P_rep: 1 = repeated words, 2 = repeated bigrams")
    overlong_coef: float = option(0.0, "weight of DAPO's soft overlong penalty P_long: 0 up to L_max - L_cache "
                                  "tokens, linear to 1 at L_max = grpo.generation.max_new_tokens (0 = off)")
    overlong_cache_fraction: float = option(0.25, "L_cache as a share of L_max, in (0, 1]: 0.25 of 64 tokens "
                                            "= the last 16")  # fmt: skip
    short_coef: float = option(0.0, "weight of the short-answer penalty P_short = max(0, m - words) / m: 1 for "
                               "the empty answer, 0 from m = short.min_words words on (0 = off)")
    short_min_words: int = option(5, "m of P_short: answers of fewer words are penalised (\"I cannot help with "
                                  "that.\" has 5)")
    refusal_coef: float = option(0.0, "weight of the rule-based refusal penalty P_refuse: 1 for an answer to an "
                                 "adversarial train prompt that complies (or is empty) and for a refusal of a benign "
                                 "one, 0.5 for a partial refusal of either, else 0 (0 = off)")
    refusal_non_answer: float = option(0.0, "P_refuse of a non-answer to an adversarial train prompt (the grader's "
                                       "non_answer / redirect_only: it declines without naming the request, \"I'm "
                                       "not sure what you're asking.\"): 0 = paid as a refusal, 1 = as compliance")

    def __post_init__(self):
        for name in ("repetition_coef", "overlong_coef", "short_coef", "refusal_coef"):
            v = getattr(self, name)
            if not is_number(v) or not v >= 0:
                raise ConfigError(name.replace("_", ".", 1), f"must be a number >= 0 (0 = off), got {v!r}")
        n = self.repetition_n
        if not is_int(n) or n < 1:
            raise ConfigError("repetition.n", f"must be an integer >= 1, got {n!r}")
        v = self.refusal_non_answer
        if not is_number(v) or not 0 <= v <= 1:
            raise ConfigError("refusal.non_answer", f"must be a number in [0, 1], got {v!r}")
        m = self.short_min_words
        if not is_int(m) or m < 1:
            raise ConfigError("short.min_words", f"must be an integer >= 1, got {m!r}")
        f = self.overlong_cache_fraction
        if not is_number(f) or not 0 < f <= 1:
            raise ConfigError("overlong.cache_fraction", f"must be a number in (0, 1], got {f!r}")

    @classmethod
    def from_node(cls, node, key: str | None = None) -> ShapingConfig:
        """From ``{repetition: {coef, n}, overlong: {coef, cache_fraction}, short: {coef, min_words}}`` (missing
        parts: defaults; None: all off); a bad value is a ConfigError naming ``<key>.<penalty>.<name>``."""
        key = cls.KEY if key is None else key
        node = plain(node, key)
        if isinstance(node, cls):
            return node
        if node is None:
            return cls()
        if not isinstance(node, Mapping):
            raise ConfigError(key, f"must be a mapping of penalties {list(PENALTIES)}, got {node!r}")
        unknown = [k for k in node if k not in PENALTIES]
        if unknown:
            raise ConfigError(join(key, str(unknown[0])), f"unknown penalty; the penalties are {list(PENALTIES)}")
        known = {f.name for f in fields(cls)}
        kwargs = {}
        for penalty in PENALTIES:
            for name, value in (node.get(penalty) or {}).items():
                if f"{penalty}_{name}" not in known:
                    raise ConfigError(join(key, f"{penalty}.{name}"), f"unknown key of the {penalty} penalty")
                kwargs[f"{penalty}_{name}"] = value
        try:
            return cls(**kwargs)
        except ConfigError as err:
            raise ConfigError(join(key, err.key), err.message) from None

    @classmethod
    def from_config(cls, node: Mapping | None) -> ShapingConfig:
        """:meth:`from_node` with keys relative to ``grpo.shaping`` (``repetition.coef``)."""
        return cls.from_node(node, "")

    @property
    def active(self) -> tuple[str, ...]:
        """The penalties with a coefficient > 0, in :data:`PENALTIES` order."""
        return tuple(p for p in PENALTIES if getattr(self, f"{p}_coef") > 0)

    def overlong_cache(self, max_length: int) -> int:
        """L_cache in tokens for a cap of ``max_length`` tokens: round(cache_fraction L_max), at least 1."""
        return max(1, min(int(max_length), round(self.overlong_cache_fraction * int(max_length))))
