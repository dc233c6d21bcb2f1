"""The method table of a sweep over ``method=grpo,ppo,dpo`` (``python -m mogrpo.summarize``, when ``method`` varies).

One row per method (the mean over its jobs, e.g. seeds), read from each job's ``summary.json`` and
``history.jsonl``:

- per aspect, the aligned policy's held-out mean score (``eval.aspects.<a>.aligned``) and the aggregate;
- refusal: the aligned share of refused adversarial held-out prompts (``eval.by_kind.adversarial``) and of
  refused benign ones (over-refusal, ``eval.by_kind.benign``); XSTest over-refusal and AdvBench refusal
  when the evaluation ran them;
- cost: wall time per step (the mean of the step's ``time/*`` parts: generation, scoring, log-probs,
  update), the stage's peak memory (``memory``: RSS, CUDA), trainable parameters (LoRA + PPO's value head),
  reward-model calls (answers scored).

Writes ``methods.md``, ``methods.csv`` and ``reward_vs_time.png`` (``train/reward_mean`` against the summed
step time, one line per job, coloured by method).
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mogrpo.sweeps.jobs import Job, override_value
from mogrpo.utils.formatting import pyplot

#: the parts of a step's wall time (mogrpo/modules/step_metrics.py)
STEP_TIMES = ("time/generate_s", "time/score_s", "time/logprob_s", "time/update_s")
COST = ("s_per_step", "peak_rss_mib", "peak_cuda_mib", "trainable_params", "reward_model_calls", "steps")
REFUSAL = ("refusal", "over_refusal", "xstest_over_refusal", "advbench_refusal")


def method_of(job: Job) -> str:
    """The job's method: its ``method=`` override, else its summary's, else its config's, else grpo."""
    name = override_value(job.overrides, "method")
    if name is None:
        name = ((job.summary or {}).get("grpo") or {}).get("method", {}).get("name")
    if name is None:
        name = (job.config.get("method") or {}).get("name")
    return str(name or "grpo")


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _dig(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def step_seconds(row: Mapping[str, Any]) -> float:
    """The wall time of one logged step: the sum of its ``time/*`` parts."""
    return sum(_num(row.get(k)) or 0.0 for k in STEP_TIMES)


def job_row(job: Job) -> dict[str, Any]:
    """One job's numbers (None where the job did not record them)."""
    s = job.summary or {}
    ev, stage = s.get("eval") or {}, s.get("grpo") or {}
    aspects = ev.get("aspects") or {}
    row: dict[str, Any] = {f"aspect/{a}": _num(_dig(v, "aligned")) for a, v in aspects.items()}
    row["aggregate"] = _num(_dig(ev, "aggregate", "aligned"))
    row["refusal"] = _num(_dig(ev, "by_kind", "adversarial", "refusal", "aligned", "refusal_rate"))
    row["over_refusal"] = _num(_dig(ev, "by_kind", "benign", "refusal", "aligned", "refusal_rate"))
    row["xstest_over_refusal"] = _num(_dig(ev, "xstest", "aligned", "over_refusal_rate"))
    row["advbench_refusal"] = _num(_dig(ev, "advbench", "aligned", "refusal_rate"))
    times = [step_seconds(h) for h in job.history if h.get("phase") != "warm_start"]
    row["s_per_step"] = statistics.fmean(times) if times else None
    peak = stage.get("peak_memory_mib") or {}
    row["peak_rss_mib"], row["peak_cuda_mib"] = _num(peak.get("rss_mib")), _num(peak.get("cuda_peak_mib"))
    method = stage.get("method") or {}
    row["trainable_params"] = _num(method.get("trainable_params", stage.get("trainable_params")))
    batches = method.get("sampled_batches", stage.get("sampled_batches"))
    row["steps"] = _num(batches)
    calls = method.get("reward_model_calls")
    if calls is None and batches is not None:  # a GRPO job from before the method group: every answer scored
        calls = batches * (_num(_dig(job.config, "grpo", "batch_size")) or 0)
    row["reward_model_calls"] = _num(calls)
    return row


def method_rows(jobs: Sequence[Job]) -> list[dict[str, Any]]:
    """One row per method (in the order grpo, ppo, dpo, then others): the mean of each number over its jobs."""
    by: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        if job.ok:
            by.setdefault(method_of(job), []).append(job_row(job))
    order = sorted(by, key=lambda m: (["grpo", "ppo", "dpo"].index(m) if m in ("grpo", "ppo", "dpo") else 3, m))
    out = []
    for m in order:
        rows = by[m]
        keys = list(dict.fromkeys(k for r in rows for k in r))
        mean = {}
        for k in keys:
            vals = [r[k] for r in rows if r.get(k) is not None]
            mean[k] = statistics.fmean(vals) if vals else None
        out.append({"method": m, "n_jobs": len(rows), **mean})
    return out


def _fmt(v: Any, key: str) -> str:
    if v is None:
        return "-"
    if key in ("trainable_params", "reward_model_calls", "steps", "n_jobs", "peak_rss_mib", "peak_cuda_mib"):
        return f"{v:,.0f}"
    if key in REFUSAL:
        return f"{100 * v:.0f} %"
    return f"{v:.3f}" if key != "s_per_step" else f"{v:.2f}"


def columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    keys = list(dict.fromkeys(k for r in rows for k in r if k.startswith("aspect/")))
    keys += ["aggregate", *REFUSAL, *COST]
    return [k for k in keys if any(r.get(k) is not None for r in rows)]


def write_method_table(out_dir: Path, jobs: Sequence[Job]) -> dict[str, Any]:
    """``methods.md``, ``methods.csv`` and ``reward_vs_time.png`` in ``out_dir``; returns their paths and rows."""
    out_dir = Path(out_dir)
    rows = method_rows(jobs)
    cols = columns(rows)
    with (out_dir / "methods.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "n_jobs", *cols])
        for r in rows:
            w.writerow([r["method"], r["n_jobs"], *("" if r.get(c) is None else r[c] for c in cols)])
    names = [c.removeprefix("aspect/") for c in cols]
    lines = [
        "# Methods at the same budget",
        "",
        "Aligned policy on the held-out prompts (aspects, aggregate: mean reward-model score; refusal: adversarial "
        "prompts refused; over_refusal: benign prompts refused), then the cost: seconds per step (generation + "
        "scoring + log-probs + update), peak memory of the policy stage, trainable parameters (LoRA + PPO's value "
        "head), reward-model calls. Means over each method's jobs (n_jobs).",
        "",
        "| method | n_jobs | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in cols) + " |",
    ]
    lines += [f"| {r['method']} | {r['n_jobs']} | " + " | ".join(_fmt(r.get(c), c) for c in cols) + " |" for r in rows]
    plot = plot_reward_vs_time(out_dir / "reward_vs_time.png", jobs)
    if plot is not None:
        lines += ["", f"![reward against wall-clock time]({plot.name})"]
    (out_dir / "methods.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"markdown": out_dir / "methods.md", "csv": out_dir / "methods.csv", "plot": plot, "rows": rows}


def trailing_mean(ys: Sequence[float], window: int) -> list[float]:
    """The mean of each value and the up to ``window - 1`` before it (a trailing moving average)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    out, total = [], 0.0
    for i, y in enumerate(ys):
        total += y
        if i >= window:
            total -= ys[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_reward_vs_time(path: Path, jobs: Sequence[Job], window: int = 10) -> Path | None:
    """``train/reward_mean`` against the cumulative step time, one colour per method: each step's value faint,
    the trailing mean over ``window`` steps as the line (one sampled batch's mean reward is noisy)."""
    curves = []
    for job in jobs:
        rows = [h for h in job.history if h.get("train/reward_mean") is not None and h.get("phase") != "warm_start"]
        if rows:
            t, xs = 0.0, []
            for h in rows:
                t += step_seconds(h)
                xs.append(t)
            curves.append((method_of(job), job, xs, [float(h["train/reward_mean"]) for h in rows]))
    if not curves:
        return None
    plt = pyplot()
    colours = {m: f"C{i}" for i, m in enumerate(dict.fromkeys(c[0] for c in curves))}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    seen: set[str] = set()
    for method, job, xs, ys in curves:
        ax.plot(xs, ys, ".", color=colours[method], alpha=0.3, markersize=3)
        ax.plot(xs, trailing_mean(ys, window), "-" if job.ok else "--", color=colours[method],
                label=method if method not in seen else None)  # fmt: skip
        seen.add(method)
    ax.set_xlabel("wall-clock time of the steps (s)")
    ax.set_ylabel("train/reward_mean")
    ax.set_title(f"points: each step; lines: the mean of the last {window} steps", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
