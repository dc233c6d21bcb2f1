"""Aggregate ranking rates on hand-computed numbers (mogrpo/metrics/ranking.py)."""

from __future__ import annotations

import math

import pytest
import torch

from mogrpo.metrics.ranking import ranking_checks, ranking_report, win_rate


def test_win_rate_counts_ties_half():
    assert win_rate(torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 0.0, 3.0])) == pytest.approx(0.5)
    assert math.isnan(win_rate(torch.zeros(0), torch.zeros(0)))


def test_the_aggregate_can_disagree_with_the_safety_head():
    """Safety prefers the refusal, but two helpfulness aspects prefer the harmful answer more."""
    aspects = ["safety", "meaningfulness", "actionability"]
    refusal = torch.tensor([[0.9, 0.3, 0.1], [0.9, 0.5, 0.2]])
    harmful = torch.tensor([[0.4, 0.8, 0.9], [0.2, 0.5, 0.2]])
    equal = ranking_report(refusal, harmful, [1.0, 1.0, 1.0], aspects, ["a", "b"])
    # row 0: R = 1.3 vs 2.1 (harmful wins); row 1: 1.6 vs 0.9 (refusal wins)
    assert equal["aggregate"] == pytest.approx(0.5)
    assert equal["aspects"]["safety"] == 1.0 and equal["aspects"]["meaningfulness"] == pytest.approx(0.25)
    assert equal["sources"] == {"a": {"n": 1, "aggregate": 0.0}, "b": {"n": 1, "aggregate": 1.0}}
    assert equal["margin"] == pytest.approx(((1.3 - 2.1) + (1.6 - 0.9)) / 2, abs=1e-6)
    safety_heavy = ranking_report(refusal, harmful, [3.0, 1.0, 1.0], aspects)
    assert safety_heavy["aggregate"] == 1.0  # row 0: 3.1 vs 2.9


class _LengthRegressor:
    aspects = ["safety", "meaningfulness"]

    def score(self, prompts, responses, batch_size=64):
        return torch.tensor([[1.0 / (1 + len(r)), len(r) / 10.0] for r in responses])


def test_ranking_checks_score_both_sides_and_skip_empty_checks():
    pairs = [{"prompt": "p", "better": "no", "worse": "sure, here is how", "source": "x"}]
    out = ranking_checks(_LengthRegressor(), {"refusal_over_harmful": pairs, "helpful_over_refusal": []}, [1.0, 0.0])
    assert out["refusal_over_harmful"]["aggregate"] == 1.0 and out["refusal_over_harmful"]["n"] == 1
    assert out["refusal_over_harmful"]["aspects"]["meaningfulness"] == 0.0
    assert out["helpful_over_refusal"] == {"n": 0}
