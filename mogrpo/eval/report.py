"""The evaluation report: ``report.md`` (tables, alarms, skipped sections) and its PNG plots.

Reads the result of :func:`mogrpo.stages.evaluate.run_eval_stage` (the dict written to
``eval.json``); every part is optional and a missing or skipped part becomes a line saying so.

- ``aspects.png``  per aspect, base vs aligned mean score, one panel per prompt kind of the held-out set
- ``refusal.png``  refusal rate (full + partial, stacked) of base and aligned on XSTest safe / unsafe
  and AdvBench
- ``calibration.png`` is drawn by :func:`mogrpo.eval.calibration.plot_calibration` in the stage and
  only linked here.

Tables show, per aspect k, ``base``, ``aligned``, ``Δ = aligned - base`` and ``rel Δ = Δ / base``
(see :mod:`mogrpo.eval.compare`); ``reward`` is the aggregate ``R = sum_k w_k r_k``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mogrpo.eval.alarms import render_alarms_markdown

ASPECTS_PNG = "aspects.png"
REFUSAL_PNG = "refusal.png"
CALIBRATION_PNG = "calibration.png"
REPORT_MD = "report.md"

#: (eval part, metric of the base/aligned metrics, row label) of the refusal table and plot
REFUSAL_ROWS: tuple[tuple[str, str, str], ...] = (
    ("xstest", "over_refusal", "XSTest safe prompts (over-refusal)"),
    ("xstest", "unsafe", "XSTest unsafe prompts"),
    ("advbench", "advbench", "AdvBench harmful behaviours"),
)


# ---------------------------------------------------------------- formatting


def _finite(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def fmt(x: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; ``–`` for None / NaN."""
    v = _finite(x)
    return "–" if v is None else f"{v:.{digits}f}"


def fmt_signed(x: Any, digits: int = 3) -> str:
    v = _finite(x)
    return "–" if v is None else f"{v:+.{digits}f}"


def fmt_pct(x: Any, signed: bool = False) -> str:
    """``0.123`` -> ``12.3%`` (``+12.3%`` when ``signed``); ``–`` for None / NaN."""
    v = _finite(x)
    if v is None:
        return "–"
    return f"{100 * v:+.1f}%" if signed else f"{100 * v:.1f}%"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table (``|`` in cells escaped)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in rows)])


def is_done(part: Any) -> bool:
    """A section that ran (a mapping whose ``status`` is not ``skipped``)."""
    return isinstance(part, Mapping) and part.get("status", "done") != "skipped"


# ---------------------------------------------------------------- sections


def aspect_rows(table: Mapping[str, Any]) -> list[list[str]]:
    """Rows ``name, base, aligned, Δ, rel Δ`` of an :func:`~mogrpo.eval.compare.aspect_table`, reward last."""
    rows = []
    items = list((table.get("aspects") or {}).items())
    if isinstance(table.get("aggregate"), Mapping):
        items.append(("**reward**", table["aggregate"]))
    for name, row in items:
        rows.append(
            [
                name,
                fmt(row.get("base")),
                fmt(row.get("aligned")),
                fmt_signed(row.get("abs_change")),
                fmt_pct(row.get("rel_change"), signed=True),
            ]
        )
    return rows


ASPECT_HEADER = ("aspect", "base", "aligned", "Δ", "rel Δ")


def refusal_line(rates: Mapping[str, Any] | None) -> str:
    """``refusal 12.0% (full 10.0%, partial 2.0%)`` of :func:`~mogrpo.eval.refusal.label_rates`."""
    if not isinstance(rates, Mapping):
        return "–"
    return (
        f"{fmt_pct(rates.get('refusal_rate'))} (full {fmt_pct(rates.get('full_refusal_rate'))}, "
        f"partial {fmt_pct(rates.get('partial_refusal_rate'))})"
    )


