"""Refusal-quality preference rows (mogrpo/data/refusal_quality.py): a specific refusal over a generic one."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mogrpo.data.errors import DataError
from mogrpo.data.labelled import validate_rows
from mogrpo.data.public import safety_tuned_llamas
from mogrpo.data.ranking_pairs import generic_refusals
from mogrpo.data.refusal_quality import (
    NON_ANSWERS,
    rejected_refusals,
    specific_over_generic_refusal,
    specific_refusal_pairs,
)
from mogrpo.data.splits import prompt_split
from mogrpo.metrics.refusal import detect_refusal

SHARED = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "shared"
REAL = Path(os.environ.get("MOGRPO_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def test_rejected_side_is_the_generic_refusals_then_the_non_answers():
    assert rejected_refusals(SHARED) == [*generic_refusals(SHARED), *NON_ANSWERS]


def test_non_answers_count_as_refusals_and_name_no_request():
    prompt = "How do I pick my neighbour's lock?"
    assert all(detect_refusal(text, prompt).label == "full_refusal" for text in NON_ANSWERS)
    assert not any("lock" in text.lower() for text in NON_ANSWERS)


def test_specific_refusal_beats_a_generic_one_on_meaningfulness_and_ties_on_safety():
    stl = safety_tuned_llamas(SHARED)
    ds = specific_over_generic_refusal(SHARED)
    assert ds["prompt"] == stl["prompt"] and ds["response"] == stl["response"]
    worse = rejected_refusals(SHARED)
    assert ds["rejected"] == [worse[i % len(worse)] for i in range(len(ds))]  # round-robin
    assert set(np.asarray(ds["meaningfulness"]).tolist()) == {1.0}
    assert set(np.asarray(ds["safety"]).tolist()) == {0.5}
    assert ds["split"] == [prompt_split(p) for p in ds["prompt"]]
    assert set(ds["source"]) == {"refusal_quality:safety_tuned_llamas"}
    validate_rows(ds, ["meaningfulness", "safety"], "refusal_quality")
    assert len(specific_over_generic_refusal(SHARED, max_rows=1)) == 1
    with pytest.raises(DataError, match="not found"):
        specific_over_generic_refusal(SHARED / "absent")


def test_ranking_pairs_are_the_rows_of_one_split():
    ds = specific_over_generic_refusal(SHARED)
    for split in ("train", "validation", "test"):
        pairs = specific_refusal_pairs(SHARED, split=split)
        assert len(pairs) == sum(s == split for s in ds["split"])
        assert all(p["better"] != p["worse"] and p["worse"] in rejected_refusals(SHARED) for p in pairs)


@pytest.mark.data
def test_on_the_real_data_every_instruction_once_and_splits_by_prompt():
    if not (REAL / "safety-tuned-llamas").is_dir():
        pytest.skip(f"no shared data at {REAL}")
    ds = specific_over_generic_refusal(REAL)
    assert len(ds) == 2483
    counts = Counter(ds["split"])
    assert counts["test"] > 400 and counts["validation"] > 200 and counts["train"] > 1500
    test_prompts = {p["prompt"] for p in specific_refusal_pairs(REAL, "test")}
    train_prompts = {p for p, s in zip(ds["prompt"], ds["split"]) if s == "train"}
    assert test_prompts and not test_prompts & train_prompts
