"""mogrpo.data.files.labelled_from_file: formats, column mapping, score_range scaling, errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mogrpo.data import files
from mogrpo.data.errors import DataError
from mogrpo.data.files import labelled_from_file

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
