"""Sweeps from the command line: every experiment composes and its sweep expands (fast), and real
multiruns of the tiny pipeline, read back through W&B's reader and `python -m mogrpo.summarize` (slow)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEST_THREADS
from helpers import offline_runs, read_wandb_run
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

import mogrpo.utils.resolvers  # noqa: F401
from mogrpo.config import check_config

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"
EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
# experiment -> (the swept key as it reads in the composed config, its values in sweep order)
SWEEPS = {
    "ablation_reward": ("reward.name", ["multilabel", "single_safety"]),
    "ablation_group_size": ("grpo.G", [2, 4, 8]),
    "ablation_kl": ("grpo.kl.beta", [0.0, 0.04]),
    "ablation_aggregation": ("reward.aggregation", ["sum_then_normalize", "normalize_then_sum"]),
    "ablation_seeds": ("seed", [1, 2, 3]),
    "ablation_constraint": ("reward.constraint.mode", ["reward_weights", "normalized_advantages"]),
    "ablation_shaping": ("grpo.shaping", ["none", "repetition", "overlong", "short", "both"]),
    "ablation_warm_start": ("grpo.warm_start.enabled", [False, True]),
    "ablation_method": ("method.name", ["grpo", "ppo", "dpo"]),
}
# the penalties each preset of conf/grpo/shaping/ switches on (a sweep over a config group: the composed
# config holds the node, not the preset's name)
SHAPING_ACTIVE = {"none": (), "repetition": ("repetition",), "overlong": ("overlong",), "short": ("short",),
                  "both": ("repetition", "overlong")}  # fmt: skip
# the key summary.json's `choices` reports for each sweep (mogrpo/train.py::_choices)
CHOICE = {
    "ablation_reward": "reward",
    "ablation_group_size": "G",
    "ablation_kl": "beta",
    "ablation_aggregation": "aggregation",
    "ablation_constraint": "constraint_mode",
    "ablation_shaping": "grpo/shaping",
    "ablation_warm_start": "warm_start",
    "ablation_method": "method",
}
# a few steps of the tiny policy and tiny encoder
TINY = [
    "model=tiny",
    "reward_model=tiny",
    "reward_model.reuse_cached=true",
    "reward_data=builtin",
    "data=builtin",
    "reward_data.max_rows=64",
    "grpo.max_steps=2",
    "grpo.generation.max_new_tokens=4",
    "grpo.log_completions_every=1",
    "grpo.checkpoint_every=0",
    "eval.max_prompts=2",
    "eval.batch_size=2",
    "eval.decoding.max_new_tokens=4",
    "trainer.enable_progress_bar=false",
    # the warm start (on in ablation_warm_start's second job): two steps on the packaged data only
    "grpo.warm_start.steps=2",
    "grpo.warm_start.batch_size=2",
    "grpo.warm_start.sources=[builtin]",
    "grpo.warm_start.max_response_tokens=16",
    "grpo.warm_start.overlong=truncate",
]


FIXTURE_SHARED = Path(__file__).resolve().parent / "fixtures" / "data" / "shared"


def _compose(overrides: list[str], tmp_path: Path):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(
            config_name="train",
            # the shared-data check only asks that the folder exists: the test fixtures stand in for it
            overrides=[f"paths.output_dir={tmp_path}", f"paths.log_dir={tmp_path}",
                       f"paths.shared_data={FIXTURE_SHARED}", *overrides],  # fmt: skip
            return_hydra_config=True,
        )


def _jobs(params: dict, command_line: list[str]) -> list[list[str]]:
    """The jobs Hydra's BasicSweeper launches for ``hydra.sweeper.params`` + command-line overrides."""
    args = [f"{k}={v}" for k, v in params.items()] + command_line
    overrides = OverridesParser.create().parse_overrides(args)
    (batch,) = BasicSweeper.split_arguments(overrides, None)
    return batch


