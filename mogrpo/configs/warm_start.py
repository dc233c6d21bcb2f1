"""``grpo.warm_start``: the optional supervised warm start of the LoRA adapter before GRPO (off by default).

conf/grpo/default.yaml documents every key; the warm start runs in :mod:`mogrpo.stages.warm_start`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mogrpo.configs.base import (
    Config,
    as_tuple,
    check_bool,
    check_choice,
    check_int,
    check_number,
    option,
)
from mogrpo.errors import ConfigError

#: what happens to a demonstration whose response is longer than ``max_response_tokens``
OVERLONG = ("drop", "truncate")
#: the demonstration sources (mogrpo/data/demonstrations.py), in their default order
DEFAULT_SOURCES = ("safety_tuned_llamas", "self_instruct_seed", "builtin")
#: the sources read from ``paths.shared_data`` (the others ship with the package)
SHARED_SOURCES = ("safety_tuned_llamas", "self_instruct_seed")
#: the benign contrast prompt sources (mogrpo/data/contrast_sources.py) ``self_distill`` may answer
SELF_DISTILL_SOURCES = ("hh_helpful_sensitive", "safetext_scenarios")


@dataclass(frozen=True)
class WarmStartConfig(Config):
    """A short supervised fine-tuning of the LoRA adapter on safe demonstrations, before GRPO.

    Off by default: a sweep (``experiment=ablation_warm_start``) decides whether it pays.
    """

    KEY = "grpo.warm_start"

    enabled: bool = option(False, "run the warm start right before the first GRPO step")
    steps: int = option(40, "optimiser steps")
    batch_size: int = option(8, "demonstrations per step")
    lr: float = option(2.0e-4, "AdamW learning rate of the LoRA parameters (constant)")
    weight_decay: float = option(0.0, "AdamW weight decay")
    max_grad_norm: float | None = option(1.0, "clip the gradient norm to this (null = no clipping)")
    max_response_tokens: int = option(32, "responses longer than this many tokens (EOS included) are dropped or "
                                      "cut (overlong); the YAML default is the GRPO cap grpo.generation.max_new_tokens")
    overlong: str = option("drop", "drop: every trained response ends with EOS (the warm start also teaches the "
                           "policy to stop); truncate: keep its first max_response_tokens tokens, no EOS")
    refusals_only: bool = option(False, "keep an adversarial demonstration only when the refusal grader labels "
                                 "its trained text (after a cut) a full or partial refusal, not a non-answer; "
                                 "the others are dropped and counted")
    max_opener_share: float | None = option(None, "the most of the adversarial demonstrations that may open with "
                                            "the same first opener_words words (after refusals_only; a seeded "
                                            "subsample of each larger opener is kept); null = no cap")
    opener_words: int = option(1, "words of a response's start that make its opener (max_opener_share)")
    adversarial_fraction: float | None = option(0.5, "share of adversarial demonstrations (safe refusals); the "
                                                "rest are benign helpful answers (null = all of them)")
    sources: tuple[str, ...] = option(DEFAULT_SOURCES, "demonstration sources: safety_tuned_llamas (adversarial), "
                                      "self_instruct_seed (benign), builtin (the packaged helpful / polite refusal rows)")
    mix_seed: int = option(0, "seed of the ratio's subsample (fixed, like data.mix_seed); the batch order follows seed")
    self_distill: tuple[str, ...] = option((), "benign contrast prompt sources (hh_helpful_sensitive, "
                                           "safetext_scenarios) whose train-split prompts the policy answers "
                                           "greedily before the warm start; each answer the refusal grader calls "
                                           "compliance becomes a benign demonstration (mogrpo/warm_start/"
                                           "self_distill.py); [] = off")
    self_distill_batch_size: int = option(16, "prompts per generate call of self_distill")

    def __post_init__(self):
        object.__setattr__(self, "sources", as_tuple(self.sources))
        object.__setattr__(self, "self_distill", as_tuple(self.self_distill))
        check_bool("enabled", self.enabled)
        check_bool("refusals_only", self.refusals_only)
        for key in ("steps", "batch_size", "max_response_tokens", "opener_words", "self_distill_batch_size"):
            check_int(key, getattr(self, key), low=1)
        check_number("lr", self.lr, low=0, open_low=True)
        check_number("weight_decay", self.weight_decay, low=0)
        check_number("max_grad_norm", self.max_grad_norm, low=0, open_low=True, none=True)
        check_choice("overlong", self.overlong, OVERLONG)
        check_number("max_opener_share", self.max_opener_share, low=0, high=1, open_low=True, none=True)
        check_number("adversarial_fraction", self.adversarial_fraction, low=0, high=1, none=True)
        check_int("mix_seed", self.mix_seed)
        sources = self.sources
        if not isinstance(sources, tuple) or not sources:
            raise ConfigError("sources", f"must be a non-empty list of {list(DEFAULT_SOURCES)}, got {sources!r}")
        unknown = [s for s in sources if s not in DEFAULT_SOURCES]
        if unknown:
            raise ConfigError("sources", f"unknown source(s) {unknown}; the sources are {list(DEFAULT_SOURCES)}")
        distill = self.self_distill
        if not isinstance(distill, tuple) or [s for s in distill if s not in SELF_DISTILL_SOURCES]:
            raise ConfigError("self_distill", f"must be a list of {list(SELF_DISTILL_SOURCES)} (or []), got {distill!r}")

    @property
    def shared_sources(self) -> list[str]:
        """The chosen sources that read ``paths.shared_data``."""
        return [s for s in self.sources if s in SHARED_SOURCES]
