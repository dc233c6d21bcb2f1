"""The builtin data shipped in the package (``mogrpo/data/builtin``): fast checks, no model loading."""

from __future__ import annotations

import json
import numbers
from collections import Counter
from pathlib import Path

import pytest

import mogrpo

BUILTIN = Path(mogrpo.__file__).resolve().parent / "data" / "builtin"
ASPECTS = ("politeness", "meaningfulness", "actionability", "safety")
STYLES = (
    "helpful",
    "polite_refusal_with_alternative",
    "curt_refusal",
    "rude",
    "harmful_compliance",
    "off_topic",
    "empty_or_minimal",
    "partial",
    "policy_lecture",
)
SMOLLM_SOURCE = "smollm2-135m-instruct"


def _read(name: str) -> list[dict]:
    path = BUILTIN / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def prompts() -> list[dict]:
    return _read("prompts.jsonl")


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return _read("aspect_labelled.jsonl")


def test_files_ship_with_the_package():
    for name in ("prompts.jsonl", "aspect_labelled.jsonl", "DATA_CARD.md"):
        assert (BUILTIN / name).is_file(), name


def test_prompt_counts_and_fields(prompts):
    assert len(prompts) >= 450
    ids = [p["id"] for p in prompts]
    assert len(set(ids)) == len(ids), "prompt ids must be unique"
    texts = [p["prompt"].strip().lower() for p in prompts]
    assert len(set(texts)) == len(texts), "prompt texts must be unique"
    for p in prompts:
        assert isinstance(p["prompt"], str) and p["prompt"].strip(), p["id"]
        assert len(p["prompt"].split()) <= 60, p["id"]
        assert p["kind"] in ("adversarial", "benign"), p["id"]
        assert p["split"] in ("train", "heldout"), p["id"]
        assert isinstance(p["category"], str) and p["category"], p["id"]


def test_prompt_mix_and_heldout_split(prompts):
    kinds = Counter(p["kind"] for p in prompts)
    assert 0.5 <= kinds["adversarial"] / len(prompts) <= 0.7
    heldout = [p for p in prompts if p["split"] == "heldout"]
    assert len(heldout) >= 150
    assert {p["kind"] for p in heldout} == {"adversarial", "benign"}
    # every category is represented in both splits
    for split in ("train", "heldout"):
        assert {p["category"] for p in prompts if p["split"] == split} == {p["category"] for p in prompts}


def test_labelled_counts(rows):
    assert len(rows) >= 650
    sources = Counter(r["source"] for r in rows)
    assert sources[SMOLLM_SOURCE] >= 220
    assert set(sources) <= {"written", SMOLLM_SOURCE}


def test_labelled_ids_texts_and_scores(rows):
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids), "row ids must be unique"
    for r in rows:
        assert isinstance(r["prompt"], str) and r["prompt"].strip(), r["id"]
        # the package loader rejects blank responses, so none ship
        assert isinstance(r["response"], str) and r["response"].strip(), r["id"]
        for a in ASPECTS:
            assert a in r, (r["id"], a)
            v = r[a]
            assert v is None or (
                isinstance(v, numbers.Real) and not isinstance(v, bool) and 0.0 <= v <= 1.0
            ), (
                r["id"],
                a,
                v,
            )
        assert any(r[a] is not None for a in ASPECTS), f"{r['id']}: all four aspects are null"


def test_some_labels_are_missing_on_purpose(rows):
    with_null = sum(any(r[a] is None for a in ASPECTS) for r in rows)
    assert 0.04 <= with_null / len(rows) <= 0.15


def test_labelled_rows_use_train_prompts_only(prompts, rows):
    by_id = {p["id"]: p for p in prompts}
    for r in rows:
        assert r["prompt_id"] in by_id, r["id"]
        p = by_id[r["prompt_id"]]
        assert p["split"] == "train", f"{r['id']} uses heldout prompt {p['id']}"
        assert r["prompt"] == p["prompt"], r["id"]


def test_styles_cover_the_list_for_both_kinds(prompts, rows):
    by_id = {p["id"]: p for p in prompts}
    styles = Counter(r["style"] for r in rows)
    for s in STYLES:
        assert styles[s] > 0, f"style {s} never appears"
    kinds_of_style = {(r["style"], by_id[r["prompt_id"]]["kind"]) for r in rows}
    for kind in ("adversarial", "benign"):
        assert len({s for s, k in kinds_of_style if k == kind}) >= 7, kind
    smollm_kinds = {by_id[r["prompt_id"]]["kind"] for r in rows if r["source"] == SMOLLM_SOURCE}
    assert smollm_kinds == {"adversarial", "benign"}
