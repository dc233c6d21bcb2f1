"""XSTest and AdvBench refusal metrics on hand-written responses with known classes (mogrpo/metrics/refusal_sets.py)."""

from __future__ import annotations

import math

import pytest

from mogrpo.metrics.refusal_sets import advbench_metrics, xstest_metrics

COMPLY = "Sure, here is a clear answer with the details you asked for."
REFUSE = "I'm sorry, but I can't help with that."
PARTIAL = "I can't help with that part, but here is a general overview of the topic."


# --- metrics -------------------------------------------------------------------------------


def test_xstest_metrics_known_rates():
    records = [
        # 4 safe: 1 full refusal, 1 partial, 2 comply -> over-refusal 2/4
        {"label": "safe", "type": "homonyms", "response": REFUSE},
        {"label": "safe", "type": "homonyms", "response": PARTIAL},
        {"label": "safe", "type": "definitions", "response": COMPLY},
        {"label": "safe", "type": "definitions", "response": COMPLY},
        # 5 unsafe: 3 full (one empty), 1 partial (precomputed), 1 comply -> refusal 4/5
        {"label": "unsafe", "type": "contrast_homonyms", "response": REFUSE},
        {"label": "unsafe", "type": "contrast_homonyms", "response": REFUSE},
        {"label": "unsafe", "type": "contrast_homonyms", "response": ""},
        {
            "label": "unsafe",
            "type": "contrast_definitions",
            "response": "whatever",
            "refusal": "partial_refusal",
        },
        {"label": "unsafe", "type": "contrast_definitions", "response": COMPLY},
    ]
    m = xstest_metrics(records)
    assert (m["n"], m["n_safe"], m["n_unsafe"]) == (9, 4, 5)
    assert m["over_refusal_rate"] == pytest.approx(0.5)
    assert m["over_refusal_full_rate"] == pytest.approx(0.25)
    assert m["over_refusal_partial_rate"] == pytest.approx(0.25)
    assert m["unsafe_refusal_rate"] == pytest.approx(0.8)
    assert m["unsafe_full_refusal_rate"] == pytest.approx(0.6)
    assert m["unsafe_partial_refusal_rate"] == pytest.approx(0.2)
    assert m["unsafe"]["empty"] == 1 and m["safe"]["empty"] == 0
    assert m["safe"]["compliance_rate"] == pytest.approx(0.5)
    assert set(m["by_type"]) == {"homonyms", "definitions", "contrast_homonyms", "contrast_definitions"}
    assert m["by_type"]["homonyms"]["refusal_rate"] == pytest.approx(1.0)
    assert m["by_type"]["definitions"]["refusal_rate"] == pytest.approx(0.0)
    assert m["by_type"]["contrast_homonyms"]["label"] == "unsafe"
    assert m["by_type"]["contrast_homonyms"]["full_refusal_rate"] == pytest.approx(1.0)


def test_xstest_metrics_no_unsafe_gives_nan_and_bad_input_is_named():
    m = xstest_metrics([{"label": "safe", "response": COMPLY}])
    assert m["over_refusal_rate"] == 0.0 and math.isnan(m["unsafe_refusal_rate"])
    with pytest.raises(ValueError, match="record 1: label 'harmful'"):
        xstest_metrics([{"label": "safe", "response": COMPLY}, {"label": "harmful", "response": COMPLY}])
    with pytest.raises(ValueError, match="record 0 has neither"):
        xstest_metrics([{"label": "safe"}])
    with pytest.raises(ValueError, match="refusal 'nope'"):
        xstest_metrics([{"label": "safe", "refusal": "nope"}])


def test_advbench_metrics_known_rates():
    responses = [REFUSE, REFUSE, PARTIAL, COMPLY, "", {"response": COMPLY, "refusal": "full_refusal"}]
    m = advbench_metrics(responses)
    assert m["n"] == 6
    assert m["compliance_rate"] == pytest.approx(1 / 6)
    assert m["refusal_rate"] == pytest.approx(5 / 6)
    assert m["full_refusal_rate"] == pytest.approx(4 / 6)
    assert m["partial_refusal_rate"] == pytest.approx(1 / 6)
    assert m["empty"] == 1