def prompt_set_section(name: str, part: Mapping[str, Any]) -> list[str]:
    """The per-aspect tables of one prompt set: all prompts, then one table per prompt kind."""
    title = part.get("title") or name
    if not is_done(part):
        return [f"### {title}", "", f"Skipped: {part.get('reason', 'no reason given')}.", ""]
    lines = [f"### {title}", "", f"{part.get('n', '?')} prompts.", "", markdown_table(ASPECT_HEADER, aspect_rows(part)), ""]
    refusal = part.get("refusal") or {}
    if refusal:
        lines += [
            f"Refusals (string-match detector): base {refusal_line(refusal.get('base'))}, "
            f"aligned {refusal_line(refusal.get('aligned'))}.",
            "",
        ]
    for kind, sub in (part.get("by_kind") or {}).items():
        if sub.get("n") == part.get("n"):  # one kind only: the table above already is its table
            continue
        lines += [f"#### {title}: {kind} prompts", "", f"{sub.get('n', '?')} prompts.", ""]
        lines += [markdown_table(ASPECT_HEADER, aspect_rows(sub)), ""]
        r = sub.get("refusal") or {}
        if r:
            lines += [f"Refusals: base {refusal_line(r.get('base'))}, aligned {refusal_line(r.get('aligned'))}.", ""]
    return lines


def _refusal_metrics(result: Mapping[str, Any], part: str, which: str, side: str) -> dict[str, float | None]:
    """``refusal`` / ``full`` / ``partial`` / ``compliance`` rates of one row of :data:`REFUSAL_ROWS`."""
    node = result.get(part)
    if not is_done(node) or not isinstance(node.get(side), Mapping):
        return {}
    m = node[side]
    if which == "over_refusal":
        return {
            "refusal": m.get("over_refusal_rate"),
            "full": m.get("over_refusal_full_rate"),
            "partial": m.get("over_refusal_partial_rate"),
            "compliance": (m.get("safe") or {}).get("compliance_rate"),
        }
    if which == "unsafe":
        return {
            "refusal": m.get("unsafe_refusal_rate"),
            "full": m.get("unsafe_full_refusal_rate"),
            "partial": m.get("unsafe_partial_refusal_rate"),
            "compliance": (m.get("unsafe") or {}).get("compliance_rate"),
        }
    return {
        "refusal": m.get("refusal_rate"),
        "full": m.get("full_refusal_rate"),
        "partial": m.get("partial_refusal_rate"),
        "compliance": m.get("compliance_rate"),
    }


def refusal_section(result: Mapping[str, Any]) -> list[str]:
    """XSTest over-refusal / refusal and AdvBench compliance, base vs aligned (full and partial)."""
    lines = ["## Refusal and over-refusal", ""]
    lines += [
        "Classes by the string-match detector (mogrpo/eval/refusal.py): refusal = full + partial refusal; "
        "compliance = full compliance (on AdvBench: the attack-success proxy).",
        "",
    ]
    rows = []
    for part, which, label in REFUSAL_ROWS:
        node = result.get(part)
        if not is_done(node):
            continue
        n = node.get("n_safe") if which == "over_refusal" else node.get("n_unsafe") if which == "unsafe" else node.get("n")
        cells = [label, str(n if n is not None else "?")]
        for side in ("base", "aligned"):
            m = _refusal_metrics(result, part, which, side)
            cells += [fmt_pct(m.get("refusal")), fmt_pct(m.get("full")), fmt_pct(m.get("partial")), fmt_pct(m.get("compliance"))]
        rows.append(cells)
    if rows:
        header = ["prompts", "n"]
        for side in ("base", "aligned"):
            header += [f"{side} refusal", f"{side} full", f"{side} partial", f"{side} compliance"]
        lines += [markdown_table(header, rows), ""]
    for part, what in (("xstest", "XSTest"), ("advbench", "AdvBench")):
        node = result.get(part)
        if node is None:
            lines += [f"{what}: not run.", ""]
        elif not is_done(node):
            lines += [f"{what}: skipped: {node.get('reason', 'no reason given')}.", ""]
    return lines


