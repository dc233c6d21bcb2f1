"""Cap how many adversarial demonstrations may open the same way (``grpo.warm_start.max_opener_share``).

Safety-Tuned LLaMAs' refusals mostly start alike: of its 1,750 train-split responses, 740 open with
"I'm sorry, but" and 368 with "As an AI". A warm start on them makes those first tokens likely
everywhere, and the 135M policy then opens benign answers with them too (the tenth sweep's arm ai:
"As an AI language model, I do not have the ability to ..." on 18 % of the benign validation prompts).
Capping each opener's share keeps the refusals but spreads their first words, where there are words to
spread: the 1,311 responses that ``refusals_only`` keeps at 32 tokens open with "I'm" (883), "As" (357) and
"No" (41), so a share of 0.2 leaves 45 of them and 0.5 leaves 856 (README, "Recipe sweep, eleventh round").

The opener of a response is its first ``words`` words (:data:`OPENER_WORDS` by default), lower-cased, with
the punctuation around each word stripped. :func:`opener_cap` is the largest count ``c`` with
``c <= share * sum_o min(n_o, c)``: after every opener is cut to ``c`` demonstrations, none holds more
than ``share`` of what is left. :func:`cap_openers` keeps a seeded random ``c`` of each larger opener.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

#: words of a response that make its opener (the first: the token greedy decoding commits to first)
OPENER_WORDS = 1
_PUNCT = "\"'“”‘’.,;:!?()[]-–—*"


def opener(text: str, words: int = OPENER_WORDS) -> str:
    """The first ``words`` words of ``text``, lower-cased, surrounding punctuation stripped ("I'm sorry,
    but ..." -> "i'm sorry but")."""
    tokens = (w.strip(_PUNCT).lower() for w in text.split())
    return " ".join([w for w in tokens if w][:words])


def opener_cap(counts: Mapping[str, int], share: float) -> int:
    """The most demonstrations one opener may keep so that, after every opener is cut to it, none holds more
    than ``share`` of the rest: the largest ``c`` with ``c <= share * sum_o min(n_o, c)`` (at least 1)."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    sizes = sorted((int(n) for n in counts.values() if n > 0), reverse=True)
    if not sizes:
        return 0
    best = 1
    for c in range(1, sizes[0] + 1):  # kept(c) / c falls as c grows: the condition holds up to some c
        if c <= share * sum(min(n, c) for n in sizes):
            best = c
        else:
            break
    return best


def cap_openers(texts: Sequence[str], share: float | None, seed: int = 0, words: int = OPENER_WORDS
                ) -> tuple[list[int], dict[str, int]]:  # fmt: skip
    """``(kept, dropped)``: the indices of ``texts`` kept, in order, when each opener keeps at most
    :func:`opener_cap` of them (a seeded random choice within the opener), and the number dropped per
    opener. ``share=None`` keeps everything."""
    if share is None or not texts:
        return list(range(len(texts))), {}
    by_opener: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        by_opener.setdefault(opener(text, words), []).append(i)
    cap = opener_cap({key: len(idx) for key, idx in by_opener.items()}, share)
    keep: set[int] = set()
    dropped: dict[str, int] = {}
    for key, idx in by_opener.items():
        if len(idx) > cap:
            keep |= set(random.Random(f"{seed}/{key}").sample(idx, cap))
            dropped[key] = len(idx) - cap
        else:
            keep |= set(idx)
    return sorted(keep), dict(sorted(dropped.items(), key=lambda kv: -kv[1]))
