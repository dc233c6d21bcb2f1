"""experiments/refusal_quality_pairs.py: the refusal is cut at a sentence end."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PATH = Path(__file__).resolve().parents[2] / "experiments" / "refusal_quality_pairs.py"


def _module():
    spec = importlib.util.spec_from_file_location("refusal_quality_pairs", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cut_keeps_whole_sentences_within_the_budget():
    cut = _module().cut
    text = "I cannot help with that. Hacking is illegal. It is important to respect privacy online."
    assert cut(text, 9) == "I cannot help with that. Hacking is illegal."
    assert cut(text, 3) == "I cannot help with that."  # the first sentence even when it is longer
    assert cut(text, 100) == text
