"""Evaluation-only prompt sets: never GRPO training prompts.

XSTest and AdvBench measure refusal and over-refusal, and Self-Instruct's 252 user-oriented
instructions are an evaluation set whose authors ask that it not be trained on. A run that tunes
on them reports on what it trained on, so the GRPO stage refuses a ``data.train`` that

1. names one of their files (:func:`eval_only_files_named`; works without the shared data folder), or
2. holds a prompt whose normalised text (or any user turn of it) is one of theirs
   (:func:`find_eval_only`; needs the files under ``paths.shared_data``).

:func:`drop_eval_only` removes such prompts from a set instead (the real mix and the builtin
train split use it: two builtin train prompts and two DangerousQA questions are XSTest prompts).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mogrpo.data.messages import user_turns
from mogrpo.data.splits import normalise

#: set name -> file under the shared data folder
EVAL_ONLY_FILES = {
    "XSTest": "xstest/xstest_prompts.csv",
    "AdvBench": "advbench/harmful_behaviors.csv",
    "AdvBench harmful strings": "advbench/harmful_strings.csv",
    "Self-Instruct user-oriented": "self-instruct/user_oriented_instructions.jsonl",
}
#: the column of each csv that holds the prompt text
_CSV_COLUMN = {"XSTest": "prompt", "AdvBench": "goal", "AdvBench harmful strings": "target"}


def _csv_texts(path: Path, column: str) -> list[str]:
    import csv

    with path.open(encoding="utf-8", newline="") as fh:
        return [row.get(column) or "" for row in csv.DictReader(fh)]


def _user_oriented_texts(path: Path) -> list[str]:
    """Each instruction alone and with each instance's input (as a seed task is rendered)."""
    from mogrpo.data.prompt_sources import seed_task_prompt

    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            texts.append(str(row.get("instruction") or ""))
            texts += [seed_task_prompt(texts[-1], (i or {}).get("input")) for i in row.get("instances") or []]
    return texts


@functools.lru_cache(maxsize=8)
def _texts_at(root: str) -> tuple[tuple[str, str], ...]:
    out = []
    for name, relative in EVAL_ONLY_FILES.items():
        path = Path(root) / relative
        if not path.is_file():
            continue
        texts = _user_oriented_texts(path) if path.suffix == ".jsonl" else _csv_texts(path, _CSV_COLUMN[name])
        out += [(normalise(t), name) for t in texts if t.strip()]
    return tuple(out)


def eval_only_texts(root: str | Path | None) -> dict[str, str]:
    """Normalised text -> set name for every evaluation-only prompt found under ``root`` (files that are
    absent are skipped; no ``root``: empty)."""
    if root is None or str(root) in ("", "???") or not Path(str(root)).expanduser().is_dir():
        return {}
    return dict(_texts_at(str(Path(str(root)).expanduser().resolve())))


def _eval_only_set(prompt: Mapping, texts: Mapping[str, str]) -> str | None:
    """The evaluation-only set that ``prompt`` (its text or one of its user turns) comes from, or None."""
    candidates = [prompt["prompt"], *user_turns(prompt.get("messages") or [])]
    return next((texts[k] for k in map(normalise, candidates) if k in texts), None)


def find_eval_only(prompts: Iterable[Mapping], texts: Mapping[str, str]) -> list[tuple[Mapping, str]]:
    """``(prompt, set name)`` for each prompt that is in an evaluation-only set (``texts``: :func:`eval_only_texts`)."""
    if not texts:
        return []
    return [(p, name) for p in prompts if (name := _eval_only_set(p, texts)) is not None]


def drop_eval_only(prompts: Sequence[dict], root: str | Path | None) -> list[dict]:
    """``prompts`` without those in an evaluation-only set under ``root`` (all of them when it has none)."""
    texts = eval_only_texts(root)
    return [p for p in prompts if not texts or _eval_only_set(p, texts) is None]


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, Sequence) and not isinstance(node, bytes):
        for v in node:
            yield from _strings(v)


def eval_only_files_named(node: Any) -> list[str]:
    """The strings in a (plain) config node whose file name is an evaluation-only file's (e.g.
    ``.../advbench/harmful_behaviors.csv``)."""
    names = {Path(relative).name for relative in EVAL_ONLY_FILES.values()}
    return [s for s in _strings(node) if Path(s.replace("\\", "/")).name in names]
