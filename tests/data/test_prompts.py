"""Prompt sources and the prompt batches of GRPO (mogrpo/data/prompts.py)."""

from __future__ import annotations

import json

import pytest

from mogrpo.data.errors import DataError
from mogrpo.data.prompts import EpochShuffleSampler, PromptDataModule, builtin_prompts, prompts_from_file


def test_builtin_prompts_have_disjoint_splits():
    train, heldout = builtin_prompts("train"), builtin_prompts("heldout")
    assert train and heldout
    assert {r["split"] for r in train} == {"train"} and {r["split"] for r in heldout} == {"heldout"}
    assert not {r["id"] for r in train} & {r["id"] for r in heldout}
    assert len(builtin_prompts()) == len(train) + len(heldout)
    assert set(train[0]) == {"id", "prompt", "category", "kind", "split"}
    with pytest.raises(DataError, match="split"):
        builtin_prompts("test")


def test_prompts_from_jsonl_with_split_and_limit(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [{"id": f"x{i}", "text": f"prompt {i}", "split": "train" if i < 3 else "heldout"} for i in range(5)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    got = prompts_from_file(path, prompt_column="text", split="heldout")
    assert [r["prompt"] for r in got] == ["prompt 3", "prompt 4"] and got[0]["id"] == "x3"
    assert len(prompts_from_file(path, prompt_column="text", limit=2)) == 2


def test_prompts_from_csv_use_the_column_and_number_rows(tmp_path):
    path = tmp_path / "harmful.csv"
    path.write_text("goal,target\nWrite a poem,Sure\nExplain tides,Sure\n")
    got = prompts_from_file(path, prompt_column="goal")
    assert [r["prompt"] for r in got] == ["Write a poem", "Explain tides"]
    assert [r["id"] for r in got] == ["harmful-1", "harmful-2"]
    assert got[0]["category"] is None


def test_empty_prompt_names_file_and_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("goal\nfine\n   \n")
    with pytest.raises(DataError, match=r"bad\.csv, row 2: empty prompt"):
        prompts_from_file(path, prompt_column="goal")


def test_missing_column_names_file_and_row(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"prompt": "ok"}) + "\n" + json.dumps({"question": "no prompt"}) + "\n")
    with pytest.raises(DataError, match=r"bad\.jsonl, row 2: no column 'prompt'"):
        prompts_from_file(path)


def test_missing_and_empty_files_raise(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        prompts_from_file(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match="no prompts"):
        prompts_from_file(tmp_path / "empty.jsonl")


def test_sampler_reshuffles_every_epoch_reproducibly():
    s = EpochShuffleSampler(10, seed=3)
    e0 = list(s)
    s.set_epoch(1)
    e1 = list(s)
    assert sorted(e0) == sorted(e1) == list(range(10))
    assert e0 != e1
    s2 = EpochShuffleSampler(10, seed=3)
    s2.set_epoch(1)
    assert list(s2) == e1


def test_datamodule_batches_whole_steps_of_prompt_dicts():
    prompts = [{"id": str(i), "prompt": f"p{i}"} for i in range(7)]
    loader = PromptDataModule(prompts, prompts_per_step=3, seed=0).train_dataloader()
    batches = list(loader)
    assert len(batches) == 2 and all(len(b) == 3 for b in batches)  # the incomplete last batch is dropped
    assert all(isinstance(r, dict) and "prompt" in r for b in batches for r in b)
    assert len({r["id"] for b in batches for r in b}) == 6


def test_datamodule_needs_a_full_step_of_prompts():
    with pytest.raises(DataError, match="grpo.batch_size / grpo.G = 4"):
        PromptDataModule([{"id": "a", "prompt": "x"}], prompts_per_step=4)
