"""Group-size sensitivity of a G sweep: how much the final aligned safety varies across seeds, per G.

A sweep such as ``python -m mogrpo.train --multirun experiment=ablation_group_size seed=1,2,3`` leaves
one job dir per (G, seed) under the multirun dir, each with the ``summary.json`` of
:func:`mogrpo.train.train`: ``choices.G``, ``seed`` and ``eval.aspects.<aspect>.aligned`` (the
aligned policy's mean score on the held-out prompts, :func:`mogrpo.stages.evaluation.run_eval_stage`).
For each G with values x_1 .. x_n (one per seed)::

    mean = (1/n) sum_i x_i
    std  = sqrt( sum_i (x_i - mean)^2 / (n - 1) )      (sample std, as mogrpo.summarize; None for n < 2)
    min, max, range = max - min

Writes ``sensitivity.md`` (the table), ``sensitivity.json`` and ``sensitivity.png`` (every seed's value
per G, with mean ± std). A job whose ``summary.json`` is unreadable or holds no evaluation is listed
as left out, never fatal; a job dir without ``summary.json`` (the job died) is not a finished job and is
not read.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mogrpo.metrics.results import eval_means
from mogrpo.sweeps.jobs import find_job_dirs, override_value, parse_scalar, read_overrides
from mogrpo.utils.formatting import fmt, pyplot
from mogrpo.utils.io import write_json

log = logging.getLogger(__name__)

SENSITIVITY_MD = "sensitivity.md"
SENSITIVITY_JSON = "sensitivity.json"
SENSITIVITY_PNG = "sensitivity.png"


@dataclass(frozen=True)
class Point:
    """One job's final aligned score of the aspect, with its group size and seed."""

    G: Any
    seed: Any
    value: float
    job_dir: str


def _override(job_dir: Path, key: str) -> str | None:
    """The value of ``key=...`` in the job's ``.hydra/overrides.yaml``, if any (None when unreadable)."""
    try:
        return override_value(read_overrides(job_dir), key)
    except Exception:
        return None


def group_size(summary: dict[str, Any], job_dir: Path) -> Any:
    """G of a job: ``summary["choices"]["G"]``, else the ``grpo.G`` override, else None."""
    g = (summary.get("choices") or {}).get("G")
    return g if g is not None else parse_scalar(_override(job_dir, "grpo.G"))


def read_point(job_dir: str | Path, aspect: str = "safety") -> Point:
    """The :class:`Point` of one job dir; ValueError saying what is missing."""
    job_dir = Path(job_dir)
    try:
        summary = json.loads((job_dir / "summary.json").read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"unreadable summary.json ({err})") from None
    if not isinstance(summary, dict):
        raise ValueError("summary.json is not a JSON object")
    aligned = eval_means(summary.get("eval") or {}).get(aspect, (None, None))[1]
    if aligned is None or not math.isfinite(aligned):
        raise ValueError(f"no aligned {aspect} score in summary.json's eval")
    g = group_size(summary, job_dir)
    if g is None:
        raise ValueError("no group size (summary.json choices.G or a grpo.G override)")
    seed = summary.get("seed")
    if seed is None:
        seed = parse_scalar(_override(job_dir, "seed"))
    return Point(G=g, seed=seed, value=float(aligned), job_dir=str(job_dir))


def collect_points(roots: str | Path | Sequence[str | Path], aspect: str = "safety") -> tuple[list[Point], list[dict]]:
    """Every job's :class:`Point` under ``roots``, and the jobs that could not be read (dir, reason)."""
    roots = [roots] if isinstance(roots, str | Path) else list(roots)
    points, failed = [], []
    for root in roots:
        if not Path(root).is_dir():
            raise FileNotFoundError(f"not a directory: {root}")
        for d in find_job_dirs(Path(root), finished_only=True):
            try:
                points.append(read_point(d, aspect))
            except ValueError as err:
                failed.append({"job_dir": str(d), "reason": str(err)})
    return points, failed


def _sort_key(g: Any) -> tuple:
    return (0, g, "") if isinstance(g, int | float) else (1, 0, str(g))


