"""Benign GRPO prompts that *sound* harmful: the contrast a refusal reward needs against over-refusal.

A refusal reward (``grpo/shaping=refusal``) pays the policy to refuse adversarial prompts and to
answer benign ones. When no benign train prompt shares a word with the harmful ones, the cheapest
rule the policy can learn is "refuse when a risky word appears" (measured in the sixth sweep: arm w
refused "How can I kill a Python process?", and XSTest's safe prompts went 1 % -> 61 % refused).
These loaders give benign prompts with those words, from real data that is not XSTest (XSTest stays
evaluation-only). Both are ``benign`` and return the prompt dicts of
:mod:`mogrpo.data.prompt_sources` (``make_prompt``):

- ``hh_helpful_sensitive`` [README 8]: the first Human turn of HH-RLHF helpful-base (the helpfulness
  collection, not the red-teaming one), kept when it holds a word of :data:`SENSITIVE_WORDS` ("How do
  I kill weeds?", "How do you store a gun safely?", "What caused world war 2?"): 109 distinct prompts.
  The first turn only, as a single-turn prompt: its split is ``prompt_split`` of that text, the split
  the reward data gives the same prompt when the transcript has one Human turn. Prompts matching
  :data:`EXCLUDED` are dropped: read by hand, "How can I dispose of a dead body?" is the one of the
  110 distinct matches that asks for something a safe assistant should not simply answer.
- ``safetext_scenarios`` [README 12]: each SafeText scenario ("If you're being chased by a hungry
  animal,") as a question (:data:`SAFETEXT_QUESTION`: "..., what should I do?"): 367 prompts about
  physical risk that deserve the safe advice, not a refusal. Split = ``prompt_split(scenario)``, the
  split of the scenario's reward rows (:mod:`mogrpo.data.safetext`), so no held-out scenario is
  trained on by either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from mogrpo.data.messages import user_message
from mogrpo.data.splits import prompt_split
from mogrpo.utils.io import read_json_lines

HH_HELPFUL_FILE = "hh-rlhf/helpful-base/test.jsonl.gz"
SAFETEXT_QUESTION = "{scenario} what should I do?"

#: words that a harmful request also uses (violence, weapons, drugs, crime, hazards), whole words,
#: case-insensitive
SENSITIVE_WORDS = re.compile(
    r"\b(kill\w*|shoot\w*|murder\w*|steal\w*|attack\w*|weapons?|guns?|knife|knives|bomb\w*|explo\w*"
    r"|poison\w*|drugs?|hack\w*|die|dies|dying|death|dead|destroy\w*|fight\w*|blow\w* up|crack\w*"
    r"|execut\w*|terminat\w*|beat\w*|punch\w*|burn\w*|smok\w*|weed|alcohol|drunk|medication|pills?"
    r"|blood|violen\w*|war|crimes?|criminal|illegal|police|prison|jail|steroids?|gambl\w*|fire"
    r"|hunt\w*|traps?|robb\w*|cheat\w*|lie|lying|lock ?pick\w*|sex\w*|nude|naked|abuse|dangerous"
    r"|toxic|chemicals?)\b",
    re.IGNORECASE,
)
#: prompts of the helpfulness collection that still ask for something a safe assistant refuses
EXCLUDED = re.compile(r"\bdead body\b", re.IGNORECASE)


def first_human_turn(transcript: str) -> str:
    """The text of the first ``Human:`` turn of an HH-RLHF transcript (stripped; "" if none), by the reward
    data's own parser (:func:`mogrpo.data.preference_pairs.turns`)."""
    from mogrpo.data.preference_pairs import turns  # imports datasets: only when HH is read

    return next((text for speaker, text in turns(transcript) if speaker == "Human"), "")


def is_sensitive(text: str) -> bool:
    """Whether ``text`` holds a word of :data:`SENSITIVE_WORDS` and none of :data:`EXCLUDED`."""
    return bool(SENSITIVE_WORDS.search(text)) and not EXCLUDED.search(text)


def hh_helpful_sensitive(root: str | Path) -> list[dict]:
    """HH-RLHF helpful-base first Human turns that :func:`is_sensitive` keeps: ``benign``, category
    ``sensitive_word``, id ``hh_helpful-<line>``; deduplicated (the first line kept)."""
    from mogrpo.data.prompt_sources import _shared_file, _text, dedupe, make_prompt  # no cycle at import

    path = _shared_file(root, HH_HELPFUL_FILE)
    out = []
    for line, row in read_json_lines(path, with_line_numbers=True):
        _text(row.get("chosen"), path, line, "chosen")  # a DataError when it is no text
        text = first_human_turn(row["chosen"])  # unstripped: the parser needs the leading "\n\nHuman:"
        if text and is_sensitive(text):
            out.append(
                make_prompt(
                    "hh_helpful_sensitive",
                    f"hh_helpful-{line}",
                    user_message(text),
                    "benign",
                    "sensitive_word",
                )
            )
    return dedupe(out)


def safetext_scenarios(root: str | Path, question: str = SAFETEXT_QUESTION) -> list[dict]:
    """Every SafeText scenario as ``question.format(scenario=...)``: ``benign``, category
    ``physical_safety``, split ``prompt_split(scenario)``."""
    from mogrpo.data.prompt_sources import dedupe, make_prompt
    from mogrpo.data.safetext import read_scenarios

    out = []
    for row, (scenario, _safe, _unsafe) in enumerate(read_scenarios(root), start=1):
        text = question.format(scenario=scenario.strip())
        out.append(
            make_prompt(
                "safetext_scenarios",
                f"safetext-{row}",
                user_message(text),
                "benign",
                "physical_safety",
                prompt_split(scenario),
            )
        )
    return dedupe(out)


#: the loaders by name; :data:`mogrpo.data.prompt_sources.SOURCES` holds them too
SOURCES: dict[str, Callable[..., list[dict]]] = {
    "hh_helpful_sensitive": hh_helpful_sensitive,
    "safetext_scenarios": safetext_scenarios,
}
