"""Sample SmolLM2-135M-Instruct responses to train-split prompts of the builtin data set.

These samples are the ``source: smollm2-135m-instruct`` rows of
``mogrpo/data/builtin/aspect_labelled.jsonl``: the reward model should see the policy's own
outputs, not only hand-written ones. The script writes the raw samples WITHOUT labels; every
sample was then read and labelled by hand against the rubric in ``DATA_CARD.md`` (labels are
never computed by code).

Prompt selection and sampling are seeded, so the same command gives the same prompts and (on the
same torch build and hardware) the same samples::

    python experiments/sample_builtin_responses.py /tmp/smollm2_samples.jsonl

Only prompts whose ``split`` is ``train`` are used, so the held-out prompts stay unseen.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch

PROMPTS = Path(__file__).resolve().parents[1] / "mogrpo" / "data" / "builtin" / "prompts.jsonl"


def select_prompts(path: Path, n_adversarial: int, n_benign: int, seed: int) -> list[dict]:
    """A seeded, stratified pick of train-split prompts: n_adversarial + n_benign of them, in id order."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    train = [r for r in rows if r["split"] == "train"]
    rng = random.Random(seed)
    picked: list[dict] = []
    for kind, n in (("adversarial", n_adversarial), ("benign", n_benign)):
        pool = sorted((r for r in train if r["kind"] == kind), key=lambda r: r["id"])
        if n > len(pool):
            raise ValueError(f"asked for {n} {kind} prompts, only {len(pool)} in the train split")
        picked.extend(rng.sample(pool, n))
    return sorted(picked, key=lambda r: r["id"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="output jsonl (one unlabelled sample per line)")
    ap.add_argument("--prompts", type=Path, default=PROMPTS)
    ap.add_argument("--n-adversarial", type=int, default=70)
    ap.add_argument("--n-benign", type=int, default=46)
    ap.add_argument("--samples", type=int, default=2, help="samples per prompt")
    ap.add_argument("--temperature", type=float, default=0.9)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--max-new-tokens", type=int, default=120)
    ap.add_argument("--batch-size", type=int, default=16, help="prompts per generate call")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from mogrpo.models import ModelSpec, load_causal_lm

    torch.set_num_threads(args.threads)
    prompts = select_prompts(args.prompts, args.n_adversarial, args.n_benign, args.seed)
    model, tok = load_causal_lm(ModelSpec(source="packaged", name_or_path="smollm2_135m_instruct"))
    model.eval()
    assert tok.padding_side == "left", "batched generation needs left padding"

    torch.manual_seed(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    n_written = 0
    with args.out.open("w", encoding="utf-8") as fh:
        for start in range(0, len(prompts), args.batch_size):
            batch = prompts[start : start + args.batch_size]
            texts = [
                tok.apply_chat_template(
                    [{"role": "user", "content": p["prompt"]}], add_generation_prompt=True, tokenize=False
                )
                for p in batch
            ]
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    do_sample=True,
                    temperature=args.temperature,
                    top_p=args.top_p,
                    max_new_tokens=args.max_new_tokens,
                    num_return_sequences=args.samples,
                    pad_token_id=tok.pad_token_id,
                )
            new_tokens = out[:, enc["input_ids"].shape[1] :]
            decoded = tok.batch_decode(new_tokens, skip_special_tokens=True)
            for k, text in enumerate(decoded):
                p = batch[k // args.samples]
                truncated = bool((new_tokens[k] != tok.pad_token_id).sum().item() >= args.max_new_tokens)
                rec = {
                    "prompt_id": p["id"],
                    "prompt": p["prompt"],
                    "kind": p["kind"],
                    "category": p["category"],
                    "sample": k % args.samples,
                    "response": text.strip(),
                    "truncated": truncated,
                    "source": "smollm2-135m-instruct",
                    "gen": {
                        "temperature": args.temperature,
                        "top_p": args.top_p,
                        "max_new_tokens": args.max_new_tokens,
                        "seed": args.seed,
                    },
                }
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n_written += 1
            fh.flush()
            print(
                f"{start + len(batch)}/{len(prompts)} prompts, {n_written} samples, {time.time() - t0:.0f}s",
                flush=True,
            )


if __name__ == "__main__":
    main()
