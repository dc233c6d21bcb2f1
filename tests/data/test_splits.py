"""The split by prompt shared by reward data and GRPO prompts (mogrpo/data/splits.py)."""

from __future__ import annotations

import pytest

from mogrpo.data.splits import normalise, prompt_split, unit_hash


def test_split_depends_only_on_the_normalised_text():
    assert prompt_split("How do I  pick a lock?") == prompt_split("  how do i pick a LOCK? ")
    assert normalise("A\n\tB ") == "a b"
    assert unit_hash("x") != unit_hash("x", salt="other")


def test_fractions_hold_on_many_prompts():
    splits = [prompt_split(f"prompt number {i}", test_fraction=0.2, val_fraction=0.1) for i in range(5000)]
    share = {s: splits.count(s) / len(splits) for s in ("train", "validation", "test")}
    assert share["test"] == pytest.approx(0.2, abs=0.03)
    assert share["validation"] == pytest.approx(0.1, abs=0.03)
    assert [prompt_split(f"prompt number {i}", 0.0, 0.0) for i in range(50)] == ["train"] * 50


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="fractions"):
        prompt_split("x", test_fraction=0.6, val_fraction=0.5)
