"""``summarize(roots, out)``: the table and plots of a sweep (``python -m mogrpo.summarize``, mogrpo/summarize.py).

Reads every job of a Hydra multirun (:mod:`mogrpo.sweeps.jobs`), groups the jobs whose overrides are equal
once the seed is dropped (:mod:`mogrpo.sweeps.table`), and writes into ``out`` (default: the multirun dir):

- ``summary.md`` / ``summary.csv``  one row per configuration: the varied keys, the number of seeds,
  per aspect the base and aligned means over seeds (± the sample std, n-1, across seeds) and the
  relative change ``(mean_aligned - mean_base) / |mean_base|``, and the aggregate reward base -> aligned
- ``aspects.png``        per aspect, base vs aligned bars per configuration (error bars: std over seeds)
- ``reward_curves.png``  ``train/reward_mean`` per GRPO step, one line per job
- ``group_stats.png``    mean ``train/group_std`` and ``train/frac_zero_std`` per group size G
- ``safety_by_G.png``    final aligned safety of every seed per configuration (when some have >= 2 seeds)
- ``sensitivity.*``      when ``grpo.G`` varies: :mod:`mogrpo.sweeps.sensitivity`
- ``methods.*``, ``reward_vs_time.png``  when ``method`` varies: :mod:`mogrpo.sweeps.methods`
- ``pareto.md/.png/.json`` the Pareto front of the per-aspect means (and of ``soups``): :mod:`mogrpo.sweeps.pareto`

A job without a readable ``summary.json`` (it died) is listed as failed; it never stops the summary.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mogrpo.sweeps.jobs import load_jobs
from mogrpo.sweeps.methods import write_method_table
from mogrpo.sweeps.pareto import pareto_report
from mogrpo.sweeps.plots import plot_aspects, plot_group_stats, plot_reward_curves, plot_safety_by_g
from mogrpo.sweeps.sensitivity import group_size_sensitivity
from mogrpo.sweeps.table import config_rows, row_label, write_csv, write_markdown

log = logging.getLogger(__name__)


def summarize(roots: Sequence[str | Path], out: str | Path | None = None, pareto_ref: str | None = None,
              soups: Sequence[str | Path] = ()) -> dict[str, Any]:  # fmt: skip
    """Summarize the multirun dir(s) ``roots`` into ``out`` (default: the first root); returns what was
    written and the per-configuration statistics. ``pareto_ref`` (``"0,0,0,0"``) and ``soups`` (``soup.json``
    files or dirs) go to :func:`mogrpo.sweeps.pareto.pareto_report`."""
    roots = [Path(r) for r in roots]
    for r in roots:
        if not r.is_dir():
            raise FileNotFoundError(f"not a directory: {r}")
    out_dir = Path(out) if out is not None else roots[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = load_jobs(roots)
    if not jobs:
        raise FileNotFoundError(
            f"no job dirs (with summary.json or .hydra/) under {', '.join(map(str, roots))}"
        )
    keys, names, rows = config_rows(jobs)
    labels = {j.dir: row_label(r, keys) for r in rows for j in r.jobs}
    plots = []
    for fn, p in (
        (lambda p: plot_aspects(p, keys, names, rows), out_dir / "aspects.png"),
        (lambda p: plot_reward_curves(p, jobs, labels), out_dir / "reward_curves.png"),
        (lambda p: plot_group_stats(p, jobs), out_dir / "group_stats.png"),
        (lambda p: plot_safety_by_g(p, keys, rows), out_dir / "safety_by_G.png"),
    ):
        try:
            if fn(p) is not None:
                plots.append(p.name)
        except Exception as err:  # a plot that cannot be drawn never costs the table
            log.warning("could not draw %s: %s", p.name, err)
    sensitivity = None
    if "grpo.G" in keys:  # a G sweep: the spread of final safety over seeds, per G
        try:
            sensitivity = group_size_sensitivity(roots, out_dir=out_dir)
            if sensitivity["plot"]:
                plots.append(Path(sensitivity["plot"]).name)
        except Exception as err:  # never costs the table
            log.warning("could not write the group-size sensitivity: %s", err)
    methods = None
    if "method" in keys:  # a method sweep: the method table and reward against wall-clock time
        try:
            methods = write_method_table(out_dir, jobs)
            if methods["plot"] is not None:
                plots.append(methods["plot"].name)
        except Exception as err:  # never costs the table
            log.warning("could not write the method table: %s", err)
    pareto = None
    try:
        pareto = pareto_report(jobs, out_dir, ref=pareto_ref, soups=soups)
    except ValueError:  # a bad --pareto-ref: the user's to fix
        raise
    except Exception as err:  # never costs the table
        log.warning("could not write the Pareto front: %s", err)
    csv_path = write_csv(out_dir / "summary.csv", keys, names, rows)
    md_path = write_markdown(out_dir / "summary.md", roots, keys, names, rows, jobs, plots)
    return {
        "markdown": md_path,
        "csv": csv_path,
        "plots": [out_dir / p for p in plots],
        "keys": keys,
        "aspects": names,
        "rows": [
            {
                "label": row_label(r, keys),
                **r.values,
                "n_seeds": len(r.ok_jobs),
                "seeds": r.seeds,
                "stats": r.stats,
            }
            for r in rows
        ],
        "failed": [str(j.dir) for j in jobs if not j.ok],
        "sensitivity": sensitivity["markdown"] if sensitivity else None,
        "methods": methods["markdown"] if methods else None,
        "pareto": pareto,
    }
