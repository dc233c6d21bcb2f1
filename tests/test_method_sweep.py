"""End to end: ``--multirun experiment=smoke method=grpo,ppo,dpo``: three jobs, three W&B runs of the policy stage
(read back with wandb's reader), and ``python -m mogrpo.summarize``'s method table (slow)."""

from __future__ import annotations

import csv
import json

import pytest
from helpers import offline_runs, read_wandb_run
from test_sweeps import _cache_args, _env, _job_dirs, _run, _sweep_dir


@pytest.mark.slow
def test_method_multirun_runs_three_methods_and_writes_the_method_table(tmp_path, shared_cache):
    env, log_dir = _env(tmp_path), tmp_path / "logs"
    _run(["-m", "mogrpo.train", "--multirun", "experiment=smoke", "method=grpo,ppo,dpo", f"paths.log_dir={log_dir}",
          "reward_model.reuse_cached=true", "reward_data.max_rows=64", "grpo.max_steps=2", "eval.max_prompts=4",
          "trainer.enable_progress_bar=false", *_cache_args(shared_cache)], env, timeout=600)  # fmt: skip
    sweep = _sweep_dir(log_dir, "smoke")
    jobs = _job_dirs(sweep)
    summaries = [json.loads((d / "summary.json").read_text()) for d in jobs]
    assert [s["choices"]["method"] for s in summaries] == ["grpo", "ppo", "dpo"]
    assert [s["grpo"]["method"]["sampled_batches"] for s in summaries] == [2, 2, 2]
    assert [s["grpo"]["method"]["reward_model_calls"] for s in summaries] == [8, 8, 8]  # the same budget
    assert summaries[1]["grpo"]["steps"] == 2 * 4  # PPO: 4 epochs x 1 mini-batch per sampled batch
    assert summaries[1]["grpo"]["method"]["value_head_params"] == 33  # tiny: hidden 32 + bias

    run_ids = []
    for job, method in zip(jobs, ("grpo", "ppo", "dpo")):
        by_type = {r["run"]["job_type"]: r for r in (read_wandb_run(p) for p in offline_runs(job))}
        assert {"grpo", "eval"} <= set(by_type), f"{job}: W&B runs {list(by_type)}"
        policy = by_type["grpo"]
        assert policy["summary"]["state"] == "finished"
        assert policy["summary"]["config"]["method"]["name"] == method
        logged = {k for row in policy["history"] for k in row}
        assert "train/reward_mean" in logged
        assert {"ppo": "train/value_loss", "dpo": "train/dpo_margin", "grpo": "train/kl"}[method] in logged
        run_ids.append(policy["run"]["run_id"])
    assert len(set(run_ids)) == 3

    out = tmp_path / "summary"
    _run(["-m", "mogrpo.summarize", str(sweep), "--out", str(out)], env, timeout=120)
    with (out / "methods.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["method"] for r in rows] == ["grpo", "ppo", "dpo"]
    for row, s in zip(rows, summaries):
        assert float(row["aspect/safety"]) == pytest.approx(s["eval"]["aspects"]["safety"]["aligned"], rel=1e-4)
        assert float(row["reward_model_calls"]) == 8 and float(row["s_per_step"]) > 0
        assert float(row["trainable_params"]) == s["grpo"]["method"]["trainable_params"]
        assert float(row["peak_rss_mib"]) > 0
    assert float(rows[1]["trainable_params"]) == float(rows[0]["trainable_params"]) + 33
    assert "| grpo | 1 |" in (out / "methods.md").read_text()
    assert (out / "reward_vs_time.png").stat().st_size > 1000
