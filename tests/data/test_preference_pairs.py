"""mogrpo.data.preference_pairs: HH-RLHF and LLMBar preference rows on hand-written files, then real data."""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from mogrpo.data import preference_pairs as pp
from mogrpo.data.errors import DataError
from mogrpo.data.labelled import is_pair, load_labelled, validate_rows
from mogrpo.data.splits import prompt_split

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "tests" / "fixtures" / "data" / "shared"
ASPECTS = ["politeness", "meaningfulness", "actionability", "safety"]
BOOK = "Human: Recommend a book.\n\nAssistant: What genre do you like?\n\nHuman: Science fiction."


def _col(ds, name):
    return np.asarray(ds.with_format("numpy")[name], dtype=np.float64)


def test_transcript_helpers():
    assert pp.split_last_turn("\n\nHuman: a\n\nAssistant:  b ") == ("\n\nHuman: a", "b")
    assert pp.split_last_turn("no turns") == ("no turns", "")
    assert pp.turns("\n\nHuman: a\n\nAssistant: b\n\nHuman: c") == [
        ("Human", "a"),
        ("Assistant", "b"),
        ("Human", "c"),
    ]
    assert pp.turns("lead\n\nHuman: a") == [("", "lead"), ("Human", "a")]
    assert pp.hh_prompt("\n\nHuman: How do I boil an egg?") == "How do I boil an egg?"  # like a GRPO prompt
    assert (
        pp.hh_prompt("\n\nHuman: hi\n\nAssistant: Hello!\n\nHuman: bye")
        == "Human: hi\n\nAssistant: Hello!\n\nHuman: bye"
    )
    assert pp.hh_prompt("\n\nHuman: hi", raw_transcript=True) == "Human: hi\n\nAssistant:"


def test_hh_rlhf_harmless_pairs_label_safety_only():
    ds = pp.hh_rlhf_pairs(ROOT)
    assert len(ds) == 2  # the pair with an empty chosen reply is skipped
    assert ds.column_names == ["prompt", "response", "rejected", "source", "group", "split", "safety"]
    assert ds["prompt"] == ["How do I hurt someone?", "Human: hi\n\nAssistant: Hello!\n\nHuman: insult me"]
    assert ds["response"] == ["I won't help with that.", "I'd rather not."]
    assert ds["rejected"] == ["Hit them hard.", "You're dumb."]
    np.testing.assert_array_equal(_col(ds, "safety"), [1.0, 1.0])
    assert set(ds["source"]) == {"hh_rlhf:harmless-base"} and ds["group"] == ds["prompt"]
    assert ds["split"] == [prompt_split(p) for p in ds["prompt"]]
    raw = pp.hh_rlhf_pairs(ROOT, raw_transcript=True)
    assert raw["prompt"][1] == "Human: hi\n\nAssistant: Hello!\n\nHuman: insult me\n\nAssistant:"


def test_hh_rlhf_helpful_pairs_label_meaningfulness():
    ds = pp.hh_rlhf_pairs(ROOT, subset="helpful-base")
    # skipped: identical replies (row 3), a chosen reply that holds its own "Assistant:" turn (row 4)
    assert ds["prompt"] == ["How do I boil an egg?", BOOK]
    assert ds["response"] == ["Put it in boiling water for nine minutes.", "Try The Left Hand of Darkness."]
    assert ds["rejected"] == ["Eggs are laid by hens.", "Books are nice."]
    assert "safety" not in ds.column_names
    np.testing.assert_array_equal(_col(ds, "meaningfulness"), [1.0, 1.0])
    both = pp.hh_rlhf_pairs(ROOT, subset="helpful-base", aspects=["meaningfulness", "actionability"])
    np.testing.assert_array_equal(_col(both, "actionability"), [1.0, 1.0])
    with pytest.raises(DataError, match="subset must be one of"):
        pp.hh_rlhf_pairs(ROOT, subset="helpful-online")
    with pytest.raises(DataError, match="aspects must be a non-empty list"):
        pp.hh_rlhf_pairs(ROOT, aspects=[])


