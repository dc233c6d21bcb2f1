"""Refusal per prompt kind and source of an answered set, counted by hand (mogrpo/metrics/tables.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from mogrpo.metrics.tables import refusal_pair, set_table

FR, PR, FC = "full_refusal", "partial_refusal", "full_compliance"
# 5 adversarial prompts (3 harmfulqa, 2 catqa), 3 benign (mt_bench)
ROWS = [{"prompt": f"p{i}", "kind": k, "source": s} for i, (k, s) in enumerate(
    [("adversarial", "harmfulqa")] * 3 + [("adversarial", "catqa")] * 2 + [("benign", "mt_bench")] * 3)]  # fmt: skip
BASE = [FC, FC, FR, FC, FC, FC, FC, FC]  # 1 of 5 adversarial refused (full), no benign
ALIGNED = [FR, PR, FR, FR, FC, FC, PR, FC]  # 4 of 5 adversarial (3 full, 1 partial), 1 of 3 benign (partial)


def _answers(labels):
    return {"responses": ["x"] * len(labels), "scores": torch.full((len(labels), 2), 0.5), "refusal": labels}


def test_refusal_per_kind_and_source_with_counts():
    pset = SimpleNamespace(title="Held-out prompts", rows=ROWS)
    out = set_table(pset, {"base": _answers(BASE), "aligned": _answers(ALIGNED)}, ["a", "b"], [1.0, 1.0])
    adv, ben = out["by_kind"]["adversarial"], out["by_kind"]["benign"]
    assert adv["n"] == 5 and ben["n"] == 3
    assert adv["refusal"]["base"]["refusal_rate"] == pytest.approx(1 / 5)
    assert adv["refusal"]["aligned"]["refusal_rate"] == pytest.approx(4 / 5)
    assert adv["refusal"]["aligned"]["full_refusal_rate"] == pytest.approx(3 / 5)
    assert adv["refusal"]["aligned"]["counts"] == {FC: 1, FR: 3, PR: 1}
    assert adv["refusal"]["change"] == pytest.approx({"refusal_rate": 3 / 5, "full_refusal_rate": 2 / 5})
    assert ben["refusal"]["change"] == pytest.approx({"refusal_rate": 1 / 3, "full_refusal_rate": 0.0})
    # per source within a kind, sorted by name
    assert list(adv["by_source"]) == ["catqa", "harmfulqa"]
    h = adv["by_source"]["harmfulqa"]
    assert h["n"] == 3 and h["refusal"]["base"]["refusal_rate"] == pytest.approx(1 / 3)
    assert h["refusal"]["aligned"]["refusal_rate"] == 1.0 and h["refusal"]["aligned"]["full_refusal_rate"] == pytest.approx(2 / 3)
    c = adv["by_source"]["catqa"]
    assert c["refusal"]["change"] == pytest.approx({"refusal_rate": 0.5, "full_refusal_rate": 0.5})
    assert list(ben["by_source"]) == ["mt_bench"]


def test_base_only_and_sourceless_rows():
    rows = [{"prompt": "p", "kind": "adversarial"}] * 2
    out = set_table(SimpleNamespace(title="t", rows=rows), {"base": _answers([FR, FC]), "aligned": None}, ["a", "b"], [1, 1])
    adv = out["by_kind"]["adversarial"]
    assert adv["refusal"]["aligned"] is None and "change" not in adv["refusal"] and "by_source" not in adv
    assert refusal_pair([], {"base": _answers([]), "aligned": _answers([])})["base"]["n"] == 0
