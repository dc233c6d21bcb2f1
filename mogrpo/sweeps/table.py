"""A sweep's table: jobs grouped by configuration (overrides without the seed), statistics over seeds,
and ``summary.csv`` / ``summary.md`` (the paper's table: per aspect base, aligned, relative change)."""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mogrpo.sweeps.jobs import Job, override_pairs, parse_scalar
from mogrpo.utils.formatting import fmt, fmt_pct
from mogrpo.utils.formatting import markdown_table as render_table
from mogrpo.utils.logging import short_keys

# overrides that do not change what a job computes (seed: the jobs to average over)
GROUPING_EXCLUDED = ("seed", "paths", "hydra", "logger", "callbacks", "resume")
REWARD = "reward"  # the name of the aggregate reward row in ``eval_means``


def config_key(job: Job) -> tuple[tuple[str, str], ...]:
    """The job's overrides without seed / paths / hydra / logger: equal keys = same configuration."""
    pairs = {
        k: v
        for k, v in override_pairs(job.overrides)
        if not any(k == e or k.startswith(e + ".") for e in GROUPING_EXCLUDED)
    }
    return tuple(sorted(pairs.items()))


def group_jobs(jobs: Sequence[Job]) -> dict[tuple[tuple[str, str], ...], list[Job]]:
    """Jobs by configuration, in the order of their first job."""
    groups: dict[tuple[tuple[str, str], ...], list[Job]] = {}
    for job in jobs:
        groups.setdefault(config_key(job), []).append(job)
    return groups


def varied_keys(keys: Iterable[tuple[tuple[str, str], ...]]) -> list[str]:
    """Override keys whose value is not the same in every configuration (absent counts as a value)."""
    keys = [dict(k) for k in keys]
    names = sorted({name for k in keys for name in k})
    return [n for n in names if len({k.get(n) for k in keys}) > 1]


def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample std (n-1) of the finite values; std None for fewer than two."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return None, None
    return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else None


def rel_change(base: float | None, aligned: float | None) -> float | None:
    """``(aligned - base) / |base|``; None when undefined."""
    if base is None or aligned is None or base == 0:
        return None
    return (aligned - base) / abs(base)


@dataclass
class ConfigRow:
    """One configuration's statistics over its seeds."""

    values: dict[str, str]
    jobs: list[Job]
    stats: dict[
        str, dict[str, float | None]
    ]  # name -> base_mean, base_std, aligned_mean, aligned_std, rel_change

    @property
    def ok_jobs(self) -> list[Job]:
        return [j for j in self.jobs if j.ok]

    @property
    def seeds(self) -> list[Any]:
        return [j.seed for j in self.ok_jobs]


def config_rows(jobs: Sequence[Job]) -> tuple[list[str], list[str], list[ConfigRow]]:
    """(varied keys, aspect names with ``reward`` last, one :class:`ConfigRow` per configuration)."""
    groups = group_jobs(jobs)
    keys = varied_keys(groups)
    names: list[str] = []
    for job in jobs:
        for name in job.means:
            if name not in names:
                names.append(name)
    if REWARD in names:
        names = [n for n in names if n != REWARD] + [REWARD]
    rows = []
    for key, members in groups.items():
        values = dict(key)
        ok = [j for j in members if j.ok]
        stats = {}
        for name in names:
            base_m, base_s = mean_std(j.means.get(name, (None, None))[0] for j in ok)
            al_m, al_s = mean_std(j.means.get(name, (None, None))[1] for j in ok)
            stats[name] = {
                "base_mean": base_m,
                "base_std": base_s,
                "aligned_mean": al_m,
                "aligned_std": al_s,
                "rel_change": rel_change(base_m, al_m),
            }
        rows.append(ConfigRow({k: values.get(k, "") for k in keys}, members, stats))
    rows.sort(key=lambda r: [sort_value(r.values[k]) for k in keys])
    return keys, names, rows


