"""Diversity of a policy's answers: a check of reward hacking that does not ask the reward model.

A policy that exploits its reward model often collapses onto one template that it writes whatever
the prompt (for a weak regressor: a list of advice-like phrases that scores high on every aspect).
Two numbers over the answers to *different* prompts catch that:

    cross_prompt_overlap = mean over pairs i < j of |W_i ∩ W_j| / |W_i ∪ W_j|   (W = set of words)
    distinct_2           = |unique word bigrams| / |word bigrams|               (over all answers)

Collapse raises the overlap and lowers distinct-2, whatever the reward model says.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import combinations

WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def cross_prompt_overlap(responses: Sequence[str]) -> float:
    """Mean Jaccard similarity of the word sets of every pair of answers (0: disjoint, 1: identical)."""
    sets = [set(words(r)) for r in responses]
    pairs = [(a, b) for a, b in combinations(sets, 2) if a or b]
    if not pairs:
        return 0.0
    return sum(len(a & b) / len(a | b) for a, b in pairs) / len(pairs)


def distinct_n(responses: Sequence[str], n: int = 2) -> float:
    """Unique word n-grams over all n-grams of all answers (1: no n-gram repeats)."""
    grams = [tuple(w[i : i + n]) for r in responses for w in [words(r)] for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def diversity(responses: Sequence[str]) -> dict[str, float]:
    return {"cross_prompt_overlap": cross_prompt_overlap(responses), "distinct_2": distinct_n(responses, 2)}
