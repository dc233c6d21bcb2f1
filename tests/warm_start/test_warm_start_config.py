"""``grpo.warm_start`` checks (mogrpo/configs/warm_start.py, mogrpo/config.py): composed from the command line,
before any model loads, every bad value named by its key."""

from __future__ import annotations

import pytest
from conftest import compose_cfg

from mogrpo.config import ConfigError, check_config
from mogrpo.warm_start import WarmStartConfig

FIXTURE_SHARED = "paths.shared_data=${mogrpo.project_root:}/tests/fixtures/data/shared"


def _cfg(tmp_path, *overrides):
    return compose_cfg(["experiment=smoke", "logger=none", *overrides], tmp_path)


def test_the_default_is_off_and_follows_the_grpo_completion_cap(tmp_path):
    cfg = compose_cfg([FIXTURE_SHARED, "grpo.generation.max_new_tokens=48"], tmp_path)
    settings = WarmStartConfig.of(cfg)
    assert settings.enabled is False and settings.max_response_tokens == 48 and settings.refusals_only is False
    assert settings.max_opener_share is None and settings.opener_words == 1
    assert settings.self_distill == () and settings.self_distill_batch_size == 16
    assert settings.sources == ("safety_tuned_llamas", "self_instruct_seed", "builtin")
    assert WarmStartConfig().enabled is False
    check_config(compose_cfg([FIXTURE_SHARED, "grpo.warm_start.enabled=true"], tmp_path))


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("grpo.warm_start.enabled=maybe", "grpo.warm_start.enabled"),
        ("grpo.warm_start.steps=0", "grpo.warm_start.steps"),
        ("grpo.warm_start.steps=2.5", "grpo.warm_start.steps"),
        ("grpo.warm_start.batch_size=-1", "grpo.warm_start.batch_size"),
        ("grpo.warm_start.lr=0", "grpo.warm_start.lr"),
        ("grpo.warm_start.lr=fast", "grpo.warm_start.lr"),
        ("grpo.warm_start.weight_decay=-0.1", "grpo.warm_start.weight_decay"),
        ("grpo.warm_start.max_grad_norm=0", "grpo.warm_start.max_grad_norm"),
        ("grpo.warm_start.max_response_tokens=0", "grpo.warm_start.max_response_tokens"),
        ("grpo.warm_start.overlong=wrap", "grpo.warm_start.overlong"),
        ("grpo.warm_start.refusals_only=maybe", "grpo.warm_start.refusals_only"),
        ("grpo.warm_start.max_opener_share=0", "grpo.warm_start.max_opener_share"),
        ("grpo.warm_start.max_opener_share=1.5", "grpo.warm_start.max_opener_share"),
        ("grpo.warm_start.opener_words=0", "grpo.warm_start.opener_words"),
        ("grpo.warm_start.adversarial_fraction=1.5", "grpo.warm_start.adversarial_fraction"),
        ("grpo.warm_start.sources=[builtin,advbench]", "grpo.warm_start.sources"),
        ("grpo.warm_start.sources=[]", "grpo.warm_start.sources"),
        ("grpo.warm_start.sources=builtin", "grpo.warm_start.sources"),
        ("grpo.warm_start.self_distill=[advbench]", "grpo.warm_start.self_distill"),
        ("grpo.warm_start.self_distill=safetext_scenarios", "grpo.warm_start.self_distill"),
        ("grpo.warm_start.self_distill_batch_size=0", "grpo.warm_start.self_distill_batch_size"),
        ("+grpo.warm_start.epochs=2", "grpo.warm_start.epochs"),
        ("grpo.warm_start=on", "grpo.warm_start"),
    ],
)
def test_bad_values_name_the_key(tmp_path, override, key):
    with pytest.raises(ConfigError, match=rf"^{key}: "):
        check_config(_cfg(tmp_path, override))


def test_bad_values_are_refused_even_while_the_warm_start_is_off(tmp_path):
    with pytest.raises(ConfigError, match="^grpo.warm_start.steps"):
        check_config(_cfg(tmp_path, "grpo.warm_start.enabled=false", "grpo.warm_start.steps=0"))


def test_public_sources_need_the_shared_data_folder(tmp_path):
    absent = f"paths.shared_data={tmp_path / 'absent'}"
    sources = "grpo.warm_start.sources=[safety_tuned_llamas,builtin]"
    with pytest.raises(ConfigError, match=r"^paths.shared_data: grpo.warm_start.sources \['safety_tuned_llamas'\]"):
        check_config(_cfg(tmp_path, absent, "grpo.warm_start.enabled=true", sources))
    check_config(_cfg(tmp_path, absent, "grpo.warm_start.enabled=false", sources))  # off: nothing is read
    check_config(_cfg(tmp_path, absent, "grpo.warm_start.enabled=true"))  # smoke: builtin only
