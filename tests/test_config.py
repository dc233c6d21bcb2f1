"""Config checks that run before any model loads (mogrpo/config.py)."""

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
