"""experiment=pareto_weights: its sweep expands to valid weight vectors (fast), and the smoke sweep runs end
to end with tiny models, then `python -m mogrpo.summarize` draws its front (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEST_THREADS
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

import mogrpo.utils.resolvers  # noqa: F401  (${mogrpo.weight_sweep:...})
from mogrpo.config import check_config
from mogrpo.configs import RewardConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = REPO_ROOT / "conf"
FIXTURE_SHARED = REPO_ROOT / "tests" / "fixtures" / "data" / "shared"


def _compose(overrides, tmp_path):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", return_hydra_config=True, overrides=[
            f"paths.output_dir={tmp_path}", f"paths.log_dir={tmp_path}", f"paths.shared_data={FIXTURE_SHARED}",
            *overrides])  # fmt: skip


def _jobs(tmp_path, *command_line, sweep=()) -> list[list[str]]:
    """The jobs Hydra's BasicSweeper launches for the experiment's params + the command line (+ ``sweep``)."""
    cfg = _compose(["experiment=pareto_weights", *command_line], tmp_path)
    args = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    args += ["experiment=pareto_weights", *command_line, *sweep]
    (batch,) = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(args), None)
    return batch


def _weights(job, tmp_path) -> list[float]:
    cfg = _compose(job, tmp_path)
    check_config(cfg)
    return RewardConfig.of(cfg).weight_list


def test_the_default_sweep_is_the_simplex_grid(tmp_path):
    jobs = _jobs(tmp_path)
    assert len(jobs) == 10  # 4 aspects, levels 2
    assert jobs[1][0] == "reward.weights={politeness:0.5,meaningfulness:0.5,actionability:0,safety:0}"
    assert _weights(jobs[0], tmp_path) == [1.0, 0.0, 0.0, 0.0] and _weights(jobs[-1], tmp_path) == [0, 0, 0, 1.0]


def test_a_user_list_and_threshold_sweep(tmp_path):
    jobs = _jobs(tmp_path, "pareto.weights=[[1,0,0,1],{safety:2}]", "reward=constrained_safety",
                 sweep=["reward.constraint.threshold=0.6,0.8"])
    assert len(jobs) == 4
    seen = set()
    for job in jobs:
        cfg = _compose(job, tmp_path)
        check_config(cfg)
        reward = RewardConfig.of(cfg)
        seen.add((tuple(reward.weight_list), reward.constraint.threshold))
    assert seen == {((1, 0, 0, 1), 0.6), ((1, 0, 0, 1), 0.8), ((0, 0, 0, 2), 0.6), ((0, 0, 0, 2), 0.8)}
    # the levels of the grid
    assert len(_jobs(tmp_path, "pareto.levels=1")) == 4


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "WANDB_MODE": "offline", "WANDB_SILENT": "true",
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": TEST_THREADS}  # fmt: skip
    env.pop("WANDB_API_KEY", None)
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        env[var] = str(tmp_path / "wandb_home" / var.lower())
    return env


def _run(args, env, timeout=400):
    done = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip
    assert done.returncode == 0, f"`{' '.join(args)}` failed:\n{(done.stdout + done.stderr)[-4000:]}"
    return done


# the acceptance command, kept small: 2 weight vectors (the single-aspect runs of politeness and safety), 2 steps,
# 4 held-out prompts
SMOKE = [
    "--multirun", "experiment=pareto_weights", "model=tiny", "reward_model=tiny", "reward_data=builtin",
    "grpo.max_steps=2", "data=builtin", "reward_data.max_rows=64", "grpo.G=2", "grpo.batch_size=4",
    "grpo.generation.max_new_tokens=8", "grpo.checkpoint_every=0", "grpo.log_completions_every=0",
    "eval.max_prompts=4", "eval.batch_size=4", "eval.decoding.max_new_tokens=8", "trainer.enable_progress_bar=false",
    "pareto.weights=[[1,0,0,0],[0,0,0,1]]", "logger=none",
]  # fmt: skip


@pytest.mark.slow
def test_the_smoke_sweep_and_its_pareto_summary(tmp_path):
    from mogrpo.models.loading import default_cache_dir

    env, log_dir = _env(tmp_path), tmp_path / "logs"
    cache = str(default_cache_dir())  # converted packaged tokenizers; the regressor cache under tmp_path
    _run(["-m", "mogrpo.train", *SMOKE, f"paths.log_dir={log_dir}", f"paths.cache_dir={tmp_path / 'cache'}",
          f"model.spec.cache_dir={cache}", f"reward_model.spec.cache_dir={cache}"], env)  # fmt: skip
    (sweep,) = (log_dir / "pareto_weights" / "multiruns").iterdir()
    jobs = sorted((d for d in sweep.iterdir() if d.name.isdigit()), key=lambda d: int(d.name))
    assert len(jobs) == 2
    history = [json.loads(line) for line in (jobs[1] / "history.jsonl").read_text().splitlines()]
    assert [h["train/weight/safety"] for h in history] == [1.0, 1.0]  # the active weights, every step
    assert history[0]["train/weight/politeness"] == 0.0
    # (the eval runs' pareto/... W&B summary fields: tests/stages/test_evaluation_output.py reads them back)

    out = tmp_path / "summary"
    done = _run(["-m", "mogrpo.summarize", str(sweep), "--out", str(out), "--pareto-ref", "0,0,0,0"], env, 120)
    assert "Hypervolume against the reference point (0,0,0,0)" in done.stdout
    record = json.loads((out / "pareto.json").read_text())
    assert [p["label"] for p in record["points"]] == ["w=0/0/0/1", "w=1/0/0/0"]
    assert record["base"] is not None and record["fronts"]["run"]["front"]
    assert (out / "pareto.png").stat().st_size > 1000 and (out / "aspects.png").stat().st_size > 1000
