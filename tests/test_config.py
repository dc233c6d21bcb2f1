"""Config checks that run before any model loads (mogrpo/config.py): composed from the command line,
every bad value named by its key."""

from __future__ import annotations

import pytest
from conftest import compose_cfg

from mogrpo.config import ConfigError, check_config


def test_a_missing_shared_data_folder_fails_naming_the_key_and_the_fix(tmp_path):
    cfg = compose_cfg(["reward_data=public_mix", f"paths.shared_data={tmp_path / 'absent'}"], tmp_path)
    with pytest.raises(ConfigError, match=r"paths.shared_data: reward_data=public_mix reads .*absent.*reward_data=builtin"):
        check_config(cfg)


def test_the_builtin_demo_needs_no_shared_data(tmp_path):
    check_config(compose_cfg(["reward_data=builtin", "data=builtin", f"paths.shared_data={tmp_path / 'absent'}"], tmp_path))


def test_a_stage_checks_only_the_data_it_reads(tmp_path):
    absent = f"paths.shared_data={tmp_path / 'absent'}"
    check_config(compose_cfg(["stage=grpo", "reward_data=public_mix", "data=builtin", absent], tmp_path))
    with pytest.raises(ConfigError, match="paths.shared_data"):
        check_config(compose_cfg(["stage=reward", "reward_data=public_mix", absent], tmp_path))


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
