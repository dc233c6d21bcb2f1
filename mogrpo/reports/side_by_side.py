"""Side-by-side answers of the base and the aligned policy: a small stratified sample, shown in full.

:func:`sample_indices` draws ``n`` prompts of a set, deterministic for a seed:

1. the prompts are grouped by ``kind`` (adversarial, benign, then any other) and, within a kind, by
   ``source``; each group's prompts are shuffled by ``random.Random(f"side_by_side/{seed}")``;
2. the ``n`` places are dealt round-robin over the kinds (so both kinds get half when both have
   enough prompts), and a kind's places round-robin over its sources (so several sources show up);
   a group with no prompts left drops out of the deal;
3. the chosen prompts are listed by kind, then source, then their order in the set.

:func:`render_side_by_side` writes them as markdown: the prompt (every turn of a multi-turn prompt),
a table of both policies' refusal class, per-aspect scores and aggregate reward, and both answers in
full inside code fences longer than any run of backticks in the text, so nothing in an answer is
read as markdown or HTML.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mogrpo.utils.formatting import fmt, markdown_table

KIND_ORDER = ("adversarial", "benign")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~])")


def deal(n: int, sizes: Sequence[int]) -> list[int]:
    """How many of ``n`` places each group gets, dealt one at a time round-robin, a group at most its size."""
    take = [0] * len(sizes)
    left = n
    while left > 0:
        open_ = [i for i, s in enumerate(sizes) if take[i] < s]
        if not open_:
            break
        for i in open_:
            if left == 0:
                break
            take[i] += 1
            left -= 1
    return take


def _kind_key(kind: Any) -> tuple[int, str]:
    return (KIND_ORDER.index(kind), "") if kind in KIND_ORDER else (len(KIND_ORDER), str(kind))


def sample_indices(rows: Sequence[Mapping], n: int, seed: int = 0) -> list[int]:
    """Indices of ``n`` rows (all when fewer), stratified by kind and source (see the module docstring)."""
    rng = random.Random(f"side_by_side/{seed}")
    strata: dict[Any, dict[str, list[int]]] = {}
    for i, r in enumerate(rows):
        strata.setdefault(r.get("kind"), {}).setdefault(str(r.get("source") or "?"), []).append(i)
    kinds = sorted(strata, key=_kind_key)
    chosen: list[tuple[tuple[int, str], str, int]] = []
    quota = deal(n, [sum(len(g) for g in strata[k].values()) for k in kinds])
    for kind, q in zip(kinds, quota):
        sources = sorted(strata[kind])
        groups = {s: rng.sample(strata[kind][s], len(strata[kind][s])) for s in sources}
        for s, take in zip(sources, deal(q, [len(groups[s]) for s in sources])):
            chosen += [(_kind_key(kind), s, i) for i in groups[s][:take]]
    return [i for _, _, i in sorted(chosen)]


def section(records: Sequence[Mapping], indices: Sequence[int], set_name: str, seed: int) -> dict[str, Any]:
    """The ``side_by_side`` entry of eval.json: the sampled ``samples.jsonl`` records and how they were drawn."""
    samples = [dict(records[i], index=i) for i in indices]
    counts: dict[str, int] = {}
    for s in samples:
        key = f"{s.get('kind')}/{s.get('source') or '?'}"
        counts[key] = counts.get(key, 0) + 1
    return {"status": "done", "set": set_name, "n": len(samples), "seed": seed, "strata": counts, "samples": samples}


# ---------------------------------------------------------------- markdown
def escape_inline(text: Any) -> str:
    """``text`` on one line with markdown's special characters backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def fenced(text: str, info: str = "text") -> list[str]:
    """``text`` verbatim in a code fence of more backticks than its longest backtick run (at least 3)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, text, fence]


def _answer(text: Any) -> list[str]:
    if not isinstance(text, str):
        return ["*(not generated)*"]
    return fenced(text) if text.strip() else ["*(empty response)*"]


def render_sample(k: int, s: Mapping) -> list[str]:
    """One sampled prompt: heading, prompt turns, the score table, both answers."""
    where = " · ".join(escape_inline(v) for v in (s.get("kind"), s.get("source"), s.get("category")) if v)
    ident = f" (id {escape_inline(s['id'])})" if s.get("id") not in (None, "") else ""
    lines = [f"### {k}. {where}{ident}", ""]
    turns = s.get("messages") or [{"role": "user", "content": s.get("prompt", "")}]
    for turn in turns:
        lines += [f"**Prompt ({escape_inline(turn.get('role', 'user'))})**", "", *fenced(str(turn.get("content", ""))), ""]
    base, aligned = s.get("base_scores") or {}, s.get("aligned_scores") or {}
    rows = [["refusal class", str(s.get("base_refusal") or "–"), str(s.get("aligned_refusal") or "–")]]
    rows += [[a, fmt(base.get(a)), fmt(aligned.get(a))] for a in [*base, *(a for a in aligned if a not in base)]]
    rows.append(["**reward**", fmt(s.get("base_reward")), fmt(s.get("aligned_reward"))])
    lines += [markdown_table(("", "base", "aligned"), rows), ""]
    lines += ["**Base answer**", "", *_answer(s.get("base_response")), ""]
    lines += ["**Aligned answer**", "", *_answer(s.get("aligned_response")), ""]
    return lines


def render_side_by_side(part: Mapping | None) -> list[str]:
    """The ``## Side-by-side answers`` section of report.md."""
    lines = ["## Side-by-side answers", ""]
    if not isinstance(part, Mapping) or part.get("status") == "skipped":
        reason = part.get("reason") if isinstance(part, Mapping) else "not drawn"
        return [*lines, f"Skipped: {reason}.", ""]
    strata = ", ".join(f"{k} {v}" for k, v in (part.get("strata") or {}).items())
    lines += [
        f"{part.get('n')} prompts of the `{part.get('set')}` set, a stratified sample by kind and source "
        f"(seed {part.get('seed')}): {strata}. Every answer of every set is in `samples.jsonl`.",
        "",
    ]
    for k, s in enumerate(part.get("samples") or [], start=1):
        lines += render_sample(k, s)
    return lines
