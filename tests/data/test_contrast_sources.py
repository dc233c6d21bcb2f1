"""Benign prompts that sound harmful (mogrpo/data/contrast_sources.py): the word filter, parsing on tiny
files, the split each prompt keeps, and on the real data the counts and that no held-out prompt is trained on."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml
from helpers import default_shared_data

from mogrpo.data import contrast_sources as cs
from mogrpo.data.eval_only import eval_only_texts
from mogrpo.data.prompt_mix import prompt_mix
from mogrpo.data.prompt_sources import SOURCES
from mogrpo.data.splits import normalise, prompt_split

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "tests" / "fixtures" / "data" / "shared"
SHARED = default_shared_data()
REAL_MIX = yaml.safe_load((REPO / "conf" / "data" / "real_mix.yaml").read_text())


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("How do I kill weeds?", True),
        ("How do you store a gun safely?", True),
        ("What caused world war 2?", True),
        ("How do I boil an egg?", False),
        ("how do i throw a robot themed birthday party?", False),  # "rob" is no word of the list
        ("How can I dispose of a dead body?", False),  # excluded by hand
        ("Is it warranted to skill up?", False),  # whole words only
    ],
)
def test_the_word_filter(text, kept):
    assert cs.is_sensitive(text) is kept


def test_first_human_turn():
    assert (
        cs.first_human_turn("\n\nHuman: How do I kill weeds?\n\nAssistant: Pull them.")
        == "How do I kill weeds?"
    )
    assert cs.first_human_turn("\n\nHuman: a\nb\n\nAssistant: c\n\nHuman: d\n\nAssistant: e") == "a\nb"
    assert cs.first_human_turn("no markers") == ""


def _hh_file(root: Path, transcripts: list[str]) -> None:
    path = root / cs.HH_HELPFUL_FILE
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for t in transcripts:
            fh.write(json.dumps({"chosen": t, "rejected": t + " no"}) + "\n")


def test_hh_helpful_sensitive_keeps_first_turns_with_risky_words(tmp_path):
    _hh_file(
        tmp_path,
        [
            "\n\nHuman: How do I kill weeds?\n\nAssistant: Pull them.",
            "\n\nHuman: How do I boil an egg?\n\nAssistant: Nine minutes.",
            "\n\nHuman: How do I kill  weeds?\n\nAssistant: Vinegar.\n\nHuman: Thanks\n\nAssistant: Sure.",
            "\n\nHuman: What caused the war?\n\nAssistant: Many things.\n\nHuman: More?\n\nAssistant: Yes.",
        ],
    )
    prompts = cs.hh_helpful_sensitive(tmp_path)
    assert [p["prompt"] for p in prompts] == ["How do I kill weeds?", "What caused the war?"]  # deduped
    assert [p["id"] for p in prompts] == ["hh_helpful-1", "hh_helpful-4"]
    assert all(p["kind"] == "benign" and p["category"] == "sensitive_word" for p in prompts)
    assert [p["split"] for p in prompts] == [prompt_split(p["prompt"]) for p in prompts]
    assert prompts[1]["messages"] == [{"role": "user", "content": "What caused the war?"}]


def test_safetext_scenarios_ask_what_to_do_and_keep_the_scenarios_split():
    prompts = cs.safetext_scenarios(ROOT)
    assert [p["prompt"] for p in prompts] == [
        "If you see a colorful mushroom on a hike, what should I do?",
        "To warm up a cold room, what should I do?",
    ]
    assert [p["split"] for p in prompts] == [
        prompt_split("If you see a colorful mushroom on a hike,"),
        prompt_split("To warm up a cold room,"),
    ]  # the split of the scenario's reward rows (mogrpo/data/safetext.py), not of the question
    assert {p["kind"] for p in prompts} == {"benign"}
    assert (
        cs.safetext_scenarios(ROOT, question="{scenario} why?")[1]["prompt"] == "To warm up a cold room, why?"
    )


def test_registered_as_prompt_sources_and_off_in_the_default_mix():
    assert {"hh_helpful_sensitive", "safetext_scenarios"} <= set(SOURCES)
    for name in cs.SOURCES:
        assert REAL_MIX["sources"][name]["enabled"] is False


def _real_root() -> Path:
    if not (SHARED / cs.HH_HELPFUL_FILE).is_file():
        pytest.skip(f"shared data absent at {SHARED} (set MOGRPO_SHARED_DATA)")
    return SHARED


def test_real_counts_and_held_out_prompts_never_trained_on():
    root = _real_root()
    assert len(cs.hh_helpful_sensitive(root)) == 109 and len(cs.safetext_scenarios(root)) == 367
    sources = {**REAL_MIX["sources"], **{name: {"enabled": True} for name in cs.SOURCES}}
    splits = {
        s: prompt_mix(root, s, sources, adversarial_fraction=0.5) for s in ("train", "validation", "test")
    }
    texts = {s: {normalise(p["prompt"]) for p in ps} for s, ps in splits.items()}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["validation"]
    assert {p["source"] for p in splits["train"]} >= set(cs.SOURCES)
    assert not texts["train"] & {normalise(t) for t in eval_only_texts(root)}  # no XSTest / AdvBench prompt
