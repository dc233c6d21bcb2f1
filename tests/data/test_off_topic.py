"""Off-topic preference rows (mogrpo/data/off_topic.py) on the fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mogrpo.data.errors import DataError
from mogrpo.data.labelled import validate_rows
from mogrpo.data.off_topic import derangement, off_topic_pairs, off_topic_ranking_pairs
from mogrpo.data.over_refusal import _answers
from mogrpo.data.splits import prompt_split

SHARED = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "shared"


@pytest.mark.parametrize("n", [2, 3, 7, 50])
def test_derangement_is_a_permutation_without_fixed_points(n):
    for seed in range(5):
        d = derangement(n, np.random.default_rng(seed))
        assert sorted(d.tolist()) == list(range(n))
        assert not np.any(d == np.arange(n))


def test_off_topic_rows_prefer_the_prompts_own_answer_over_another_prompts_of_the_same_split():
    answers = {p: a for source in ("self_instruct_seed", "hh_helpful") for p, a in _answers(SHARED, source)}
    owner = {}
    for source in ("self_instruct_seed", "hh_helpful"):
        for p, a in _answers(SHARED, source):
            owner.setdefault(a, set()).add(p)
    ds = off_topic_pairs(SHARED, seed=3)
    assert len(ds) > 0
    for r in ds:
        assert r["response"] == answers[r["prompt"]] and r["rejected"] != r["response"]
        assert r["split"] == prompt_split(r["prompt"])
        # the rejected answer was written for another prompt, of the same split
        assert all(q != r["prompt"] and prompt_split(q) == r["split"] for q in owner[r["rejected"]])
    assert set(np.asarray(ds["meaningfulness"]).tolist()) == {1.0}
    assert set(np.asarray(ds["actionability"]).tolist()) == {1.0}
    assert "safety" not in ds.column_names  # the preference says nothing about harm
    validate_rows(ds, ["meaningfulness", "actionability"], "off_topic")
    assert off_topic_pairs(SHARED, seed=3)["rejected"] == ds["rejected"]  # seeded
    with pytest.raises(DataError, match="unknown source"):
        off_topic_pairs(SHARED, sources=["alpaca"])


def test_off_topic_ranking_pairs_are_the_rows_of_one_split():
    ds = off_topic_pairs(SHARED)
    total = 0
    for split in ("train", "validation", "test"):
        pairs = off_topic_ranking_pairs(SHARED, split=split)
        total += len(pairs)
        assert all(prompt_split(p["prompt"]) == split and p["better"] != p["worse"] for p in pairs)
    assert total == len(ds)
