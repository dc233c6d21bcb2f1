"""The numbers of one answered prompt set: per-aspect table and refusal rates, over all prompts, per
prompt kind and, within a kind, per source; XSTest / AdvBench refusal checks.

``answers[side]`` (side = ``base`` / ``aligned``) is ``{"responses", "scores" [N, K], "refusal"}`` (the
refusal class of each response, :mod:`mogrpo.metrics.refusal`), or None for a side not generated. The
refusal record of a group of prompts is

    {"base": label_rates(...), "aligned": label_rates(...) | None,
     "change": {"refusal_rate": aligned - base, "full_refusal_rate": aligned - base}}   (both sides only)

where ``refusal_rate`` counts full and partial refusals, ``full_refusal_rate`` full ones only, and
``counts`` (in each side's rates) the responses of each class. On adversarial prompts refusal should
rise; on benign ones (over-refusal) it should not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mogrpo.metrics.aspects import aspect_table

KINDS = ("adversarial", "benign")
#: the rates whose aligned - base change a refusal record carries
CHANGED_RATES = ("refusal_rate", "full_refusal_rate")


def _rates(labels: Sequence[str], responses: Sequence[str]) -> dict:
    from mogrpo.metrics.refusal import label_rates

    return label_rates(labels, empty=sum(1 for r in responses if not r.strip()))


def refusal_pair(idx: Sequence[int], answers: Mapping[str, dict | None]) -> dict[str, Any]:
    """The refusal record (module docstring) of the prompts ``idx``."""
    out: dict[str, Any] = {}
    for side in ("base", "aligned"):
        a = answers.get(side)
        out[side] = None if a is None else _rates([a["refusal"][i] for i in idx], [a["responses"][i] for i in idx])
    if out["base"] is not None and out["aligned"] is not None and idx:
        out["change"] = {k: out["aligned"][k] - out["base"][k] for k in CHANGED_RATES}
    return out


def by_source(rows: Sequence[Mapping], idx: Sequence[int], answers: Mapping[str, dict | None]) -> dict[str, Any]:
    """``{source: {"n", "refusal"}}`` of the prompts ``idx`` (sources sorted by name; ``?`` for none)."""
    groups: dict[str, list[int]] = {}
    for i in idx:
        groups.setdefault(str(rows[i].get("source") or "?"), []).append(i)
    return {s: {"n": len(g), "refusal": refusal_pair(g, answers)} for s, g in sorted(groups.items())}


def set_table(
    pset, answers: Mapping[str, dict | None], aspects: Sequence[str], weights: Sequence[float]
) -> dict[str, Any]:
    """Per-aspect table and refusal rates of one answered set (``pset``: ``title`` and ``rows``), over
    all prompts and per ``kind``; within a kind, the refusal of each ``source`` when rows carry one."""
    base, aligned = answers["base"], answers.get("aligned")
    every = list(range(len(pset.rows)))
    out: dict[str, Any] = {
        "status": "done",
        "title": pset.title,
        **aspect_table(base["scores"], aligned["scores"] if aligned else None, aspects, weights),
        "refusal": refusal_pair(every, answers),
    }
    with_source = any(r.get("source") for r in pset.rows)
    kinds = {}
    for kind in KINDS:
        idx = [i for i, r in enumerate(pset.rows) if r.get("kind") == kind]
        if idx:
            t = aspect_table(base["scores"][idx], aligned["scores"][idx] if aligned else None, aspects, weights)
            t.pop("weights")
            kinds[kind] = {**t, "refusal": refusal_pair(idx, answers)}
            if with_source:
                kinds[kind]["by_source"] = by_source(pset.rows, idx, answers)
    if kinds:
        out["by_kind"] = kinds
    return out


def refusal_checks(pset, answers: Mapping[str, dict | None]) -> dict[str, Any]:
    """XSTest or AdvBench metrics of base and aligned (None for a side that was not generated)."""
    from mogrpo.metrics.refusal_sets import advbench_metrics, xstest_metrics

    out: dict[str, Any] = {"status": "done", "n": len(pset.rows)}
    for side in ("base", "aligned"):
        a = answers.get(side)
        if a is None:
            out[side] = None
        elif pset.name == "xstest":
            out[side] = xstest_metrics(
                {"label": r["label"], "type": r.get("type"), "response": resp, "refusal": cls}
                for r, resp, cls in zip(pset.rows, a["responses"], a["refusal"])
            )
        else:
            out[side] = advbench_metrics(
                {"response": resp, "refusal": cls} for resp, cls in zip(a["responses"], a["refusal"])
            )
    if pset.name == "xstest":
        out["n_safe"] = sum(r["label"] == "safe" for r in pset.rows)
        out["n_unsafe"] = sum(r["label"] == "unsafe" for r in pset.rows)
    return out
