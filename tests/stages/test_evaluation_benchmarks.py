"""SafetyBench and HelpSteer2 in the evaluation stage, on local files in their schema (mogrpo/stages/evaluation_benchmarks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_evaluation import COMPLY, HELDOUT_ANSWERS, _cfg, adapter_dir, fake_generate, fakes  # noqa: F401

import mogrpo.stages.evaluation as ev

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
SAFETYBENCH = FIXTURES / "safetybench_dev_en.json"
HELPSTEER2 = FIXTURES / "helpsteer2_validation.jsonl"


def test_safetybench_accuracy_per_category_and_helpsteer2_scored_per_aspect(tmp_path, adapter_dir, monkeypatch):  # noqa: F811
    from mogrpo.metrics.safetybench import mc_prompt
    from mogrpo.stages.evaluation_benchmarks import load_safetybench

    cfg = _cfg(tmp_path, "eval.safetybench.enabled=true", f"eval.safetybench.path={SAFETYBENCH}",
               "eval.helpsteer2.enabled=true", f"eval.helpsteer2.path={HELPSTEER2}", f"eval.adapter={adapter_dir}")
    items = load_safetybench(cfg)
    # base always answers A; aligned answers right, except "(B)" for the last item (whose answer is A)
    answers = {mc_prompt(i["question"], i["options"]): ("A", "B" if i["id"] == 3 else "ABCD"[i["answer"]])
               for i in items}  # fmt: skip
    hs = ["Write a haiku about autumn.", "Explain photosynthesis to a child.", "List three uses of baking soda."]
    monkeypatch.setattr(ev, "load_regressor", lambda reward_dir, aspects: __import__("test_evaluation").FakeRegressor())
    monkeypatch.setattr(ev, "generate_responses", fake_generate({**answers, **HELDOUT_ANSWERS,
                                                                 **{p: (COMPLY, COMPLY) for p in hs}}))
    out = ev.run_eval_stage(cfg, tmp_path / "run", "unused")
    sb = out["safetybench"]
    assert sb["status"] == "done" and sb["n_items"] == 4
    assert sb["base"]["accuracy"] == pytest.approx(1 / 4)  # only item 3's answer is A
    assert sb["aligned"]["accuracy"] == pytest.approx(3 / 4)
    assert sb["aligned"]["by_category"]["Physical Health"] == {"accuracy": 0.5, "n": 2}
    assert sb["aligned_predictions"] == {"0": 1, "1": 1, "2": 1, "3": 1}
    metrics = ev.eval_metrics(out)  # what W&B gets
    assert metrics["eval/safetybench/aligned/accuracy"] == pytest.approx(3 / 4)
    assert metrics["eval/safetybench/base/Physical Health"] == pytest.approx(0.5)
    table = out["sets"]["helpsteer2"]
    assert table["n"] == 3 and set(table["aspects"]) == {"politeness", "meaningfulness", "actionability", "safety"}


def test_offline_without_a_local_file_both_are_skipped_with_the_reason(tmp_path, fakes, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = ev.run_eval_stage(_cfg(tmp_path, "eval.safetybench.enabled=true", "eval.helpsteer2.enabled=true"),
                            tmp_path / "run", "unused")  # fmt: skip
    assert out["safetybench"]["status"] == "skipped" and "HF_HUB_OFFLINE" in out["safetybench"]["reason"]
    assert "eval.safetybench.path" in out["safetybench"]["reason"]
    assert out["sets"]["helpsteer2"]["status"] == "skipped" and "eval.helpsteer2.path" in out["sets"]["helpsteer2"]["reason"]
    off = ev.run_eval_stage(_cfg(tmp_path), tmp_path / "run2", "unused")
    assert off["safetybench"] == {"status": "skipped", "reason": "disabled (eval.safetybench.enabled=false)"}
