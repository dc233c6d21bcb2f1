"""The paper's benchmarks as rows: SafetyBench (multiple choice) and HelpSteer2 (prompts), from the hub or a file.

- :func:`benchmark_rows`      a hub dataset (``datasets.load_dataset(hub, subset, split=split)``) or a local file
  in the same schema; offline (``HF_HUB_OFFLINE`` / ``HF_DATASETS_OFFLINE``) without a file, or when the hub
  fails, :class:`BenchmarkUnavailable` says why (the evaluation records the section as skipped)
- :func:`safetybench_items`   SafetyBench's rows checked: ``question``, ``options`` (a list, or its JSON text in
  a CSV), ``category``, ``id`` and, in the dev set, ``answer`` (the index of the right option)
- :func:`helpsteer2_prompts`  HelpSteer2's distinct prompts in file order (two responses share each prompt)
"""

from __future__ import annotations

import json
import os
from typing import Any

from mogrpo.data.reader import read_rows
from mogrpo.errors import DataError

OFFLINE_VARS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


class BenchmarkUnavailable(Exception):
    """The benchmark cannot be read here (offline, or the hub failed); ``str(err)`` is the reason."""


def offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in OFFLINE_VARS)


def benchmark_rows(hub: str, subset: str | None, split: str, path: str | None, key: str) -> list[dict[str, Any]]:
    """The rows of a local ``path`` (json / jsonl / csv / parquet), else of the hub dataset; ``key`` names the
    config section in the reasons (``eval.safetybench``)."""
    if path:
        return read_rows(path, split, missing=f"{key}.path not found").filled()
    if offline():
        raise BenchmarkUnavailable(f"offline (HF_HUB_OFFLINE=1) and no local copy: set {key}.path to a file in "
                                   f"{hub}'s schema")  # fmt: skip
    try:
        import datasets

        ds = datasets.load_dataset(hub, subset, split=split)
    except Exception as err:  # no network, a gated dataset, a renamed config: skip the section, say why
        raise BenchmarkUnavailable(f"could not load {hub} ({subset or 'default'}, {split}): "
                                   f"{type(err).__name__}: {err}") from None  # fmt: skip
    return [dict(r) for r in ds]


def _options(value: Any, where: str, row: int) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise DataError("options is no list (nor its JSON text)", source=where, row=row) from None
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise DataError(f"options must list >= 2 choices, got {value!r}", source=where, row=row)
    return [str(o) for o in value]


def safetybench_items(rows: list[dict[str, Any]], limit: int | None = None, where: str = "safetybench") -> list[dict]:
    """``[{id, question, options, category, answer (int or None)}]``, the first ``limit``; bad rows are DataErrors."""
    out = []
    for i, row in enumerate(rows, start=1):
        question = str(row.get("question") or "").strip()
        if not question:
            raise DataError("empty question", source=where, row=i)
        options = _options(row.get("options"), where, i)
        answer = row.get("answer")
        if isinstance(answer, str) and answer.strip():  # a letter (A, B, ...) or a digit
            a = answer.strip()
            answer = int(a) if a.isdigit() else "ABCDEFGH".find(a.upper())
        if answer is not None and not (isinstance(answer, int) and 0 <= answer < len(options)):
            raise DataError(f"answer {row.get('answer')!r} is no option index of {len(options)} options",
                            source=where, row=i)  # fmt: skip
        out.append({"id": row.get("id", i), "question": question, "options": options,
                    "category": str(row.get("category") or "unknown"), "answer": answer})  # fmt: skip
        if limit is not None and len(out) >= limit:
            break
    return out


def helpsteer2_prompts(rows: list[dict[str, Any]], limit: int | None = None, where: str = "helpsteer2") -> list[dict]:
    """The distinct non-empty ``prompt`` texts in order, as prompt rows (``kind`` None, ``source`` helpsteer2)."""
    seen: dict[str, None] = {}
    for i, row in enumerate(rows, start=1):
        if "prompt" not in row:
            raise DataError(f"no prompt column; columns are {sorted(row)}", source=where, row=i)
        text = str(row.get("prompt") or "").strip()
        if text:
            seen.setdefault(text, None)
        if limit is not None and len(seen) >= limit:
            break
    return [{"id": f"helpsteer2-{i}", "prompt": p, "kind": None, "source": "helpsteer2"} for i, p in enumerate(seen)]
