"""The evaluation report: ``report.md`` and its PNG plots.

Reads the result of :func:`mogrpo.stages.evaluation.run_eval_stage` (the dict written to
``eval.json``); every part is optional and a missing or skipped part becomes a line saying so.
Sections, in order: the run, alarms, acceptance (:mod:`mogrpo.metrics.acceptance`), per-aspect tables
per prompt set and kind, refusal (:mod:`mogrpo.reports.refusal`), reward-model calibration and
aggregate ranking rates, skipped sections, plots, side-by-side answers (:mod:`mogrpo.reports.side_by_side`).
The title names the evaluated split (held-out, or validation for tuning).

- ``aspects.png``  per aspect, base vs aligned mean score, one panel per prompt kind of the evaluated split
- ``refusal.png``  refusal rate (full + partial, stacked) of base and aligned on the split's adversarial
  and benign prompts, XSTest safe / unsafe and AdvBench
- ``calibration.png`` is drawn by :func:`mogrpo.metrics.calibration.plot_calibration` in the stage and
  only linked here.

Tables show, per aspect k, ``base``, ``aligned``, ``Δ = aligned - base`` and ``rel Δ = Δ / base``
(see :mod:`mogrpo.metrics.aspects`); ``reward`` is the aggregate ``R = sum_k w_k r_k``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mogrpo.metrics.alarms import render_alarms_markdown
from mogrpo.reports.refusal import REFUSAL_ROWS, plot_refusal, refusal_section, split_title  # noqa: F401
from mogrpo.utils.formatting import (  # noqa: F401  (fmt, fmt_pct, markdown_table: re-exported for readers)
    fmt,
    fmt_pct,
    fmt_signed,
    is_done,
    markdown_table,
    nan_if_missing,
    pyplot,
)

ASPECTS_PNG = "aspects.png"
REFUSAL_PNG = "refusal.png"
CALIBRATION_PNG = "calibration.png"
REPORT_MD = "report.md"


# ---------------------------------------------------------------- sections


def aspect_rows(table: Mapping[str, Any]) -> list[list[str]]:
    """Rows ``name, base, aligned, Δ, rel Δ`` of an :func:`~mogrpo.metrics.aspects.aspect_table`, reward last."""
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
    """``refusal 12.0% (full 10.0%, partial 2.0%)`` of :func:`~mogrpo.metrics.refusal.label_rates`."""
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


def ranking_section(result: Mapping[str, Any]) -> list[str]:
    """The aggregate ranking rates of the evaluated reward model (``result["ranking"]``)."""
    from mogrpo.reports.calibration import ranking_rows

    lines = ["## Reward-model ranking (aggregate, held-out pairs)", ""]
    part = result.get("ranking")
    if part is None:
        return []
    if not is_done(part):
        return [*lines, f"Skipped: {part.get('reason', 'no reason given')}.", ""]
    where = "recomputed in this evaluation" if part.get("from") == "recomputed" else f"from `{part.get('from')}`"
    lines += [
        f"How often R = Σ_k w_k r_k ranks the better response of a held-out pair first ({where}; "
        "ties count 1/2; under 50% on a check means GRPO learns the wrong preference).",
        "",
        markdown_table(["check", "pairs", "aggregate", "per head", "per source"], ranking_rows(part.get("checks") or {})),
        "",
    ]
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
    for name in ("ranking", "side_by_side"):
        part = result.get(name)
        if isinstance(part, Mapping) and not is_done(part):
            out.append((name, str(part.get("reason"))))
    return out


def title(result: Mapping[str, Any]) -> str:
    """The report's title: which split the policies were judged on."""
    if str(result.get("split") or "heldout") == "validation":
        return "# Evaluation on the validation split (for tuning, not for reporting): base vs aligned policy"
    return "# Evaluation on the held-out split: base vs aligned policy"


def render_report(result: Mapping[str, Any], plots: Sequence[str] = ()) -> str:
    """The whole ``report.md`` as a string; ``plots`` are PNG file names beside it to link."""
    dec = result.get("decoding") or {}
    mode = "sampled" if dec.get("do_sample") else "greedy"
    sampling = f", temperature {dec.get('temperature')}, top_p {dec.get('top_p')}" if dec.get("do_sample") else ""
    from mogrpo.metrics.acceptance import render_acceptance_markdown
    from mogrpo.reports.side_by_side import render_side_by_side

    lines = [
        title(result),
        "",
        *([f"- trained run: `{result['run_dir']}`"] if result.get("run_dir") else []),
        f"- adapter: `{result.get('adapter')}`" + ("" if result.get("adapter") else " (base policy only)"),
        f"- reward model: `{result.get('reward_model')}`",
        f"- decoding: {mode}, max_new_tokens {dec.get('max_new_tokens')}{sampling}, seed {dec.get('seed')}",
        f"- wall time: {result.get('wall_time_s', '?')} s",
        *[f"- **config differs from the trained run**: {d}" for d in result.get("run_config_differences") or []],
        "",
        render_alarms_markdown(result.get("alarms") or []),
        *(render_acceptance_markdown(result["acceptance"]) if "acceptance" in result else []),
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
    lines += ranking_section(result)
    skipped = skipped_sections(result)
    if skipped:
        lines += ["## Skipped sections", ""] + [f"- {s}: {r}" for s, r in skipped] + [""]
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    if "side_by_side" in result:
        lines += render_side_by_side(result["side_by_side"])
    return "\n".join(lines)


# ---------------------------------------------------------------- plots


def plot_aspects(result: Mapping[str, Any], path: str | Path, set_name: str | None = None) -> Path | None:
    """Grouped bars, base vs aligned per aspect: one panel for all prompts of ``set_name`` (default: the
    evaluated split, ``result["split"]``), one per kind."""
    sets = result.get("sets") or {}
    set_name = set_name or next((n for n in (str(result.get("split") or "heldout"), "heldout") if n in sets), "heldout")
    part = (result.get("sets") or {}).get(set_name)
    if not is_done(part) or not part.get("aspects"):
        return None
    panels = [("all prompts", part)] + [
        (f"{k} prompts", sub) for k, sub in (part.get("by_kind") or {}).items() if sub.get("n") != part.get("n")
    ]
    plt = pyplot()
    aspects = list(part["aspects"])
    fig, axes = plt.subplots(1, len(panels), figsize=(1.0 + 1.1 * len(aspects) * len(panels), 3.6), squeeze=False)
    width = 0.38
    x = list(range(len(aspects)))
    for ax, (title, table) in zip(axes[0], panels):
        for offset, side, color in ((-width / 2, "base", "#9ecae1"), (width / 2, "aligned", "#08519c")):
            values = [nan_if_missing((table["aspects"].get(a) or {}).get(side)) for a in aspects]
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