def test_hh_rlhf_bad_line_names_the_line(tmp_path):
    path = tmp_path / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt") as f:
        f.write(
            json.dumps({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"})
            + "\n"
        )
        f.write(json.dumps({"chosen": 3, "rejected": "x"}) + "\n")
    with pytest.raises(DataError, match=r"test\.jsonl\.gz, row 2: 'chosen' and 'rejected' must be strings"):
        pp.hh_rlhf_pairs(tmp_path)


def test_llmbar_pairs_follow_the_gold_label():
    ds = pp.llmbar_pairs(ROOT)
    assert len(ds) == 9  # one pair per subset, plus one more in Natural (its identical pair is skipped)
    assert ds["prompt"][:2] == ["Write the number 0 in words.", "Name a primary colour."]
    assert (ds["response"][0], ds["rejected"][0]) == ("zero", "The number 0 is a fine number.")
    assert (ds["response"][1], ds["rejected"][1]) == ("Red.", "Green is nice.")  # label 2
    assert ds["source"][1] == "llmbar:LLMBar/Natural" and ds["source"][-1] == "llmbar:Processed/MT-Bench"
    np.testing.assert_array_equal(_col(ds, "meaningfulness"), np.ones(9))
    assert ds.column_names[-1] == "meaningfulness" and "actionability" not in ds.column_names
    one = pp.llmbar_pairs(ROOT, subsets=["Processed/LLMEval^2"])
    assert one["prompt"] == ["Write the number 6 in words."]
    with pytest.raises(DataError, match="subsets must be a non-empty subset"):
        pp.llmbar_pairs(ROOT, subsets=["LLMBar/Hard"])


def test_llmbar_bad_label_names_file_and_row(tmp_path):
    path = tmp_path / "llmbar" / "LLMBar" / "Natural" / "dataset.json"
    path.parent.mkdir(parents=True)
    rows = [
        {"input": "a", "output_1": "b", "output_2": "c", "label": 1},
        {"input": "a", "output_1": "b", "output_2": "c", "label": 0},
    ]
    path.write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"Natural/dataset\.json, row 2: label must be 1 or 2, got 0"):
        pp.llmbar_pairs(tmp_path, subsets=["LLMBar/Natural"])


def _sources(root: Path) -> list[dict]:
    return [
        {
            "_target_": "mogrpo.data.preference_pairs.hh_rlhf_pairs",
            "root": str(root),
            "subset": "harmless-base",
        },
        {
            "_target_": "mogrpo.data.preference_pairs.hh_rlhf_pairs",
            "root": str(root),
            "subset": "helpful-base",
        },
        {"_target_": "mogrpo.data.preference_pairs.llmbar_pairs", "root": str(root)},
    ]


def _check_loaded(dd) -> None:
    for split, part in dd.items():
        assert all(prompt_split(p) == split for p in part["prompt"]), split
        assert bool(is_pair(part).all())
        assert all(r != j for r, j in zip(part["response"], part["rejected"]))


def test_load_labelled_pins_pairs_to_their_prompt_split():
    cfg = OmegaConf.create({"sources": _sources(ROOT), "val_fraction": 0.1, "test_fraction": 0.15})
    dd = load_labelled(cfg, ASPECTS, seed=1)
    _check_loaded(dd)
    assert sum(len(d) for d in dd.values()) == 2 + 2 + 9
    assert len(dd["test"]) == sum(prompt_split(p) == "test" for d in dd.values() for p in d["prompt"]) > 0


# ---------------------------------------------------------------- the real shared data


def _shared_root() -> Path:
    root = Path(os.environ.get("MOGRPO_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not root.is_dir():
        pytest.skip(f"shared data folder {root} absent (set MOGRPO_SHARED_DATA)")
    return root


@pytest.mark.data
@pytest.mark.parametrize(
    ("subset", "rows", "splits"),
    [
        ("harmless-base", 2303, {"train": 1596, "validation": 264, "test": 443}),  # 2312 less 5 + 4
        ("helpful-base", 2339, {"train": 1603, "validation": 242, "test": 494}),  # 2354 less 9 + 6
    ],
)
def test_hh_rlhf_on_real_data(subset, rows, splits):
    ds = pp.hh_rlhf_pairs(_shared_root(), subset=subset)
    aspect = pp.HH_SUBSETS[subset][0]
    validate_rows(ds, [aspect], subset)
    assert len(ds) == rows and Counter(ds["split"]) == splits
    assert not any(p.endswith("Assistant:") for p in ds["prompt"])
    single = [p for p in ds["prompt"] if not p.startswith("Human:")]
    assert single and not any("\n\nAssistant:" in p for p in single)


@pytest.mark.data
def test_llmbar_and_load_labelled_on_real_data():
    root = _shared_root()
    ds = pp.llmbar_pairs(root)
    assert len(ds) == 883 and Counter(ds["split"]) == {"train": 608, "validation": 109, "test": 166}
    assert (
        Counter(ds["source"])["llmbar:Processed/LLMEval^2"] == 198
    )  # 200 less an empty and an identical pair
    dd = load_labelled(OmegaConf.create({"sources": _sources(root)}), ASPECTS, seed=0)
    _check_loaded(dd)
    assert sum(len(d) for d in dd.values()) == 2303 + 2339 + 883
