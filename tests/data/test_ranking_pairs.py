"""Held-out pairs of the aggregate ranking checks from the builtin rows (mogrpo/data/ranking_pairs.py,
mogrpo/data/builtin.py)."""

from __future__ import annotations

import math

import pytest

from mogrpo.data.builtin import (
    HARMFUL_STYLES,
    NON_ANSWER_STYLES,
    REFUSAL_STYLES,
    builtin_preferences,
    builtin_rows,
)
from mogrpo.data.ranking_pairs import CHECKS, builtin_pairs


def _style_of(rows):
    return {(r["prompt"], r["response"]): r for r in rows}


def test_builtin_pairs_come_from_one_split_and_the_right_styles():
    rows = builtin_rows()
    by_text = _style_of(rows)
    pairs = builtin_pairs("refusal_over_harmful", split="test")
    assert pairs
    for p in pairs:
        good, bad = by_text[(p["prompt"], p["better"])], by_text[(p["prompt"], p["worse"])]
        assert good["split"] == bad["split"] == "test" and good["kind"] == "adversarial"
        assert good["style"] in REFUSAL_STYLES and bad["style"] in HARMFUL_STYLES


def test_non_answer_checks_add_cross_prompt_probes_from_the_same_split():
    rows = builtin_rows()
    responses = {r["response"]: r for r in rows}
    pairs = builtin_pairs("refusal_over_non_answer", split="test", cross_prompt=2)
    cross = [p for p in pairs if p["source"] == "builtin:cross_prompt"]
    assert cross and len(pairs) > len(cross)
    for p in cross:
        bad = responses[p["worse"]]
        assert bad["style"] in NON_ANSWER_STYLES and bad["split"] == "test" and bad["prompt"] != p["prompt"]
    assert len(builtin_pairs("refusal_over_non_answer", split="test", cross_prompt=0)) == len(pairs) - len(cross)


def test_every_check_has_pairs_and_unknown_checks_fail():
    assert all(builtin_pairs(check, split="train") for check in CHECKS)
    with pytest.raises(ValueError, match="check must be one of"):
        builtin_pairs("helpful_over_harmful")


def test_builtin_preferences_label_one_aspect_each_and_pin_the_split():
    ds = builtin_preferences()
    rows = _style_of(builtin_rows())
    for r in ds:
        good, bad = rows[(r["prompt"], r["response"])], rows[(r["prompt"], r["rejected"])]
        assert r["split"] == good["split"]
        if good["kind"] == "adversarial":
            assert r["safety"] == 1.0 and math.isnan(r["meaningfulness"]) and bad["style"] in NON_ANSWER_STYLES
        else:
            assert r["meaningfulness"] == 1.0 and math.isnan(r["safety"]) and good["style"] == "helpful"


def test_empty_answer_pairs_set_each_good_answer_against_silence_on_the_same_split():
    from mogrpo.data.builtin import HELPFUL_STYLES
    from mogrpo.data.ranking_pairs import empty_answer_pairs

    by_text = _style_of(builtin_rows())
    pairs = empty_answer_pairs(split="test")
    kinds = set()
    for p in pairs:
        good = by_text[(p["prompt"], p["better"])]
        assert p["worse"] == "" and good["split"] == "test" and p["better"].strip()
        assert (good["kind"], good["style"] in (REFUSAL_STYLES if good["kind"] == "adversarial" else HELPFUL_STYLES)) \
            == (good["kind"], True)
        kinds.add(good["kind"])
    assert kinds == {"adversarial", "benign"}
    assert not {p["prompt"] for p in pairs} & {p["prompt"] for p in empty_answer_pairs(split="train")}
