"""The Pareto front of a weight sweep (``experiment=pareto_weights``) and of adapter soups (``mogrpo.soup``).

Every configuration of a sweep (its jobs grouped without the seed, :mod:`mogrpo.sweeps.table`) is one point:
its aligned policy's per-aspect means on the evaluated split (held-out prompts), averaged over seeds. A soup
(``soup.json`` of ``python -m mogrpo.soup``) adds one point per mixing coefficient. The base model (the
policy without adapter, the same prompts) is the point every run starts from. :func:`pareto_report` writes

- ``pareto.md``   every point with its weights, whether it is on the front (non-dominated among the trained
  runs, and among the soups), the hypervolume of each front against the reference point, and the base model
- ``pareto.png``  one scatter plot per pair of aspects: runs (the front filled, its 2-D staircase dashed),
  soups (triangles joined in coefficient order), the base model (a black star) on every panel
- ``pareto.json`` the same numbers

The math is :mod:`mogrpo.metrics.pareto` (all aspects maximised).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mogrpo.metrics.pareto import hypervolume, non_dominated_mask, parse_reference
from mogrpo.sweeps.jobs import Job
from mogrpo.sweeps.table import REWARD, config_rows, row_label
from mogrpo.utils.formatting import fmt, pyplot
from mogrpo.utils.formatting import markdown_table as render_table

log = logging.getLogger(__name__)

SOUP_JSON = "soup.json"
WEIGHTS_KEY = "reward.weights"


@dataclass
class ParetoPoint:
    """One point: a label, its kind (``run`` or ``soup``), the per-aspect means and where it came from."""

    label: str
    kind: str
    values: dict[str, float]
    weights: dict[str, float] | None = None
    source: str = ""
    n: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def vector(self, aspects: Sequence[str]) -> list[float]:
        return [self.values[a] for a in aspects]


def _weights_of(job: Job) -> dict[str, float] | None:
    """The job's ``reward.weights`` from its saved config (a mapping aspect -> weight), else None."""
    reward = job.config.get("reward") or {}
    weights, aspects = reward.get("weights"), reward.get("aspects") or []
    if isinstance(weights, Mapping):
        try:
            return {str(a): float(weights.get(a, 0.0)) for a in (aspects or weights)}
        except (TypeError, ValueError):
            return None
    if isinstance(weights, list) and len(weights) == len(aspects):
        return {str(a): float(w) for a, w in zip(aspects, weights)}
    return None


def weights_label(weights: Mapping[str, float] | None) -> str:
    """``w=1/0/0/4`` in aspect order (``w=?`` when unknown)."""
    if not weights:
        return "w=?"
    return "w=" + "/".join(f"{w:g}" for w in weights.values())


def run_points(jobs: Sequence[Job]) -> tuple[list[str], list[ParetoPoint], dict[str, float] | None]:
    """(aspects, one point per configuration with aligned means, the base model's point) of finished jobs."""
    keys, names, rows = config_rows([j for j in jobs if j.ok])
    aspects = [n for n in names if n != REWARD]
    other = [k for k in keys if k != WEIGHTS_KEY]
    points, bases = [], []
    for row in rows:
        stats = row.stats
        if not row.ok_jobs or any(stats[a]["aligned_mean"] is None for a in aspects):
            continue
        weights = _weights_of(row.ok_jobs[0])
        label = ",".join(x for x in (weights_label(weights), row_label(row, other) if other else "") if x)
        points.append(ParetoPoint(label, "run", {a: float(stats[a]["aligned_mean"]) for a in aspects}, weights,
                                  source=str(row.ok_jobs[0].dir), n=len(row.ok_jobs)))  # fmt: skip
        if all(stats[a]["base_mean"] is not None for a in aspects):
            bases.append({a: float(stats[a]["base_mean"]) for a in aspects})
    base = {a: sum(b[a] for b in bases) / len(bases) for a in aspects} if bases else None
    return aspects, points, base


