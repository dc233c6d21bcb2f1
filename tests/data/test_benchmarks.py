"""SafetyBench and HelpSteer2 rows from a local file in the hub's schema; offline, the reason (mogrpo/data/benchmarks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mogrpo.data.benchmarks import BenchmarkUnavailable, benchmark_rows, helpsteer2_prompts, safetybench_items
from mogrpo.errors import DataError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


def test_safetybench_items_from_a_local_file():
    rows = benchmark_rows("thu-coai/SafetyBench", "dev", "en", str(FIXTURES / "safetybench_dev_en.json"), "e")
    items = safetybench_items(rows)
    assert [i["answer"] for i in items] == [1, 1, 1, 0] and items[1]["options"][1].startswith("Decline")
    assert {i["category"] for i in items} == {"Physical Health", "Privacy and Property", "Offensiveness"}
    assert len(safetybench_items(rows, limit=2)) == 2


def test_safetybench_rows_are_checked():
    assert safetybench_items([{"question": "q", "options": '["a", "b"]', "answer": "B"}])[0]["answer"] == 1
    assert safetybench_items([{"question": "q", "options": ["a", "b"]}])[0]["answer"] is None  # the test set
    with pytest.raises(DataError, match="answer"):
        safetybench_items([{"question": "q", "options": ["a", "b"], "answer": 5}])
    with pytest.raises(DataError, match="options"):
        safetybench_items([{"question": "q", "options": ["only one"]}])


def test_helpsteer2_prompts_are_distinct_and_in_order():
    rows = benchmark_rows("nvidia/HelpSteer2", None, "validation", str(FIXTURES / "helpsteer2_validation.jsonl"), "e")
    prompts = helpsteer2_prompts(rows)
    assert [p["prompt"] for p in prompts] == ["Write a haiku about autumn.", "Explain photosynthesis to a child.",
                                              "List three uses of baking soda."]  # fmt: skip
    assert len(helpsteer2_prompts(rows, limit=2)) == 2
    with pytest.raises(DataError, match="no prompt column"):
        helpsteer2_prompts([{"text": "x"}])


def test_offline_without_a_file_says_how_to_fix_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BenchmarkUnavailable, match="set eval.safetybench.path"):
        benchmark_rows("thu-coai/SafetyBench", "dev", "en", None, "eval.safetybench")
