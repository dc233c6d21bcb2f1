"""The method group's typed config: defaults, the shipped files, and errors naming the key (mogrpo/configs/method.py)."""

from __future__ import annotations

import pytest
from conftest import compose_cfg

from mogrpo.config import check_config
from mogrpo.configs import DPOConfig, MethodConfig, PPOConfig
from mogrpo.errors import ConfigError


def test_grpo_is_the_default_and_the_shipped_files_hold_the_dataclass_defaults(tmp_path):
    assert MethodConfig.of(compose_cfg([], tmp_path)).name == "grpo"
    ppo = MethodConfig.of(compose_cfg(["method=ppo"], tmp_path))
    dpo = MethodConfig.of(compose_cfg(["method=dpo"], tmp_path))
    assert ppo.name == "ppo" and ppo.ppo == PPOConfig()
    assert dpo.name == "dpo" and dpo.dpo == DPOConfig() and dpo.samples
    assert not MethodConfig.from_node({"name": "dpo", "dpo": {"mode": "offline"}}).samples


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        (["method=ppo", "method.ppo.lam=1.5"], "method.ppo.lam", "in [0, 1]"),
        (["method=ppo", "method.ppo.epochs=0"], "method.ppo.epochs", ">= 1"),
        (["method=ppo", "method.ppo.mini_batch_size=3"], "method.ppo.mini_batch_size", "divide grpo.batch_size=4"),
        (["method=dpo", "method.dpo.beta=0"], "method.dpo.beta", "> 0"),
        (["method=dpo", "method.dpo.loss_type=hinge"], "method.dpo.loss_type", "sigmoid"),
        (["method=dpo", "method.dpo.mode=both"], "method.dpo.mode", "online"),
        (["method=dpo", "method.dpo.loss_type=ipo", "method.dpo.label_smoothing=0.1"], "method.dpo.label_smoothing",
         "sigmoid only"),
    ],
)  # fmt: skip
def test_bad_values_name_the_key(tmp_path, overrides, key, message):
    with pytest.raises(ConfigError) as err:
        check_config(compose_cfg(["experiment=smoke", *overrides], tmp_path))
    assert err.value.key == key and message in str(err.value)


def test_an_unknown_method_is_refused():
    with pytest.raises(ConfigError, match="method.name"):
        MethodConfig.from_node({"name": "rloo"})
