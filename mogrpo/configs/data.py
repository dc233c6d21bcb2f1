"""``data`` (conf/data/: the GRPO prompt sets) and ``reward_data`` (conf/reward_data/: the labelled pairs).

Their sets and sources are ``_target_`` nodes built by ``hydra.utils.instantiate`` where they are read
(:mod:`mogrpo.stages.inputs`, :func:`mogrpo.data.labelled.load_labelled`): kept as mappings here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mogrpo.configs.base import Config, check_choice, check_int, check_number, check_str, option
from mogrpo.errors import ConfigError

EVAL_SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class DataConfig(Config):
    """The prompts GRPO trains on and the evaluation answers: ``train``, ``validation`` and ``heldout`` sets."""

    KEY = "data"

    name: str = option("real_mix", "the name of the data entry (conf/data/<name>.yaml)")
    train: dict[str, Any] | None = option(None, "the GRPO training prompts: a _target_ node returning prompt dicts")
    validation: dict[str, Any] | None = option(None, "prompts for tuning (eval.split=validation); optional")
    heldout: dict[str, Any] | None = option(None, "the held-out prompts the evaluation reports on")
    system_prompt: str | None = option(None, "system prompt added before each conversation that has none "
                                       "(null: the chat template's default)")
    adversarial_fraction: float | None = option(None, "real_mix: the share of adversarial prompts in every split "
                                                "(the larger side subsampled; null keeps every prompt)")
    max_prompts: int | None = option(None, "real_mix: at most this many prompts in a split (null = all)")
    mix_seed: int = option(0, "real_mix: seed of the subsamples and the order (fixed, not ${seed})")
    sources: dict[str, Any] | None = option(None, "real_mix: per source enabled, max_prompts and the loader's options")

    def __post_init__(self):
        for name in ("train", "validation", "heldout", "sources"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dict):
                raise ConfigError(name, f"must be a mapping (a _target_ node) or null, got {value!r}")
        check_str("system_prompt", self.system_prompt, none=True)
        check_number("adversarial_fraction", self.adversarial_fraction, low=0, high=1, none=True)
        check_int("max_prompts", self.max_prompts, low=1, none=True)
        check_int("mix_seed", self.mix_seed)


#: the row kinds of mogrpo/data/policy_samples.py (its KINDS; here so the config check imports no data code)
POLICY_SAMPLE_KINDS = ("benign_safe", "benign_over_refusal", "benign_over_fixed_opening", "refusal_over_compliance")


@dataclass(frozen=True)
class RewardDataConfig(Config):
    """Aspect-labelled (prompt, response) rows for the regressor, split by prompt into train / validation / test."""

    KEY = "reward_data"

    name: str = option("real_mix", "the name of the reward data entry (conf/reward_data/<name>.yaml)")
    sources: list[Any] = option(help="the sources: _target_ nodes returning datasets.Dataset rows", factory=list)
    val_fraction: float = option(0.1, "the validation share of the rows a source does not pin, in [0, 1)")
    test_fraction: float = option(0.15, "the test share of the rows a source does not pin, in [0, 1)")
    max_rows: int | None = option(None, "cap on rows (after shuffling with the seed); null = all")
    eval_split: str = option("test", "the split calibration.json and the ranking checks report on: test to "
                             "report, validation to choose settings")
    ranking: dict[str, Any] | None = option(None, "held-out pairs of the aggregate ranking checks: check -> "
                                            "builders of (prompt, better, worse) pairs")
    policy_samples: str | None = option(None, "a harvest file of the policy's answers to train prompts "
                                        "(experiments/harvest_policy_samples.py), added as rows by "
                                        "mogrpo.data.policy_samples; null = none")
    policy_sample_kinds: list[str] = option(
        help="the kinds of rows made from policy_samples (mogrpo/data/policy_samples.py KINDS)",
        factory=lambda: list(POLICY_SAMPLE_KINDS))

    def __post_init__(self):
        if not isinstance(self.sources, list):
            raise ConfigError("sources", f"must be a list of _target_ nodes, got {self.sources!r}")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and 0 <= value < 1):
                raise ConfigError(name, f"must be in [0, 1), got {value}")
        check_int("max_rows", self.max_rows, low=0, none=True)
        check_choice("eval_split", self.eval_split, EVAL_SPLITS)
        unknown = [k for k in self.policy_sample_kinds if k not in POLICY_SAMPLE_KINDS]
        if unknown:
            raise ConfigError("policy_sample_kinds", f"unknown kind(s) {unknown}; kinds are {list(POLICY_SAMPLE_KINDS)}")
        if self.policy_samples is not None and not Path(self.policy_samples).is_file():
            raise ConfigError("policy_samples", f"no such file: {self.policy_samples} (write it with "
                              "experiments/harvest_policy_samples.py, or set it to null)")
