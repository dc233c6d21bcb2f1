"""Group-size sensitivity on a hand-made G sweep (mogrpo/sweeps/sensitivity.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mogrpo.sweeps.sensitivity import Point, collect_points, group_size_sensitivity, spread_by_group

# (G, seed) -> final aligned safety
SAFETY = {(2, 1): 0.5, (2, 2): 0.6, (2, 3): 0.7, (4, 1): 0.8, (4, 2): 0.9, (8, 1): 0.75}


def _job(root: Path, num: int, G: int, seed: int, safety: float | None, choices: bool = True) -> Path:
    d = root / str(num)
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text(f"- experiment=smoke\n- grpo.G={G}\n- seed={seed}\n")
    summary = {"stage": "all", "seed": seed, "choices": {"G": G} if choices else {}}
    if safety is not None:
        summary["eval"] = {
            "aspects": {"safety": {"base": 0.4, "aligned": safety}, "politeness": {"base": 0.5, "aligned": 0.5}},
            "aggregate": {"base": 0.9, "aligned": 0.9 + safety},
        }
    (d / "summary.json").write_text(json.dumps(summary))
    return d


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "ablation_group_size" / "multiruns" / "2025-01-01_00-00-00"
    for num, ((G, seed), value) in enumerate(SAFETY.items()):
        _job(root, num, G, seed, value, choices=num != 1)  # job 1: G only in its overrides
    _job(root, 6, 8, 2, None)  # finished without an evaluation
    (root / "7" / ".hydra").mkdir(parents=True)  # died: no summary.json at all
    (root / "0" / "wandb" / "run").mkdir(parents=True)
    (root / "0" / "wandb" / "run" / "summary.json").write_text("{}")  # W&B's, not a job's
    return root


def test_spread_per_group_size_by_hand(sweep):
    points, failed = collect_points(sweep)
    assert sorted((p.G, p.seed) for p in points) == sorted(SAFETY)
    assert failed == [{"job_dir": str(sweep / "6"), "reason": "no aligned safety score in summary.json's eval"}]
    rows = {r["G"]: r for r in spread_by_group(points)}
    # G=2: 0.5, 0.6, 0.7 -> mean 0.6, sample std sqrt((0.01 + 0 + 0.01) / 2) = 0.1
    assert rows[2]["n"] == 3 and rows[2]["seeds"] == [1, 2, 3]
    assert rows[2]["mean"] == pytest.approx(0.6) and rows[2]["std"] == pytest.approx(0.1)
    assert (rows[2]["min"], rows[2]["max"]) == (0.5, 0.7) and rows[2]["range"] == pytest.approx(0.2)
    # G=4: 0.8, 0.9 -> std sqrt(2 * 0.05^2 / 1) = 0.0707
    assert rows[4]["std"] == pytest.approx(math.sqrt(0.005))
    assert rows[8]["n"] == 1 and rows[8]["std"] is None
    assert [r["G"] for r in spread_by_group(points)] == [2, 4, 8]


def test_writes_table_json_and_plot(sweep, tmp_path):
    out = group_size_sensitivity(sweep, out_dir=tmp_path / "out")
    md = Path(out["markdown"]).read_text()
    assert "| 2 | 3 (1, 2, 3) | 0.6000 | 0.1000 | 0.5000 | 0.7000 | 0.2000 |" in md
    assert "| 4 | 2 (1, 2) | 0.8500 | 0.0707 | 0.8000 | 0.9000 | 0.1000 |" in md
    assert "| 8 | 1 (1) | 0.7500 | – |" in md
    assert "no aligned safety score" in md and "![sensitivity.png](sensitivity.png)" in md
    assert Path(out["plot"]).stat().st_size > 0
    saved = json.loads(Path(out["json"]).read_text())
    assert [r["G"] for r in saved["rows"]] == [2, 4, 8] and len(saved["points"]) == 6


def test_another_aspect_and_missing_dir(sweep, tmp_path):
    rows = spread_by_group(collect_points(sweep, aspect="politeness")[0])
    assert all(r["mean"] == pytest.approx(0.5) for r in rows)
    assert spread_by_group([Point(G="x", seed=1, value=0.3, job_dir="d")])[0]["std"] is None
    with pytest.raises(FileNotFoundError, match="not a directory"):
        collect_points(tmp_path / "nowhere")


def test_evaluate_command_sensitivity_mode(sweep, tmp_path):
    from conftest import compose_cfg

    from mogrpo.evaluate import evaluate

    cfg = compose_cfg([f"sensitivity={sweep}", "logger=none"], tmp_path, config_name="evaluate")
    out = evaluate(cfg)
    assert Path(out["markdown"]).parent == tmp_path / "output"
    assert (tmp_path / "output" / "sensitivity.png").is_file()
