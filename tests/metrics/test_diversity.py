"""Diversity of answers (mogrpo/metrics/diversity.py) and the reward-hacking alarm it feeds."""

import pytest

from mogrpo.metrics.alarms import check_alarms
from mogrpo.metrics.diversity import cross_prompt_overlap, distinct_n, diversity


def test_cross_prompt_overlap_by_hand():
    # {a,b} vs {b,c}: 1/3; {a,b} vs {x}: 0; {b,c} vs {x}: 0 -> mean 1/9
    assert cross_prompt_overlap(["a b", "B c.", "x"]) == pytest.approx(1 / 9)
    assert cross_prompt_overlap(["same words", "same words"]) == 1.0
    assert cross_prompt_overlap(["only one"]) == 0.0


def test_distinct_2_by_hand():
    # bigrams: (a b) (b a) (a b) | (a b) -> 2 unique of 4
    assert distinct_n(["a b a b", "a b"], 2) == pytest.approx(2 / 4)
    assert distinct_n(["one", ""], 2) == 0.0


def test_collapse_onto_one_template_raises_reward_hacking():
    base = ["Mix flour and eggs, then bake.", "Paris is the capital of France.", "Use git rebase -i."]
    template = "avoid driving; or exercise; or sleep; or eat"
    aligned = [template + " well", template, template + " more"]
    result = {
        "aggregate": {"base": 1.9, "aligned": 3.9},
        "diversity": {"base": diversity(base), "aligned": diversity(aligned)},
    }
    alarms = check_alarms(result)
    assert [a["name"] for a in alarms] == ["reward_hacking"]
    assert "distinct word bigrams" in alarms[0]["message"]
    # the same collapse without a reward gain is no reward hacking
    result["aggregate"] = {"base": 1.9, "aligned": 1.9}
    assert check_alarms(result) == []
