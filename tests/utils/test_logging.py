"""W&B run fields from the config (name, group, tags, config) and an offline run read back with wandb's reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CONF_DIR, compose_cfg
from helpers import offline_runs, read_wandb_run
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf, open_dict

from mogrpo.utils.logging import (
    MAX_NAME,
    finish_logger,
    make_logger,
    run_fields,
    run_name,
    short_keys,
    wandb_config,
    wandb_group,
    wandb_mode,
    wandb_tags,
)

# ---------------------------------------------------------------- names, groups, tags


def test_run_name_strips_prefixes_sorts_and_appends_seed():
    overrides = ["grpo.kl.beta=0.04", "reward=single_safety", "grpo.G=4", "seed=42", "experiment=ablation_kl"]
    assert run_name(overrides, seed=42) == "G=4,beta=0.04,reward=single_safety,s42"


def test_run_name_drops_where_keys_and_handles_hydra_syntax():
    overrides = [
        "paths.log_dir=/tmp/x",
        "logger=wandb",
        "trainer=cpu",
        "stage=all",
        "+grpo.clip.low=0.1",
        "~grpo.eps",
        "reward_model.checkpoint=/data/runs/regressor_v2/",
        "model.spec.cache_dir=/root/.cache/mogrpo",
        "+callbacks.table._target_=mogrpo.callbacks.CompletionsTable",
    ]
    assert run_name(overrides, seed=1) == "checkpoint=regressor_v2,low=0.1,s1"


def test_short_keys_keep_enough_of_the_path_to_be_unambiguous():
    short = short_keys(["grpo.clip.low", "eval.low", "grpo.G", "reward", "reward_model.spec.source"])
    assert short == {
        "grpo.clip.low": "clip.low",
        "eval.low": "eval.low",
        "grpo.G": "G",
        "reward": "reward",
        "reward_model.spec.source": "source",
    }


def test_run_name_without_overrides_uses_the_default():
    assert run_name([], seed=7, default="smoke") == "smoke,s7"
    assert run_name(["seed=3"], seed=None, default="train") == "train"


def test_run_name_puts_the_swept_keys_first():
    overrides = ["grpo.max_steps=2", "grpo.kl.beta=0.04", "model=tiny", "seed=1"]
    assert run_name(overrides, seed=1, swept=["grpo.kl.beta"]) == "beta=0.04,max_steps=2,model=tiny,s1"


def test_run_name_is_cut_to_128_chars_keeps_the_seed_and_stays_unique():
    a = [f"grpo.knob_{i}=value_{i}" for i in range(20)]
    b = [*a[:-1], "grpo.knob_19=other"]
    name_a, name_b = run_name(a, seed=1), run_name(b, seed=1)
    assert len(name_a) == MAX_NAME and len(name_b) == MAX_NAME
    assert name_a != name_b
    assert name_a.startswith("knob_0=value_0,knob_1=value_1,knob_10=value_10") and name_a.endswith(",s1")


def test_wandb_group_in_a_multirun_single_run_and_from_the_run_dir():
    assert wandb_group("ablation_kl", sweep_dir="/logs/ablation_kl/multiruns/2025-01-02_03-04-05") == (
        "ablation_kl-2025-01-02_03-04-05"
    )
    assert wandb_group("smoke", run_dir="/logs/smoke/runs/2025-01-02_03-04-05") == "smoke"
    assert (
        wandb_group("smoke", run_dir="/logs/smoke/multiruns/2025-01-02_03-04-05/3")
        == "smoke-2025-01-02_03-04-05"
    )
    assert len(wandb_group("x" * 200, sweep_dir="/a/b")) == 128


def test_wandb_tags_dedupe_and_cap_at_64_chars(tmp_path):
    cfg = compose_cfg(["experiment=smoke", f"tags=[smoke,{'t' * 80},smoke]"], tmp_path)
    tags = wandb_tags(cfg, experiment="smoke")
    assert tags == ["smoke", "t" * 64, "tiny", "multilabel"]


def test_wandb_config_is_plain_resolved_and_has_no_hydra_node(tmp_path):
    cfg = compose_cfg(["experiment=smoke"], tmp_path)
    OmegaConf.set_struct(cfg, False)
    cfg.hydra = {"run": {"dir": "x"}}
    cfg.extra = {"a": "${grpo.G}", "broken": "${hydra:runtime.output_dir}"}
    plain = wandb_config(cfg)
    assert "hydra" not in plain
    assert plain["grpo"]["G"] == 2
    assert plain["extra"]["a"] == 2  # resolved
    assert (
        plain["extra"]["broken"] == "${hydra:runtime.output_dir}"
    )  # unresolvable outside Hydra: kept as text
    assert plain["logger"]["save_dir"] == str(tmp_path / "output")


def test_run_fields_outside_hydra_use_task_name_and_seed(tmp_path):
    cfg = compose_cfg(["experiment=smoke", "seed=5"], tmp_path)
    fields = run_fields(cfg, "grpo")
    assert fields["name"] == "smoke,s5"
    assert fields["group"] == "smoke"
    assert fields["job_type"] == "grpo"
    assert fields["tags"] == ["smoke", "tiny", "multilabel"]


def test_wandb_mode_offline_without_a_key(monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert wandb_mode(None) == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_mode(None) == "online"
    assert wandb_mode("disabled") == "disabled"


# ---------------------------------------------------------------- an offline run, read back


def test_make_logger_offline_run_reads_back_with_wandb_reader(offline_wandb):
    tmp_path = offline_wandb
    cfg = compose_cfg(["experiment=smoke", "seed=3", "tags=[t1]"], tmp_path)
    logger = make_logger(cfg, "grpo")
    assert logger is not None
    logger.log_metrics({"reward/safety": 0.25, "train/reward_mean": 1.5}, step=1)
    logger.log_metrics({"reward/safety": 0.75, "train/reward_mean": 2.5}, step=2)
    finish_logger(logger)
    # a second stage of the same job is its own run
    logger2 = make_logger(cfg, "eval")
    logger2.log_metrics({"eval/x": 1.0})
    finish_logger(logger2)

    runs = [read_wandb_run(r) for r in offline_runs(tmp_path / "output")]
    assert sorted(r["run"]["job_type"] for r in runs) == ["eval", "grpo"]
    first = next(r for r in runs if r["run"]["job_type"] == "grpo")
    run, summary = first["run"], first["summary"]
    assert run["job_type"] == "grpo"
    assert run["run_group"] == "smoke"
    assert run["display_name"] == "smoke,s3"
    assert run["tags"] == ["t1", "smoke", "tiny", "multilabel"]
    assert summary["state"] == "finished" and summary["exit_code"] == 0
    assert summary["config"]["grpo"]["G"] == 2 and "hydra" not in summary["config"]
    assert [h["reward/safety"] for h in first["history"]] == [0.25, 0.75]
    assert summary["summary"]["train/reward_mean"] == 2.5


def test_finish_logger_marks_a_crashed_stage_failed(offline_wandb):
    cfg = compose_cfg(["experiment=smoke"], offline_wandb)
    with pytest.raises(RuntimeError):
        logger = make_logger(cfg, "grpo")
        try:
            raise RuntimeError("stage died")
        finally:
            finish_logger(logger)
    (run_dir,) = offline_runs(offline_wandb / "output")
    assert read_wandb_run(run_dir)["summary"]["exit_code"] == 1


def test_make_logger_never_raises(offline_wandb):
    cfg = compose_cfg(["experiment=smoke", "logger.mode=not_a_mode"], offline_wandb)
    assert make_logger(cfg, "grpo") is None
    assert make_logger(compose_cfg(["experiment=smoke", "logger=none"], offline_wandb), "grpo") is None
    finish_logger(None)


def test_make_logger_builds_other_loggers_from_their_node(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    logger = make_logger(compose_cfg(["experiment=smoke", "logger=csv"], tmp_path), "grpo")
    assert isinstance(logger, CSVLogger) and Path(logger.save_dir) == tmp_path / "output"
    finish_logger(logger)  # a no-op for non-W&B loggers


def test_run_fields_in_a_multirun_job_group_by_sweep_and_lead_with_the_swept_key(tmp_path):
    overrides = ["experiment=ablation_kl", "grpo.kl.beta=0.04", "seed=2", "grpo.max_steps=3"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):  # what Hydra's launcher sets for a multirun job
        cfg.hydra.mode = RunMode.MULTIRUN
        cfg.hydra.sweep.dir = str(tmp_path / "ablation_kl" / "multiruns" / "2025-06-07_08-09-10")
    try:
        HydraConfig.instance().set_config(cfg)
        fields = run_fields(cfg, "grpo")
    finally:
        HydraConfig.instance().cfg = None
    assert fields["name"] == "beta=0.04,max_steps=3,s2"
    assert fields["group"] == "ablation_kl-2025-06-07_08-09-10"
    assert fields["tags"] == ["ablation", "kl", "ablation_kl", "smollm2_135m", "multilabel"]
