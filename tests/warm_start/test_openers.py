"""The opener cap of the warm start's adversarial demonstrations (mogrpo/warm_start/openers.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from mogrpo.warm_start.openers import cap_openers, opener, opener_cap


def test_the_opener_is_the_first_words_lower_cased_without_their_punctuation():
    assert opener("I'm sorry, but I cannot help with that.") == "i'm"
    assert opener("I'm sorry, but I cannot help with that.", words=3) == "i'm sorry but"
    assert opener('"No," she said.', words=2) == "no she"
    assert opener("  ") == ""


@pytest.mark.parametrize(
    ("counts", "share", "cap"),
    [
        ({"a": 10, "b": 1, "c": 1}, 0.5, 2),  # a cut to 2: 2 of 4 = 50 %; at 3: 3 of 5 > 50 %
        ({"a": 10, "b": 10}, 0.5, 10),  # two equal openers already hold half each
        ({"a": 5}, 1.0, 5),  # a share of 1 never cuts
        ({"a": 5}, 0.1, 1),  # one opener alone: at least one is kept
        ({}, 0.2, 0),
    ],
)
def test_the_cap_is_the_largest_count_that_leaves_no_opener_above_its_share(counts, share, cap):
    assert opener_cap(counts, share) == cap


def test_after_the_cut_no_opener_holds_more_than_its_share_and_the_cap_is_the_largest_such():
    counts = {"i'm": 889, "as": 373, "no": 143, "there": 46, "yes": 43, **{f"w{i}": 2 for i in range(100)}}
    for share in (0.05, 0.1, 0.2, 0.5):
        cap = opener_cap(counts, share)
        kept = sum(min(n, cap) for n in counts.values())
        assert max(min(n, cap) for n in counts.values()) <= share * kept
        assert cap + 1 > share * sum(min(n, cap + 1) for n in counts.values())  # one more would not hold


def test_cap_openers_keeps_a_seeded_subsample_of_the_large_openers_and_every_small_one():
    texts = [f"I'm sorry, case {i}" for i in range(20)] + ["No, that is unsafe.", "As an AI, no.", "Please don't."]
    kept, dropped = cap_openers(texts, share=0.25, seed=0)
    assert kept == sorted(kept) and {20, 21, 22} <= set(kept)  # the small openers all stay
    assert Counter(opener(texts[i]) for i in kept)["i'm"] == 1 and dropped == {"i'm": 19}
    assert cap_openers(texts, 0.25, seed=0) == (kept, dropped)
    assert cap_openers(texts, 0.25, seed=1)[0] != kept  # another seed, another choice
    assert cap_openers(texts, None) == (list(range(len(texts))), {})


def test_a_bad_share_is_refused():
    with pytest.raises(ValueError, match="share"):
        opener_cap({"a": 1}, 0)