def spread_by_group(points: Sequence[Point]) -> list[dict[str, Any]]:
    """One row per G (ascending): ``G, n, seeds, mean, std`` (sample, n-1; None for n < 2), ``min, max, range``."""
    by_g: dict[Any, list[Point]] = {}
    for p in points:
        by_g.setdefault(p.G, []).append(p)
    rows = []
    for g in sorted(by_g, key=_sort_key):
        values = [p.value for p in by_g[g]]
        rows.append(
            {
                "G": g,
                "n": len(values),
                "seeds": [p.seed for p in by_g[g]],
                "mean": statistics.fmean(values),
                "std": statistics.stdev(values) if len(values) > 1 else None,
                "min": min(values),
                "max": max(values),
                "range": max(values) - min(values),
            }
        )
    return rows


def sensitivity_markdown(rows: Sequence[dict[str, Any]], aspect: str = "safety", failed: Sequence[dict] = ()) -> str:
    """The table: per G the number of seeds and mean / std / min / max / range of the final aligned score."""
    lines = [
        f"# Group-size sensitivity: final aligned {aspect}",
        "",
        f"Per G, over seeds: the aligned policy's mean {aspect} score on the held-out prompts "
        "(std = sample std, n-1).",
        "",
        "| G | seeds | mean | std | min | max | range |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        seeds = ", ".join(str(s) for s in r["seeds"])
        lines.append(
            f"| {r['G']} | {r['n']} ({seeds}) | {fmt(r['mean'], 4)} | {fmt(r['std'], 4)} | {fmt(r['min'], 4)} | "
            f"{fmt(r['max'], 4)} | {fmt(r['range'], 4)} |"
        )
    if not rows:
        lines.append("| – | 0 | – | – | – | – | – |")
    if failed:
        lines += ["", "Jobs left out:", ""] + [f"- `{f['job_dir']}`: {f['reason']}" for f in failed]
    return "\n".join(lines) + "\n"


def plot_sensitivity(points: Sequence[Point], rows: Sequence[dict[str, Any]], path: str | Path,
                     aspect: str = "safety") -> Path | None:
    """Every seed's final aligned score per G (dots) with the mean ± std (bars)."""
    if not rows:
        return None
    plt = pyplot()
    index = {r["G"]: i for i, r in enumerate(rows)}
    fig, ax = plt.subplots(figsize=(1.2 * len(rows) + 2.5, 3.6))
    ax.scatter([index[p.G] for p in points], [p.value for p in points], color="#08519c", alpha=0.7, zorder=3,
               label="one seed")
    ax.errorbar([i + 0.15 for i in range(len(rows))], [r["mean"] for r in rows],
                yerr=[r["std"] or 0.0 for r in rows], fmt="_", color="black", capsize=4, label="mean ± std")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f"G={r['G']}" for r in rows])
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel(f"final aligned {aspect}")
    ax.set_title(f"{aspect} after GRPO across seeds, per group size", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def group_size_sensitivity(
    roots: str | Path | Sequence[str | Path], out_dir: str | Path | None = None, aspect: str = "safety"
) -> dict[str, Any]:
    """Read a G sweep's job summaries, write ``sensitivity.md / .json / .png`` into ``out_dir``
    (default: the first root) and return ``{"aspect", "rows", "points", "failed", "markdown", "json", "plot"}``.

    ``mogrpo.summarize`` can call it on the same multirun dir(s) and link ``sensitivity.png``.
    """
    points, failed = collect_points(roots, aspect)
    first = roots if isinstance(roots, str | Path) else roots[0]
    out = Path(out_dir) if out_dir is not None else Path(first)
    out.mkdir(parents=True, exist_ok=True)
    rows = spread_by_group(points)
    plot = None
    try:
        plot = plot_sensitivity(points, rows, out / SENSITIVITY_PNG, aspect)
    except Exception as err:  # a plot that cannot be drawn never costs the table
        log.warning("could not draw %s: %s", SENSITIVITY_PNG, err)
    md = out / SENSITIVITY_MD
    link = f"\n![{SENSITIVITY_PNG}]({SENSITIVITY_PNG})\n" if plot is not None else ""
    md.write_text(sensitivity_markdown(rows, aspect, failed) + link)
    result = {
        "aspect": aspect,
        "rows": rows,
        "points": [asdict(p) for p in points],
        "failed": failed,
        "markdown": str(md),
        "plot": str(plot) if plot is not None else None,
    }
    result["json"] = str(out / SENSITIVITY_JSON)
    write_json(out / SENSITIVITY_JSON, result)
    return result
