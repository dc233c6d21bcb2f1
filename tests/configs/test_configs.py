"""The typed configs (mogrpo/configs/): the YAML defaults kept, every field documented, every shipped config file
readable, a bad value a ConfigError naming its key, and a check that runs before torch is imported."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONF_DIR, REPO_ROOT, compose_cfg

from mogrpo.config import check_config
from mogrpo.configs import GROUPS, EvalConfig, GRPOConfig, RewardConfig
from mogrpo.configs.base import Config
from mogrpo.errors import ConfigError
from mogrpo.utils.cli import check_command_line


def _configs() -> list[type]:
    """Every config dataclass reachable from the groups (nested ones included)."""
    seen: list[type] = []
    todo = list(GROUPS.values())
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.append(cls)
        todo += [f.metadata["config"] for f in dataclasses.fields(cls) if f.metadata.get("config")]
    return seen


@pytest.mark.parametrize("cls", _configs(), ids=lambda c: c.__name__)
def test_every_field_has_a_help_text(cls):
    undocumented = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("help")]
    assert not undocumented, f"{cls.__name__}: fields without a help text {undocumented}"


@pytest.mark.parametrize(("cls", "ignore"), [(GRPOConfig, ()), (RewardConfig, ()), (EvalConfig, ("decoding",))])
def test_the_yaml_defaults_are_the_dataclass_defaults(tmp_path, cls, ignore):
    """conf/grpo/default.yaml, conf/reward/multilabel.yaml and conf/eval/default.yaml hold the dataclass defaults
    (eval.decoding.seed is ``${seed}`` in YAML, None = the run's seed in the dataclass)."""
    composed = cls.of(compose_cfg(["eval=default"], tmp_path)).to_dict()  # train.yaml picks eval=full
    default = cls().to_dict()
    assert {k: v for k, v in composed.items() if k not in ignore} == {k: v for k, v in default.items() if k not in ignore}


def test_the_schemas_are_registered_with_hydra():
    from hydra.core.config_store import ConfigStore

    node = ConfigStore.instance().load("schema/grpo.yaml").node
    assert node.G == GRPOConfig().G and set(node) == {f.name for f in dataclasses.fields(GRPOConfig)}


def _options() -> list[tuple[str, str]]:
    return [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]


@pytest.mark.parametrize(("group", "option"), _options())
def test_every_shipped_config_file_builds(tmp_path, group, option):
    cfg = compose_cfg([f"{group}={option}"], tmp_path)
    built = GROUPS[group].of(cfg)
    assert isinstance(built, Config)


@pytest.mark.parametrize(
    ("override", "key", "message"),
    [
        ("grpo.optim.lr=abc", "grpo.optim.lr", "must be a number > 0, got 'abc'"),
        ("grpo.clip.low=1.5", "grpo.clip.low", "must be a number in [0, 1)"),
        ("grpo.clip.high=-0.1", "grpo.clip.high", "must be a number >= 0"),
        ("grpo.advantage_eps=-1", "grpo.advantage_eps", "must be a number >= 0"),
        ("grpo.G=four", "grpo.G", "must be an integer >= 2"),
        ("+grpo.eps=0.001", "grpo.eps", "renamed to grpo.advantage_eps"),
        ("grpo.generation.top_k=-1", "grpo.generation.top_k", "must be an integer >= 0"),
        ("reward.weights.safety=heavy", "reward.weights", "weights must be numbers"),
        ("+reward.weights.fluency=1", "reward.weights", "aspect(s) ['fluency'] that do not exist"),
        ("model.max_prompt_length=0", "model.max_prompt_length", "must be an integer >= 1"),
        ("stage=train", "stage", "must be one of"),
        ("grpo.kl.reference=sft", "grpo.kl.reference", "sft"),
        ("grpo.kl.reference=warm_start", "grpo.kl.reference", "grpo.warm_start.enabled is false"),
        ("grpo.kl.reference=init", "grpo.kl.reference", "grpo.init_adapter is null"),
        ("grpo.init_adapter=/nonexistent/adapter", "grpo.init_adapter", "is not a saved peft adapter"),
        ("grpo.shaping.short.min_words=0", "grpo.shaping.short.min_words", "must be an integer >= 1"),
        ("+reward_data.policy_samples=/nonexistent/samples.jsonl", "reward_data.policy_samples", "no such file"),
        ("+reward_data.policy_sample_kinds=[nope]", "reward_data.policy_sample_kinds", "unknown kind(s) ['nope']"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(tmp_path, override, key, message):
    with pytest.raises(ConfigError) as info:
        check_config(compose_cfg(["experiment=smoke", override], tmp_path))
    assert info.value.key == key and message in info.value.message


@pytest.mark.parametrize(
    ("config_name", "args", "expected"),
    [
        ("train", ["reward.weights.fluency=1"], "error: reward.weights.fluency: 'fluency' is not an aspect"),
        ("train", ["grpo.eps=0.001"], "error: grpo.eps: renamed to grpo.advantage_eps"),
        ("train", ["--multirun", "grpo.eps=0.1,0.2"], "error: grpo.eps: renamed to grpo.advantage_eps"),
        ("train", ["grpo.optimizer.lr=1"], "error: grpo.optimizer.lr: is not a key of the config"),
        ("evaluate", ["adapter=/some/dir"], "error: adapter: renamed to eval.adapter"),
    ],
)
def test_a_command_line_hydra_cannot_place_is_one_config_error(config_name, args, expected):
    with pytest.raises(SystemExit, match="^" + expected.replace("(", r"\(").replace(")", r"\)")):
        check_command_line(config_name, args)


def test_a_good_command_line_passes_to_hydra():
    check_command_line("train", ["experiment=smoke", "grpo.G=2", "hydra.run.dir=/tmp/x", "grpo/shaping=both"])
    check_command_line("train", ["grpo.G=1"])  # composes: the value is the job's own check to make


def test_the_config_checks_import_no_torch():
    """The entry points and the config checks import hydra and omegaconf, not torch, Lightning or data libraries."""
    code = ("import sys, mogrpo.configs, mogrpo.config, mogrpo.train, mogrpo.evaluate, mogrpo.score, mogrpo.summarize; "
            "print(sorted(m for m in ('torch', 'lightning', 'transformers', 'datasets', 'pandas') if m in sys.modules))")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow  # a subprocess: python -m mogrpo.train
def test_a_bad_value_fails_fast_naming_the_key(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MOGRPO_LOG_DIR": str(tmp_path / "logs")}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mogrpo.train", "grpo.G=1"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode != 0 and "error: grpo.G: must be an integer >= 2" in done.stderr
    assert "Traceback" not in done.stderr
    # the check runs before any model library loads (-X importtime lists every module imported, one a line)
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not {m.split(".")[0] for m in imported} & {"torch", "lightning", "transformers", "peft"}


def test_conf_dir_is_the_one_the_tests_compose():
    assert Path(CONF_DIR) == REPO_ROOT / "conf"
