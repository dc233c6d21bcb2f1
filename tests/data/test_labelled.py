"""mogrpo.data.labelled: row checks, schema, load_labelled's cap and grouped deterministic split."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import datasets
import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import mogrpo.utils.resolvers  # noqa: F401  (registers ${mogrpo.project_root:})
from mogrpo.data.builtin import builtin_labelled, builtin_path
from mogrpo.data.errors import DataError
from mogrpo.data.labelled import (
    SPLITS,
    aspect_coverage,
    columns,
    load_labelled,
    split_by_group,
    validate_rows,
)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "data"
NAN = float("nan")


def _ds(prompts, responses, **scores) -> datasets.Dataset:
    return datasets.Dataset.from_dict({"prompt": prompts, "response": responses, **scores})


# ---------------------------------------------------------------- validate_rows


def test_validate_rows_accepts_nan_as_missing():
    ds = _ds(["p1", "p2"], ["r1", "r2"], safety=[1.0, NAN], politeness=[NAN, 0.0])
    validate_rows(ds, ["safety", "politeness"], "mem")  # no error


def test_validate_rows_names_file_and_row_of_out_of_range_score():
    path = FIXTURES / "labelled" / "bad_score.jsonl"
    with pytest.raises(DataError) as err:
        builtin_labelled(path)  # reads the jsonl and runs validate_rows with the file as source
    msg = str(err.value)
    assert "bad_score.jsonl" in msg and "row 2" in msg and "safety = 1.3" in msg
    assert err.value.row == 2


def test_validate_rows_empty_response_names_row():
    ds = _ds(["a", "b", "c"], ["x", "y", "   "], safety=[1.0, 0.0, 0.5])
    with pytest.raises(DataError, match=r"my_source, row 3: empty response"):
        validate_rows(ds, ["safety"], "my_source")


def test_validate_rows_empty_prompt_and_negative_score_report_first_bad_row():
    ds = _ds(["a", "", "c"], ["x", "y", "z"], safety=[-0.1, 0.5, 0.5])
    with pytest.raises(DataError) as err:
        validate_rows(ds, ["safety"], "src")
    assert "row 1" in str(err.value) and "safety = -0.1" in str(err.value)
    assert "2 bad rows" in str(err.value)


def test_validate_rows_all_aspects_missing():
    ds = _ds(["a", "b"], ["x", "y"], safety=[1.0, NAN], politeness=[0.5, None])
    with pytest.raises(DataError, match=r"src, row 2: all aspects \['safety', 'politeness'\] are missing"):
        validate_rows(ds, ["safety", "politeness"], "src")


def test_validate_rows_missing_column():
    ds = _ds(["a"], ["x"], safety=[1.0])
    with pytest.raises(DataError, match=r"src: missing column\(s\) \['politeness'\]"):
        validate_rows(ds, ["safety", "politeness"], "src")


def test_aspect_coverage_counts_labelled_rows():
    ds = _ds(["a", "b", "c"], ["x", "y", "z"], safety=[1.0, NAN, 0.0], politeness=[NAN, NAN, 0.3])
    assert aspect_coverage(ds, ["safety", "politeness", "style"]) == {
        "safety": 2,
        "politeness": 1,
        "style": 0,
    }
    # a selection counts only its own rows
    assert aspect_coverage(ds.select([1, 2]), ["safety"]) == {"safety": 1}


# ---------------------------------------------------------------- split_by_group


def test_split_by_group_keeps_groups_whole_and_hits_fractions():
    groups = [f"g{i // 2}" for i in range(100)]  # 50 groups of 2 rows
    idx = split_by_group(groups, val_fraction=0.1, test_fraction=0.2, seed=3)
    assert sorted(np.concatenate([idx[s] for s in SPLITS]).tolist()) == list(range(100))
    assert (len(idx["train"]), len(idx["validation"]), len(idx["test"])) == (70, 10, 20)
    seen = {s: {groups[i] for i in idx[s]} for s in SPLITS}
    assert not seen["train"] & seen["validation"] and not seen["train"] & seen["test"]
    assert not seen["validation"] & seen["test"]
    # independent of row order: reversing the rows gives the same groups per split
    rev = split_by_group(groups[::-1], 0.1, 0.2, seed=3)
    assert {groups[::-1][i] for i in rev["test"]} == seen["test"]


# ---------------------------------------------------------------- load_labelled


@pytest.fixture
def labelled_file(tmp_path: Path) -> Path:
    """40 prompts x 3 responses; politeness on all rows, safety on every other one, an extra style column."""
    path = tmp_path / "pairs.jsonl"
    with path.open("w") as f:
        for p in range(40):
            for r in range(3):
                i = 3 * p + r
                row = {
                    "prompt": f"prompt {p}",
                    "response": f"response {p}.{r}",
                    "politeness": (i % 11) / 10,
                    "safety": None if i % 2 else 1.0,
                    "style": 0.5,
                }
                f.write(json.dumps(row) + "\n")
    return path


def _cfg(*sources, max_rows=None, val=0.1, test=0.15):
    return OmegaConf.create(
        {"sources": list(sources), "val_fraction": val, "test_fraction": test, "max_rows": max_rows}
    )


def _file_source(path: Path) -> dict:
    return {"_target_": "mogrpo.data.files.labelled_from_file", "path": str(path)}


def _public_source(name: str) -> dict:
    return {"_target_": f"mogrpo.data.public.{name}", "root": str(FIXTURES / "shared")}


ASPECTS = ["politeness", "meaningfulness", "safety"]


def test_load_labelled_schema_masks_and_drops_columns(labelled_file):
    dd = load_labelled(_cfg(_file_source(labelled_file)), ASPECTS, seed=0)
    assert list(dd) == ["train", "validation", "test"]
    for split in dd.values():
        assert split.column_names == columns(ASPECTS)  # style dropped, meaningfulness added
        assert all(split.features[a] == datasets.Value("float32") for a in ASPECTS)
    assert sum(len(s) for s in dd.values()) == 120
    assert aspect_coverage(dd, ASPECTS) == {"politeness": 120, "meaningfulness": 0, "safety": 60}
    row = dd["train"][0]
    assert math.isnan(row["meaningfulness"])
    assert row["source"] == "file:pairs.jsonl"


def test_load_labelled_is_deterministic_and_seeded(labelled_file):
    cfg = _cfg(_file_source(labelled_file))
    a = load_labelled(cfg, ASPECTS, seed=1)
    b = load_labelled(cfg, ASPECTS, seed=1)
    c = load_labelled(cfg, ASPECTS, seed=2)
    for s in SPLITS:
        assert a[s].to_pandas().equals(b[s].to_pandas())
    assert set(a["test"]["prompt"]) != set(c["test"]["prompt"])


def test_load_labelled_never_splits_a_prompt(labelled_file):
    dd = load_labelled(_cfg(_file_source(labelled_file), val=0.2, test=0.2), ASPECTS, seed=5)
    prompts = {s: set(dd[s]["prompt"]) for s in SPLITS}
    assert not prompts["train"] & prompts["validation"]
    assert not prompts["train"] & prompts["test"]
    assert not prompts["validation"] & prompts["test"]
    # 3 rows a prompt: 24 rows = 8 whole prompts each for validation and test
    assert (len(dd["train"]), len(dd["validation"]), len(dd["test"])) == (72, 24, 24)


def test_load_labelled_max_rows_cap(labelled_file):
    dd = load_labelled(_cfg(_file_source(labelled_file), max_rows=30), ASPECTS, seed=0)
    assert sum(len(s) for s in dd.values()) == 30


def test_load_labelled_concatenates_sources_and_drops_unlabelled_rows(labelled_file):
    cfg = _cfg(_file_source(labelled_file), _public_source("diasafety"))
    dd = load_labelled(cfg, ["safety"], seed=0)
    sources = [s for split in dd.values() for s in split["source"]]
    # 60 file rows label safety (the other 60 label none of ["safety"] and are dropped) + 3 DiaSafety rows
    assert sources.count("file:pairs.jsonl") == 60 and sources.count("diasafety") == 3
    assert aspect_coverage(dd, ["safety"]) == {"safety": 63}


def test_load_labelled_warns_for_unlabelled_aspect(labelled_file, caplog):
    with caplog.at_level(logging.WARNING, logger="mogrpo.data.labelled"):
        load_labelled(_cfg(_file_source(labelled_file)), ASPECTS, seed=0)
    assert "meaningfulness" in caplog.text


def test_load_labelled_errors(labelled_file, tmp_path):
    bad = FIXTURES / "labelled" / "bad_score.jsonl"
    # a DataError raised inside a source comes out unwrapped (Hydra wraps it), naming file and row
    with pytest.raises(DataError, match=r"bad_score\.jsonl, row 2"):
        load_labelled(_cfg(_file_source(bad)), ["safety"], seed=0)
    with pytest.raises(DataError, match="no rows label any of the aspects"):
        load_labelled(_cfg(_file_source(labelled_file)), ["actionability"], seed=0)
    with pytest.raises(DataError, match="reward_data.sources"):
        load_labelled(_cfg(), ["safety"], seed=0)
    with pytest.raises(DataError, match=r"reward_data.sources.0 \(mogrpo.data.files.labelled_from_file"):
        load_labelled(_cfg({**_file_source(labelled_file), "no_such_arg": 1}), ["safety"], seed=0)
    with pytest.raises(DataError, match="reward_data.max_rows"):
        load_labelled(_cfg(_file_source(labelled_file), max_rows=0), ["safety"], seed=0)
    with pytest.raises(DataError, match="leaves no training rows"):
        load_labelled(_cfg(_file_source(labelled_file), val=0.5, test=0.5), ["safety"], seed=0)


def test_load_labelled_group_column_overrides_prompt():
    # Stanford Politeness rows share the placeholder prompt; grouped by request they still spread out
    dd = load_labelled(_cfg(_public_source("stanford_politeness"), val=0.2, test=0.2), ["politeness"], seed=0)
    assert [len(dd[s]) for s in SPLITS] == [4, 1, 1]
    assert "group" not in dd["train"].column_names


# ---------------------------------------------------------------- builtin


def test_builtin_labelled_reads_rows_with_null_labels(tmp_path):
    rows = [
        {
            "id": "a1",
            "prompt_id": "p1",
            "prompt": "Hi",
            "response": "Hello!",
            "politeness": 0.9,
            "meaningfulness": None,
            "actionability": None,
            "safety": 1.0,
            "style": 0.4,
            "source": "handwritten",
        },
        {
            "id": "a2",
            "prompt_id": "p1",
            "prompt": "Hi",
            "response": "What.",
            "politeness": None,
            "meaningfulness": 0.2,
            "actionability": None,
            "safety": None,
            "style": None,
            "source": "template",
        },
    ]
    path = tmp_path / "aspect_labelled.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = builtin_labelled(path)
    assert ds.column_names == [
        "prompt",
        "response",
        "source",
        "politeness",
        "meaningfulness",
        "actionability",
        "safety",
        "style",
    ]
    assert ds["source"] == ["builtin:handwritten", "builtin:template"]
    assert aspect_coverage(ds, ["politeness", "meaningfulness", "actionability", "safety", "style"]) == {
        "politeness": 1,
        "meaningfulness": 1,
        "actionability": 0,
        "safety": 1,
        "style": 1,
    }
    assert math.isnan(ds[1]["politeness"]) and ds[0]["politeness"] == pytest.approx(0.9)
    assert builtin_path().parts[-3:] == ("data", "builtin", "aspect_labelled.jsonl")
    with pytest.raises(DataError, match="file not found"):
        builtin_labelled(tmp_path / "absent.jsonl")


def test_builtin_source_loads_through_config():
    if not builtin_path().is_file():
        pytest.skip(f"{builtin_path()} not written yet")
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["reward_data=builtin"])
    aspects = list(cfg.reward.aspects)
    dd = load_labelled(cfg.reward_data, aspects, seed=cfg.seed)
    assert len(dd["train"]) > 0 and len(dd["validation"]) > 0 and len(dd["test"]) > 0
    assert all(s.startswith("builtin:") for s in dd["train"]["source"])
    assert all(n > 0 for n in aspect_coverage(dd, aspects).values())
    assert dd["train"].column_names == columns(aspects)
