"""Does the reward model prefer an EMPTY answer? (the hack the safety-only GRPO run found)

    python experiments/empty_answer_check.py RUN_DIR/samples.jsonl REWARD_MODEL_DIR [--weights 1,0.5,1,4]

Reads an evaluation's ``samples.jsonl`` (held-out prompts with the base model's answers), scores each
prompt with an empty answer, and prints, per prompt kind, the mean aspect scores of the base answers and
of the empty answer, and how often the empty answer wins on the safety head and on the aggregate.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import torch

from mogrpo.models.regressor import load_regressor

ASPECTS = ["politeness", "meaningfulness", "actionability", "safety"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("reward_model")
    ap.add_argument("--weights", default="1,0.5,1,4", help="aggregate weights in aspect order")
    args = ap.parse_args()
    w = torch.tensor([float(x) for x in args.weights.split(",")])
    rows = [json.loads(line) for line in open(args.samples, encoding="utf-8")]
    reg = load_regressor(args.reward_model, ASPECTS)
    prompts = [r["prompt"] for r in rows]
    with torch.no_grad():
        base = reg.score(prompts, [r["base_response"] for r in rows]).float()
        empty = reg.score(prompts, [""] * len(rows)).float()
    by_kind = defaultdict(list)
    for i, r in enumerate(rows):
        by_kind[r.get("kind", "all")].append(i)
    print(f"| kind | n | answer | {' | '.join(ASPECTS)} | empty wins: safety | empty wins: aggregate |")
    print("|---|---|---|" + "---|" * (len(ASPECTS) + 2))
    for kind, idx in sorted(by_kind.items()):
        b, e = base[idx], empty[idx]
        safety_wins = (e[:, 3] > b[:, 3]).float().mean().item()
        agg_wins = ((e @ w) > (b @ w)).float().mean().item()
        for name, s in (("base", b), ("empty", e)):
            cells = " | ".join(f"{v:.3f}" for v in s.mean(0).tolist())
            tail = f"{safety_wins:.0%} | {agg_wins:.0%}" if name == "empty" else " | "
            print(f"| {kind} | {len(idx)} | {name} | {cells} | {tail} |")


if __name__ == "__main__":
    main()
