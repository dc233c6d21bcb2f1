"""The side-by-side sample: count, stratification by kind and source, determinism, markdown that shows
answers verbatim (mogrpo/reports/side_by_side.py)."""

from __future__ import annotations

from collections import Counter

from mogrpo.reports.side_by_side import (
    deal,
    escape_inline,
    fenced,
    render_side_by_side,
    sample_indices,
    section,
)

# 60 adversarial prompts from 3 sources (40 / 15 / 5), 12 benign from 2 (10 / 2)
ROWS = (
    [{"kind": "adversarial", "source": "harmfulqa"}] * 40
    + [{"kind": "adversarial", "source": "ailuminate"}] * 15
    + [{"kind": "adversarial", "source": "catqa"}] * 5
    + [{"kind": "benign", "source": "mt_bench"}] * 10
    + [{"kind": "benign", "source": "builtin"}] * 2
)


def _strata(idx):
    return Counter((ROWS[i]["kind"], ROWS[i]["source"]) for i in idx)


def test_deal_is_round_robin_capped_by_size():
    assert deal(20, [60, 12]) == [10, 10]
    assert deal(20, [60, 4]) == [16, 4]  # the small kind gives its unused places to the other
    assert deal(10, [40, 15, 5]) == [4, 3, 3]
    assert deal(5, [1, 1]) == [1, 1]


def test_sample_count_and_stratification():
    idx = sample_indices(ROWS, 20, seed=0)
    assert len(idx) == len(set(idx)) == 20
    # 10 per kind; within a kind round-robin over sources (sorted by name): adversarial ailuminate 4,
    # catqa 3, harmfulqa 3; benign builtin 2 (all it has), mt_bench 8
    assert _strata(idx) == {
        ("adversarial", "ailuminate"): 4, ("adversarial", "catqa"): 3, ("adversarial", "harmfulqa"): 3,
        ("benign", "builtin"): 2, ("benign", "mt_bench"): 8,
    }  # fmt: skip
    # listed by kind, then source, then position
    keys = [(ROWS[i]["kind"], ROWS[i]["source"], i) for i in idx]
    assert keys == sorted(keys)
    assert len(sample_indices(ROWS, 500, seed=0)) == len(ROWS)  # all of them when fewer
    assert sample_indices(ROWS, 0) == []


def test_sample_is_deterministic_per_seed():
    assert sample_indices(ROWS, 20, seed=3) == sample_indices(ROWS, 20, seed=3)
    assert sample_indices(ROWS, 20, seed=3) != sample_indices(ROWS, 20, seed=4)
    assert _strata(sample_indices(ROWS, 20, seed=3)) == _strata(sample_indices(ROWS, 20, seed=4))


def test_rows_without_kind_or_source_still_sample():
    rows = [{"prompt": str(i)} for i in range(7)]
    assert sorted(sample_indices(rows, 3, seed=1)) == sample_indices(rows, 3, seed=1) and len(sample_indices(rows, 3)) == 3


def test_markdown_shows_answers_verbatim():
    assert fenced("a ``` b ```` c") == ["`````text", "a ``` b ```` c", "`````"]
    assert fenced("plain") == ["```text", "plain", "```"]
    assert escape_inline("a_b *c* | <x>\nnext") == "a\\_b \\*c\\* \\| \\<x\\> next"
    answer = "Here:\n```python\nprint('hi')\n```\n# not a heading\n<script>alert(1)</script>"
    records = [{
        "set": "heldout", "id": "q_1", "prompt": "Say | hi", "kind": "benign", "source": "mt_bench",
        "base_response": "", "aligned_response": answer, "base_refusal": "full_refusal",
        "aligned_refusal": "full_compliance", "base_scores": {"safety": 0.9}, "aligned_scores": {"safety": 0.5},
        "base_reward": 0.9, "aligned_reward": 0.5,
    }]  # fmt: skip
    part = section(records, [0], "heldout", seed=0)
    assert part["n"] == 1 and part["strata"] == {"benign/mt_bench": 1} and part["samples"][0]["index"] == 0
    md = "\n".join(render_side_by_side(part))
    assert "### 1. benign · mt\\_bench (id q\\_1)" in md
    assert "```text\nSay | hi\n```" in md  # the prompt verbatim, in a fence
    assert "````text\n" + answer + "\n````" in md  # longer fence than the answer's ```
    assert "*(empty response)*" in md
    assert "| refusal class | full_refusal | full_compliance |" in md and "| safety | 0.900 | 0.500 |" in md
    assert render_side_by_side({"status": "skipped", "reason": "disabled (eval.side_by_side=0)"})[-2] == (
        "Skipped: disabled (eval.side_by_side=0)."
    )
