"""How a reward model scores the warm start's graded refusals, at each length they could be cut to.

    python experiments/refusal_scores.py REWARD_MODEL [--lengths 32,48,64,512] [--n 300] [--seed 0]
        [--shared-data ../shared/data] [--policy ~/.cache/mogrpo/smollm2_135m_instruct-transformers5]

Takes a seeded sample of ``n`` train-split Safety-Tuned LLaMAs demonstrations (``mogrpo/data/demonstrations.py``,
what ``grpo.warm_start`` trains on), cuts each response to every length in policy tokens
(``grpo.warm_start.overlong=truncate``), keeps those the refusal grader still calls a refusal
(``grpo.warm_start.refusals_only``), and prints, per length, how many were kept, their grader labels, their
first words and the reward model's mean score per aspect. It answers whether a longer completion budget lets
a refusal score better on the aspects other than safety (README, "Recipe sweep, eleventh round").
Only train-split prompts are read.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from pathlib import Path

import torch

from mogrpo.warm_start.encode import encode_demonstrations, graded_refusals, trained_text
from mogrpo.warm_start.openers import opener

DEFAULT_POLICY = Path.home() / ".cache/mogrpo/smollm2_135m_instruct-transformers5"


def score_rows(tokenizer, regressor, demos: list[dict], lengths: list[int], max_prompt_length: int = 256
               ) -> list[dict]:  # fmt: skip
    """One row per length: ``{length, kept, labels, openers, <aspect>: mean score}`` over the demonstrations
    whose cut response the grader calls a refusal."""
    from mogrpo.metrics.refusal import refusal_labels

    rows = []
    for n in lengths:
        encoded, _ = encode_demonstrations(tokenizer, demos, max_prompt_length, n, "truncate")
        encoded, _ = graded_refusals(tokenizer, demos, encoded)
        texts = [trained_text(tokenizer, e) for e in encoded]
        prompts = [str(demos[e.index]["prompt"]) for e in encoded]
        row = {"length": n, "kept": len(texts),
               "labels": dict(Counter(refusal_labels(texts, prompts, mark_non_answer=True))),
               "openers": dict(Counter(opener(t) for t in texts).most_common(3))}  # fmt: skip
        if texts:
            with torch.no_grad():
                means = regressor.score(prompts, texts).mean(0).tolist()
            row.update(zip(regressor.aspects, means))
        rows.append(row)
    return rows


def table(rows: list[dict], aspects: list[str]) -> str:
    """The rows as a markdown table."""
    out = ["| tokens | refusals kept | grader labels | first words | " + " | ".join(aspects) + " |",
           "|---" * (4 + len(aspects)) + "|"]  # fmt: skip
    for r in rows:
        scores = " | ".join(f"{r[a]:.3f}" if a in r else "-" for a in aspects)
        out.append(f"| {r['length']} | {r['kept']} | {r['labels']} | {r['openers']} | {scores} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    from transformers import AutoTokenizer

    from mogrpo.data.demonstrations import demonstrations
    from mogrpo.models.regressor import MultiAspectRegressor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reward_model", type=Path, help="a saved reward_model directory")
    ap.add_argument("--lengths", default="32,48,64,512", help="comma-separated cut lengths in policy tokens")
    ap.add_argument("--n", type=int, default=300, help="demonstrations sampled (seeded)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shared-data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="a directory with the policy's tokenizer")
    ap.add_argument("--sources", default="safety_tuned_llamas", help="comma-separated demonstration sources")
    args = ap.parse_args(argv)
    tokenizer = AutoTokenizer.from_pretrained(str(args.policy))
    regressor = MultiAspectRegressor.load(args.reward_model)
    demos = [d for d in demonstrations(args.shared_data, args.sources.split(",")) if d["kind"] == "adversarial"]
    random.Random(args.seed).shuffle(demos)
    rows = score_rows(tokenizer, regressor, demos[: args.n], [int(x) for x in args.lengths.split(",")])
    print(table(rows, list(regressor.aspects)))


if __name__ == "__main__":
    main()