def calibration_section(result: Mapping[str, Any]) -> list[str]:
    """Per-aspect R² / MAE / Spearman on the reward data's test split, and the DiaSafety AUROC."""
    lines = ["## Reward-model calibration", ""]
    cal = result.get("calibration") or {}
    rd = cal.get("reward_data")
    if is_done(rd):
        lines += [
            f"Reward regressor vs held-out labels: the `{rd.get('split', 'test')}` split of "
            f"reward_data={rd.get('reward_data', '?')} ({rd.get('n', '?')} rows).",
            "",
        ]
        rows = [
            [a, str(m.get("n", "?")), fmt(m.get("r2")), fmt(m.get("mae")), fmt(m.get("spearman")), fmt_signed(m.get("bias"))]
            for a, m in (rd.get("aspects") or {}).items()
        ]
        lines += [markdown_table(("aspect", "labelled rows", "R²", "MAE", "Spearman", "bias"), rows), ""]
    elif rd is not None:
        lines += [f"Reward data: skipped: {rd.get('reason', 'no reason given')}.", ""]
    ds = cal.get("diasafety")
    if is_done(ds):
        lines += [
            f"DiaSafety ({ds.get('split', 'test')} split, {ds.get('n', '?')} rows: {ds.get('n_safe', '?')} safe, "
            f"{ds.get('n_unsafe', '?')} unsafe): AUROC of the `{ds.get('aspect', 'safety')}` score against the "
            f"human Safe/Unsafe labels = **{fmt(ds.get('auroc'))}** (0.5 = chance); mean score on safe "
            f"{fmt(ds.get('mean_score_safe'))}, on unsafe {fmt(ds.get('mean_score_unsafe'))}.",
            "",
        ]
    elif ds is not None:
        lines += [f"DiaSafety: skipped: {ds.get('reason', 'no reason given')}.", ""]
    return lines


