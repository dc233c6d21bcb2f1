"""report.md and its plots from a hand-made evaluation result (mogrpo/reports/report.py)."""

from __future__ import annotations

import math

from mogrpo.reports.report import fmt, fmt_pct, markdown_table, render_report, write_report


def _table(base, aligned):
    """An aspect_table-shaped dict from per-aspect (base, aligned) means; reward = their sum."""
    aspects = {
        a: {"base": b, "aligned": al, "abs_change": al - b, "rel_change": (al - b) / b}
        for a, (b, al) in zip(("safety", "actionability"), zip(base, aligned))
    }
    rb, ra = sum(base), sum(aligned)
    return {"aspects": aspects, "aggregate": {"base": rb, "aligned": ra, "abs_change": ra - rb, "rel_change": (ra - rb) / rb}}


def _xstest(over, over_full, unsafe):
    return {
        "over_refusal_rate": over,
        "over_refusal_full_rate": over_full,
        "over_refusal_partial_rate": over - over_full,
        "unsafe_refusal_rate": unsafe,
        "unsafe_full_refusal_rate": unsafe,
        "unsafe_partial_refusal_rate": 0.0,
        "safe": {"compliance_rate": 1 - over},
        "unsafe": {"compliance_rate": 1 - unsafe},
    }


def result(with_refusal: bool = True) -> dict:
    heldout = {"status": "done", "title": "Held-out prompts", "n": 4, **_table((0.4, 0.6), (0.8, 0.3)), "weights": {"safety": 1.0, "actionability": 1.0}}
    heldout["by_kind"] = {"adversarial": {"n": 3, **_table((0.2, 0.5), (0.9, 0.2))}, "benign": {"n": 1, **_table((1.0, 0.9), (0.5, 0.6))}}
    out = {
        "adapter": "/runs/1/adapter",
        "reward_model": "/runs/1/reward_model",
        "decoding": {"do_sample": True, "max_new_tokens": 64, "temperature": 0.7, "top_p": 0.9, "seed": 3},
        "weights": {"safety": 1.0, "actionability": 1.0},
        "aspects": heldout["aspects"],
        "aggregate": heldout["aggregate"],
        "sets": {"heldout": heldout, "prompt_file": {"status": "skipped", "reason": "no prompt file"}},
        "calibration": {
            "reward_data": {
                "status": "done",
                "split": "test",
                "reward_data": "builtin",
                "n": 10,
                "aspects": {"safety": {"n": 9, "r2": 0.5, "mae": 0.1234, "spearman": 0.7, "bias": -0.02}},
                "plot": "calibration.png",
            },
            "diasafety": {"status": "skipped", "reason": "diasafety/test.json not found"},
        },
        "alarms": [{"name": "over_refusal", "severity": "warning", "message": "refuses 12.0% | of safe prompts", "numbers": {}}],
    }
    if with_refusal:
        out["xstest"] = {"status": "done", "n": 5, "n_safe": 3, "n_unsafe": 2, "base": _xstest(0.0, 0.0, 0.5), "aligned": _xstest(2 / 3, 1 / 3, 1.0)}
        out["advbench"] = {
            "status": "done",
            "n": 4,
            "base": {"refusal_rate": 0.25, "full_refusal_rate": 0.25, "partial_refusal_rate": 0.0, "compliance_rate": 0.75},
            "aligned": {"refusal_rate": 1.0, "full_refusal_rate": 0.5, "partial_refusal_rate": 0.5, "compliance_rate": 0.0},
        }
    else:
        out["xstest"] = {"status": "skipped", "reason": "disabled (eval.xstest.enabled=false)"}
        out["advbench"] = {"status": "skipped", "reason": "disabled (eval.advbench.enabled=false)"}
    return out


def test_formatting_of_missing_numbers():
    assert fmt(None) == fmt(math.nan) == fmt_pct(None) == "–"
    assert fmt(0.12345) == "0.123" and fmt_pct(0.125) == "12.5%" and fmt_pct(-0.5, signed=True) == "-50.0%"
    assert markdown_table(["a", "b"], [["x|y", "1"]]) == "| a | b |\n|---|---|\n| x\\|y | 1 |"


