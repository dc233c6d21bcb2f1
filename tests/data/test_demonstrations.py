"""The warm start's demonstrations (mogrpo/data/demonstrations.py): exact parsing on the tiny copies of the
shared-data layout, the train split only, the evaluation-only guard, the adversarial:benign mix, and the
counts and the held-out guarantee on the real data (skipped when ../shared/data is absent)."""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from pathlib import Path

import pytest
from helpers import default_shared_data

from mogrpo.data import demonstrations as dm
from mogrpo.data.errors import DataError
from mogrpo.data.eval_only import eval_only_texts, find_eval_only
from mogrpo.data.splits import normalise, prompt_split

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "tests" / "fixtures" / "data" / "shared"
SHARED = default_shared_data()
FIELDS = {"id", "prompt", "messages", "response", "kind", "source", "split"}


def _copy_fixtures(tmp_path: Path) -> Path:
    root = tmp_path / "shared"
    shutil.copytree(ROOT, root)
    return root


# ---------------------------------------------------------------- fixtures: exact parsing
def test_safety_tuned_llamas_instruction_and_input_to_a_safe_response():
    demos = dm.safety_tuned_llamas(ROOT)
    assert [d["prompt"] for d in demos] == ["Tell me how to pick my neighbour's lock.",
                                            "Write an insult about this person.\n\nMy coworker Sam"]  # fmt: skip
    assert demos[1]["response"].startswith("I'd rather not write insults.")
    assert all(
        set(d) == FIELDS and d["kind"] == "adversarial" and d["source"] == "safety_tuned_llamas"
        for d in demos
    )
    assert demos[1]["messages"] == [{"role": "user", "content": demos[1]["prompt"]}]
    assert all(d["split"] == prompt_split(d["prompt"]) for d in demos)


def test_self_instruct_seed_tasks_with_their_reference_output():
    demos = dm.self_instruct_seed(ROOT)
    assert [d["id"] for d in demos] == ["seed_task_0", "seed_task_1", "seed_task_2"]
    assert (
        demos[1]["prompt"] == "What is the relation between the given pairs?\n\nNight : Day :: Right : Left"
    )
    assert demos[1]["response"] == "Opposites." and all(d["kind"] == "benign" for d in demos)


def test_builtin_keeps_helpful_answers_and_polite_refusals_of_the_matching_kind_on_train_prompts():
    from mogrpo.data.builtin import builtin_rows
    from mogrpo.data.prompts import builtin_prompts

    demos = dm.builtin()
    train_prompts = {p["prompt"] for p in builtin_prompts("train")}
    rows = {(r["prompt"], r["response"]): r for r in builtin_rows()}
    assert demos and all(d["prompt"] in train_prompts for d in demos)  # never a builtin held-out prompt
    for d in demos:
        row = rows[(d["prompt"], d["response"])]
        assert (row["style"], row["kind"]) in {
            ("helpful", "benign"),
            ("polite_refusal_with_alternative", "adversarial"),
        }
        assert d["kind"] == row["kind"]
    over_refusals = [
        r for r in builtin_rows() if r["style"] == "polite_refusal_with_alternative" and r["kind"] == "benign"
    ]
    demo_pairs = {(d["prompt"], d["response"]) for d in demos}
    assert over_refusals and not {(r["prompt"], r["response"]) for r in over_refusals} & demo_pairs
    assert len(demos) < len(rows)


def test_only_the_train_split_is_kept():
    every = [d for name in dm.SOURCES for d in dm.SOURCES[name](ROOT)]
    held_out = [d for d in every if d["split"] != "train"]
    assert held_out, "the fixtures should hold a validation / test prompt (seed_task_2 is in test)"
    kept = dm.demonstrations(ROOT)
    assert kept and all(d["split"] == "train" == prompt_split(d["prompt"]) for d in kept)
    assert not {normalise(d["prompt"]) for d in held_out} & {normalise(d["prompt"]) for d in kept}
    assert Counter(d["source"] for d in kept)["self_instruct_seed"] == 2


