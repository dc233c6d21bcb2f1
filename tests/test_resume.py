"""Kill a GRPO run with SIGKILL after its first checkpoint, resume it, and check nothing is lost or repeated.

    python -m mogrpo.train stage=grpo ... hydra.run.dir=RUN               # killed after checkpoints/step_2
    python -m mogrpo.train stage=grpo ... hydra.run.dir=RUN resume=auto   # continues from the newest checkpoint
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TEST_THREADS

from mogrpo.config import ConfigError
from mogrpo.utils.checkpoint import is_complete, last_checkpoint, list_checkpoints, load_state, read_meta

REPO_ROOT = Path(__file__).resolve().parents[1]
MAX_STEPS = 6


def _command(run_dir: Path, reward_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "mogrpo.train", "experiment=smoke", "stage=grpo", "logger=none",
        f"reward_model.checkpoint={reward_dir}", f"hydra.run.dir={run_dir}", "trainer.enable_progress_bar=false",
        f"grpo.max_steps={MAX_STEPS}", "grpo.checkpoint_every=2", "grpo.log_completions_every=0",
        # longer completions and 4 prompts a step: each step takes long enough to kill the run mid-way
        "grpo.generation.max_new_tokens=32", "grpo.batch_size=8", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "OMP_NUM_THREADS": TEST_THREADS}


@pytest.mark.slow
def test_sigkill_after_first_checkpoint_then_resume_auto(tmp_path, reward_dir):
    run_dir = tmp_path / "run"
    ckpts = run_dir / "checkpoints"
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(_command(run_dir, reward_dir), cwd=REPO_ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and last_checkpoint(ckpts) is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed:\n" + (tmp_path / "first.log").read_text()[-3000:]
        assert last_checkpoint(ckpts) is not None, "no checkpoint within 120 s"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = [p.name for p in list_checkpoints(ckpts)]
    assert killed_at and not (run_dir / "summary.json").exists()  # really killed before the end
    first = last_checkpoint(ckpts)
    resumed_from = read_meta(first)["step"]
    assert resumed_from < MAX_STEPS

    done = subprocess.run(_command(run_dir, reward_dir, "resume=auto"), cwd=REPO_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=150, check=False)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())["grpo"]
    assert summary["steps"] == MAX_STEPS
    assert summary["resumed_from"] == str(first)
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == list(range(1, MAX_STEPS + 1))  # no gap, no repeat
    # the steps before the checkpoint are the killed run's own (restored from the checkpoint, not re-run)
    saved = load_state(first)["mogrpo"]["history"]
    assert history[:resumed_from] == saved

    # every checkpoint, from either run, is complete and loads
    steps = [int(p.name.split("_")[1]) for p in list_checkpoints(ckpts)]
    assert steps == list(range(2, MAX_STEPS + 1, 2))
    assert (ckpts / "last").read_text().strip() == f"step_{MAX_STEPS}"
    assert not [p for p in ckpts.iterdir() if p.name.startswith(".")]  # no temp dirs left behind
    from safetensors.torch import load_file

    for path in list_checkpoints(ckpts):
        assert is_complete(path)
        state = load_state(path)  # weights_only=True
        step = read_meta(path)["step"]
        assert state["global_step"] == step and len(state["mogrpo"]["history"]) == step
        adapter = load_file(str(path / "adapter" / "adapter_model.safetensors"))
        assert adapter and all(torch.isfinite(t).all() for t in adapter.values())


WARM_START = ["grpo.warm_start.enabled=true", "grpo.warm_start.steps=3", "grpo.warm_start.batch_size=2",
              "grpo.warm_start.max_response_tokens=16", "grpo.warm_start.overlong=truncate"]  # fmt: skip


@pytest.mark.slow
def test_a_killed_run_with_a_warm_start_resumes_without_repeating_it(tmp_path, reward_dir):
    """SIGKILL after the first GRPO checkpoint of a warm-started run; ``resume=auto`` continues from the
    checkpoint (whose adapter holds the warm start) and does not warm-start again; nothing is lost."""
    run_dir = tmp_path / "run"
    ckpts = run_dir / "checkpoints"
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(_command(run_dir, reward_dir, *WARM_START), cwd=REPO_ROOT, env=_env(), stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None and last_checkpoint(ckpts) is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed:\n" + (tmp_path / "first.log").read_text()[-3000:]
        assert last_checkpoint(ckpts) is not None, "no checkpoint within 180 s"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (run_dir / "summary.json").exists()
    record = json.loads((run_dir / "warm_start.json").read_text())
    assert record["complete"] and record["steps"] == 3
    first = last_checkpoint(ckpts)

    done = subprocess.run(_command(run_dir, reward_dir, *WARM_START, "resume=auto"), cwd=REPO_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=150, check=False)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "warm start:" not in done.stdout + done.stderr  # no progress bar: it did not train again
    summary = json.loads((run_dir / "summary.json").read_text())["grpo"]
    assert summary["steps"] == MAX_STEPS and summary["resumed_from"] == str(first)
    assert summary["warm_start"]["status"] == "in_checkpoint" and summary["warm_start"]["losses"] == record["losses"]
    assert json.loads((run_dir / "warm_start.json").read_text()) == record  # the record is kept as it was
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [h["warm_start/loss"] for h in history[:3]] == record["losses"]
    assert [h["step"] for h in history[3:]] == list(range(1, MAX_STEPS + 1))  # no gap, no repeat


def test_a_resumed_run_keeps_the_reward_model_it_trained(tmp_path):
    from conftest import compose_cfg

    from mogrpo.train import _resumed_reward_model

    run = tmp_path / "run"
    (run / "reward_model").mkdir(parents=True)
    (run / "reward_model" / "regressor_config.json").write_text("{}")
    ckpt = run / "checkpoints" / "step_2"
    (ckpt / "adapter").mkdir(parents=True)
    for name in ("state.ckpt", "meta.json", "adapter/adapter_config.json"):
        (ckpt / name).write_text("{}")
    summary: dict = {}
    cfg = compose_cfg(["experiment=smoke", "resume=auto"], tmp_path)
    assert _resumed_reward_model(cfg, run, summary) == run / "reward_model"  # not retrained: same reward
    assert summary["reward_model"]["status"] == "resumed"
    assert _resumed_reward_model(compose_cfg(["experiment=smoke"], tmp_path), run, {}) is None  # no resume
    assert _resumed_reward_model(cfg, tmp_path / "fresh", {}) is None  # resume=auto, nothing to resume yet
    with pytest.raises(ConfigError, match="^resume: "):
        _resumed_reward_model(compose_cfg(["experiment=smoke", f"resume={tmp_path / 'nope'}"], tmp_path), run, {})


@pytest.mark.slow
def test_ppo_resumes_with_its_value_head(tmp_path, reward_dir):
    """method=ppo: the checkpoint holds the value head with the LoRA; a resumed run continues the sampled batches."""
    run_dir = tmp_path / "run"
    base = _command(run_dir, reward_dir, "method=ppo", "method.ppo.epochs=2")
    first = subprocess.run([*base, "grpo.max_steps=2"], cwd=REPO_ROOT, env=_env(), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    newest = last_checkpoint(run_dir / "checkpoints")
    assert newest is not None and newest.name == "step_4"  # 2 batches x 2 epochs x 1 mini-batch
    state = load_state(newest)["state_dict"]
    assert {"value_head.linear.weight", "value_head.linear.bias"} <= set(state)
    assert float(state["value_head.linear.weight"].abs().sum()) > 0  # it trained (zero-initialised)
    again = subprocess.run([*base, "grpo.max_steps=3", "resume=auto"], cwd=REPO_ROOT, env=_env(), capture_output=True,
                           text=True)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())["grpo"]
    assert summary["resumed_from"].endswith("step_4") and summary["steps"] == 6
    assert summary["method"]["sampled_batches"] == 3
