"""A sweep's plots: base vs aligned per aspect and configuration, reward curves, group statistics per G,
and the spread of the final safety across seeds."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mogrpo.sweeps.jobs import Job
from mogrpo.sweeps.table import REWARD, ConfigRow, mean_std, row_label, sort_value
from mogrpo.utils.formatting import pyplot


def plot_aspects(
    path: Path, keys: Sequence[str], names: Sequence[str], rows: Sequence[ConfigRow]
) -> Path | None:
    """One panel per aspect: base and aligned bars per configuration, error bars = std over seeds."""
    aspects = [n for n in names if n != REWARD]
    rows = [r for r in rows if r.ok_jobs]
    if not aspects or not rows:
        return None
    plt = pyplot()
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
    plt = pyplot()
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
    plt = pyplot()
    gs = sorted(by_g, key=lambda g: sort_value(str(g)))
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
    rows = sorted(rows, key=lambda r: sort_value(str(r.ok_jobs[0].group_size)))
    plt = pyplot()
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