def sort_value(v: str) -> tuple:
    x = parse_scalar(v)
    return (0, x, "") if isinstance(x, int | float) else (1, 0, str(x))


def row_label(row: ConfigRow, keys: Sequence[str]) -> str:
    """``G=4,beta=0.04`` from the varied keys (short forms), or ``all`` for a one-configuration sweep."""
    short = short_keys(keys)
    return ",".join(f"{short[k]}={row.values[k]}" for k in keys) or "all"


def _pm(mean: float | None, std: float | None) -> str:
    return fmt(mean) if std is None else f"{fmt(mean)} ± {fmt(std)}"


def write_csv(path: Path, keys: Sequence[str], names: Sequence[str], rows: Sequence[ConfigRow]) -> Path:
    """``summary.csv``: one row per configuration, full override keys, raw numbers (empty = undefined)."""
    stat_cols = ["base_mean", "base_std", "aligned_mean", "aligned_std", "rel_change"]
    header = ["config", *keys, "n_seeds", "n_failed", "seeds"]
    header += [f"{name}_{s}" for name in names for s in stat_cols]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            line = [row_label(row, keys), *[row.values[k] for k in keys]]
            line += [len(row.ok_jobs), len(row.jobs) - len(row.ok_jobs), " ".join(map(str, row.seeds))]
            for name in names:
                line += ["" if row.stats[name][s] is None else f"{row.stats[name][s]:.6g}" for s in stat_cols]
            w.writerow(line)
    return path


def summary_table(keys: Sequence[str], names: Sequence[str], rows: Sequence[ConfigRow]) -> str:
    """The paper's table: per aspect base, aligned (mean ± std over seeds) and the relative change."""
    short = short_keys(keys)
    aspects = [n for n in names if n != REWARD]
    header = [short[k] for k in keys] + ["seeds"]
    for a in aspects:
        header += [f"{a} base", f"{a} aligned", f"{a} Δ"]
    if REWARD in names:
        header += ["reward base → aligned", "reward Δ"]
    lines = []
    for row in rows:
        cells = [row.values[k] for k in keys] + [str(len(row.ok_jobs))]
        for a in aspects:
            s = row.stats[a]
            cells += [_pm(s["base_mean"], s["base_std"]), _pm(s["aligned_mean"], s["aligned_std"]),
                      fmt_pct(s["rel_change"], signed=True)]  # fmt: skip
        if REWARD in names:
            s = row.stats[REWARD]
            cells += [f"{_pm(s['base_mean'], s['base_std'])} → {_pm(s['aligned_mean'], s['aligned_std'])}",
                      fmt_pct(s["rel_change"], signed=True)]  # fmt: skip
        lines.append(cells)
    return render_table(header, lines)


def write_markdown(
    path: Path,
    roots: Sequence[Path],
    keys: Sequence[str],
    names: Sequence[str],
    rows: Sequence[ConfigRow],
    jobs: Sequence[Job],
    plots: Sequence[str],
) -> Path:
    """``summary.md``: the table, the plots, and the failed jobs."""
    ok = [j for j in jobs if j.ok]
    parts = [
        f"# Sweep summary: {', '.join(str(r) for r in roots)}",
        "",
        f"{len(jobs)} jobs, {len(ok)} finished, {len(jobs) - len(ok)} failed; {len(rows)} configurations "
        f"(jobs grouped by their overrides without the seed).",
        "Cells: mean over seeds ± sample std (n-1) across seeds; Δ = (aligned - base) / |base| of the means.",
        "",
    ]
    if rows and names:
        parts += [summary_table(keys, names, rows), ""]
    else:
        parts += ["No job finished with evaluation results.", ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    failed = [j for j in jobs if not j.ok]
    if failed:
        parts += ["## Failed jobs", ""]
        for j in failed:
            parts.append(f"- `{j.dir}` ({' '.join(j.overrides) or 'no overrides'}): {j.error}")
        parts.append("")
    path.write_text("\n".join(parts))
    return path


