"""``--scaling``: mogrpo's step time as G and the completion length vary, one knob at a time."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

from bench.common import Settings
from bench.compare import machine_info
from bench.workers import run_in_subprocess

# --------------------------------------------------------------------------- scaling
SCALING_G = (2, 4, 8)


SCALING_TOKENS = (32, 64, 128)


def scaling_points(base: Settings) -> list[Settings]:
    """G in 2/4/8 at the base token budget, then tokens in 32/64/128 at the base G (shared point once)."""
    points = [replace(base, G=g) for g in SCALING_G]
    points += [replace(base, max_new_tokens=t) for t in SCALING_TOKENS if t != base.max_new_tokens]
    return points


def scaling_table(rows: list[dict]) -> str:
    lines = ["| G | prompts/step | completions | max new tokens | median s/step | min | max | mean len "
             "| tokens/s | peak RSS MiB |", "|" + "---|" * 10]  # fmt: skip
    for r in rows:
        s = r["settings"]
        lines.append(
            f"| {s['G']} | {s['prompts_per_step']} | {s['G'] * s['prompts_per_step']} | {s['max_new_tokens']} | "
            f"{r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} | {r['mean_completion_length']:.1f} | "
            f"{r['tokens_per_s']:.1f} | {r['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def plot_scaling(rows: list[dict], base: Settings, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, values, label in (
        (axes[0], "G", SCALING_G, f"G (completions per prompt; {base.prompts_per_step} prompts/step, "
                                  f"{base.max_new_tokens} tokens)"),
        (axes[1], "max_new_tokens", SCALING_TOKENS, f"max new tokens (G={base.G}, {base.prompts_per_step} prompts)"),
    ):  # fmt: skip
        other = "max_new_tokens" if key == "G" else "G"
        pts = sorted(
            (r["settings"][key], r) for r in rows
            if r["settings"][key] in values and r["settings"][other] == asdict(base)[other]
        )  # fmt: skip
        xs = [x for x, _ in pts]
        ax.errorbar(xs, [r["median_s"] for _, r in pts],
                    yerr=[[r["median_s"] - r["min_s"] for _, r in pts], [r["max_s"] - r["median_s"] for _, r in pts]],
                    marker="o", color="tab:blue", capsize=3)  # fmt: skip
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("s / step (median, min-max)", color="tab:blue")
        ax.set_xticks(xs)
        twin = ax.twinx()
        twin.plot(xs, [r["peak_rss_mib"] for _, r in pts], marker="s", color="tab:red", linestyle="--")
        twin.set_ylabel("peak RSS (MiB)", color="tab:red")
    fig.suptitle("mogrpo GRPO step on SmolLM2-135M + LoRA r16, CPU, 2 threads")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_scaling(base: Settings, log_dir: Path, out_dir: Path) -> dict:
    rows = []
    for s in scaling_points(base):
        print(f"[scaling] G={s.G} max_new_tokens={s.max_new_tokens} ...", flush=True)
        r = run_in_subprocess("mogrpo", s, log_dir)
        print(f"    median {r['median_s']:.2f} s/step, peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)
        rows.append(r)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine_info(), "base": asdict(base), "rows": rows}
    (out_dir / "scaling.json").write_text(json.dumps(report, indent=2))
    table = scaling_table(rows)
    (out_dir / "scaling.md").write_text(
        f"mogrpo step time and peak RSS ({report['machine']['date']}, {report['machine']['cpu_count']} cores, "
        f"{base.threads} torch threads, {base.steps} timed steps after {base.warmup} warm-up)\n\n{table}\n"
    )
    plot_scaling(rows, base, out_dir / "scaling.png")
    print(table)
    return report
