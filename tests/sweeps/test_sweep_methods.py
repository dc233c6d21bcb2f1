"""The method table and the reward-against-time plot of a method sweep (mogrpo/sweeps/methods.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mogrpo.sweeps.jobs import Job
from mogrpo.sweeps.methods import method_of, method_rows, step_seconds, trailing_mean, write_method_table


def _job(tmp_path: Path, method: str, seed: int, safety: float, params: int, step_s: float) -> Job:
    ev = {
        "aspects": {"safety": {"aligned": safety}, "politeness": {"aligned": 0.5}},
        "aggregate": {"aligned": safety + 0.5},
        "by_kind": {"adversarial": {"refusal": {"aligned": {"refusal_rate": 0.25}}},
                    "benign": {"refusal": {"aligned": {"refusal_rate": 0.1}}}},
        "xstest": {"status": "skipped"},
    }  # fmt: skip
    stage = {"method": {"name": method, "trainable_params": params, "sampled_batches": 2, "reward_model_calls": 8},
             "peak_memory_mib": {"rss_mib": 700.0 + seed}}  # fmt: skip
    history = [{"step": i, "train/reward_mean": 1.0 + i, "time/generate_s": step_s, "time/update_s": 0.5}
               for i in range(2)]  # fmt: skip
    return Job(dir=tmp_path / f"{method}{seed}", overrides=[f"method={method}", f"seed={seed}"], seed=seed,
               summary={"eval": ev, "grpo": stage}, history=history)  # fmt: skip


def test_one_row_per_method_averaged_over_seeds(tmp_path):
    jobs = [_job(tmp_path, "dpo", 1, 0.6, 896, 1.0), _job(tmp_path, "grpo", 1, 0.8, 896, 2.0),
            _job(tmp_path, "grpo", 2, 0.6, 896, 4.0), _job(tmp_path, "ppo", 1, 0.7, 929, 3.0)]  # fmt: skip
    rows = method_rows(jobs)
    assert [(r["method"], r["n_jobs"]) for r in rows] == [("grpo", 2), ("ppo", 1), ("dpo", 1)]
    grpo = rows[0]
    assert grpo["aspect/safety"] == pytest.approx(0.7)
    assert grpo["s_per_step"] == pytest.approx(((2.5 + 2.5) / 2 + (4.5 + 4.5) / 2) / 2)  # generate + update
    assert grpo["peak_rss_mib"] == pytest.approx(701.5)
    assert grpo["refusal"] == 0.25 and grpo["over_refusal"] == 0.1 and grpo["xstest_over_refusal"] is None
    assert rows[1]["trainable_params"] == 929 and rows[1]["reward_model_calls"] == 8

    out = write_method_table(tmp_path, jobs)
    with out["csv"].open() as fh:
        table = list(csv.DictReader(fh))
    assert [r["method"] for r in table] == ["grpo", "ppo", "dpo"] and "xstest_over_refusal" not in table[0]
    md = out["markdown"].read_text()
    assert "| method | n_jobs | safety | politeness | aggregate | refusal | over_refusal |" in md
    assert "| ppo | 1 | 0.700 | 0.500 | 1.200 | 25 % | 10 % |" in md
    assert out["plot"].stat().st_size > 1000


def test_the_method_of_a_job_and_a_step_time():
    assert method_of(Job(dir=Path("x"), overrides=["method=ppo"])) == "ppo"
    assert method_of(Job(dir=Path("x"), overrides=[], summary={"grpo": {"method": {"name": "dpo"}}})) == "dpo"
    assert method_of(Job(dir=Path("x"), overrides=["grpo.G=4"])) == "grpo"  # a job from before the method group
    assert step_seconds({"time/generate_s": 1.0, "time/score_s": 0.5, "time/logprob_s": None, "other": 9}) == 1.5


def test_trailing_mean_averages_the_last_window_values():
    assert trailing_mean([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert trailing_mean([2.0, 4.0], 10) == [2.0, 3.0]
    assert trailing_mean([], 3) == []
    with pytest.raises(ValueError, match="window"):
        trailing_mean([1.0], 0)
