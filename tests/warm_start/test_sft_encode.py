"""Demonstrations as ids (mogrpo/warm_start/encode.py): prompt then response + EOS, left-padded, the
response mask on the right edge; long prompts cut from the left, long responses dropped or cut."""

from __future__ import annotations

import pytest
import torch

from mogrpo.warm_start.encode import EncodedDemo, collate, encode_demonstrations


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from conftest import compose_cfg

    from mogrpo.models.loading import load_causal_lm
    from mogrpo.utils.io import to_plain

    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path_factory.mktemp("tok"))
    return load_causal_lm(to_plain(cfg.model)["spec"])[1]


def _demo(prompt: str, response: str) -> dict:
    return {"prompt": prompt, "messages": [{"role": "user", "content": prompt}], "response": response}


def test_prompt_is_the_chat_template_and_the_response_ends_with_eos(tokenizer):
    from mogrpo.models.policy import chat_prompts

    (e,), stats = encode_demonstrations(tokenizer, [_demo("Hi?", "Hello there.")], 256, 32)
    assert list(e.prompt_ids) == tokenizer(chat_prompts(tokenizer, ["Hi?"]), add_special_tokens=False)["input_ids"][0]
    assert list(e.response_ids) == [*tokenizer("Hello there.", add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
    full = tokenizer.apply_chat_template([{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello there."}],
                                         tokenize=False)  # fmt: skip
    assert tokenizer.decode([*e.prompt_ids, *e.response_ids]) == full.rstrip("\n")  # what the template trains
    assert stats == {"prompts_truncated": 0, "responses_dropped": 0, "responses_truncated": 0}


def test_long_responses_are_dropped_or_cut_and_long_prompts_keep_their_end(tokenizer):
    demos = [_demo("Short?", "one two three four five six seven eight nine ten"), _demo("Q?", "Yes.")]
    kept, stats = encode_demonstrations(tokenizer, demos, 256, 4, overlong="drop")
    assert [e.index for e in kept] == [1] and stats["responses_dropped"] == 1
    cut, stats = encode_demonstrations(tokenizer, demos, 256, 4, overlong="truncate")
    assert len(cut[0].response_ids) == 4 and cut[0].truncated and tokenizer.eos_token_id not in cut[0].response_ids
    assert not cut[1].truncated and stats["responses_truncated"] == 1
    (short,), stats = encode_demonstrations(tokenizer, [_demo("word " * 100, "Ok.")], 10, 8)
    assert len(short.prompt_ids) == 10 and stats["prompts_truncated"] == 1
    assert tokenizer.decode(short.prompt_ids).endswith("assistant\n")  # the generation prompt is kept


def test_collate_left_pads_and_marks_the_last_response_tokens():
    batch = [EncodedDemo(0, (5, 6, 7), (8, 9)), EncodedDemo(1, (5,), (10, 11, 12))]
    ids, attn, mask = collate(batch, pad_id=0)
    assert ids.tolist() == [[5, 6, 7, 8, 9], [0, 5, 10, 11, 12]]
    assert attn.tolist() == [[1, 1, 1, 1, 1], [0, 1, 1, 1, 1]]
    assert mask.tolist() == [[0, 1, 1], [1, 1, 1]]  # T = 3, the longest response
    assert torch.equal(ids[:, -3:][mask.bool()], torch.tensor([8, 9, 10, 11, 12]))
