"""Reward rows from the policy's own answers (mogrpo/data/policy_samples.py), on a written harvest file."""

from __future__ import annotations

import json
import math

import pytest
from omegaconf import OmegaConf

from mogrpo.data.errors import DataError
from mogrpo.data.labelled import load_labelled, validate_rows
from mogrpo.data.policy_samples import KINDS, fixed_openings, opening, policy_samples, sample_rows
from mogrpo.data.splits import prompt_split


def _prompts(split: str, n: int, stem: str) -> list[str]:
    out, i = [], 0
    while len(out) < n:
        text = f"{stem} {i}?"
        if prompt_split(text) == split:
            out.append(text)
        i += 1
    return out


def _row(prompt, kind, policy, response, refusal="full_compliance", split="train"):
    return {"prompt": prompt, "kind": kind, "source": "x", "policy": policy, "response": response, "refusal": refusal,
            "split": split}


def _harvest() -> list[dict]:
    """Benign prompts: the base answers each its own way; adapter a refuses on two, b opens every answer the same
    way. Adversarial prompts: the base complies, a refuses on one of them."""
    benign = _prompts("train", 4, "How do I bake bread, variant")
    adv = _prompts("train", 2, "How do I pick a lock, variant")
    starts = ["Mix flour", "Knead dough", "Preheat the", "Buy yeast"]
    rows = [_row(p, "benign", "base", f"{starts[i]} first, then bake loaf {i}.") for i, p in enumerate(benign)]
    rows += [_row(p, "adversarial", "base", f"Insert a tension wrench, step {i}.") for i, p in enumerate(adv)]
    rows += [_row(benign[0], "benign", "a", "No, do not bake bread.", "full_refusal"),
             _row(benign[1], "benign", "a", "I'm sorry, I can't help with that.", "full_refusal"),
             _row(benign[2], "benign", "a", "Bread needs an oven at 220 C for half an hour.")]
    rows += [_row(p, "benign", "b", f"I always advise caution: topic {i}.") for i, p in enumerate(benign)]
    rows += [_row(adv[0], "adversarial", "a", "I can't help you break into a lock you don't own.", "full_refusal"),
             _row(adv[1], "adversarial", "a", "Pick the pins one by one.")]
    return rows


def _write(tmp_path, rows):
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_opening_and_fixed_openings():
    assert opening("I always advise, users!", 3) == "i always advise"
    assert opening("Too short", 3) == ""
    answers = [{"response": "No, do not x."}, {"response": "No, do not y."}, {"response": "Sure: z and w."}]
    assert fixed_openings(answers, 3, 0.5) == {"no do not"}
    assert fixed_openings(answers, 3, 0.9) == set()


def test_each_kind_pairs_the_right_answers():
    rows = _harvest()
    made = sample_rows(rows, opening_words=3, fixed_share=0.5)
    base = {r["prompt"]: r["response"] for r in rows if r["policy"] == "base"}
    # every answer to a benign prompt, refusals too: 4 base + 3 a + 4 b
    assert len(made["benign_safe"]) == 11
    # the base's answer beats a's two refusals, the refusal on the rejected side
    assert sorted(rej for _, _, rej in made["benign_over_refusal"]) == sorted(
        ["No, do not bake bread.", "I'm sorry, I can't help with that."])
    assert all(better == base[p] for p, better, _ in made["benign_over_refusal"])
    # b's shared opening loses to the base on all four prompts; a's one compliant answer is not a fixed opening
    assert len(made["benign_over_fixed_opening"]) == 4
    assert all(rej.startswith("I always advise") for _, _, rej in made["benign_over_fixed_opening"])
    # adversarial: only a's refusal beats the base's compliance; a's compliant answer makes no pair
    assert made["refusal_over_compliance"] == [
        (rows[4]["prompt"], "I can't help you break into a lock you don't own.", base[rows[4]["prompt"]])]


def test_every_compliant_answer_to_an_adversarial_prompt_loses_to_a_refusal():
    """The adapters' compliance too (a GRPO run learned "I'll help you ..."), each against a refusal in turn."""
    rows = _harvest()
    adv0 = rows[4]["prompt"]
    rows += [_row(adv0, "adversarial", "b", "I'll help you pick it: insert a tension wrench."),
             _row(adv0, "adversarial", "c", "No, do not pick locks you do not own.", "full_refusal")]
    pairs = sample_rows(rows, opening_words=3, fixed_share=0.5)["refusal_over_compliance"]
    assert [(p, worse) for p, _, worse in pairs] == [
        (adv0, rows[4]["response"]), (adv0, "I'll help you pick it: insert a tension wrench.")]
    assert [better for _, better, _ in pairs] == [
        "I can't help you break into a lock you don't own.", "No, do not pick locks you do not own."]


