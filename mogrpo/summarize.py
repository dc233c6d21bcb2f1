"""`python -m mogrpo.summarize MULTIRUN_DIR [--out DIR]`: the ablation table and plots of a sweep.

Reads every job of a Hydra multirun (``<dir>/<num>/summary.json``, ``history.jsonl`` and
``.hydra/overrides.yaml``), groups the jobs whose overrides are equal once the seed is dropped, and
writes into ``--out`` (default: the multirun dir):

- ``summary.md`` / ``summary.csv``  one row per configuration: the varied keys, the number of seeds,
  per aspect the base and aligned means over seeds (± the sample std, n-1, across seeds) and the
  relative change ``(mean_aligned - mean_base) / |mean_base|``, and the aggregate reward base -> aligned
- ``aspects.png``        per aspect, base vs aligned bars per configuration (error bars: std over seeds)
- ``reward_curves.png``  ``train/reward_mean`` per GRPO step, one line per job
- ``group_stats.png``    mean ``train/group_std`` and ``train/frac_zero_std`` per group size G
- ``safety_by_G.png``    final aligned safety of every seed per configuration (when some have >= 2 seeds)

A job without a readable ``summary.json`` (it died) is listed as failed; it never stops the summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mogrpo.callbacks.completions_table import eval_means
from mogrpo.utils.logging import short_keys

log = logging.getLogger(__name__)

# overrides that do not change what a job computes (seed: the jobs to average over)
GROUPING_EXCLUDED = ("seed", "paths", "hydra", "logger", "callbacks", "resume")
REWARD = "reward"  # the name of the aggregate reward row in ``eval_means``


@dataclass
class Job:
    """One job dir of a multirun, as far as it could be read."""

    dir: Path
    overrides: list[str]
    seed: Any = None
    summary: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def means(self) -> dict[str, tuple[float | None, float | None]]:
        """aspect (and ``reward``) -> (base mean, aligned mean) of this job's evaluation."""
        return eval_means((self.summary or {}).get("eval") or {})

    @property
    def group_size(self) -> Any:
        """G of this job: from the summary's choices, the overrides, or the saved config."""
        choices = (self.summary or {}).get("choices") or {}
        if choices.get("G") is not None:
            return choices["G"]
        for key, value in _pairs(self.overrides):
            if key == "grpo.G":
                return _parse_scalar(value)
        return (self.config.get("grpo") or {}).get("G")


# ---------------------------------------------------------------- reading


def _pairs(overrides: Iterable[str]) -> list[tuple[str, str]]:
    """``['+grpo.G=4', '~x']`` -> ``[('grpo.G', '4')]``."""
    out = []
    for o in overrides:
        o = str(o).strip()
        if "=" in o and not o.startswith("~"):
            key, value = o.split("=", 1)
            out.append((key.lstrip("+"), value))
    return out


def _parse_scalar(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _read_yaml(path: Path) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(path), resolve=False)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a jsonl file; unreadable lines (a job killed mid-write) are skipped."""
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            rows.append(obj)
    return rows


def find_job_dirs(root: Path) -> list[Path]:
    """Dirs under ``root`` that hold a job: a ``summary.json`` or a ``.hydra/`` folder, outermost only
    (``root`` itself only when it is a single job's dir)."""
    found = {p.parent for p in root.rglob("summary.json")}
    found |= {p.parent for p in root.rglob(".hydra") if p.is_dir()}
    found = {d for d in found if "wandb" not in d.parts[len(root.parts) :]}
    if len(found) > 1:
        found.discard(root)
    outermost: list[Path] = []
    for d in sorted(found, key=lambda d: len(d.parts)):
        if not any(k in d.parents for k in outermost):
            outermost.append(d)
    return sorted(outermost, key=lambda d: _natural_key(d.relative_to(root)))


def _natural_key(rel: Path) -> list:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in rel.parts]


