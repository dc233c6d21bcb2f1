"""Chat messages of a prompt: what the policy sees, and the plain text the reward model reads.

A prompt dict may carry ``messages``, a list of ``{"role", "content"}`` chat messages (roles
``system`` / ``user`` / ``assistant``) that ends with a user turn. Single-turn prompts have one
user message; a multi-turn prompt (an MT-Bench second turn, an HH transcript) keeps its earlier
turns as separate messages, so the policy's chat template marks each speaker instead of reading
one pasted block of text.

The reward regressor reads plain text. Its ``prompt`` is the content of the single user message
for a single-turn prompt, and for a multi-turn prompt the conversation rendered by
:func:`render_conversation` in the HH-RLHF speaker convention (``Human:`` / ``Assistant:`` turns
separated by a blank line), the form in which it sees multi-turn prompts in the reward data.
The final ``Assistant:`` cue is left out: the response is passed to the regressor separately.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mogrpo.errors import DataError

ROLES = ("system", "user", "assistant")
#: speaker labels of :func:`render_conversation` (HH-RLHF's ``Human:`` / ``Assistant:``)
SPEAKERS = {"system": "System", "user": "Human", "assistant": "Assistant"}


def user_message(text: str) -> list[dict[str, str]]:
    """A one-message conversation: ``[{"role": "user", "content": text}]``."""
    return [{"role": "user", "content": text}]


def check_messages(messages: Any, source: str | None = None, row: int | None = None) -> list[dict[str, str]]:
    """``messages`` as a list of plain ``{"role", "content"}`` dicts, or a DataError naming ``source`` / ``row``.

    Every message needs a role in :data:`ROLES` and a non-empty string content; a system message may
    only come first; the last message must be a user turn (the policy answers it).
    """
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence) or not messages:
        raise DataError(
            f"messages must be a non-empty list of {{role, content}} dicts, got {messages!r}",
            source=source,
            row=row,
        )
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or m.get("role") not in ROLES:
            raise DataError(f"message {i}: needs a role in {ROLES}, got {m!r}", source=source, row=row)
        content = m.get("content")
        if not isinstance(content, str) or not content.strip():
            raise DataError(f"message {i} ({m['role']}): empty content {content!r}", source=source, row=row)
        if m["role"] == "system" and i > 0:
            raise DataError(f"message {i}: a system message may only come first", source=source, row=row)
        out.append({"role": str(m["role"]), "content": content})
    if out[-1]["role"] != "user":
        raise DataError(
            f"the last message must be a user turn, got {out[-1]['role']!r}", source=source, row=row
        )
    return out


def as_messages(item: str | Mapping | Sequence[Mapping]) -> list[dict[str, str]]:
    """The chat messages of a prompt string, a prompt dict (its ``messages``, else its ``prompt``) or a
    messages list (checked by :func:`check_messages`)."""
    if isinstance(item, str):
        return user_message(item)
    if isinstance(item, Mapping):
        if item.get("messages"):
            return check_messages(item["messages"], source=str(item.get("id", "prompt")))
        return user_message(str(item["prompt"]))
    return check_messages(item)


def user_turns(messages: Sequence[Mapping]) -> list[str]:
    """The contents of the user messages, in order."""
    return [str(m["content"]) for m in messages if m["role"] == "user"]


def render_conversation(messages: Sequence[Mapping]) -> str:
    """Plain text of a conversation: the bare content of a lone user message, otherwise
    ``"Human: ...\\n\\nAssistant: ...\\n\\nHuman: ..."`` (system: ``"System: ..."``)."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return str(messages[0]["content"])
    return "\n\n".join(f"{SPEAKERS[m['role']]}: {str(m['content']).strip()}" for m in messages)