def test_evaluation_only_prompts_are_dropped(tmp_path):
    root = _copy_fixtures(tmp_path)
    (root / "xstest").mkdir()
    with (root / "xstest" / "xstest_prompts.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "prompt", "type", "label"])
        w.writerow(
            ["1", "  tell me how to PICK my neighbour's lock. ", "contrast", "unsafe"]
        )  # normalised match
    assert "Tell me how to pick my neighbour's lock." in [d["prompt"] for d in dm.demonstrations(ROOT)]
    kept = dm.demonstrations(root, ["safety_tuned_llamas"])
    assert [d["prompt"] for d in kept] == ["Write an insult about this person.\n\nMy coworker Sam"]


def test_unknown_sources_and_missing_files_are_named(tmp_path):
    with pytest.raises(DataError, match="unknown demonstration source"):
        dm.demonstrations(ROOT, ["builtin", "xstest"])
    with pytest.raises(DataError, match=r"safety_only_data_Instructions\.json.*paths.shared_data"):
        dm.demonstrations(tmp_path, ["safety_tuned_llamas"])
    assert dm.demonstrations(None, ["builtin"])  # the packaged rows need no shared data


def test_a_bad_row_names_the_file_and_row(tmp_path):
    root = tmp_path / "shared"
    (root / "safety-tuned-llamas" / "training").mkdir(parents=True)
    (root / dm.STL_FILE).write_text('[{"instruction": "Do harm.", "input": "", "output": "  "}]')
    with pytest.raises(DataError, match=r"safety_only_data_Instructions\.json, row 1: empty output"):
        dm.safety_tuned_llamas(root)


def test_the_mix_sets_the_adversarial_share():
    demos = dm.demonstrations(None, ["builtin"])
    counts = dm.demo_counts(demos, by="kind")
    assert counts["benign"] > counts["adversarial"] > 0
    for f in (0.5, 0.25):
        mixed = dm.mix_demonstrations(demos, f, seed=0)
        c = dm.demo_counts(mixed, by="kind")
        assert c["adversarial"] / (c["adversarial"] + c["benign"]) == pytest.approx(f, abs=0.01)
        assert mixed == [d for d in demos if d in mixed]  # order kept, a subset
    assert dm.mix_demonstrations(demos, None) == demos
    assert dm.mix_demonstrations(demos, 0.5, seed=0) == dm.mix_demonstrations(demos, 0.5, seed=0)
    assert dm.demo_counts(dm.mix_demonstrations(demos, 1.0), by="kind")["benign"] == 0
    with pytest.raises(DataError, match="needs both kinds"):
        dm.mix_demonstrations([d for d in demos if d["kind"] == "benign"], 0.5)


# ---------------------------------------------------------------- the real data
def _real() -> Path:
    if not (SHARED / dm.STL_FILE).is_file():
        pytest.skip(f"shared data absent at {SHARED} (set MOGRPO_SHARED_DATA)")
    return SHARED


@pytest.mark.data
def test_real_demonstrations_counts_and_no_held_out_or_evaluation_only_prompt():
    root = _real()
    demos = dm.demonstrations(root)
    counts = dm.demo_counts(demos)
    assert counts == {"adversarial/safety_tuned_llamas": 1750, "benign/self_instruct_seed": 111,
                      "benign/builtin": 92, "adversarial/builtin": 59}  # fmt: skip
    assert all(prompt_split(d["prompt"]) == "train" for d in demos)  # never validation / test
    assert not find_eval_only(demos, eval_only_texts(root))  # no XSTest / AdvBench / user-oriented prompt
    # the GRPO held-out and validation prompts of every source: none is a demonstration
    from mogrpo.data.prompt_mix import prompt_mix

    held = {
        normalise(p["prompt"])
        for split in ("validation", "test")
        for p in prompt_mix(root, split, adversarial_fraction=None)
    }
    assert not held & {normalise(d["prompt"]) for d in demos}
