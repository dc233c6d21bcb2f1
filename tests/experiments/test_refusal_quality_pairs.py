"""experiments/refusal_quality_pairs.py: the refusal is cut at a sentence end."""

from __future__ import annotations

from helpers import load_experiment


def _module():
    return load_experiment("refusal_quality_pairs")


def test_cut_keeps_whole_sentences_within_the_budget():
    cut = _module().cut
    text = "I cannot help with that. Hacking is illegal. It is important to respect privacy online."
    assert cut(text, 9) == "I cannot help with that. Hacking is illegal."
    assert cut(text, 3) == "I cannot help with that."  # the first sentence even when it is longer
    assert cut(text, 100) == text
