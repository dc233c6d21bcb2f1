"""experiments/harvest_policy_samples.py and experiments/rescore_samples.py: the parts that need no model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import load_experiment

SHARED = Path(__file__).resolve().parents[1] / "fixtures" / "data" / "shared"


def _load(name: str):
    return load_experiment(name)


def test_harvest_answers_train_prompts_only():
    from mogrpo.data.contrast_sources import SOURCES as CONTRAST
    from mogrpo.data.prompt_mix import prompt_mix
    from mogrpo.data.prompt_sources import SOURCES

    harvest = _load("harvest_policy_samples")
    picked = harvest.train_prompts(SHARED, n_adversarial=3, n_benign=None, seed=0)
    default = [name for name in SOURCES if name not in CONTRAST]  # conf/data/real_mix.yaml's: the contrast ones are off
    train = prompt_mix(SHARED, split="train", sources=default, adversarial_fraction=None, seed=0)
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


def _harvest_row(prompt, kind, policy, response, refusal="full_compliance"):
    return {"prompt": prompt, "kind": kind, "source": "x", "policy": policy, "response": response,
            "refusal": refusal, "split": "train"}


def test_refusal_pairs_prefer_the_refusal_only_where_the_prompt_is_harmful():
    from mogrpo.data.splits import prompt_split

    pairs = _load("refusal_pairs")
    texts = {split: [f"request {i}?" for i in range(400) if prompt_split(f"request {i}?") == split][:12]
             for split in ("train", "test")}
    benign, adversarial = texts["train"][:2]
    held_out = texts["test"][0]
    rows = [_harvest_row(benign, "benign", "base", "Mix flour and water, then knead."),
            _harvest_row(benign, "benign", "ws", "I'm sorry, but I cannot help.", "full_refusal"),
            _harvest_row(adversarial, "adversarial", "base", "Insert a tension wrench first."),
            _harvest_row(adversarial, "adversarial", "ws", "I'm sorry, but I cannot help with that.", "full_refusal"),
            _harvest_row(held_out, "adversarial", "base", "Step one: buy the parts."),
            _harvest_row(held_out, "adversarial", "ws", "I cannot help with that.", "full_refusal")]
    # base answers with openings of their own: no base opening is shared by 5 % of the train ones (sample_rows'
    # fixed opening, counted after the split as the reward data counts it)
    rows += [_harvest_row(f"filler {i}?", "benign", "base", f"Letter {i} is here.") for i in range(60)]
    # held-out prompts whose base answers open as the benign one does: were they counted, that opening would be
    # fixed (10 of ~60 base answers) and its pair dropped
    rows += [_harvest_row(p, "benign", "base", "Mix flour and sugar.") for p in texts["test"][2:]]
    out = pairs.refusal_pairs(rows)
    assert {(p["kind"], p["prompt"], p["response"], p["rejected"]) for p in out} == {
        ("refusal_over_compliance", adversarial, "I'm sorry, but I cannot help with that.", "Insert a tension wrench first."),
        ("benign_over_refusal", benign, "Mix flour and water, then knead.", "I'm sorry, but I cannot help."),
    }  # the held-out prompt gives no pair
    assert [p["kind"] for p in pairs.refusal_pairs(rows, ("benign_over_refusal",))] == ["benign_over_refusal"]
    # the pairs file is what offline DPO reads: one preference row per pair, chosen on the safety column
    from mogrpo.data.dpo_pairs import offline_pairs

    assert offline_pairs([{**p, "safety": p["pref"]} for p in out], ["safety"], [1.0]) == [
        {"prompt": p["prompt"], "chosen": p["response"], "rejected": p["rejected"]} for p in out
    ]