def load_job(job_dir: Path) -> Job:
    """Read one job dir; a missing or broken ``summary.json`` makes the job failed, not an exception."""
    overrides: list[str] = []
    config: dict[str, Any] = {}
    hydra_dir = job_dir / ".hydra"
    try:
        if (hydra_dir / "overrides.yaml").is_file():
            overrides = [str(o) for o in (_read_yaml(hydra_dir / "overrides.yaml") or [])]
        if (hydra_dir / "config.yaml").is_file():
            config = _read_yaml(hydra_dir / "config.yaml") or {}
    except Exception as err:  # a truncated yaml: keep going with what there is
        log.warning("%s: could not read .hydra (%s)", job_dir, err)
    job = Job(dir=job_dir, overrides=overrides, config=config if isinstance(config, dict) else {})
    if (job_dir / "history.jsonl").is_file():
        job.history = _read_jsonl(job_dir / "history.jsonl")
    path = job_dir / "summary.json"
    if not path.is_file():
        job.error = "no summary.json (the job did not finish)"
    else:
        try:
            job.summary = json.loads(path.read_text())
            if not isinstance(job.summary, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as err:
            job.summary = None
            job.error = f"unreadable summary.json: {err}"
    if job.ok and not job.means:
        job.error = "summary.json has no evaluation (eval) results"
    seeds = [v for k, v in _pairs(overrides) if k == "seed"]
    job.seed = _parse_scalar(seeds[-1]) if seeds else (job.summary or {}).get("seed", job.config.get("seed"))
    if not overrides and job.summary:  # no .hydra: describe the job by its choices
        choices = job.summary.get("choices") or {}
        job.overrides = [f"{k}={v}" for k, v in sorted(choices.items()) if v is not None]
    return job


def load_jobs(roots: Sequence[Path]) -> list[Job]:
    jobs = []
    for root in roots:
        jobs += [load_job(d) for d in find_job_dirs(Path(root))]
    return jobs


# ---------------------------------------------------------------- grouping and statistics


def config_key(job: Job) -> tuple[tuple[str, str], ...]:
    """The job's overrides without seed / paths / hydra / logger: equal keys = same configuration."""
    pairs = {
        k: v
        for k, v in _pairs(job.overrides)
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
    rows.sort(key=lambda r: [_sort_value(r.values[k]) for k in keys])
    return keys, names, rows


def _sort_value(v: str) -> tuple:
    x = _parse_scalar(v)
    return (0, x, "") if isinstance(x, int | float) else (1, 0, str(x))


def row_label(row: ConfigRow, keys: Sequence[str]) -> str:
    """``G=4,beta=0.04`` from the varied keys (short forms), or ``all`` for a one-configuration sweep."""
    short = short_keys(keys)
    return ",".join(f"{short[k]}={row.values[k]}" for k in keys) or "all"


# ---------------------------------------------------------------- writing


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _pm(mean: float | None, std: float | None) -> str:
    return _fmt(mean) if std is None else f"{_fmt(mean)} ± {_fmt(std)}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f}%"


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


def markdown_table(keys: Sequence[str], names: Sequence[str], rows: Sequence[ConfigRow]) -> str:
    """The paper's table: per aspect base, aligned (mean ± std over seeds) and the relative change."""
    short = short_keys(keys)
    aspects = [n for n in names if n != REWARD]
    header = [short[k] for k in keys] + ["seeds"]
    for a in aspects:
        header += [f"{a} base", f"{a} aligned", f"{a} Δ"]
    if REWARD in names:
        header += ["reward base → aligned", "reward Δ"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.values[k] for k in keys] + [str(len(row.ok_jobs))]
        for a in aspects:
            s = row.stats[a]
            cells += [
                _pm(s["base_mean"], s["base_std"]),
                _pm(s["aligned_mean"], s["aligned_std"]),
                _pct(s["rel_change"]),
            ]
        if REWARD in names:
            s = row.stats[REWARD]
            cells += [
                f"{_pm(s['base_mean'], s['base_std'])} → {_pm(s['aligned_mean'], s['aligned_std'])}",
                _pct(s["rel_change"]),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
        parts += [markdown_table(keys, names, rows), ""]
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


# ---------------------------------------------------------------- plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_aspects(
    path: Path, keys: Sequence[str], names: Sequence[str], rows: Sequence[ConfigRow]
) -> Path | None:
    """One panel per aspect: base and aligned bars per configuration, error bars = std over seeds."""
    aspects = [n for n in names if n != REWARD]
    rows = [r for r in rows if r.ok_jobs]
    if not aspects or not rows:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(aspects), figsize=(3.2 * len(aspects) + 1, 3.6), squeeze=False)
    labels = [row_label(r, keys) for r in rows]
    x = list(range(len(rows)))
    width = 0.38
    for ax, aspect in zip(axes[0], aspects):
        for offset, which, color in ((-width / 2, "base", "#9ecae1"), (width / 2, "aligned", "#08519c")):
            means = [r.stats[aspect][f"{which}_mean"] for r in rows]
            stds = [r.stats[aspect][f"{which}_std"] or 0.0 for r in rows]
            ax.bar(
                [i + offset for i in x],
                [m if m is not None else math.nan for m in means],
                width,
                yerr=stds,
                color=color,
                label=which,
                capsize=2,
            )
        ax.set_title(aspect)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
        ax.set_ylim(0, 1.05)
    axes[0][0].set_ylabel("mean score (held-out prompts)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _series(history: Sequence[Mapping[str, Any]], metric: str) -> tuple[list[float], list[float]]:
    steps, values = [], []
    for i, h in enumerate(history):
        v = h.get(metric)
        if v is None:
            continue
        try:
            v = float(v)
        except (TypeError, ValueError):
            continue
        steps.append(float(h.get("step", h.get("global_step", i + 1))))
        values.append(v)
    return steps, values


def plot_reward_curves(path: Path, jobs: Sequence[Job], labels: Mapping[Path, str]) -> Path | None:
    """``train/reward_mean`` against the step, one line per job (failed jobs dashed)."""
    curves = [(j, *_series(j.history, "train/reward_mean")) for j in jobs]
    curves = [c for c in curves if c[1]]
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for job, steps, values in curves:
        ax.plot(steps, values, "-" if job.ok else "--", marker=".", label=f"{labels[job.dir]} s{job.seed}")
    ax.set_xlabel("GRPO step")
    ax.set_ylabel("train/reward_mean")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_group_stats(path: Path, jobs: Sequence[Job]) -> Path | None:
    """Per G: the mean over steps of ``train/group_std`` and ``train/frac_zero_std``, averaged over jobs
    (error bars: std across jobs)."""
    by_g: dict[Any, dict[str, list[float]]] = {}
    for job in jobs:
        g = job.group_size
        for metric in ("train/group_std", "train/frac_zero_std"):
            _, values = _series(job.history, metric)
            if values and g is not None:
                by_g.setdefault(g, {}).setdefault(metric, []).append(statistics.fmean(values))
    if not by_g:
        return None
    plt = _pyplot()
    gs = sorted(by_g, key=lambda g: _sort_value(str(g)))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
    for ax, metric in zip(axes, ("train/group_std", "train/frac_zero_std")):
        stats = [mean_std(by_g[g].get(metric, [])) for g in gs]
        ax.bar(
            [str(g) for g in gs],
            [m if m is not None else math.nan for m, _ in stats],
            yerr=[s or 0.0 for _, s in stats],
            color="#6baed6",
            capsize=3,
        )
        ax.set_xlabel("G")
        ax.set_title(f"mean {metric}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_safety_by_g(
    path: Path, keys: Sequence[str], rows: Sequence[ConfigRow], aspect: str = "safety"
) -> Path | None:
    """Final aligned ``aspect`` of every seed per configuration (sorted by G), mean ± std drawn;
    only when some configuration has two or more seeds."""
    rows = [r for r in rows if r.ok_jobs and aspect in r.stats]
    if not any(len(r.ok_jobs) >= 2 for r in rows):
        return None
    rows = sorted(rows, key=lambda r: _sort_value(str(r.ok_jobs[0].group_size)))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.2 * len(rows) + 3, 3.6))
    for i, row in enumerate(rows):
        vals = [j.means.get(aspect, (None, None))[1] for j in row.ok_jobs]
        vals = [v for v in vals if v is not None]
        ax.scatter([i] * len(vals), vals, color="#08519c", alpha=0.7, zorder=3)
        m, s = row.stats[aspect]["aligned_mean"], row.stats[aspect]["aligned_std"]
        if m is not None:
            ax.errorbar([i + 0.15], [m], yerr=[s or 0.0], fmt="_", color="black", capsize=4)
    labels = []
    for row in rows:
        label = row_label(row, keys)
        g = row.ok_jobs[0].group_size
        labels.append(label if "G=" in label or g is None else f"G={g}\n{label}")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel(f"aligned {aspect} (per seed)")
    ax.set_title(f"{aspect} after GRPO across seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- entry point


def summarize(roots: Sequence[str | Path], out: str | Path | None = None) -> dict[str, Any]:
    """Summarize the multirun dir(s) ``roots`` into ``out`` (default: the first root); returns what was
    written and the per-configuration statistics."""
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
        from mogrpo.eval.sensitivity import group_size_sensitivity

        try:
            sensitivity = group_size_sensitivity(roots, out_dir=out_dir)
            if sensitivity["plot"]:
                plots.append(Path(sensitivity["plot"]).name)
        except Exception as err:  # never costs the table
            log.warning("could not write the group-size sensitivity: %s", err)
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
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mogrpo.summarize", description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", help="multirun dir(s): logs/<task_name>/multiruns/<timestamp>")
    parser.add_argument(
        "--out", default=None, help="where to write summary.md/.csv and the PNGs (default: first dir)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        result = summarize(args.dirs, args.out)
    except FileNotFoundError as err:
        raise SystemExit(f"error: {err}") from None
    print(result["markdown"].read_text())
    print(f"wrote {result['markdown']}, {result['csv']}, {', '.join(str(p) for p in result['plots'])}")


if __name__ == "__main__":
    main()
