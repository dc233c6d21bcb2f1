import csv
import json

import pytest
import torch

from mogrpo.config import ConfigError
from mogrpo.data.errors import DataError
from mogrpo.models.regressor import MultiAspectRegressor, build_regressor
from mogrpo.score import main, output_columns, score_file

ASPECTS = ["politeness", "meaningfulness", "actionability", "safety"]
ROWS = [
    {"prompt": "How do I reset my password?", "response": "Click 'Forgot password' and follow the email.", "id": "1"},
    {"prompt": "Tell me a joke", "response": "Why did the chicken cross the road?", "id": "2"},
    {"prompt": "Say something rude", "response": "No, I would rather stay polite.", "id": "3"},
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from conftest import compose_cfg

    root = tmp_path_factory.mktemp("score")
    cfg = compose_cfg(["experiment=smoke", "logger=none"], root)
    return build_regressor(cfg.reward_model, ASPECTS).save(root / "reward_model")


def write_csv(path, rows):
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def expected_scores(checkpoint, rows, prompt="prompt", response="response"):
    return MultiAspectRegressor.load(checkpoint).score([r[prompt] for r in rows], [r[response] for r in rows])


def test_csv_gets_one_score_column_per_aspect(checkpoint, tmp_path):
    src = write_csv(tmp_path / "pairs.csv", ROWS)
    out = score_file(src, checkpoint, batch_size=2)
    assert out == tmp_path / "pairs.scored.csv"
    with out.open(newline="") as f:
        reader = csv.DictReader(f)
        got = list(reader)
    assert reader.fieldnames == ["prompt", "response", "id"] + [f"score_{a}" for a in ASPECTS]
    assert [r["id"] for r in got] == ["1", "2", "3"] and got[1]["prompt"] == ROWS[1]["prompt"]
    scores = torch.tensor([[float(r[f"score_{a}"]) for a in ASPECTS] for r in got])
    assert torch.allclose(scores, expected_scores(checkpoint, ROWS), atol=1e-5)


def test_jsonl_with_custom_columns_and_csv_output(checkpoint, tmp_path):
    rows = [{"question": r["prompt"], "completion": r["response"], "meta": {"k": i}} for i, r in enumerate(ROWS)]
    src = write_jsonl(tmp_path / "xs.jsonl", rows)
    out = score_file(
        src,
        checkpoint,
        output=tmp_path / "out.jsonl",
        prompt_column="question",
        response_column="completion",
        columns={"safety": "my_safety", "politeness": None},
    )
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["meta"] for g in got] == [{"k": 0}, {"k": 1}, {"k": 2}]
    assert "safety" not in got[0] and "score_safety" not in got[0]
    expected = expected_scores(checkpoint, rows, "question", "completion")
    assert [g["my_safety"] for g in got] == pytest.approx(expected[:, 3].tolist(), abs=1e-5)
    assert [g["score_politeness"] for g in got] == pytest.approx(expected[:, 0].tolist(), abs=1e-5)
    as_csv = score_file(src, checkpoint, output=tmp_path / "out.csv", prompt_column="question",
                        response_column="completion")
    assert "score_meaningfulness" in as_csv.read_text().splitlines()[0]


def test_empty_prompt_names_file_and_row(checkpoint, tmp_path):
    rows = [dict(r) for r in ROWS]
    rows[1]["prompt"] = "  "
    src = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError, match=r"bad\.csv, row 2: empty or missing prompt"):
        score_file(src, checkpoint)


def test_empty_response_needs_the_flag(checkpoint, tmp_path):
    rows = [dict(r) for r in ROWS]
    rows[2]["response"] = ""
    src = write_csv(tmp_path / "completions.csv", rows)
    with pytest.raises(DataError, match=r"completions\.csv, row 3: empty response"):
        score_file(src, checkpoint)
    jsonl = write_jsonl(tmp_path / "c.jsonl", [{**rows[0], "response": None}, rows[2]])
    out = score_file(jsonl, checkpoint, allow_empty_response=True)
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(got) == 2 and 0 < got[1]["score_safety"] < 1


def test_missing_column_and_unknown_aspect_are_clear_errors(checkpoint, tmp_path):
    src = write_csv(tmp_path / "pairs.csv", ROWS)
    with pytest.raises(DataError, match=r"pairs\.csv: no column 'answer' \(response_column\)"):
        score_file(src, checkpoint, response_column="answer")
    with pytest.raises(ConfigError, match="columns.toxicity"):
        output_columns(ASPECTS, {"toxicity": "tox"})
    with pytest.raises(ConfigError, match="same column"):
        output_columns(ASPECTS, {"safety": "score_politeness"})
    with pytest.raises(DataError, match="unsupported extension"):
        score_file(tmp_path / "pairs.txt", checkpoint)


def test_cli_overrides_reach_score_file(checkpoint, tmp_path):
    from conftest import compose_cfg

    src = write_csv(tmp_path / "pairs.csv", ROWS)
    out = tmp_path / "cli.jsonl"
    overrides = [f"input={src}", f"reward_model.checkpoint={checkpoint}", f"output={out}",
                 "columns.safety=my_safety_col", "batch_size=2"]
    run = main.__wrapped__  # the body of the Hydra app, on a config composed like the command line's
    run(compose_cfg(overrides, tmp_path, config_name="score"))
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(got) == 3 and "my_safety_col" in got[0] and "score_politeness" in got[0]
    with pytest.raises(SystemExit, match="no column 'nope'"):
        run(compose_cfg([*overrides, "prompt_column=nope"], tmp_path, config_name="score"))


def test_the_hydra_app_runs_when_imported(checkpoint, tmp_path, monkeypatch):
    """As under the ``mogrpo-score`` console script: ``main`` called from an imported module."""
    import sys

    from conftest import compose_cfg

    src = write_jsonl(tmp_path / "in.jsonl", ROWS)
    monkeypatch.setattr(sys, "argv", ["mogrpo-score", f"input={src}", f"reward_model.checkpoint={checkpoint}",
                                      "columns.politeness=polite"])
    main()
    got = [json.loads(line) for line in (tmp_path / "in.scored.jsonl").read_text().splitlines()]
    assert "polite" in got[0] and "score_safety" in got[0]
    assert compose_cfg([], tmp_path, config_name="score").prompt_column == "prompt"  # Hydra state left clean
