"""Re-score finished runs' base and aligned answers with another reward model: would it still rank them so?

A run's ``samples.jsonl`` holds the base and the aligned policy's answer to each evaluation prompt. GRPO
climbs whatever its reward model ranks first, so the question for a new reward model is: on these
answers (which it never trained on: they answer validation prompts), does it still prefer the aligned
answer where the aligned policy learned a failure? Per run and prompt kind, this prints the mean
aggregate reward of each side and the share of prompts where the aligned answer scores higher, under
each reward model given::

    python experiments/rescore_samples.py /work/runs/sweep2/{h_ws64,i_ws64_klref} \
        --reward-model old=/work/runs/rm/reward_model --reward-model new=/work/runs/rm_ps/reward_model

The aggregate is ``sum_k w_k r_k`` with ``--weights`` (default: conf/reward/multilabel.yaml's).
``--json`` writes the table as JSON too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mogrpo.utils.io import read_json_lines


def read_runs(run_dirs: list[Path]) -> list[dict]:
    """One row per (run, prompt) with both sides' answers; runs without samples.jsonl are an error."""
    rows = []
    names = [run.name for run in run_dirs]
    for run in run_dirs:
        label = run.name if names.count(run.name) == 1 else f"{run.parent.name}/{run.name}"  # two sweeps' arm
        path = run / "samples.jsonl"
        if not path.is_file():
            raise SystemExit(f"{path}: no samples.jsonl (run the evaluation first)")
        rows += [{"run": label, **r} for r in read_json_lines(path) if r.get("aligned_response") is not None]
    return rows


def summarise(rows: list[dict], base: list[float], aligned: list[float]) -> dict:
    """``{run: {kind: {n, base, aligned, aligned_wins}}}`` (means, and the share of prompts won)."""
    out: dict = {}
    for r, b, a in zip(rows, base, aligned):
        cell = out.setdefault(r["run"], {}).setdefault(r.get("kind") or "all", {"n": 0, "base": 0.0, "aligned": 0.0,
                                                                               "aligned_wins": 0.0})
        cell["n"] += 1
        cell["base"] += b
        cell["aligned"] += a
        cell["aligned_wins"] += float(a > b)
    for kinds in out.values():
        for cell in kinds.values():
            for key in ("base", "aligned", "aligned_wins"):
                cell[key] /= cell["n"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--reward-model", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--weights", default=None, help="aspect=weight,... (default: conf/reward/multilabel.yaml)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from mogrpo.configs import RewardConfig
    from mogrpo.grpo.advantages import weighted_reward
    from mogrpo.models.regressor import MultiAspectRegressor

    weights = RewardConfig().weights  # conf/reward/multilabel.yaml's (a test keeps the two equal)
    if args.weights:
        weights = {k: float(v) for k, v in (item.split("=") for item in args.weights.split(","))}
    rows = read_runs(args.runs)
    prompts = [r["prompt"] for r in rows]
    table = {}
    for item in args.reward_model:
        name, _, path = item.partition("=")
        regressor = MultiAspectRegressor.load(path)
        w = [weights.get(a, 0.0) for a in regressor.aspects]
        sides = {}
        for side in ("base", "aligned"):
            scores = regressor.score(prompts, [r[f"{side}_response"] or "" for r in rows])
            sides[side] = weighted_reward(scores, w).tolist()
        table[name] = summarise(rows, sides["base"], sides["aligned"])
    print("| reward model | run | kind | n | base reward | aligned reward | aligned scores higher |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in table.items():
        for run, kinds in runs.items():
            for kind, c in sorted(kinds.items()):
                print(f"| {name} | {run} | {kind} | {c['n']} | {c['base']:.3f} | {c['aligned']:.3f} | "
                      f"{100 * c['aligned_wins']:.0f}% |")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