def soup_points(paths: Sequence[str | Path]) -> tuple[list[ParetoPoint], dict[str, float] | None]:
    """The points of ``soup.json`` files (or dirs holding one) written by ``python -m mogrpo.soup``."""
    points, base = [], None
    for path in paths:
        path = Path(path)
        path = path / SOUP_JSON if path.is_dir() else path
        soup = json.loads(path.read_text())
        for p in soup.get("points") or []:
            if p.get("aspects"):
                coefficients = p.get("coefficients") or []
                points.append(ParetoPoint(p.get("label") or f"soup {coefficients}", "soup",
                                          {a: float(v) for a, v in p["aspects"].items()},
                                          source=str(p.get("dir") or path.parent),
                                          extra={"coefficients": coefficients}))  # fmt: skip
        base = base or soup.get("base")
    return points, base


def front_summary(points: Sequence[ParetoPoint], aspects: Sequence[str], ref: Sequence[float]) -> dict[str, Any]:
    """The non-dominated mask and the hypervolume of ``points`` against ``ref``."""
    vectors = [p.vector(aspects) for p in points]
    mask = non_dominated_mask(vectors) if vectors else []
    return {"mask": mask, "front": [p.label for p, m in zip(points, mask) if m],
            "hypervolume": hypervolume(vectors, ref) if vectors else 0.0}  # fmt: skip


def _staircase(xy: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """The boundary of the region the 2-D front of ``xy`` dominates (maximised): from each front point down to
    the next one's level, then right to it (left to right, the front sorted by the first coordinate)."""
    front = sorted({p for p in xy if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in xy)})
    xs, ys = [], []
    for i, (x, y) in enumerate(front):
        if i:
            xs.append(front[i - 1][0])
            ys.append(y)
        xs.append(x)
        ys.append(y)
    return xs, ys