# ---------------------------------------------------------------- composition (fast)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_passes_the_config_checks(name, tmp_path):
    cfg = _compose([f"experiment={name}"], tmp_path)
    check_config(cfg)
    if name in SWEEPS:
        assert cfg.task_name == name  # multirun dirs: logs/<name>/multiruns/<timestamp>


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_ablation_sweep_expands_to_valid_jobs(name, tmp_path):
    key, values = SWEEPS[name]
    params = dict(_compose([f"experiment={name}"], tmp_path).hydra.sweeper.params)
    jobs = _jobs(params, [f"experiment={name}"])
    assert len(jobs) == len(values)
    seen, seen_batch = [], []
    for job in jobs:
        cfg = _compose(job, tmp_path)
        check_config(cfg)
        seen.append(OmegaConf.select(cfg, key))
        seen_batch.append(cfg.grpo.batch_size)
        assert cfg.grpo.batch_size % cfg.grpo.G == 0
        if name == "ablation_constraint":
            assert cfg.reward.aggregation == "constrained"
    assert len(set(seen_batch)) == 1  # the same number of completions per step in every job
    if name == "ablation_shaping":
        seen = [_shaping_preset(node) for node in seen]
    assert seen == values


def _shaping_preset(node) -> str:
    from mogrpo.grpo import ShapingConfig

    active = ShapingConfig.from_config(node).active
    (preset,) = [p for p, on in SHAPING_ACTIVE.items() if on == active]
    return preset


def test_seeds_cross_any_sweep_and_plain_sweeps_still_work(tmp_path):
    params = dict(_compose(["experiment=ablation_group_size"], tmp_path).hydra.sweeper.params)
    jobs = _jobs(params, ["experiment=ablation_group_size", "seed=1,2,3"])
    assert len(jobs) == 9
    assert {(j[0], j[2]) for j in jobs} == {
        (f"grpo.G={g}", f"seed={s}") for g in (2, 4, 8) for s in (1, 2, 3)
    }
    # a command-line value replaces the experiment's sweep of the same key
    assert _jobs(params, ["grpo.G=4"]) == [["grpo.G=4"]]
    # no experiment: the sweeper has no params, the command line is the sweep
    assert not _compose([], tmp_path).hydra.sweeper.params
    assert _jobs({}, ["grpo.G=2,4,8"]) == [["grpo.G=2"], ["grpo.G=4"], ["grpo.G=8"]]


# ---------------------------------------------------------------- real multiruns (slow)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        HF_HUB_OFFLINE="1",
        OMP_NUM_THREADS=TEST_THREADS,
        MKL_NUM_THREADS=TEST_THREADS,
        TOKENIZERS_PARALLELISM="false",
    )
    env.pop("WANDB_API_KEY", None)
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        env[var] = str(tmp_path / "wandb_home" / var.lower())
    return env