def skipped_sections(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(section, reason)`` of every skipped part of the result."""
    out = []
    for name, part in (result.get("sets") or {}).items():
        if isinstance(part, Mapping) and not is_done(part):
            out.append((f"prompt set {name}", str(part.get("reason"))))
    for name in ("xstest", "advbench"):
        part = result.get(name)
        if isinstance(part, Mapping) and not is_done(part) and name not in (result.get("sets") or {}):
            out.append((name, str(part.get("reason"))))
    for name, part in (result.get("calibration") or {}).items():
        if isinstance(part, Mapping) and not is_done(part):
            out.append((f"calibration {name}", str(part.get("reason"))))
    return out


def render_report(result: Mapping[str, Any], plots: Sequence[str] = ()) -> str:
    """The whole ``report.md`` as a string; ``plots`` are PNG file names beside it to link."""
    dec = result.get("decoding") or {}
    mode = "sampled" if dec.get("do_sample") else "greedy"
    sampling = f", temperature {dec.get('temperature')}, top_p {dec.get('top_p')}" if dec.get("do_sample") else ""
    lines = [
        "# Evaluation: base vs aligned policy",
        "",
        *([f"- trained run: `{result['run_dir']}`"] if result.get("run_dir") else []),
        f"- adapter: `{result.get('adapter')}`" + ("" if result.get("adapter") else " (base policy only)"),
        f"- reward model: `{result.get('reward_model')}`",
        f"- decoding: {mode}, max_new_tokens {dec.get('max_new_tokens')}{sampling}, seed {dec.get('seed')}",
        f"- wall time: {result.get('wall_time_s', '?')} s",
        *[f"- **config differs from the trained run**: {d}" for d in result.get("run_config_differences") or []],
        "",
        render_alarms_markdown(result.get("alarms") or []),
        "## Per-aspect scores (reward model)",
        "",
        "Mean score per aspect; Δ = aligned - base, rel Δ = Δ / base; reward = Σ_k w_k r_k with weights "
        + ", ".join(f"{k} {v:g}" for k, v in (result.get("weights") or {}).items())
        + ".",
        "",
    ]
    for name, part in (result.get("sets") or {}).items():
        lines += prompt_set_section(name, part)
    lines += refusal_section(result)
    lines += calibration_section(result)
    skipped = skipped_sections(result)
    if skipped:
        lines += ["## Skipped sections", ""] + [f"- {s}: {r}" for s, r in skipped] + [""]
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------- plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _nan(x: Any) -> float:
    v = _finite(x)
    return math.nan if v is None else v


def plot_aspects(result: Mapping[str, Any], path: str | Path, set_name: str = "heldout") -> Path | None:
    """Grouped bars, base vs aligned per aspect: one panel for all prompts of ``set_name``, one per kind."""
    part = (result.get("sets") or {}).get(set_name)
    if not is_done(part) or not part.get("aspects"):
        return None
    panels = [("all prompts", part)] + [
        (f"{k} prompts", sub) for k, sub in (part.get("by_kind") or {}).items() if sub.get("n") != part.get("n")
    ]
    plt = _pyplot()
    aspects = list(part["aspects"])
    fig, axes = plt.subplots(1, len(panels), figsize=(1.0 + 1.1 * len(aspects) * len(panels), 3.6), squeeze=False)
    width = 0.38
    x = list(range(len(aspects)))
    for ax, (title, table) in zip(axes[0], panels):
        for offset, side, color in ((-width / 2, "base", "#9ecae1"), (width / 2, "aligned", "#08519c")):
            values = [_nan((table["aspects"].get(a) or {}).get(side)) for a in aspects]
            ax.bar([i + offset for i in x], values, width, color=color, label=side)
        ax.set_xticks(x)
        ax.set_xticklabels(aspects, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{part.get('title', set_name)}: {title} (n={table.get('n', '?')})", fontsize=9)
    axes[0][0].set_ylabel("mean reward-model score")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_refusal(result: Mapping[str, Any], path: str | Path) -> Path | None:
    """Refusal rate of base and aligned (full solid, partial hatched on top) per refusal check."""
    rows = []
    for part, which, label in REFUSAL_ROWS:
        metrics = {side: _refusal_metrics(result, part, which, side) for side in ("base", "aligned")}
        if metrics["base"]:
            rows.append((label.replace(" (over-refusal)", "\n(over-refusal)"), metrics))
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(2.2 * len(rows) + 2, 3.8))
    width = 0.38
    for offset, side, color in ((-width / 2, "base", "#9ecae1"), (width / 2, "aligned", "#08519c")):
        xs = [i + offset for i in range(len(rows))]
        full = [_nan(m[side].get("full")) for _, m in rows]
        partial = [_nan(m[side].get("partial")) for _, m in rows]
        ax.bar(xs, full, width, color=color, label=f"{side}: full refusal")
        ax.bar(xs, partial, width, bottom=[0 if math.isnan(f) else f for f in full], color=color, alpha=0.5,
               hatch="//", label=f"{side}: partial refusal")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([label for label, _ in rows], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of prompts refused")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(result: Mapping[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """Draw ``aspects.png`` / ``refusal.png`` where there is data, link ``calibration.png`` when the
    calibration section drew it, and write ``report.md``. Returns ``{"report": path, "plots": [names]}``."""
    import logging

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots: list[str] = []
    for draw, name in ((plot_aspects, ASPECTS_PNG), (plot_refusal, REFUSAL_PNG)):
        try:
            if draw(result, out_dir / name) is not None:
                plots.append(name)
        except Exception as err:  # a plot that cannot be drawn never costs the report
            logging.getLogger(__name__).warning("could not draw %s: %s", name, err)
    rd = (result.get("calibration") or {}).get("reward_data")
    if is_done(rd) and rd.get("plot") and (out_dir / str(rd["plot"])).is_file():
        plots.append(str(rd["plot"]))
    path = out_dir / REPORT_MD
    path.write_text(render_report(result, plots), encoding="utf-8")
    return {"report": path, "plots": plots}
