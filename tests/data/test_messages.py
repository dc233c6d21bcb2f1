"""Chat messages of a prompt and their plain-text rendering (mogrpo/data/messages.py)."""

from __future__ import annotations

import pytest

from mogrpo.data.errors import DataError
from mogrpo.data.messages import (
    as_messages,
    check_messages,
    render_conversation,
    user_message,
    user_turns,
)

TWO_TURNS = [
    {"role": "user", "content": "What is 12 times 12?"},
    {"role": "assistant", "content": "144"},
    {"role": "user", "content": "Now divide the result by 4."},
]


def test_single_turn_renders_as_the_bare_prompt():
    assert render_conversation(user_message("How do tides work?")) == "How do tides work?"
    assert (
        as_messages("Hi") == as_messages({"id": "x", "prompt": "Hi"}) == [{"role": "user", "content": "Hi"}]
    )


def test_multi_turn_renders_with_hh_speakers():
    assert render_conversation(TWO_TURNS) == (
        "Human: What is 12 times 12?\n\nAssistant: 144\n\nHuman: Now divide the result by 4."
    )
    assert user_turns(TWO_TURNS) == ["What is 12 times 12?", "Now divide the result by 4."]
    assert as_messages({"prompt": "ignored", "messages": TWO_TURNS}) == TWO_TURNS


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([], "non-empty list"),
        ("Hi", "non-empty list"),
        ([{"role": "bot", "content": "x"}], "needs a role"),
        ([{"role": "user", "content": "  "}], "empty content"),
        (TWO_TURNS[:2], "last message must be a user turn"),
        ([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}, {"role": "user", "content": "c"}],
         "system message may only come first"),
    ],
)  # fmt: skip
def test_bad_messages_name_the_source_and_row(messages, match):
    with pytest.raises(DataError, match=rf"prompts\.jsonl, row 3: .*{match}"):
        check_messages(messages, source="prompts.jsonl", row=3)
