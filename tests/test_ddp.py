"""Beyond one process: DDP for real on CPU (two gloo processes), the distributed helpers, and the
large-model plans (mogrpo/utils/distributed.py, mogrpo/utils/launch.py, conf/trainer/, conf/model/qwen*.yaml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

from mogrpo.config import ConfigError
from mogrpo.utils import launch
from mogrpo.utils.distributed import gather_rows, mean_across_ranks
from mogrpo.utils.launch import check_launch, processes_per_node

REPO_ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    for var in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT", "PL_GLOBAL_SEED"):
        env.pop(var, None)
    return env


# --------------------------------------------------------------------------- helpers (fast)
def test_gather_rows_concatenates_ranks_in_order():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    fake_all_gather = lambda t: torch.stack([t, t + 10])  # two ranks  # noqa: E731
    assert torch.equal(gather_rows(x, fake_all_gather, 2), torch.tensor([[1.0, 2.0], [3.0, 4.0], [11.0, 12.0], [13.0, 14.0]]))
    assert gather_rows(x, fake_all_gather, 1) is x  # one process: untouched, no collective


def test_mean_across_ranks_reduces_all_values_in_one_call():
    calls = []

    def fake_reduce(t, reduce_op):
        calls.append(reduce_op)
        other = t + torch.tensor([2.0, 0.0])  # the other rank holds loss + 2 and the same kl
        return (t + other) / 2

    out = mean_across_ranks({"loss": 1.0, "kl": 0.5}, fake_reduce, 2)
    assert out == {"loss": 2.0, "kl": 0.5} and calls == ["mean"]
    assert mean_across_ranks({"loss": 1.0}, fake_reduce, 1) == {"loss": 1.0} and len(calls) == 1


def test_processes_per_node_reads_devices_like_lightning():
    assert processes_per_node(2, "cpu") == 2 and processes_per_node("4", "gpu") == 4
    assert processes_per_node([0, 1, 3], "gpu") == 3 and processes_per_node("0,1", "gpu") == 2
    assert processes_per_node("auto", "cpu") == 1


def _fake_multirun(monkeypatch, multirun: bool):
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    mode = RunMode.MULTIRUN if multirun else RunMode.RUN
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: SimpleNamespace(mode=mode)))


def test_multirun_with_popen_ddp_is_refused_naming_the_strategy(monkeypatch, tmp_path):
    from conftest import compose_cfg

    for var in launch.EXTERNAL_LAUNCH_VARS + ("SLURM_NTASKS",):
        monkeypatch.delenv(var, raising=False)
    cfg = compose_cfg(["experiment=smoke", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"], tmp_path)
    _fake_multirun(monkeypatch, multirun=False)
    check_launch(cfg)  # a single run: Lightning's popen launcher is fine
    _fake_multirun(monkeypatch, multirun=True)
    with pytest.raises(ConfigError, match=r"^trainer.strategy: a --multirun cannot start 2 DDP processes"):
        check_launch(cfg)
    check_launch(compose_cfg(["experiment=smoke", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=1"], tmp_path))
    check_launch(compose_cfg(["experiment=smoke"], tmp_path))  # trainer=cpu
    monkeypatch.setenv("LOCAL_RANK", "0")  # torchrun / srun started the ranks: every rank runs the sweep
    check_launch(cfg)


def test_trainer_group_builds_the_planned_strategies(tmp_path):
    import hydra
    from conftest import compose_cfg
    from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy

    ddp = compose_cfg(["trainer=ddp"], tmp_path).trainer
    assert ddp.precision == "bf16-mixed" and ddp.accelerator == "gpu"
    strategy = hydra.utils.instantiate(ddp.strategy)
    assert isinstance(strategy, DDPStrategy) and strategy._start_method == "popen"
    assert strategy._ddp_kwargs == {"find_unused_parameters": False, "static_graph": False}
    gpu = compose_cfg(["trainer=gpu"], tmp_path).trainer
    assert (gpu.devices, gpu.precision, gpu.strategy) == (1, "bf16-mixed", "auto")

    from transformers.models.qwen2.modeling_qwen2 import Qwen2DecoderLayer

    fsdp = hydra.utils.instantiate(compose_cfg(["model=qwen14b", "trainer=fsdp"], tmp_path).trainer.strategy)
    assert isinstance(fsdp, FSDPStrategy) and fsdp.kwargs["use_orig_params"] is True
    assert fsdp.kwargs["auto_wrap_policy"]._module_classes == {Qwen2DecoderLayer}


@pytest.mark.parametrize(("name", "params_b", "layers", "estimate"), [
    ("qwen0_5b", 0.49, 24, 4), ("qwen7b", 7.62, 28, 20), ("qwen14b", 14.77, 48, 35),
])  # fmt: skip
def test_large_model_memory_estimates_cover_the_bf16_weights(name, params_b, layers, estimate):
    cfg = OmegaConf.load(REPO_ROOT / "conf" / "model" / f"{name}.yaml")
    assert cfg.memory_estimate_gib == estimate
    weights_gib = params_b * 1e9 * 2 / 2**30  # bf16
    assert weights_gib < cfg.memory_estimate_gib < 1.5 * weights_gib + 3  # weights dominate; the rest is bounded
    assert cfg.spec.dtype == "bfloat16" and cfg.spec.trust_remote_code is False and cfg.gradient_checkpointing
    assert f"x {layers}" in (REPO_ROOT / "conf" / "model" / f"{name}.yaml").read_text()  # the arithmetic is written


@pytest.mark.slow  # a subprocess: python -m mogrpo.train --cfg job
def test_qwen14b_fsdp_plan_prints_without_downloading(tmp_path):
    env = {**_env(), "HF_HOME": str(tmp_path / "hf"), "MOGRPO_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "mogrpo.train", "model=qwen14b", "trainer=fsdp", "--cfg", "job", "--resolve"]
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    plan = OmegaConf.create(done.stdout)
    assert plan.model.spec.name_or_path == "Qwen/Qwen2.5-14B-Instruct" and plan.model.memory_estimate_gib == 35
    assert plan.trainer.strategy._target_.endswith("FSDPStrategy")
    assert plan.trainer.strategy.auto_wrap_policy.module_classes[0].path.endswith("Qwen2DecoderLayer")
    assert not (tmp_path / "hf").exists() and not (tmp_path / "cache").exists()  # nothing fetched or converted


# --------------------------------------------------------------------------- two processes for real (slow)
@pytest.mark.slow
def test_ddp_two_cpu_processes_train_reward_model_and_grpo(tmp_path):
    """stage=all under trainer=ddp on 2 CPU processes (gloo): one run dir, both ranks in the numbers,
    every file written once, one W&B run per stage (rank 0's)."""
    cmd = [
        sys.executable, "-m", "mogrpo.train", "experiment=smoke", "trainer=ddp", "trainer.accelerator=cpu",
        "trainer.devices=2", "trainer.precision=32-true", "logger=wandb", f"paths.log_dir={tmp_path}",
        "trainer.enable_progress_bar=false", "reward_data.max_rows=64", "grpo.max_steps=2", "eval.max_prompts=4",
    ]  # fmt: skip
    t0 = time.time()
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=170, check=False)
    seconds = time.time() - t0
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in out

    run_dirs = [p for p in (tmp_path / "smoke" / "runs").iterdir()]
    assert len(run_dirs) == 1, run_dirs  # the child re-ran with the parent's hydra.run.dir
    run = run_dirs[0]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["grpo"]["world_size"] == 2
    assert summary["reward_model"]["status"] == "trained" and (run / "reward_model" / "model.safetensors").is_file()

    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [1, 2]  # one line per step: written by rank 0 only
    assert all(h["train/completions"] == 2 * 4 for h in history)  # 2 ranks x grpo.batch_size 4 (smoke)
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert (run / "checkpoints" / "last").read_text().strip() == "step_2"
    state = torch.load(run / "checkpoints" / "step_2" / "state.ckpt", weights_only=True)
    assert state["world_size"] == 2 and state["rng"]["torch"].shape[0] == 2  # both ranks' RNG saved
    assert not torch.equal(state["rng"]["torch"][0], state["rng"]["torch"][1])  # rank-offset seeds
    assert summary["eval"]["n_prompts"] == 4 and (run / "samples.jsonl").is_file()

    from helpers import offline_runs

    assert len(offline_runs(run)) == 3  # reward, grpo, eval: rank 1 started none
    assert seconds < 170