def plot_pareto(path: Path, aspects: Sequence[str], runs: Sequence[ParetoPoint], run_mask: Sequence[bool],
                soups: Sequence[ParetoPoint], base: Mapping[str, float] | None) -> Path | None:  # fmt: skip
    """One scatter panel per pair of aspects (see the module docstring)."""
    pairs = list(itertools.combinations(aspects, 2))
    if not pairs or not (runs or soups):
        return None
    plt = pyplot()
    cols = min(3, len(pairs))
    nrows = (len(pairs) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.8 * nrows), squeeze=False)
    for ax, (a, b) in zip(axes.flat, pairs):
        if runs:
            xy = [(p.values[a], p.values[b]) for p in runs]
            ax.scatter([x for (x, _), m in zip(xy, run_mask) if not m], [y for (_, y), m in zip(xy, run_mask) if not m],
                       facecolors="none", edgecolors="#08519c", label="runs (dominated)")  # fmt: skip
            ax.scatter([x for (x, _), m in zip(xy, run_mask) if m], [y for (_, y), m in zip(xy, run_mask) if m],
                       color="#08519c", label="runs (front, all aspects)")  # fmt: skip
            xs, ys = _staircase(xy)
            ax.plot(xs, ys, "--", color="#08519c", lw=0.8)
            for p, (x, y) in zip(runs, xy):
                ax.annotate(p.label.split(",")[0], (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        if soups:
            ax.plot([p.values[a] for p in soups], [p.values[b] for p in soups], "-^", color="#d95f0e", ms=5,
                    lw=0.8, label="soups")  # fmt: skip
        if base:
            ax.scatter([base[a]], [base[b]], marker="*", s=120, color="black", label="base model", zorder=5)
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(pairs):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Held-out per-aspect means (higher is better)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _table(points: Sequence[ParetoPoint], masks: Mapping[str, Sequence[bool]], aspects: Sequence[str]) -> str:
    """One row per point; ``on the front`` among the points of its kind (``masks[kind]``, in point order) and,
    with soups, among all points (``masks["all"]``)."""
    seen: dict[str, int] = {}
    joint = masks.get("all")
    rows = []
    for j, p in enumerate(points):
        i = seen[p.kind] = seen.get(p.kind, -1) + 1
        on = masks.get(p.kind, [])
        row = [p.kind, p.label, *[fmt(p.values[a]) for a in aspects], "yes" if i < len(on) and on[i] else ""]
        rows.append(row + (["yes" if joint[j] else ""] if joint else []) + [str(p.n)])
    header = ["kind", "point", *aspects, "on its front", *(["on the joint front"] if joint else []), "seeds"]
    return render_table(header, rows)


def pareto_report(jobs: Sequence[Job], out_dir: str | Path, ref: str | Sequence[float] | None = None,
                  soups: Sequence[str | Path] = ()) -> dict[str, Any] | None:  # fmt: skip
    """Write ``pareto.md`` / ``.png`` / ``.json`` into ``out_dir`` (see the module docstring); None when no
    finished job and no soup has per-aspect means. ``ref``: the reference point (``"0,0,0,0"``; one number
    for every aspect; default 0 everywhere)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    aspects, runs, base = run_points(jobs)
    soup_list, soup_base = soup_points(soups)
    if not aspects and soup_list:
        aspects = list(soup_list[0].values)
    if not runs and not soup_list:
        return None
    base = base or soup_base
    reference = parse_reference(ref, len(aspects))
    fronts = {"run": front_summary(runs, aspects, reference)}
    if soup_list:
        fronts["soup"] = front_summary(soup_list, aspects, reference)
        fronts["all"] = front_summary([*runs, *soup_list], aspects, reference)
    plot = plot_pareto(out_dir / "pareto.png", aspects, runs, fronts["run"]["mask"], soup_list, base)
    points = [*runs, *soup_list]
    ref_text = ",".join(f"{r:g}" for r in reference)
    parts = [
        "# Pareto front of the held-out per-aspect means",
        "",
        f"{len(runs)} trained configurations (jobs grouped without the seed; means over seeds) and {len(soup_list)} "
        f"soup points, over the aspects {', '.join(aspects)}. A point is on the front when no other point of its "
        "kind is at least as good in every aspect and better in one (all aspects maximised).",
        "",
        _table(points, {k: v["mask"] for k, v in fronts.items()}, aspects),
        "",
        f"Hypervolume against the reference point ({ref_text}) (`--pareto-ref`; the volume the front dominates above "
        "it, larger is better):",
        "",
    ]
    names = {"run": "trained runs", "soup": "soups", "all": "runs and soups together"}
    for kind, f in fronts.items():
        parts.append(f"- {names[kind]}: **{f['hypervolume']:.6g}** (front: {', '.join(f['front']) or 'none'})")
    if base:
        hv_base = hypervolume([[base[a] for a in aspects]], reference)
        parts += ["", "Base model (no adapter, the same prompts): " + ", ".join(f"{a} {fmt(base[a])}" for a in aspects)
                  + f"; its hypervolume alone: {hv_base:.6g}"]  # fmt: skip
    if plot is not None:
        parts += ["", f"![pareto]({plot.name})"]
    (out_dir / "pareto.md").write_text("\n".join(parts) + "\n")
    record = {
        "aspects": aspects, "reference": reference, "base": base,
        "points": [{"kind": p.kind, "label": p.label, "aspects": p.values, "weights": p.weights, "source": p.source,
                    "n_seeds": p.n, **p.extra} for p in points],
        "fronts": {k: {"front": v["front"], "hypervolume": v["hypervolume"]} for k, v in fronts.items()},
    }  # fmt: skip
    (out_dir / "pareto.json").write_text(json.dumps(record, indent=2))
    return {"markdown": out_dir / "pareto.md", "plot": plot, "json": out_dir / "pareto.json", **record}
