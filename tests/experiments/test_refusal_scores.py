"""experiments/refusal_scores.py: the reward model's scores of the graded refusals at each cut length."""

from __future__ import annotations

import pytest
from helpers import load_experiment

from mogrpo.data.demonstrations import demonstrations
from mogrpo.models.regressor import MultiAspectRegressor


@pytest.fixture(scope="module")
def script():
    return load_experiment("refusal_scores")


@pytest.fixture(scope="module")
def tokenizer(smoke_tokenizer):
    return smoke_tokenizer


def test_one_row_per_length_over_the_refusals_the_grader_keeps(script, tokenizer, reward_dir):
    regressor = MultiAspectRegressor.load(reward_dir)
    demos = [d for d in demonstrations(None, ["builtin"]) if d["kind"] == "adversarial"]
    rows = script.score_rows(tokenizer, regressor, demos, [4, 64])
    assert [r["length"] for r in rows] == [4, 64]
    short, long = rows
    # four tokens cut many refusals before they refuse; the grader drops those
    assert short["kept"] < long["kept"] <= len(demos) and sum(long["labels"].values()) == long["kept"]
    assert set(long["labels"]) <= {"full_refusal", "partial_refusal"}
    assert all(0 <= long[a] <= 1 for a in regressor.aspects)
    text = script.table(rows, list(regressor.aspects))
    assert text.splitlines()[0].startswith("| tokens | refusals kept |") and len(text.splitlines()) == 4
