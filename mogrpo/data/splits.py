"""One split by prompt for every component: a prompt held out anywhere is held out everywhere.

The reward data (``mogrpo.data.labelled``) and the GRPO prompt sets (``mogrpo.data.prompts``) read
some of the same sources (Do-Not-Answer's questions, Self-Instruct's seed tasks). Both place a
prompt by :func:`prompt_split`, a hash of its normalised text, so a question in the reward model's
test split is also in the GRPO held-out set, and no run tunes on what it reports on:

    u = sha256(salt + "\\0" + normalise(prompt)) / 2^256          in [0, 1)
    split = test        if u < test_fraction
            validation  if u < test_fraction + val_fraction
            train       otherwise

``normalise`` lower-cases and collapses white space, so the same question in two files lands in
the same split. The split depends on nothing but the text, the fractions and the salt (not on the
other rows, the file order or a seed), so it is stable when a source grows.
"""

from __future__ import annotations

import hashlib
import re

SPLITS = ("train", "validation", "test")
#: the default fractions of every source split by prompt (the GRPO held-out set = the test split)
TEST_FRACTION = 0.2
VAL_FRACTION = 0.1
SALT = "mogrpo-v1"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().lower()


def unit_hash(text: str, salt: str = SALT) -> float:
    """A uniform number in [0, 1) from ``text`` (normalised) and ``salt``."""
    digest = hashlib.sha256(f"{salt}\0{normalise(text)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def prompt_split(
    text: str, test_fraction: float = TEST_FRACTION, val_fraction: float = VAL_FRACTION, salt: str = SALT
) -> str:
    """``train`` / ``validation`` / ``test`` for a prompt (see the module docstring)."""
    if not (0 <= test_fraction and 0 <= val_fraction and test_fraction + val_fraction < 1):
        raise ValueError(f"need 0 <= fractions and test + val < 1, got test={test_fraction}, val={val_fraction}")
    u = unit_hash(text, salt)
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "validation"
    return "train"
