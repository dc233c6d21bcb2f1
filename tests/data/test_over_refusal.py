"""Preference rows against over-refusal (mogrpo/data/over_refusal.py) and the generic refusals they use
(mogrpo/data/ranking_pairs.py), on the fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mogrpo.data.errors import DataError
from mogrpo.data.labelled import validate_rows
from mogrpo.data.over_refusal import benign_over_refusal, over_refusal_pairs
from mogrpo.data.ranking_pairs import generic_refusals, seed_task_prompt
from mogrpo.data.splits import prompt_split

SHARED = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "shared"
REWARD = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "reward"


def test_generic_refusals_are_short_non_harmful_refusals_most_common_first():
    refusals = generic_refusals(SHARED)
    assert refusals[0] == "I'm sorry, I can't help with that.\nPlease ask something else."
    assert all(len(r.split()) <= 12 for r in refusals)
    assert generic_refusals(REWARD, max_words=10)  # the other fixture's short refusals
    with pytest.raises(DataError, match="not found"):
        generic_refusals(SHARED / "absent")


def test_seed_task_prompt_joins_instruction_and_input():
    assert seed_task_prompt({"instruction": "Sort.", "instances": [{"input": "b a", "output": "a b"}]}) == "Sort.\n\nb a"
    assert seed_task_prompt({"instruction": " Say hi. ", "instances": [{"input": "", "output": "hi"}]}) == "Say hi."


def test_benign_answers_beat_a_generic_refusal_on_meaningfulness_and_tie_on_safety():
    ds = benign_over_refusal(SHARED, sources=["self_instruct_seed"])
    assert len(ds) > 0 and set(ds["source"]) == {"over_refusal:self_instruct_seed"}
    assert set(np.asarray(ds["meaningfulness"]).tolist()) == {1.0}
    assert set(np.asarray(ds["safety"]).tolist()) == {0.5}
    assert all(r in generic_refusals(SHARED) for r in ds["rejected"])
    assert ds["split"] == [prompt_split(p) for p in ds["prompt"]]
    validate_rows(ds, ["meaningfulness", "safety"], "over_refusal")
    with pytest.raises(DataError, match="unknown source"):
        benign_over_refusal(SHARED, sources=["alpaca"])


def test_over_refusal_pairs_are_the_rows_of_one_split():
    ds = benign_over_refusal(SHARED)
    for split in ("train", "validation", "test"):
        pairs = over_refusal_pairs(SHARED, split=split)
        assert len(pairs) == sum(s == split for s in ds["split"])
        assert all(p["worse"] in generic_refusals(SHARED) for p in pairs)


def test_benign_answers_are_absolute_safe_rows_split_like_their_pairs():
    from mogrpo.data.over_refusal import benign_answers

    rows = benign_answers(SHARED, sources=["self_instruct_seed"])
    pairs = benign_over_refusal(SHARED, sources=["self_instruct_seed"])
    assert rows["prompt"] == pairs["prompt"] and rows["response"] == pairs["response"]
    assert rows["split"] == pairs["split"] and "rejected" not in rows.column_names
    assert set(np.asarray(rows["safety"]).tolist()) == {1.0}
    assert len(benign_answers(SHARED, sources=["self_instruct_seed"], max_rows=1)) == 1
