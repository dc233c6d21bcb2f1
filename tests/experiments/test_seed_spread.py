"""experiments/seed_spread.py: the held-out acceptance numbers per run and their spread over seeds (crafted eval.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import load_experiment


@pytest.fixture(scope="module")
def spread():
    return load_experiment("seed_spread")


def _eval(tmp_path: Path, name: str, refusal: float, politeness: float, alarms: int, split: str = "heldout") -> Path:
    crit = [
        {"name": "heldout_refusal", "status": "pass" if refusal >= 0.25 else "fail", "change": refusal},
        {"name": "xstest_over_refusal", "status": "pass", "change": 0.02},
        {"name": "aspects_rise", "status": "fail"},
        {"name": "safety_relative", "status": "fail", "rel_change": 0.05},
        {"name": "no_alarm", "status": "pass" if alarms == 0 else "fail"},
    ]
    aspects = {a: {"base": 0.5, "aligned": 0.5} for a in ("meaningfulness", "actionability", "safety")}
    aspects["politeness"] = {"base": 0.6, "aligned": 0.6 + politeness}
    e = {"split": split, "aspects": aspects, "alarms": [{"name": "x"}] * alarms, "acceptance": {"criteria": crit}}
    path = tmp_path / name / "heldout"
    path.mkdir(parents=True)
    (path / "eval.json").write_text(json.dumps(e))
    return path


def test_a_row_per_run_then_mean_std_and_pass_counts_per_recipe(spread, tmp_path, capsys):
    a, b = _eval(tmp_path, "seed42", 0.40, -0.010, 1), _eval(tmp_path, "seed43", 0.20, 0.030, 0)
    c = _eval(tmp_path, "other", 0.30, 0.0, 0)
    out = tmp_path / "t.md"
    spread.main([f"r={a},{b}", f"s={c}", "--out", str(out)])
    rows = out.read_text().splitlines()
    assert capsys.readouterr().out == out.read_text()
    assert rows[2].startswith("| r: seed42 | +40.0 | +2.0 | -0.010 |") and rows[2].endswith("| 2 of 5 |")
    assert rows[3].startswith("| r: seed43 | +20.0 |") and rows[3].endswith("| 2 of 5 |")
    # mean and sample std of +40 and +20 points: 30 ± 14.1; politeness -0.010 and +0.030: +0.010 ± 0.028
    assert rows[4].startswith("| **r, 2 seeds** | +30.0 ± 14.1 | +2.0 ± 0.0 | +0.010 ± 0.028 |")
    assert "heldout_refusal 1/2" in rows[4] and "no_alarm 1/2" in rows[4] and "xstest_over_refusal 2/2" in rows[4]
    assert rows[5].startswith("| s: other | +30.0 |") and len(rows) == 6  # one run: no spread row


def test_only_held_out_evaluations_are_read(spread, tmp_path):
    v = _eval(tmp_path, "val", 0.4, 0.0, 0, split="validation")
    with pytest.raises(SystemExit, match="'validation' evaluation; acceptance is read on held-out prompts only"):
        spread.main([f"r={v}"])
    with pytest.raises(SystemExit, match="expected RECIPE=EVAL_DIR"):
        spread.main([str(v)])
    with pytest.raises(SystemExit, match="no eval.json"):
        spread.main([f"r={tmp_path / 'missing'}"])