def test_a_base_answer_with_the_bases_own_fixed_opening_is_never_the_better_side():
    rows = [r if r["policy"] != "base" or r["kind"] != "benign" else {**r, "response": "Certainly! " + r["response"]}
            for r in _harvest()]
    made = sample_rows(rows, opening_words=1, fixed_share=0.5)
    assert made["benign_over_refusal"] == [] and made["benign_over_fixed_opening"] == []


def test_the_dataset_labels_match_the_module_docstring(tmp_path):
    ds = policy_samples(_write(tmp_path, _harvest()), fixed_share=0.5)
    validate_rows(ds, ["meaningfulness", "actionability", "safety"], "policy_samples")
    assert set(ds["split"]) == {"train"}
    by_source = {}
    for r in ds:
        by_source.setdefault(r["source"], []).append(r)
    assert set(by_source) == {f"policy:{k}" for k in KINDS}
    for r in by_source["policy:benign_safe"]:
        assert r["safety"] == 1.0 and r["rejected"] == "" and math.isnan(r["meaningfulness"])
    for r in by_source["policy:benign_over_refusal"]:
        assert (r["meaningfulness"], r["actionability"], r["safety"]) == (1.0, 1.0, 0.5)
    for r in by_source["policy:benign_over_fixed_opening"]:
        assert (r["meaningfulness"], r["actionability"]) == (1.0, 1.0) and math.isnan(r["safety"])
    for r in by_source["policy:refusal_over_compliance"]:
        assert (r["meaningfulness"], r["actionability"], r["safety"]) == (0.5, 0.5, 1.0)


def test_max_rows_caps_each_kind_and_kinds_selects(tmp_path):
    path = _write(tmp_path, _harvest())
    ds = policy_samples(path, max_rows=2, fixed_share=0.5)
    counts = {k: ds["source"].count(f"policy:{k}") for k in KINDS}
    assert counts == {"benign_safe": 2, "benign_over_refusal": 2, "benign_over_fixed_opening": 2,
                      "refusal_over_compliance": 1}
    only = policy_samples(path, kinds=["benign_safe"], max_rows=None)
    assert set(only["source"]) == {"policy:benign_safe"} and len(only) == 11
    with pytest.raises(DataError, match="unknown kind"):
        policy_samples(path, kinds=["nope"])


def test_a_row_outside_the_train_split_is_an_error(tmp_path):
    path = _write(tmp_path, [*_harvest(), _row("How do I bake bread, variant 0?", "benign", "base", "x", split="test")])
    with pytest.raises(DataError, match="train prompts only"):
        policy_samples(path)


def test_a_prompt_the_reward_data_holds_out_is_dropped(tmp_path):
    """A prompt set may place a prompt in train that the reward data's hash holds out (the builtin prompts keep
    their own split): its answers are not used."""
    held_out = _prompts("test", 1, "How do I bake bread, variant")[0]
    extra = [_row(held_out, "benign", "base", "An answer."), _row(held_out, "benign", "a", "No.", "full_refusal")]
    ds = policy_samples(_write(tmp_path, [*_harvest(), *extra]), max_rows=None, fixed_share=0.5)
    assert held_out not in ds["prompt"] and len(ds)


@pytest.mark.parametrize(
    "rows, match",
    [([{"prompt": "x"}], "missing field"),
     ([_row("How do I bake bread, variant 0?", "other", "base", "y")], "kind must be"),
     ([], "no answers of the base policy")],
)
def test_bad_files_are_errors(tmp_path, rows, match):
    rows = [{**r, "prompt": _prompts("train", 1, "How do I bake bread, variant")[0]} if "prompt" in r else r
            for r in rows]
    with pytest.raises(DataError, match=match):
        policy_samples(_write(tmp_path, rows))
    with pytest.raises(DataError, match="not found"):
        policy_samples(tmp_path / "absent.jsonl")


def test_reward_data_policy_samples_adds_the_rows(tmp_path):
    cfg = OmegaConf.create({"sources": [{"_target_": "mogrpo.data.builtin.builtin_preferences"}],
                            "val_fraction": 0.1, "test_fraction": 0.1,
                            "policy_samples": str(_write(tmp_path, _harvest()))})
    out = load_labelled(cfg, ["politeness", "meaningfulness", "actionability", "safety"], seed=0)
    sources = set(out["train"]["source"])
    assert {"policy:benign_safe", "policy:refusal_over_compliance"} <= sources
    assert not any(s.startswith("policy:") for s in [*out["validation"]["source"], *out["test"]["source"]])


def test_the_config_knows_the_same_kinds():
    from mogrpo.configs.data import POLICY_SAMPLE_KINDS

    assert POLICY_SAMPLE_KINDS == KINDS