def _run(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"`{' '.join(args)}` failed:\n{(done.stdout + done.stderr)[-4000:]}"
    return done


def _sweep_dir(log_dir: Path, task_name: str) -> Path:
    (sweep,) = (log_dir / task_name / "multiruns").iterdir()
    return sweep


def _job_dirs(sweep: Path) -> list[Path]:
    return sorted((d for d in sweep.iterdir() if d.is_dir() and d.name.isdigit()), key=lambda d: int(d.name))


def _cache_args(cache_dir: Path) -> list[str]:
    """Reward regressors cached in ``cache_dir``; converted packaged models (tokenizers) from the usual cache."""
    from mogrpo.models.loading import default_cache_dir

    cache = str(default_cache_dir())
    return [
        f"paths.cache_dir={cache_dir}",
        f"model.spec.cache_dir={cache}",
        f"reward_model.spec.cache_dir={cache}",
    ]


@pytest.mark.slow
def test_group_size_multirun_logs_one_wandb_run_per_job_and_summarizes(tmp_path, shared_cache):
    env, log_dir = _env(tmp_path), tmp_path / "logs"
    _run(
        [
            "-m",
            "mogrpo.train",
            "--multirun",
            "experiment=smoke",
            "grpo.G=2,4",
            f"paths.log_dir={log_dir}",
            "reward_model.reuse_cached=true",
            "reward_data.max_rows=64",
            "trainer.enable_progress_bar=false",
            *_cache_args(shared_cache),
        ],
        env,
    )
    sweep = _sweep_dir(log_dir, "smoke")
    jobs = _job_dirs(sweep)
    assert [json.loads((d / "summary.json").read_text())["choices"]["G"] for d in jobs] == [2, 4]
    aspects = list(OmegaConf.load(CONF_DIR / "reward" / "multilabel.yaml").aspects)

    grpo_runs = []
    for job, G in zip(jobs, (2, 4)):
        runs = [read_wandb_run(r) for r in offline_runs(job)]
        by_type = {r["run"]["job_type"]: r for r in runs}
        assert set(by_type) >= {"grpo", "eval"}, f"{job}: W&B runs {list(by_type)}"
        grpo = by_type["grpo"]
        assert (
            grpo["run"]["display_name"] == f"G={G},max_rows=64,s42"
        )  # the overrides, minus paths and caching
        assert grpo["run"]["run_group"] == f"smoke-{sweep.name}"  # siblings group together
        assert grpo["summary"]["state"] == "finished"
        assert grpo["summary"]["config"]["grpo"]["G"] == G
        logged = {k for row in grpo["history"] for k in row}
        assert {f"reward/{a}" for a in aspects} <= logged, f"{job}: logged {sorted(logged)}"
        assert {"train/reward_mean", "train/frac_zero_std", "train/kl"} <= logged
        tables = [
            row["trainer/global_step"]
            for row in grpo["history"]
            if row.get("completions._type") == "table-file"
        ]
        assert tables == [2, 4], (
            f"{job}: completions tables at steps {tables} (is grpo_callbacks(cfg) wired in?)"
        )
        grpo_runs.append(grpo["run"]["run_id"])
    assert len(set(grpo_runs)) == 2  # wandb.finish() between jobs: two distinct runs

    out = tmp_path / "summary"
    _run(["-m", "mogrpo.summarize", str(sweep), "--out", str(out)], env, timeout=120)
    with (out / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["config"], r["n_seeds"], r["n_failed"]) for r in rows] == [
        ("G=2", "1", "0"),
        ("G=4", "1", "0"),
    ]
    for row, job in zip(rows, jobs):
        ev = json.loads((job / "summary.json").read_text())["eval"]
        for a in aspects:
            assert float(row[f"{a}_base_mean"]) == pytest.approx(ev["aspects"][a]["base"], rel=1e-4)
            assert float(row[f"{a}_aligned_mean"]) == pytest.approx(ev["aspects"][a]["aligned"], rel=1e-4)
        assert float(row["reward_aligned_mean"]) == pytest.approx(ev["aggregate"]["aligned"], rel=1e-4)
    assert "| G | seeds |" in (out / "summary.md").read_text()
    for png in ("aspects.png", "reward_curves.png", "group_stats.png"):
        assert (out / png).stat().st_size > 1000, png


# Hydra reads `hydra.sweeper.params` once per multirun, from the config the command line composes:
# `--multirun experiment=glob(ablation_*)` would run each experiment's base config, not its sweep.
# So one process runs the four multiruns one after the other, exactly as `python -m mogrpo.train
# --multirun experiment=<name> ...` would (Hydra's entry point is re-entrant).
# (`--config-path`: imported rather than run with -m, the app cannot find conf/ from its module path.)
DRIVER = f"""
import sys
from mogrpo.train import main
names, overrides = sys.argv[1].split(","), sys.argv[2:]
for name in names:
    sys.argv = ["mogrpo.train", "--config-path", {str(CONF_DIR)!r}, "--multirun", f"experiment={{name}}", *overrides]
    main()
"""
ABLATIONS = [
    "ablation_reward", "ablation_group_size", "ablation_kl", "ablation_aggregation", "ablation_constraint",
    "ablation_shaping", "ablation_warm_start",
]  # fmt: skip


@pytest.mark.slow
def test_every_ablation_sweep_runs_with_tiny_models(tmp_path, shared_cache):
    from mogrpo.sweeps.summary import summarize

    env, log_dir = _env(tmp_path), tmp_path / "logs"
    args = [f"paths.log_dir={log_dir}", "logger=none", *TINY, *_cache_args(shared_cache)]
    _run(["-c", DRIVER, ",".join(ABLATIONS), *args], env, timeout=600)
    for name in ABLATIONS:
        sweep = _sweep_dir(log_dir, name)
        summaries = [json.loads((d / "summary.json").read_text()) for d in _job_dirs(sweep)]
        _, values = SWEEPS[name]
        assert [s["choices"][CHOICE[name]] for s in summaries] == values, name
        assert all(s["grpo"]["steps"] == 2 and s["eval"]["aspects"] for s in summaries), name
        if name == "ablation_warm_start":
            assert [s["grpo"]["warm_start"]["enabled"] for s in summaries] == [False, True]
            assert summaries[1]["grpo"]["warm_start"]["steps"] == 2
        result = summarize([sweep])
        assert [r["n_seeds"] for r in result["rows"]] == [1] * len(values), name
        assert not result["failed"]
