"""Offline DPO pairs for the ninth recipe round (README, "Recipe sweep, ninth round"): a pair file of the fifth
round (``experiments/refusal_pairs.py``'s format) plus N Safety-Tuned LLaMAs pairs of train-split prompts only,
the curated refusal (cut at a sentence end to about ``--words`` words) over a generic refusal or non-answer
(:func:`mogrpo.data.refusal_quality.specific_over_generic_refusal`). Usage:

    python experiments/refusal_quality_pairs.py BASE_PAIRS.jsonl OUT.jsonl --n 160 [--root ../shared/data]

then the DPO command of ``experiments/refusal_pairs.py`` with ``reward_data.sources.0.path=OUT.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path


def cut(text: str, words: int = 40) -> str:
    """The leading sentences of ``text`` that fit in ``words`` words (at least the first sentence)."""
    keep: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        if keep and len(" ".join([*keep, sentence]).split()) > words:
            break
        keep.append(sentence)
    return " ".join(keep)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=160)
    ap.add_argument("--words", type=int, default=40)
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from mogrpo.data.refusal_quality import specific_over_generic_refusal

    rows = [r for r in specific_over_generic_refusal(args.root) if r["split"] == "train"]
    random.Random(args.seed).shuffle(rows)
    base = [json.loads(line) for line in args.base.read_text().splitlines() if line.strip()]
    extra = [{"prompt": r["prompt"], "response": cut(r["response"], args.words), "rejected": r["rejected"],
              "pref": 1.0, "kind": "refusal_quality"} for r in rows[: args.n]]  # fmt: skip
    with args.out.open("w") as f:
        for row in base + extra:
            f.write(json.dumps(row) + "\n")
    print(f"wrote {len(base)} + {len(extra)} pairs to {args.out}")


if __name__ == "__main__":
    main()
