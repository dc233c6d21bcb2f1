"""The Pareto report of a weight sweep and of soups, on hand-made job dirs (mogrpo/sweeps/pareto.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mogrpo.summarize import main
from mogrpo.sweeps.jobs import load_jobs
from mogrpo.sweeps.pareto import pareto_report

ASPECTS = ["safety", "politeness"]
BASE = {"safety": 0.4, "politeness": 0.5}
# weights (safety, politeness), seed -> aligned (safety, politeness)
RUNS = {
    ((1, 0), 1): (0.9, 0.3),
    ((1, 0), 2): (0.7, 0.3),  # mean over seeds: (0.8, 0.3)
    ((0, 1), 1): (0.3, 0.8),
    ((1, 1), 1): (0.6, 0.6),
    ((2, 1), 1): (0.5, 0.5),  # dominated by (0.6, 0.6)
}


def _sweep(root: Path) -> Path:
    for num, ((w, seed), aligned) in enumerate(RUNS.items()):
        d = root / str(num)
        (d / ".hydra").mkdir(parents=True)
        weights = "{" + ",".join(f"{a}:{x}" for a, x in zip(ASPECTS, w)) + "}"
        (d / ".hydra" / "overrides.yaml").write_text(f"- reward.weights={weights}\n- seed={seed}\n")
        (d / ".hydra" / "config.yaml").write_text(
            f"seed: {seed}\nreward:\n  aspects: [safety, politeness]\n  weights: {{safety: {w[0]}, politeness: {w[1]}}}\n"
        )
        ev = {"aspects": {a: {"base": BASE[a], "aligned": v} for a, v in zip(ASPECTS, aligned)}}
        (d / "summary.json").write_text(json.dumps({"eval": ev}))
    return root


def _soup(root: Path) -> Path:
    root.mkdir()
    points = [{"label": f"soup {c}", "coefficients": [c, 1 - c], "aspects": {"safety": s, "politeness": p}}
              for c, s, p in ((0.0, 0.3, 0.8), (0.5, 0.7, 0.7), (1.0, 0.8, 0.3))]  # fmt: skip
    (root / "soup.json").write_text(json.dumps({"aspects": ASPECTS, "points": points, "base": BASE}))
    return root


def test_front_hypervolume_and_base_of_a_weight_sweep(tmp_path):
    out = pareto_report(load_jobs([_sweep(tmp_path / "sweep")]), tmp_path, ref="0,0")
    labels = [p["label"] for p in out["points"]]
    assert labels == ["w=0/1", "w=1/0", "w=1/1", "w=2/1"]  # aspect order of the config: safety/politeness
    assert out["points"][1]["aspects"] == pytest.approx({"safety": 0.8, "politeness": 0.3})  # seeds averaged
    assert out["points"][1]["n_seeds"] == 2
    assert out["fronts"]["run"]["front"] == ["w=0/1", "w=1/0", "w=1/1"]
    # staircase by politeness: 0.8 x 0.3 + 0.6 x (0.6 - 0.3) + 0.3 x (0.8 - 0.6) = 0.24 + 0.18 + 0.06
    assert out["fronts"]["run"]["hypervolume"] == pytest.approx(0.48)
    assert out["base"] == pytest.approx(BASE)
    md = out["markdown"].read_text()
    assert "**0.48**" in md and "Base model" in md and "![pareto](pareto.png)" in md
    assert out["plot"].stat().st_size > 1000


def test_soups_join_the_plots_and_get_their_own_front(tmp_path):
    out = pareto_report(load_jobs([_sweep(tmp_path / "sweep")]), tmp_path, ref="0.2", soups=[_soup(tmp_path / "s")])
    assert [p["kind"] for p in out["points"]].count("soup") == 3
    # soups above (0.2, 0.2): (0.1, 0.6), (0.5, 0.5), (0.6, 0.1): staircase 0.6 x 0.1 + 0.5 x 0.4 + 0.1 x 0.1
    assert out["fronts"]["soup"]["hypervolume"] == pytest.approx(0.27)
    assert out["fronts"]["soup"]["front"] == ["soup 0.0", "soup 0.5", "soup 1.0"]
    # together: the soup (0.7, 0.7) dominates the run (0.6, 0.6)
    assert "w=1/1" not in out["fronts"]["all"]["front"] and "soup 0.5" in out["fronts"]["all"]["front"]
    md = out["markdown"].read_text()
    assert "| run | w=1/1 | 0.600 | 0.600 | yes |  | 1 |" in md  # on the runs' front, not on the joint one


def test_the_summarize_command_writes_pareto_md_and_png(tmp_path, capsys):
    sweep = _sweep(tmp_path / "sweep")
    main([str(sweep), "--out", str(tmp_path / "out"), "--pareto-ref", "0,0", "--soups", str(_soup(tmp_path / "s"))])
    assert (tmp_path / "out" / "pareto.png").stat().st_size > 1000
    assert "Hypervolume" in (tmp_path / "out" / "pareto.md").read_text()
    assert "pareto.md" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="3 coordinates for 2 aspects"):
        main([str(sweep), "--out", str(tmp_path / "out"), "--pareto-ref", "0,0,0"])
