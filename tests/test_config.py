"""Config checks of the constrained aggregation and the reward shaping (mogrpo/config.py): composed from
the command line, checked before any model loads, every bad value named by its key."""

from __future__ import annotations

import pytest
from conftest import compose_cfg

from mogrpo.config import ConfigError, check_config


def _check(tmp_path, *overrides):
    check_config(compose_cfg(["experiment=smoke", "logger=none", *overrides], tmp_path))


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["reward=constrained_safety"],
        ["reward=constrained_safety", "reward.constraint.mode=reward_weights", "reward.constraint.rescale=none"],
        ["grpo/shaping=both"],
        ["grpo/shaping=repetition", "grpo.shaping.repetition.n=1", "grpo.shaping.overlong.cache_fraction=1.0"],
        ["grpo.shaping.repetition.coef=0.5", "grpo.shaping.overlong.coef=2"],
    ],
)
def test_good_values_pass(tmp_path, overrides):
    _check(tmp_path, *overrides)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["reward.constraint.mode=scalarized"], "reward.constraint.mode"),  # checked even when unused
        (["reward=constrained_safety", "reward.constraint.rescale=l2"], "reward.constraint.rescale"),
        (["reward=constrained_safety", "reward.constraint.lambda_lr=-0.1"], "reward.constraint.lambda_lr"),
        (["reward=constrained_safety", "reward.constraint.lambda_init=-1"], "reward.constraint.lambda_init"),
        (["grpo.shaping.repetition.coef=-1"], "grpo.shaping.repetition.coef"),
        (["grpo.shaping.overlong.coef=much"], "grpo.shaping.overlong.coef"),
        (["grpo.shaping.repetition.n=0"], "grpo.shaping.repetition.n"),
        (["grpo.shaping.overlong.cache_fraction=0"], "grpo.shaping.overlong.cache_fraction"),
        (["grpo.shaping.overlong.cache_fraction=1.5"], "grpo.shaping.overlong.cache_fraction"),
        (["+grpo.shaping.length.coef=1"], "grpo.shaping.length"),
    ],
)
def test_bad_values_name_the_key(tmp_path, overrides, key):
    with pytest.raises(ConfigError) as info:
        _check(tmp_path, *overrides)
    assert info.value.key == key and str(info.value).startswith(f"{key}: ")


def test_ensemble_checkpoints_must_exist_and_k_be_non_negative(tmp_path):
    _check(tmp_path, f"reward.ensemble.checkpoints=[{tmp_path}]", "reward.ensemble.k=0")
    with pytest.raises(ConfigError) as info:
        _check(tmp_path, f"reward.ensemble.checkpoints=[{tmp_path},{tmp_path / 'missing'}]")
    assert info.value.key == "reward.ensemble.checkpoints.1" and "missing" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _check(tmp_path, "reward.ensemble.k=-1")
    assert info.value.key == "reward.ensemble.k"