def test_report_tables_alarms_and_skips():
    md = render_report(result(), plots=["aspects.png", "refusal.png"])
    # per-aspect table: safety 0.4 -> 0.8 (+0.4, +100%), actionability 0.6 -> 0.3 (-50%), reward 1.0 -> 1.1
    assert "| safety | 0.400 | 0.800 | +0.400 | +100.0% |" in md
    assert "| actionability | 0.600 | 0.300 | -0.300 | -50.0% |" in md
    assert "| **reward** | 1.000 | 1.100 | +0.100 | +10.0% |" in md
    assert "#### Held-out prompts: adversarial prompts" in md and "| safety | 0.200 | 0.900 | +0.700 | +350.0% |" in md
    assert "| XSTest safe prompts (over-refusal) | 3 | 0.0% | 0.0% | 0.0% | 100.0% | 66.7% | 33.3% | 33.3% | 33.3% |" in md
    assert "| XSTest unsafe prompts | 2 | 50.0% | 50.0% | 0.0% | 50.0% | 100.0% | 100.0% | 0.0% | 0.0% |" in md
    assert "| AdvBench harmful behaviours | 4 | 25.0% | 25.0% | 0.0% | 75.0% | 100.0% | 50.0% | 50.0% | 0.0% |" in md
    assert "| safety | 9 | 0.500 | 0.123 | 0.700 | -0.020 |" in md
    assert "| warning | `over_refusal` | refuses 12.0% \\| of safe prompts |" in md
    assert "- calibration diasafety: diasafety/test.json not found" in md
    assert "- prompt set prompt_file: no prompt file" in md
    assert "sampled, max_new_tokens 64, temperature 0.7, top_p 0.9, seed 3" in md
    assert "![refusal.png](refusal.png)" in md and "calibration.png" not in md.split("## Plots")[1]


def test_write_report_draws_only_what_has_data(tmp_path):
    (tmp_path / "calibration.png").write_bytes(b"png")  # drawn by the stage
    out = write_report(result(), tmp_path)
    assert out["plots"] == ["aspects.png", "refusal.png", "calibration.png"]
    for name in out["plots"]:
        assert (tmp_path / name).stat().st_size > 0
    assert "![calibration.png](calibration.png)" in (tmp_path / "report.md").read_text()

    other = tmp_path / "no_refusal"
    out = write_report({**result(with_refusal=False), "alarms": []}, other)
    assert out["plots"] == ["aspects.png"]  # no refusal data, no calibration.png in that dir
    md = (other / "report.md").read_text()
    assert "No alarms." in md and "XSTest: skipped: disabled (eval.xstest.enabled=false)." in md
    assert "- xstest: disabled (eval.xstest.enabled=false)" in md


def _kind_refusal(base, aligned, n):
    """A by_kind entry: refusal rates (all full refusals) of base and aligned over n prompts."""

    def rates(r):
        return None if r is None else {"n": n, "refusal_rate": r, "full_refusal_rate": r, "partial_refusal_rate": 0.0,
                                       "compliance_rate": 1 - r, "counts": {"full_refusal": round(r * n), "partial_refusal": 0}}  # fmt: skip

    refusal = {"base": rates(base), "aligned": rates(aligned)}
    if aligned is not None:
        refusal["change"] = {"refusal_rate": aligned - base, "full_refusal_rate": aligned - base}
    return {"n": n, "refusal": refusal}


def test_split_refusal_rows_title_and_plot(tmp_path):
    r = {**result(with_refusal=False), "alarms": [], "split": "validation"}
    r["by_kind"] = {"adversarial": _kind_refusal(0.25, 0.75, 4), "benign": _kind_refusal(0.0, 0.5, 2)}
    r["by_kind"]["adversarial"]["by_source"] = {"src_a": _kind_refusal(0.25, 0.75, 4)}
    md = render_report(r)
    assert md.startswith("# Evaluation on the validation split (for tuning, not for reporting)")
    # rows of the split: 25% -> 75% (+50 points); benign 0% -> 50%
    assert "| Validation adversarial prompts | 4 | 25.0% | 25.0% | 0.0% | 75.0% | 75.0% | 75.0% | 0.0% | 25.0% | +50.0 pts |" in md
    assert "| Validation benign prompts (over-refusal) | 2 | 0.0% |" in md
    assert "| adversarial | src_a | 4 | 25.0% (1) | 25.0% | 75.0% (3) | 75.0% | +50.0 pts |" in md
    assert write_report(r, tmp_path)["plots"] == ["aspects.png", "refusal.png"]  # base vs aligned: drawn
    base_only = {**r, "by_kind": {"adversarial": _kind_refusal(0.25, None, 4)}}
    assert write_report(base_only, tmp_path / "b")["plots"] == ["aspects.png"]  # nothing to compare
    assert render_report({**r, "split": "heldout"}).startswith("# Evaluation on the held-out split")
