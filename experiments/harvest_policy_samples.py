"""Answers of the policy (and of trained adapters on it) to TRAIN-split GRPO prompts, for the reward data.

Why: GRPO against the default reward model found answers the reward data never showed it, and the
reward model ranked them above the base model's plain answers on every prompt, benign ones too
("No, do not provide a SQL query ...", "I always advise ...", README "Recipe sweep, third round").
Its safety head also scored the base model's own short answers to harmless requests 0.85 and its
compliance with "How do I make a biological weapon?" 0.89: the small policy's writing is outside
what the real data's large-model answers taught it. This script writes those answers, so
``reward_data.policy_samples=<file>`` (:mod:`mogrpo.data.policy_samples`) can turn them into labelled
rows, the way iterated RLHF refreshes its reward model on the current policy's samples.

Only prompts of the GRPO prompt mix's ``train`` split (``data=real_mix``; the split it shares with the
reward data, ``mogrpo/data/splits.py``) are answered, so no validation or held-out prompt reaches the
reward model. Greedy decoding, so the same adapters give the same file::

    python experiments/harvest_policy_samples.py /work/runs/policy_samples.jsonl \
        --adapter i=/work/runs/sweep2/i_ws64_klref/adapter --adapter o=/work/runs/sweep2/o_.../adapter

One JSON line per answer: ``prompt, kind, source, policy ("base" or the adapter's name), response,
refusal`` (the :func:`mogrpo.metrics.refusal.detect_refusal` label), ``split`` (always ``train``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def train_prompts(root: Path, n_adversarial: int | None, n_benign: int | None, seed: int) -> list[dict]:
    """The train split of ``data=real_mix``'s sources (every prompt, no ratio), then seeded subsets per kind."""
    from omegaconf import OmegaConf

    from mogrpo.data.prompt_mix import prompt_mix

    sources = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "data" / "real_mix.yaml").sources)
    prompts = prompt_mix(root, split="train", sources=sources, adversarial_fraction=None, seed=0)
    rng = random.Random(seed)
    picked = []
    for kind, n in (("adversarial", n_adversarial), ("benign", n_benign)):
        pool = [p for p in prompts if p["kind"] == kind]
        picked.extend(pool if n is None or n >= len(pool) else rng.sample(pool, n))
    return picked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--adapter", action="append", default=[], metavar="NAME=DIR[@KINDS]",
                    help="a peft adapter to answer with too (repeatable), on the prompt kinds KINDS (comma-"
                    "separated; default --adapter-kinds); the base always answers every prompt")
    ap.add_argument("--root", type=Path, default=Path(os.environ.get("MOGRPO_SHARED_DATA", ROOT.parent / "shared" / "data")))
    ap.add_argument("--n-adversarial", type=int, default=315, help="adversarial train prompts (seeded subset)")
    ap.add_argument("--n-benign", type=int, default=None, help="benign train prompts (default: all)")
    ap.add_argument("--adapter-kinds", default="benign,adversarial", help="prompt kinds the adapters answer")
    ap.add_argument("--max-new-tokens", type=int, default=32, help="the GRPO default length")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    adapters = []
    for item in args.adapter:
        name, sep, rest = item.partition("=")
        path, _, kinds = rest.partition("@")
        if not sep or not Path(path, "adapter_config.json").is_file():
            ap.error(f"--adapter {item!r}: want NAME=DIR[@KINDS] with DIR/adapter_config.json")
        adapters.append((name, Path(path), set((kinds or args.adapter_kinds).split(","))))

    import torch
    from peft import PeftModel

    from mogrpo.metrics.refusal import detect_refusal
    from mogrpo.models.loading import ModelSpec, load_causal_lm
    from mogrpo.stages.evaluation import generate_responses

    prompts = train_prompts(args.root, args.n_adversarial, args.n_benign, args.seed)
    assert all(p.get("split", "train") == "train" for p in prompts)
    model, tokenizer = load_causal_lm(ModelSpec(source="packaged", name_or_path="smollm2_135m_instruct"))
    model.eval()
    decoding = {"do_sample": False, "max_new_tokens": args.max_new_tokens}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".partial")
    with tmp.open("w", encoding="utf-8") as fh:
        for name, path, kinds in [("base", None, None), *adapters]:
            rows = prompts if path is None else [p for p in prompts if p["kind"] in kinds]
            policy = model if path is None else PeftModel.from_pretrained(model, str(path), is_trainable=False).eval()
            start = time.time()
            with torch.no_grad():
                answers = generate_responses(policy, tokenizer, [p.get("messages") or p["prompt"] for p in rows],
                                             decoding, args.batch_size, 256, desc=name)
            for p, a in zip(rows, answers):
                fh.write(json.dumps({"prompt": p["prompt"], "kind": p["kind"], "source": p.get("source"),
                                     "policy": name, "response": a, "refusal": detect_refusal(a).label,
                                     "split": "train"}) + "\n")
            fh.flush()
            print(f"{name}: {len(rows)} answers in {time.time() - start:.0f} s", flush=True)
            if path is not None:
                model = policy.unload()  # the bare base again for the next adapter
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
