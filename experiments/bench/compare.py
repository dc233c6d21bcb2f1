"""The framework comparison: rounds pooled, ratios against the faster TRL run, the table, the machine."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import FRAMEWORKS, Settings
from bench.workers import run_in_subprocess


def pool_rounds(runs: list[dict], N: int) -> dict:
    """One summary from several rounds of the same worker: step times pooled, peak RSS the max."""
    if len(runs) == 1:
        return runs[0]
    step_s = [t for r in runs for t in r["step_s"]]
    cpu_s = [t for r in runs for t in r["cpu_s"]]
    tokens = [r["tokens_per_step"] * r["steps"] for r in runs]
    gen_total = [r["generate_s_median"] for r in runs]
    out = dict(runs[0])
    out.update(
        steps=len(step_s), step_s=step_s, cpu_s=cpu_s, cpu_median_s=statistics.median(cpu_s), median_s=statistics.median(step_s), min_s=min(step_s), max_s=max(step_s),
        tokens_per_step=sum(tokens) / len(step_s), mean_completion_length=sum(tokens) / len(step_s) / N,
        mean_generated_width=statistics.mean(r["mean_generated_width"] for r in runs),
        tokens_per_s=sum(tokens) / sum(step_s), generate_s_median=statistics.median(gen_total),
        gen_tokens_per_s=statistics.mean(r["gen_tokens_per_s"] for r in runs),
        peak_rss_mib=max(r["peak_rss_mib"] for r in runs), rounds=len(runs),
        quiet_waits=[w for r in runs for w in r.get("quiet_waits", [])],
    )  # fmt: skip
    if all("phases_median_s" in r for r in runs):  # the median over rounds of each phase's median
        out["phases_median_s"] = {
            k: statistics.median(r["phases_median_s"][k] for r in runs) for k in runs[0]["phases_median_s"]
        }
    return out


def compare(results: dict[str, dict]) -> dict:
    """mogrpo/TRL median step-time ratio against the faster TRL run; generation vs raw generate."""
    out: dict[str, Any] = {}
    trl_runs = {k: results[k] for k in ("trl", "trl_no_gc") if k in results}
    if "mogrpo" in results and trl_runs:
        best = min(trl_runs, key=lambda k: trl_runs[k]["median_s"])
        out["trl_reference"] = best
        out["step_ratio_mogrpo_over_trl"] = results["mogrpo"]["median_s"] / trl_runs[best]["median_s"]
        out["tokens_per_s_ratio_mogrpo_over_trl"] = results["mogrpo"]["tokens_per_s"] / trl_runs[best]["tokens_per_s"]
        out["cpu_ratio_mogrpo_over_trl"] = results["mogrpo"]["cpu_median_s"] / trl_runs[best]["cpu_median_s"]
    if "mogrpo_fast" in results and trl_runs:  # the fastest rollout setting this machine supports
        best = min(trl_runs, key=lambda k: trl_runs[k]["median_s"])
        fast = results["mogrpo_fast"]
        out["step_ratio_mogrpo_fast_over_trl"] = fast["median_s"] / trl_runs[best]["median_s"]
        out["mogrpo_fast_rollout_dtype"] = fast.get("rollout_dtype")
        if "is_ratio" in fast:
            out["mogrpo_fast_is_ratio"] = fast["is_ratio"]
    if "mogrpo_fast" in results and "mogrpo" in results:
        out["step_ratio_mogrpo_fast_over_mogrpo"] = results["mogrpo_fast"]["median_s"] / results["mogrpo"]["median_s"]
    if "mogrpo" in results and "generate" in results:
        out["gen_throughput_ratio_mogrpo_over_raw_generate"] = (
            results["mogrpo"]["gen_tokens_per_s"] / results["generate"]["gen_tokens_per_s"]
        )
    return out


def machine_info() -> dict:
    import torch

    load = os.getloadavg()
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "loadavg_1_5_15": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": "cpu",
        **{pkg: _version(pkg) for pkg in ("transformers", "peft", "trl", "lightning")},
    }


def _version(pkg: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


LABELS = {
    "mogrpo": "mogrpo GRPOModule",
    "mogrpo_fast": "mogrpo, fastest rollouts (generation.dtype=auto)",
    "trl": "TRL GRPOTrainer (grad ckpt on)",
    "trl_no_gc": "TRL GRPOTrainer (grad ckpt off)",
    "generate": "raw model.generate (LoRA on)",
}


def format_table(results: dict[str, dict], ratios: dict) -> str:
    """A markdown table: one row per framework."""
    head = ("| run | median s/step | min | max | CPU s/step | completion tokens/step | mean len | decode steps "
            "| tokens/s (step) | tokens/s (generate) | peak RSS MiB |")  # fmt: skip
    lines = [head, "|" + "---|" * 11]
    for name in FRAMEWORKS:
        if name not in results:
            continue
        r = results[name]
        lines.append(
            f"| {LABELS[name]} | {r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} | {r['cpu_median_s']:.2f} | "
            f"{r['tokens_per_step']:.0f} | {r['mean_completion_length']:.1f} | {r['mean_generated_width']:.1f} | "
            f"{r['tokens_per_s']:.1f} | "
            f"{r['gen_tokens_per_s']:.1f} | {r['peak_rss_mib']:.0f} |"
        )
    if "step_ratio_mogrpo_over_trl" in ratios:
        lines.append("")
        lines.append(
            f"mogrpo / TRL ({LABELS[ratios['trl_reference']]}) median step time: "
            f"**{ratios['step_ratio_mogrpo_over_trl']:.2f}x**; CPU time per step "
            f"{ratios['cpu_ratio_mogrpo_over_trl']:.2f}x; tokens/s ratio {ratios['tokens_per_s_ratio_mogrpo_over_trl']:.2f}x"
        )
    if "step_ratio_mogrpo_fast_over_trl" in ratios:
        lines.append(
            f"mogrpo with the fastest rollouts ({ratios['mogrpo_fast_rollout_dtype']}) / TRL median step time: "
            f"**{ratios['step_ratio_mogrpo_fast_over_trl']:.2f}x**"
            + (f"; IS ratio mean {ratios['mogrpo_fast_is_ratio']['is_ratio_mean']['median']:.3f} "
               f"(min {ratios['mogrpo_fast_is_ratio']['is_ratio_min']['min']:.3f}, "
               f"max {ratios['mogrpo_fast_is_ratio']['is_ratio_max']['max']:.3f})"
               if "mogrpo_fast_is_ratio" in ratios else "")
        )  # fmt: skip
    if "gen_throughput_ratio_mogrpo_over_raw_generate" in ratios:
        lines.append(
            f"mogrpo generation throughput / raw model.generate: "
            f"**{ratios['gen_throughput_ratio_mogrpo_over_raw_generate']:.2f}x**"
        )
    return "\n".join(lines)


def compare_frameworks(s: Settings, frameworks: list[str], rounds: int, log_dir: Path) -> dict:
    """Run each framework ``rounds`` times, alternating the order each round, back to back."""
    runs: dict[str, list[dict]] = {f: [] for f in frameworks}
    for r in range(rounds):
        order = frameworks if r % 2 == 0 else list(reversed(frameworks))
        for name in order:
            print(f"[round {r + 1}/{rounds}] {name} ...", flush=True)
            res = run_in_subprocess(name, s, log_dir)
            runs[name].append(res)
            print(f"    median {res['median_s']:.2f} s/step, {res['tokens_per_step']:.0f} tokens/step, "
                  f"peak RSS {res['peak_rss_mib']:.0f} MiB ({res['wall_s']:.0f} s wall)", flush=True)  # fmt: skip
    results = {f: pool_rounds(v, s.completions_per_step) for f, v in runs.items()}
    return {"machine": machine_info(), "settings": asdict(s), "rounds": rounds, "results": results,
            "ratios": compare(results)}  # fmt: skip
