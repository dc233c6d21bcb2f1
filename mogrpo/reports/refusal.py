"""Refusal in report.md and ``refusal.png``: base vs aligned on the evaluated split's adversarial and
benign prompts (and per source), XSTest's safe and unsafe prompts, and AdvBench.

Every row has the share of prompts refused (full + partial), the full and partial refusals alone and
the full compliances, for base and aligned, and ``Δ refusal`` = aligned - base in percentage points.
On adversarial prompts refusal should rise; on benign ones (over-refusal) it should not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mogrpo.utils.formatting import fmt_pct, fmt_points, is_done, markdown_table, nan_if_missing, pyplot

#: (eval part, metric of the base/aligned metrics, row label) of the refusal table and plot
REFUSAL_ROWS: tuple[tuple[str, str, str], ...] = (
    ("xstest", "over_refusal", "XSTest safe prompts (over-refusal)"),
    ("xstest", "unsafe", "XSTest unsafe prompts"),
    ("advbench", "advbench", "AdvBench harmful behaviours"),
)
#: eval.split -> how its prompts are named
SPLIT_TITLES = {"heldout": "Held-out", "validation": "Validation"}
SIDES = ("base", "aligned")


def split_title(result: Mapping[str, Any]) -> str:
    """``Held-out`` or ``Validation``: how the report names the evaluated split."""
    split = str(result.get("split") or "heldout")
    return SPLIT_TITLES.get(split, split)


def _label_rates_metrics(rates: Any) -> dict[str, Any]:
    """``refusal`` / ``full`` / ``partial`` / ``compliance`` (and ``refused``, a count) of :func:`label_rates`."""
    if not isinstance(rates, Mapping):
        return {}
    counts = rates.get("counts") or {}
    refused = counts.get("full_refusal", 0) + counts.get("partial_refusal", 0) if counts else None
    return {
        "refusal": rates.get("refusal_rate"),
        "full": rates.get("full_refusal_rate"),
        "partial": rates.get("partial_refusal_rate"),
        "compliance": rates.get("compliance_rate"),
        "refused": refused,
    }


#: the xstest_metrics keys of the XSTest rows: which -> (refusal, full, partial, part with compliance_rate)
XSTEST_KEYS = {
    "over_refusal": ("over_refusal_rate", "over_refusal_full_rate", "over_refusal_partial_rate", "safe"),
    "unsafe": ("unsafe_refusal_rate", "unsafe_full_refusal_rate", "unsafe_partial_refusal_rate", "unsafe"),
}


def _check_metrics(result: Mapping[str, Any], part: str, which: str, side: str) -> dict[str, Any]:
    """The metrics of one row of :data:`REFUSAL_ROWS` (XSTest / AdvBench)."""
    node = result.get(part)
    if not is_done(node) or not isinstance(node.get(side), Mapping):
        return {}
    m = node[side]
    if which not in XSTEST_KEYS:
        return _label_rates_metrics(m)
    refusal, full, partial, sub = XSTEST_KEYS[which]
    return {"refusal": m.get(refusal), "full": m.get(full), "partial": m.get(partial),
            "compliance": (m.get(sub) or {}).get("compliance_rate")}  # fmt: skip


def refusal_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{"part", "label", "n", "base", "aligned"}`` per refusal row that has data: the split's adversarial
    and benign prompts (``result["by_kind"]``, part ``split``), then :data:`REFUSAL_ROWS`."""
    rows = []
    title = split_title(result)
    for kind, label in (("adversarial", f"{title} adversarial prompts"), ("benign", f"{title} benign prompts (over-refusal)")):
        sub = (result.get("by_kind") or {}).get(kind)
        refusal = (sub or {}).get("refusal") or {}
        if isinstance(refusal.get("base"), Mapping):
            metrics = {s: _label_rates_metrics(refusal.get(s)) for s in SIDES}
            rows.append({"part": "split", "label": label, "n": sub.get("n"), **metrics})
    for part, which, label in REFUSAL_ROWS:
        node = result.get(part)
        if not is_done(node):
            continue
        n = node.get("n_safe") if which == "over_refusal" else node.get("n_unsafe") if which == "unsafe" else node.get("n")
        metrics = {s: _check_metrics(result, part, which, s) for s in SIDES}
        if metrics["base"]:
            rows.append({"part": part, "label": label, "n": n, **metrics})
    return rows


def _change(row: Mapping[str, Any]) -> float | None:
    """aligned - base refusal rate of a :func:`refusal_rows` row (None when a side is missing)."""
    base, aligned = (row.get("base") or {}).get("refusal"), (row.get("aligned") or {}).get("refusal")
    return aligned - base if isinstance(aligned, int | float) and isinstance(base, int | float) else None


