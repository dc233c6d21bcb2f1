"""experiments/bench_step.py: the harness's arithmetic and options (no model is loaded here)."""

from __future__ import annotations

import pytest
from helpers import load_experiment


@pytest.fixture(scope="module")
def bench():
    return load_experiment("bench_step")


def _run(median, tokens_per_s, cpu=None, gen=None):
    return {"median_s": median, "tokens_per_s": tokens_per_s, "cpu_median_s": cpu or 2 * median,
            "gen_tokens_per_s": gen or tokens_per_s}  # fmt: skip


def test_ratio_is_taken_against_the_faster_trl_run(bench):
    results = {"mogrpo": _run(6.0, 80.0, gen=100.0), "trl": _run(12.0, 40.0), "trl_no_gc": _run(10.0, 50.0),
               "generate": _run(5.0, 80.0)}  # fmt: skip
    r = bench.compare(results)
    assert r["trl_reference"] == "trl_no_gc"
    assert r["step_ratio_mogrpo_over_trl"] == pytest.approx(0.6)
    assert r["tokens_per_s_ratio_mogrpo_over_trl"] == pytest.approx(1.6)
    assert r["gen_throughput_ratio_mogrpo_over_raw_generate"] == pytest.approx(1.25)
    assert "step_ratio_mogrpo_over_trl" not in bench.compare({"mogrpo": results["mogrpo"]})


def test_rounds_are_pooled_step_by_step(bench):
    def run(steps, rss, phases):
        return {"step_s": steps, "cpu_s": [2 * t for t in steps], "steps": len(steps), "tokens_per_step": 500.0,
                "generate_s_median": 4.0, "mean_generated_width": 64, "gen_tokens_per_s": 100.0,
                "peak_rss_mib": rss, "median_s": 0.0, "phases_median_s": {"generate_s": phases}}  # fmt: skip

    pooled = bench.pool_rounds([run([1.0, 2.0, 9.0], 100, 4.0), run([3.0, 4.0], 300, 5.0), run([5.0], 200, 6.0)], 8)
    assert pooled["steps"] == 6 and pooled["median_s"] == pytest.approx(3.5)
    assert (pooled["min_s"], pooled["max_s"], pooled["peak_rss_mib"]) == (1.0, 9.0, 300)
    assert pooled["tokens_per_s"] == pytest.approx(6 * 500 / 24)
    assert pooled["phases_median_s"] == {"generate_s": 5.0}


def test_scaling_points_vary_one_knob_at_a_time(bench):
    points = bench.scaling_points(bench.Settings())
    assert [(p.G, p.max_new_tokens) for p in points] == [(2, 64), (4, 64), (8, 64), (4, 32), (4, 128)]
    assert all(p.prompts_per_step == 2 for p in points)


def test_options_reach_the_settings(bench):
    s = bench.settings_from_args(bench.parse_args(["--quick", "--no-retain-freed-memory"]))
    assert (s.steps, s.warmup, s.retain_freed_memory, s.peers_retain_freed_memory) == (3, 1, False, False)
    s = bench.settings_from_args(bench.parse_args(["--peers-retain-freed-memory", "--G", "8"]))
    assert (s.steps, s.G, s.retain_freed_memory, s.peers_retain_freed_memory) == (5, 8, True, True)


@pytest.mark.parametrize("argv", [["--G", "0"], ["--warmup", "-1"], ["--frameworks", "mogrpo,vllm"]])
def test_bad_options_are_refused(bench, argv, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(argv)
    assert argv[0] in capsys.readouterr().err


def test_the_shared_reward(bench):
    assert bench.keyword_length_reward("") == 0
    assert bench.keyword_length_reward("First, please water it because it is dry.") == pytest.approx(8 / 40 + 3 / 6)
    assert bench.trl_reward([[{"role": "assistant", "content": "please"}], "thank you"]) == [
        pytest.approx(1 / 40 + 1 / 6), pytest.approx(2 / 40 + 1 / 6)]  # fmt: skip


def test_the_fastest_rollout_setting_gets_its_own_named_ratios(bench):
    fast = {**_run(4.0, 120.0), "rollout_dtype": "bfloat16",
            "is_ratio": {"is_ratio_mean": {"min": 0.99, "median": 1.0, "max": 1.01},
                         "is_ratio_min": {"min": 0.9, "median": 0.95, "max": 0.97},
                         "is_ratio_max": {"min": 1.02, "median": 1.05, "max": 1.1}}}  # fmt: skip
    results = {"mogrpo": _run(6.0, 80.0), "mogrpo_fast": fast, "trl": _run(12.0, 40.0), "trl_no_gc": _run(10.0, 50.0)}
    r = bench.compare(results)
    assert r["step_ratio_mogrpo_fast_over_trl"] == pytest.approx(0.4)
    assert r["step_ratio_mogrpo_fast_over_mogrpo"] == pytest.approx(4 / 6)
    assert r["mogrpo_fast_rollout_dtype"] == "bfloat16" and r["mogrpo_fast_is_ratio"] == fast["is_ratio"]
    table = bench.format_table({k: {**v, "min_s": 1, "max_s": 1, "tokens_per_step": 1, "mean_completion_length": 1,
                                    "mean_generated_width": 1, "peak_rss_mib": 1} for k, v in results.items()}, r)
    assert "fastest rollouts (bfloat16)" in table and "IS ratio mean 1.000" in table
