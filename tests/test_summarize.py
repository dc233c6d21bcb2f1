"""`python -m mogrpo.summarize` on a hand-made multirun dir: 2 configurations x 2 seeds + 1 dead job."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from mogrpo.summarize import main
from mogrpo.sweeps.jobs import load_job
from mogrpo.sweeps.summary import summarize
from mogrpo.sweeps.table import config_key, mean_std, varied_keys

# (G, seed) -> (safety base, safety aligned, politeness base, politeness aligned, reward base, reward aligned)
EVALS = {
    (2, 1): (0.40, 0.60, 0.50, 0.50, 1.0, 1.5),
    (2, 2): (0.50, 0.80, 0.70, 0.60, 1.2, 1.6),
    (4, 1): (0.40, 0.90, 0.50, 0.40, 1.0, 2.0),
    (4, 2): (0.40, 0.70, 0.50, 0.60, 1.0, 2.2),
}


def _job(root: Path, num: int, G: int, seed: int, evals: tuple | None, steps: int = 3) -> Path:
    d = root / str(num)
    (d / ".hydra").mkdir(parents=True)
    overrides = ["experiment=smoke", f"grpo.G={G}", f"seed={seed}", f"paths.log_dir={root}"]
    (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (d / ".hydra" / "config.yaml").write_text(f"seed: {seed}\ngrpo:\n  G: {G}\n")
    # group_std: 0.1 * G every step; frac_zero_std: 1 / G
    history = [
        {
            "step": s,
            "train/reward_mean": s * G / 10 + seed,
            "train/group_std": 0.1 * G,
            "train/frac_zero_std": 1 / G,
        }
        for s in range(1, steps + 1)
    ]
    (d / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history) + '{"step": 4, "trunc')
    if evals is not None:
        sb, sa, pb, pa, rb, ra = evals
        summary = {
            "stage": "all",
            "seed": seed,
            "choices": {"G": G, "beta": 0.0, "reward": "multilabel"},
            "run_dir": str(d),
            "eval": {  # the layout of mogrpo.stages.evaluation.run_eval_stage
                "n_prompts": 8,
                "n": 8,
                "aspects": {
                    "politeness": {"base": pb, "aligned": pa, "abs_change": pa - pb, "rel_change": None},
                    "safety": {"base": sb, "aligned": sa, "abs_change": sa - sb, "rel_change": None},
                },
                "aggregate": {"base": rb, "aligned": ra, "abs_change": ra - rb, "rel_change": None},
                "weights": {"politeness": 1.0, "safety": 1.0},
            },
            "wall_time_s": 1.0,
        }
        (d / "summary.json").write_text(json.dumps(summary))
    return d


@pytest.fixture
def multirun(tmp_path: Path) -> Path:
    root = tmp_path / "smoke" / "multiruns" / "2025-01-01_00-00-00"
    root.mkdir(parents=True)
    (root / "multirun.yaml").write_text("hydra: {}\n")
    for num, (G, seed) in enumerate(EVALS):
        _job(root, num, G, seed, EVALS[(G, seed)])
    _job(root, 4, 4, 3, None, steps=1)  # died after one step: no summary.json
    (root / "0" / "reward_model" / ".hydra").mkdir(parents=True)  # inside a job: not a job
    return root


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_mean_std_is_the_sample_std_and_ignores_missing():
    m, s = mean_std([0.4, 0.5, None, float("nan")])
    assert m == pytest.approx(0.45) and s == pytest.approx(math.sqrt(0.005))
    assert mean_std([0.3]) == (0.3, None)
    assert mean_std([]) == (None, None)


def test_jobs_group_by_overrides_without_seed_and_paths(multirun):
    a, b, c = load_job(multirun / "0"), load_job(multirun / "1"), load_job(multirun / "2")
    assert config_key(a) == config_key(b) == (("experiment", "smoke"), ("grpo.G", "2"))
    assert config_key(c) != config_key(a)
    assert varied_keys([config_key(a), config_key(c)]) == ["grpo.G"]
    assert (a.seed, b.seed) == (1, 2)
    assert len(a.history) == 3  # the truncated last line is skipped


def test_summary_table_numbers(multirun, tmp_path):
    out = tmp_path / "out"
    result = summarize([multirun], out)
    rows = {r["config"]: r for r in _csv_rows(out / "summary.csv")}
    assert list(rows) == ["G=2", "G=4"]
    g2, g4 = rows["G=2"], rows["G=4"]
    assert g2["grpo.G"] == "2" and g2["n_seeds"] == "2" and g2["n_failed"] == "0" and g2["seeds"] == "1 2"
    assert g4["n_seeds"] == "2" and g4["n_failed"] == "1"
    # safety, G=2: base 0.40, 0.50 -> 0.45 ± 0.0707; aligned 0.60, 0.80 -> 0.70 ± 0.1414; (0.70-0.45)/0.45
    assert float(g2["safety_base_mean"]) == pytest.approx(0.45, abs=1e-5)
    assert float(g2["safety_base_std"]) == pytest.approx(0.0707107, abs=1e-5)
    assert float(g2["safety_aligned_mean"]) == pytest.approx(0.70, abs=1e-5)
    assert float(g2["safety_aligned_std"]) == pytest.approx(0.141421, abs=1e-5)
    assert float(g2["safety_rel_change"]) == pytest.approx(0.25 / 0.45, abs=1e-5)
    # safety, G=4: base 0.40, 0.40 -> std 0; aligned 0.90, 0.70 -> 0.80; rel +100%
    assert float(g4["safety_base_std"]) == 0.0
    assert float(g4["safety_aligned_mean"]) == pytest.approx(0.80, abs=1e-5)
    assert float(g4["safety_rel_change"]) == pytest.approx(1.0, abs=1e-5)
    # politeness, G=4: 0.5 -> 0.5 (no change); reward G=2: 1.1 -> 1.55
    assert float(g4["politeness_rel_change"]) == pytest.approx(0.0, abs=1e-6)
    assert float(g2["reward_base_mean"]) == pytest.approx(1.1) and float(
        g2["reward_aligned_mean"]
    ) == pytest.approx(1.55)
    assert result["aspects"] == ["politeness", "safety", "reward"]

    md = (out / "summary.md").read_text()
    assert "| G | seeds | politeness base | politeness aligned | politeness Δ | safety base |" in md
    assert "| 2 | 2 | 0.600 ± 0.141 | 0.550 ± 0.071 | -8.3% | 0.450 ± 0.071 | 0.700 ± 0.141 | +55.6% |" in md
    assert "1.100 ± 0.141 → 1.550 ± 0.071 | +40.9% |" in md
    assert "5 jobs, 4 finished, 1 failed; 2 configurations" in md and result["failed"] == [
        str(multirun / "4")
    ]
    assert "## Failed jobs" in md and f"`{multirun / '4'}`" in md and "seed=3" in md
    # a G sweep also gets the group-size sensitivity table (mogrpo/sweeps/sensitivity.py), linked here
    assert result["sensitivity"] == str(out / "sensitivity.md")
    sens = (out / "sensitivity.md").read_text()
    # G, seeds, mean / std / min / max / range of the aligned safety (0.60, 0.80 and 0.90, 0.70)
    assert "| 2 | 2 (1, 2) | 0.7000 | 0.1414 | 0.6000 | 0.8000 | 0.2000 |" in sens
    assert "| 4 | 2 (1, 2) | 0.8000 | 0.1414 | 0.7000 | 0.9000 | 0.2000 |" in sens
    for png in ("aspects.png", "reward_curves.png", "group_stats.png", "safety_by_G.png", "sensitivity.png"):
        assert (out / png).stat().st_size > 1000, png
        assert f"![{png}]({png})" in md


def test_defaults_to_the_multirun_dir_and_skips_the_seed_plot_with_one_seed(tmp_path, capsys):
    root = tmp_path / "m"
    _job(root, 0, 2, 1, EVALS[(2, 1)])
    _job(root, 1, 4, 1, EVALS[(4, 1)])
    main([str(root)])
    assert "G=" not in (root / "summary.md").read_text().split("\n")[0]
    assert "| 4 | 1 | 0.500 | 0.400 | -20.0% |" in capsys.readouterr().out
    assert (root / "aspects.png").is_file() and not (root / "safety_by_G.png").exists()


def test_only_failed_jobs_and_no_jobs(tmp_path):
    root = tmp_path / "dead"
    _job(root, 0, 2, 1, None)
    (root / "1").mkdir()
    (root / "1" / "summary.json").write_text("{not json")
    result = summarize([root])
    assert len(result["failed"]) == 2
    md = (root / "summary.md").read_text()
    assert "No job finished with evaluation results." in md and "unreadable summary.json" in md
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no job dirs"):
        main([str(tmp_path / "empty")])
