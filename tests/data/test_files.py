"""mogrpo.data.files.labelled_from_file: formats, column mapping, score_range scaling, errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mogrpo.data import files
from mogrpo.data.errors import DataError
from mogrpo.data.files import labelled_from_file
from mogrpo.data.reader import read_local

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "labelled"
MAPPING = {"meaningfulness": "helpfulness", "actionability": "correctness"}


def _scores(ds, name):
    return np.asarray(ds.with_format("numpy")[name], dtype=np.float64)


@pytest.mark.parametrize("name", ["ratings.jsonl", "ratings.csv"])
def test_column_mapping_and_score_range(name):
    ds = labelled_from_file(
        FIXTURES / name,
        prompt_column="question",
        response_column="answer",
        aspect_columns=MAPPING,
        score_range=[0, 4],
    )
    assert ds.column_names == ["prompt", "response", "source", "meaningfulness", "actionability"]
    assert ds["prompt"][0] == "How do I boil an egg?" and ds["response"][2] == "5"
    np.testing.assert_allclose(_scores(ds, "meaningfulness"), [1.0, 0.5, 0.0])
    correctness = _scores(ds, "actionability")
    assert correctness[0] == pytest.approx(0.75) and math.isnan(correctness[1]) and correctness[2] == 0.0
    assert set(ds["source"]) == {f"file:{name}"}


def test_parquet_json_and_default_mapping(tmp_path):
    df = pd.DataFrame(
        {"prompt": ["p1", "p2"], "response": ["r1", "r2"], "safety": [0.0, 1.0], "note": ["a", "b"]}
    )
    df.to_parquet(tmp_path / "pairs.parquet")
    df.to_json(tmp_path / "pairs.json", orient="records")
    for path in (tmp_path / "pairs.parquet", tmp_path / "pairs.json"):
        ds = labelled_from_file(path)  # no mapping: numeric columns named as aspects ("note" is text)
        assert ds.column_names == ["prompt", "response", "source", "safety"]
        np.testing.assert_array_equal(_scores(ds, "safety"), [0.0, 1.0])


def test_bad_json_line_is_named():
    with pytest.raises(DataError, match=r"bad_line\.jsonl: line 3 is not valid JSON"):
        labelled_from_file(FIXTURES / "bad_line.jsonl", aspect_columns={"safety": "safety"})


def test_out_of_range_raw_score_names_file_row_and_column():
    with pytest.raises(DataError) as err:
        labelled_from_file(FIXTURES / "bad_score.jsonl", aspect_columns={"safety": "safety"})
    msg = str(err.value)
    assert "bad_score.jsonl, row 2" in msg and "'safety'" in msg and "1.3" in msg
    with pytest.raises(
        DataError, match=r"ratings\.csv, row 1: column 'helpfulness' .* outside score_range \[0, 3\]"
    ):
        labelled_from_file(
            FIXTURES / "ratings.csv", "train", "question", "answer", {"meaningfulness": "helpfulness"}, (0, 3)
        )


def test_missing_file_and_columns(tmp_path):
    with pytest.raises(DataError, match=r"nope\.jsonl: file not found"):
        labelled_from_file(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match=r"ratings\.jsonl: column 'prompt' \(for the prompt\) not found"):
        labelled_from_file(FIXTURES / "ratings.jsonl", aspect_columns=MAPPING)
    with pytest.raises(
        DataError, match=r"ratings\.jsonl: column 'polite' \(for aspect 'politeness'\) not found"
    ):
        labelled_from_file(
            FIXTURES / "ratings.jsonl", "train", "question", "answer", {"politeness": "polite"}
        )
    with pytest.raises(DataError, match="score_range must be"):
        labelled_from_file(FIXTURES / "ratings.jsonl", "train", "question", "answer", MAPPING, (4, 0))


def test_empty_response_after_reading(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("prompt,response,safety\nhello,hi,1\nhow are you,,0.5\n")
    with pytest.raises(DataError, match=r"pairs\.csv, row 2: empty response"):
        labelled_from_file(path)


def test_hub_name_failure_is_a_data_error(monkeypatch):
    def offline(name, split=None):
        raise ConnectionError("offline")

    monkeypatch.setattr(files.datasets, "load_dataset", offline)
    with pytest.raises(DataError) as err:
        labelled_from_file("nvidia/HelpSteer2", aspect_columns={"meaningfulness": "helpfulness"})
    msg = str(err.value)
    assert msg.startswith("nvidia/HelpSteer2: ") and "local" in msg and "ConnectionError" in msg


def test_file_config_example_composes_and_loads(monkeypatch):
    """The override recipe in conf/reward_data/file.yaml works as written."""
    from hydra import compose, initialize_config_dir

    import mogrpo.utils.resolvers  # noqa: F401
    from mogrpo.data.labelled import aspect_coverage, load_labelled

    repo = FIXTURES.parents[3]
    monkeypatch.chdir(repo)  # a relative path is taken from the launch directory
    overrides = [
        "reward_data=file",
        "reward_data.sources.0.path=tests/fixtures/data/labelled/ratings.jsonl",
        "reward_data.sources.0.prompt_column=question",
        "reward_data.sources.0.response_column=answer",
        "+reward_data.sources.0.aspect_columns={meaningfulness: helpfulness, actionability: correctness}",
        "+reward_data.sources.0.score_range=[0, 4]",
    ]
    with initialize_config_dir(config_dir=str(repo / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    dd = load_labelled(cfg.reward_data, ["meaningfulness", "actionability"], seed=0)
    assert aspect_coverage(dd, ["meaningfulness", "actionability"]) == {
        "meaningfulness": 3,
        "actionability": 2,
    }


# ---------------------------------------------------------------- booleans, per-aspect ranges, invert

HUB = FIXTURES.parent / "hub"


def test_boolean_column_and_invert():
    ds = labelled_from_file(
        HUB / "beavertails.jsonl", aspect_columns={"safety": "is_safe"}, score_range=[0, 4]
    )
    np.testing.assert_array_equal(_scores(ds, "safety"), [1.0, 0.0, 1.0])  # booleans ignore score_range
    inv = labelled_from_file(
        HUB / "beavertails.jsonl", aspect_columns={"safety": {"column": "is_safe", "invert": True}}
    )
    np.testing.assert_array_equal(_scores(inv, "safety"), [0.0, 1.0, 0.0])


def test_boolean_column_with_nulls(tmp_path):
    path = tmp_path / "flags.jsonl"
    path.write_text(
        '{"prompt": "a", "response": "b", "ok": true}\n{"prompt": "c", "response": "d", "ok": null, "m": 0.5}\n'
        '{"prompt": "e", "response": "f", "ok": false, "m": 1}\n'
    )
    ds = labelled_from_file(path, aspect_columns={"safety": "ok", "meaningfulness": "m"})
    s, m = _scores(ds, "safety"), _scores(ds, "meaningfulness")
    assert s[0] == 1.0 and math.isnan(s[1]) and s[2] == 0.0
    assert math.isnan(m[0]) and m[2] == 1.0


def test_per_aspect_score_range_and_invert(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("prompt,response,harmful,helpfulness\np1,r1,1,4\np2,r2,0,1\np3,r3,0.25,\n")
    ds = labelled_from_file(
        path,
        aspect_columns={
            "safety": {"column": "harmful", "invert": True},  # safety = 1 - harmful, on [0, 1]
            "meaningfulness": {"column": "helpfulness", "score_range": [0, 4]},
        },
    )
    np.testing.assert_allclose(_scores(ds, "safety"), [0.0, 1.0, 0.75])
    m = _scores(ds, "meaningfulness")
    assert m[0] == 1.0 and m[1] == 0.25 and math.isnan(m[2])
    with pytest.raises(
        DataError, match=r"mixed\.csv, row 1: column 'helpfulness' .* outside score_range \[0, 1\]"
    ):
        labelled_from_file(path, aspect_columns={"meaningfulness": {"column": "helpfulness"}})
    with pytest.raises(DataError, match=r"aspect_columns\.safety must be a column name or a mapping"):
        labelled_from_file(path, aspect_columns={"safety": {"col": "harmful"}})
    with pytest.raises(DataError, match=r"aspect_columns\.safety\.score_range must be \[low, high\]"):
        labelled_from_file(path, aspect_columns={"safety": {"column": "harmful", "score_range": [1, 1]}})


# ---------------------------------------------------------------- preference layouts

PKU = {"meaningfulness": "better_response_id", "safety": "safer_response_id"}


def test_two_replies_and_better_ids():
    ds = labelled_from_file(
        HUB / "pku_saferlhf.jsonl", response_columns=["response_0", "response_1"], better_columns=PKU
    )
    assert ds.column_names == ["prompt", "response", "rejected", "source", "meaningfulness", "safety"]
    assert len(ds) == 3  # the pair with two identical replies is dropped
    assert ds["response"] == [
        "Talk to them calmly, or to your manager.",
        "Use a slim jim between the window and the door seal to pull the lock rod.",  # more helpful, less safe
        "Python: it is readable and widely taught.",
    ]
    assert ds["rejected"][1] == "Call a locksmith or your roadside service."
    np.testing.assert_array_equal(_scores(ds, "meaningfulness"), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(
        _scores(ds, "safety"), [1.0, 0.0, 1.0]
    )  # 0: the rejected reply is the safer
    safety_first = labelled_from_file(
        HUB / "pku_saferlhf.jsonl",
        response_columns=["response_0", "response_1"],
        better_columns={"safety": "safer_response_id", "meaningfulness": "better_response_id"},
    )
    assert safety_first["response"][1] == "Call a locksmith or your roadside service."
    np.testing.assert_array_equal(_scores(safety_first, "meaningfulness"), [1.0, 0.0, 1.0])


def test_better_ids_missing_and_bad_values(tmp_path):
    path = tmp_path / "ids.jsonl"
    rows = [
        {"prompt": "p1", "a": "x", "b": "y", "better": 1, "safer": None},
        {"prompt": "p2", "a": "x", "b": "y", "better": None, "safer": 0},
        {"prompt": "p3", "a": "x", "b": "y", "better": None, "safer": None},  # no label: dropped
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = labelled_from_file(
        path, response_columns=["a", "b"], better_columns={"meaningfulness": "better", "safety": "safer"}
    )
    assert ds["prompt"] == ["p1", "p2"] and ds["response"] == ["y", "x"]
    m, s = _scores(ds, "meaningfulness"), _scores(ds, "safety")
    assert m[0] == 1.0 and math.isnan(m[1]) and math.isnan(s[0]) and s[1] == 1.0
    rows[1]["safer"] = 2
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(
        DataError, match=r"ids\.jsonl, row 2: column 'safer' = 2.* must name the better reply as 0 or 1"
    ):
        labelled_from_file(path, response_columns=["a", "b"], better_columns={"safety": "safer"})
    with pytest.raises(DataError, match="needs response_columns"):
        labelled_from_file(path, better_columns={"safety": "safer"})
    with pytest.raises(DataError, match="is a layout of its own"):
        labelled_from_file(
            path, response_columns=["a", "b"], better_columns={"safety": "safer"}, rejected_column="b"
        )


def test_chosen_rejected_columns(tmp_path):
    path = tmp_path / "pairs.jsonl"
    rows = [
        {"prompt": "p1", "chosen": "good", "rejected": "bad", "p_safe": 0.75},
        {"prompt": "p2", "chosen": "same", "rejected": "same", "p_safe": 1.0},  # no preference: dropped
        {"prompt": "p3", "chosen": "fine", "rejected": "", "p_safe": 1.0},  # empty reply: dropped
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = labelled_from_file(
        path,
        response_column="chosen",
        rejected_column="rejected",
        pair_labels={"meaningfulness": 1.0},
        aspect_columns={"safety": "p_safe"},
    )
    assert (ds["prompt"], ds["response"], ds["rejected"]) == (["p1"], ["good"], ["bad"])
    assert _scores(ds, "meaningfulness")[0] == 1.0 and _scores(ds, "safety")[0] == 0.75
    only = labelled_from_file(
        path, response_column="chosen", rejected_column="rejected", pair_labels={"safety": 1}
    )
    assert only.column_names == ["prompt", "response", "rejected", "source", "safety"]
    with pytest.raises(DataError, match=r"pair_labels\['safety'\] = 2 must be a probability"):
        labelled_from_file(
            path, response_column="chosen", rejected_column="rejected", pair_labels={"safety": 2}
        )
    rows[0]["prompt"] = " "
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"pairs\.jsonl, row 1: empty prompt"):
        labelled_from_file(
            path, response_column="chosen", rejected_column="rejected", pair_labels={"safety": 1}
        )


def test_split_by_prompt_and_max_rows():
    from mogrpo.data.splits import prompt_split

    ds = labelled_from_file(
        HUB / "helpsteer2.jsonl",
        aspect_columns={"meaningfulness": "helpfulness"},
        score_range=[0, 4],
        split_by_prompt=True,
    )
    assert ds["split"] == [prompt_split(p) for p in ds["prompt"]] and set(ds["split"]) == {
        "train",
        "validation",
    }
    np.testing.assert_allclose(_scores(ds, "meaningfulness"), [1.0, 0.25, 0.75, 0.0])
    a = labelled_from_file(HUB / "helpsteer2.jsonl", score_range=[0, 4], max_rows=2, seed=4)
    b = labelled_from_file(HUB / "helpsteer2.jsonl", score_range=[0, 4], max_rows=2, seed=4)
    assert len(a) == 2 and a["response"] == b["response"]


# ---------------------------------------------------------------- the shipped hub configs, offline

HUB_CONFIGS = {
    # config: (hub id, split, fixture, rows, aspect coverage)
    "pku_saferlhf": (
        "PKU-Alignment/PKU-SafeRLHF",
        "train",
        "pku_saferlhf.jsonl",
        3,
        {"meaningfulness": 3, "safety": 3},
    ),
    "beavertails": (
        "PKU-Alignment/BeaverTails",
        "30k_train",
        "beavertails.jsonl",
        3,
        {"meaningfulness": 0, "safety": 3},
    ),
    "helpsteer2": ("nvidia/HelpSteer2", "train", "helpsteer2.jsonl", 4, {"meaningfulness": 4, "safety": 0}),
}


def _compose(name: str, overrides: list[str]):
    from hydra import compose, initialize_config_dir

    import mogrpo.utils.resolvers  # noqa: F401

    with initialize_config_dir(config_dir=str(FIXTURES.parents[3] / "conf"), version_base="1.3"):
        return compose("train", overrides=[f"reward_data={name}", *overrides])


@pytest.mark.parametrize("name", sorted(HUB_CONFIGS))
def test_hub_config_loads_a_local_file_in_the_same_schema(name):
    from mogrpo.data.labelled import aspect_coverage, is_pair, load_labelled
    from mogrpo.data.splits import prompt_split

    hub_id, split, fixture, rows, coverage = HUB_CONFIGS[name]
    cfg = _compose(name, [])
    assert (cfg.reward_data.sources[0].path, cfg.reward_data.sources[0].split) == (hub_id, split)
    cfg = _compose(name, [f"reward_data.sources.0.path={HUB / fixture}"])
    dd = load_labelled(cfg.reward_data, ["meaningfulness", "safety"], seed=0)
    assert sum(len(d) for d in dd.values()) == rows
    assert aspect_coverage(dd, ["meaningfulness", "safety"]) == coverage
    for s, part in dd.items():
        assert all(prompt_split(p) == s for p in part["prompt"])  # pinned by prompt
        pairs = is_pair(part)
        assert pairs.all() if name == "pku_saferlhf" else not pairs.any()


@pytest.mark.parametrize("name", sorted(HUB_CONFIGS))
def test_hub_config_reads_the_hub_name_with_its_split(name, monkeypatch):
    """Nothing downloads: ``datasets.load_dataset`` returns the fixture for the config's hub id and split."""
    import datasets

    from mogrpo.data.labelled import load_labelled

    hub_id, split, fixture, rows, _ = HUB_CONFIGS[name]
    asked = []

    def fake_load(path, split=None):
        asked.append((path, split))
        return datasets.Dataset.from_pandas(read_local(HUB / fixture).frame())

    monkeypatch.setattr(files.datasets, "load_dataset", fake_load)
    dd = load_labelled(_compose(name, []).reward_data, ["meaningfulness", "safety"], seed=0)
    assert asked == [(hub_id, split)] and sum(len(d) for d in dd.values()) == rows