def _with_count(m: Mapping[str, Any]) -> str:
    rate = fmt_pct(m.get("refusal"))
    return f"{rate} ({m['refused']})" if m.get("refused") is not None and rate != "–" else rate


def per_source_lines(result: Mapping[str, Any]) -> list[str]:
    """A table of the split's refusal per kind and source (``by_kind[kind]["by_source"]``), if any."""
    rows = []
    for kind, sub in (result.get("by_kind") or {}).items():
        for source, entry in ((sub or {}).get("by_source") or {}).items():
            refusal = entry.get("refusal") or {}
            m = {s: _label_rates_metrics(refusal.get(s)) for s in SIDES}
            rows.append([kind, source, str(entry.get("n", "?")), _with_count(m["base"]), fmt_pct(m["base"].get("full")),
                         _with_count(m["aligned"]), fmt_pct(m["aligned"].get("full")),
                         fmt_points((refusal.get("change") or {}).get("refusal_rate"))])  # fmt: skip
    if not rows:
        return []
    header = ["kind", "source", "n", "base refusal (count)", "base full", "aligned refusal (count)", "aligned full",
              "Δ refusal"]  # fmt: skip
    return [f"### {split_title(result)} refusal per source", "",
            "Adversarial prompts should be refused more, benign ones not.", "",
            markdown_table(header, rows), ""]  # fmt: skip


def refusal_section(result: Mapping[str, Any]) -> list[str]:
    """The refusal table (the split's prompts by kind, XSTest, AdvBench), the per-source table, skips."""
    lines = ["## Refusal and over-refusal", ""]
    lines += [
        "Classes by the string-match detector (mogrpo/metrics/refusal.py): refusal = full + partial refusal; "
        "compliance = full compliance (on AdvBench: the attack-success proxy); Δ refusal = aligned - base.",
        "",
    ]
    rows = []
    for row in refusal_rows(result):
        cells = [row["label"], str(row["n"] if row["n"] is not None else "?")]
        for side in SIDES:
            m = row[side]
            cells += [fmt_pct(m.get("refusal")), fmt_pct(m.get("full")), fmt_pct(m.get("partial")), fmt_pct(m.get("compliance"))]
        rows.append([*cells, fmt_points(_change(row))])
    if rows:
        header = ["prompts", "n"]
        for side in SIDES:
            header += [f"{side} refusal", f"{side} full", f"{side} partial", f"{side} compliance"]
        lines += [markdown_table([*header, "Δ refusal"], rows), ""]
    lines += per_source_lines(result)
    for part, what in (("xstest", "XSTest"), ("advbench", "AdvBench")):
        node = result.get(part)
        if node is None:
            lines += [f"{what}: not run.", ""]
        elif not is_done(node):
            lines += [f"{what}: skipped: {node.get('reason', 'no reason given')}.", ""]
    return lines


def plot_refusal(result: Mapping[str, Any], path: str | Path) -> Path | None:
    """Refusal rate of base and aligned (full solid, partial hatched on top) per row of :func:`refusal_rows`.
    None (nothing drawn) without rows, and for a base-only evaluation without XSTest / AdvBench (the
    split's base refusal alone compares nothing; report.md has its numbers)."""
    found = refusal_rows(result)
    if not any(r["aligned"] or r["part"] != "split" for r in found):
        return None
    rows = [(r["label"].replace(" (over-refusal)", "\n(over-refusal)").replace(" prompts", "\nprompts", 1), r)
            for r in found]  # fmt: skip
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(2.0 * len(rows) + 2, 3.8))
    width = 0.38
    for offset, side, color in ((-width / 2, "base", "#9ecae1"), (width / 2, "aligned", "#08519c")):
        xs = [i + offset for i in range(len(rows))]
        full = [nan_if_missing(m[side].get("full")) for _, m in rows]
        partial = [nan_if_missing(m[side].get("partial")) for _, m in rows]
        ax.bar(xs, full, width, color=color, label=f"{side}: full refusal")
        ax.bar(xs, partial, width, bottom=[0 if math.isnan(f) else f for f in full], color=color, alpha=0.5,
               hatch="//", label=f"{side}: partial refusal")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([label for label, _ in rows], fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of prompts refused")
    ax.set_title("Refusal, base vs aligned (adversarial / unsafe / AdvBench: higher is safer; benign / safe: lower)",
                 fontsize=8)  # fmt: skip
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
