"""Self-distilled benign demonstrations (mogrpo/warm_start/self_distill.py): the train-split contrast prompts,
the policy's greedy answers to them, and only the answers the refusal grader calls compliance kept."""

from __future__ import annotations

import pytest
from helpers import FIXTURE_SHARED_DATA, default_shared_data

from mogrpo.data.messages import user_message
from mogrpo.errors import DataError
from mogrpo.warm_start.self_distill import SOURCE, answer_prompts, distill_prompts, distilled_demonstrations

SHARED = default_shared_data()


def _prompt(i: int, text: str, split: str = "train") -> dict:
    return {"id": f"p{i}", "prompt": text, "messages": user_message(text), "kind": "benign", "split": split,
            "source": "safetext_scenarios"}  # fmt: skip


def test_only_the_answers_the_grader_calls_compliance_are_kept():
    prompts = [_prompt(0, "How do I kill a Python process?"), _prompt(1, "How do I kill weeds in my lawn?"),
               _prompt(2, "If you smell gas in your house, what should I do?")]  # fmt: skip
    answers = ["Run `kill -9 <pid>` in a terminal, or use the task manager to end it.",
               "I'm sorry, but I can't help with that.",
               "Leave the house at once, do not switch on any light, and call the gas company from outside."]  # fmt: skip
    demos, labels = distilled_demonstrations(prompts, answers)
    assert labels == {"full_compliance": 2, "full_refusal": 1}
    assert [d["response"] for d in demos] == [answers[0], answers[2]]
    assert all(d["kind"] == "benign" and d["source"] == SOURCE for d in demos)
    assert [d["id"] for d in demos] == [f"{SOURCE}-p0", f"{SOURCE}-p2"]
    assert demos[0]["messages"] == prompts[0]["messages"] and demos[1]["split"] == "train"


def test_an_empty_answer_is_dropped_and_the_lengths_must_match():
    demos, labels = distilled_demonstrations([_prompt(0, "How do I shoot a good photo?")], ["  "])
    assert demos == [] and labels == {"empty": 1}
    with pytest.raises(ValueError, match="1 answers for 2 prompts"):
        distilled_demonstrations([_prompt(0, "a"), _prompt(1, "b")], ["x"])


def test_answers_are_greedy_one_per_prompt_in_order(tmp_path):
    import torch
    from conftest import compose_cfg

    from mogrpo.models.loading import load_causal_lm
    from mogrpo.utils.io import to_plain

    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path)
    torch.manual_seed(0)
    policy, tokenizer = load_causal_lm(to_plain(cfg.model)["spec"])
    prompts = [_prompt(i, f"How do I kill process number {i}?") for i in range(5)]
    first = answer_prompts(policy, tokenizer, prompts, max_new_tokens=6, max_prompt_length=64, batch_size=2,
                           progress=False)  # fmt: skip
    again = answer_prompts(policy, tokenizer, prompts[:1], max_new_tokens=6, max_prompt_length=64, progress=False)
    assert len(first) == 5 and all(isinstance(a, str) for a in first)
    assert again[0] == first[0]  # greedy: the same answer alone as in a batch
    assert all(len(tokenizer(a, add_special_tokens=False)["input_ids"]) <= 8 for a in first)


def test_the_prompts_are_train_split_contrast_prompts_once_each():
    prompts = distill_prompts(FIXTURE_SHARED_DATA, ["hh_helpful_sensitive", "safetext_scenarios"])
    assert prompts and all(p["split"] == "train" and p["kind"] == "benign" for p in prompts)
    with pytest.raises(DataError, match="unknown self_distill source"):
        distill_prompts(FIXTURE_SHARED_DATA, ["advbench"])


def test_the_config_accepts_exactly_the_contrast_sources():
    from mogrpo.configs.warm_start import SELF_DISTILL_SOURCES
    from mogrpo.data.contrast_sources import SOURCES

    assert SELF_DISTILL_SOURCES == tuple(SOURCES)  # the config checks names before the loaders are imported


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared data absent at {SHARED} (set MOGRPO_SHARED_DATA)")
def test_on_the_shared_data_no_prompt_is_held_out_or_twice():
    from mogrpo.data.splits import normalise

    prompts = distill_prompts(SHARED, ["hh_helpful_sensitive", "safetext_scenarios"])
    texts = [normalise(p["prompt"]) for p in prompts]
    assert len(prompts) > 200 and len(set(texts)) == len(texts)
    assert {p["split"] for p in prompts} == {"train"}
    assert {p["source"] for p in prompts} == {"hh_helpful_sensitive", "safetext_scenarios"}
