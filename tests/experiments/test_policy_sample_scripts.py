"""experiments/harvest_policy_samples.py and experiments/rescore_samples.py: the parts that need no model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
SHARED = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "shared"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_harvest_answers_train_prompts_only():
    from mogrpo.data.prompt_mix import prompt_mix

    harvest = _load("harvest_policy_samples")
    picked = harvest.train_prompts(SHARED, n_adversarial=3, n_benign=None, seed=0)
    train = prompt_mix(SHARED, split="train", sources=None, adversarial_fraction=None, seed=0)
    held_out = {p["prompt"] for split in ("validation", "test")
                for p in prompt_mix(SHARED, split=split, sources=None, adversarial_fraction=None, seed=0)}
    texts = [p["prompt"] for p in picked]
    assert texts and not set(texts) & held_out
    assert sum(p["kind"] == "adversarial" for p in picked) == 3
    assert sum(p["kind"] == "benign" for p in picked) == sum(p["kind"] == "benign" for p in train)
    assert harvest.train_prompts(SHARED, 3, None, seed=0) == picked  # seeded


def test_rescore_summarise_counts_the_prompts_the_aligned_answer_wins(tmp_path):
    rescore = _load("rescore_samples")
    run = tmp_path / "arm"
    run.mkdir()
    rows = [{"prompt": f"p{i}", "kind": kind, "base_response": "b", "aligned_response": "a"}
            for i, kind in enumerate(["benign", "benign", "adversarial"])]
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    read = rescore.read_runs([run])
    table = rescore.summarise(read, base=[1.0, 2.0, 0.0], aligned=[3.0, 1.0, 1.0])
    assert table["arm"]["benign"] == {"n": 2, "base": 1.5, "aligned": 2.0, "aligned_wins": 0.5}
    assert table["arm"]["adversarial"]["aligned_wins"] == 1.0
    with pytest.raises(SystemExit, match="no samples.jsonl"):
        rescore.read_runs([tmp_path / "missing"])
