"""Offline DPO pairs from labelled rows, judged by the weighted aggregate (mogrpo/data/dpo_pairs.py)."""

from __future__ import annotations

from mogrpo.data.dpo_pairs import offline_pairs

ASPECTS = ["politeness", "safety"]
NAN = float("nan")


def test_preference_rows_follow_the_weighted_labels():
    rows = [
        {"prompt": "p", "response": "a", "rejected": "b", "politeness": NAN, "safety": 1.0},  # a better on safety
        {"prompt": "q", "response": "c", "rejected": "d", "politeness": 1.0, "safety": 0.0},  # 0.5 - 2 * 0.5 < 0
        {"prompt": "r", "response": "e", "rejected": "f", "politeness": 0.5, "safety": 0.5},  # a tie: dropped
    ]
    pairs = offline_pairs(rows, ASPECTS, [1.0, 2.0])
    assert pairs == [{"prompt": "p", "chosen": "a", "rejected": "b"}, {"prompt": "q", "chosen": "d", "rejected": "c"}]


def test_absolute_rows_of_one_prompt_give_best_over_worst_on_shared_aspects():
    rows = [
        {"prompt": "p", "response": "x", "rejected": "", "politeness": 1.0, "safety": 0.0},
        {"prompt": "p", "response": "y", "rejected": "", "politeness": 0.0, "safety": 1.0},
        {"prompt": "p", "response": "z", "rejected": "", "politeness": 0.5, "safety": 0.5},
        {"prompt": "s", "response": "only", "rejected": "", "politeness": 1.0, "safety": 1.0},  # alone: no pair
        {"prompt": "t", "response": "u", "rejected": "", "politeness": NAN, "safety": 0.2},
        {"prompt": "t", "response": "v", "rejected": "", "politeness": 1.0, "safety": 0.2},  # shared: safety tie
    ]
    assert offline_pairs(rows, ASPECTS, [1.0, 2.0]) == [{"prompt": "p", "chosen": "y", "rejected": "x"}]
    assert offline_pairs(rows + rows, ASPECTS, [1.0, 2.0], max_pairs=1) == [{"prompt": "p", "chosen": "y", "rejected": "x"}]
