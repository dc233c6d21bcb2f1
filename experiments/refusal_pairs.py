"""Offline DPO pairs that teach the policy *when* to refuse, from a harvest of its own answers.

Why: the supervised warm start on Safety-Tuned LLaMAs' refusals teaches the 135M policy one opening ("I'm
sorry, but ...") and it then refuses ordinary requests too: 54 % of the benign train prompts, 38 % of the
benign validation prompts (README "Recipe sweep, fifth round"). SFT only pulls the refusal up; a preference
pair also pushes it down where it is wrong. From a file of
``experiments/harvest_policy_samples.py`` (train prompts only) this writes, with
:func:`mogrpo.data.policy_samples.sample_rows`:

- ``refusal_over_compliance``: on an adversarial prompt, an adapter's refusal over a compliant answer;
- ``benign_over_refusal``: on a benign prompt, the base model's answer over an adapter's refusal.

Both sides are the policy's own words. Only prompts that the hash split puts in ``train`` are kept.
One JSON line per pair, ``prompt, response (chosen), rejected, pref (1.0), kind``, for offline DPO::

    python experiments/refusal_pairs.py /work/runs/harvest/policy_samples.jsonl /work/runs/refusal_pairs.jsonl
    python -m mogrpo.train stage=grpo method=dpo method.dpo.mode=offline reward_model.checkpoint=<rm> \\
      reward_data=file reward_data.sources.0.path=/work/runs/refusal_pairs.jsonl \\
      +reward_data.sources.0.rejected_column=rejected '+reward_data.sources.0.aspect_columns={safety: pref}' \\
      reward_data.val_fraction=0.0 reward_data.test_fraction=0.0 grpo.G=2 grpo.batch_size=16 grpo.optim.lr=1e-4
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

KINDS = ("refusal_over_compliance", "benign_over_refusal")


def refusal_pairs(rows: list[dict], kinds: tuple[str, ...] = KINDS) -> list[dict]:
    """The pairs of ``kinds`` from harvest ``rows`` whose prompt is in the hash split's train part."""
    from mogrpo.data.policy_samples import sample_rows, train_rows

    by_kind = sample_rows(train_rows(rows))  # the split first, as the reward data's policy_samples does
    return [{"prompt": p, "response": chosen, "rejected": rejected, "pref": 1.0, "kind": kind}
            for kind in kinds for p, chosen, rejected in by_kind[kind]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("harvest", type=Path, help="a file of experiments/harvest_policy_samples.py")
    ap.add_argument("out", type=Path)
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {list(KINDS)}")
    args = ap.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if not kinds or set(kinds) - set(KINDS):
        ap.error(f"--kinds: want a comma-separated subset of {list(KINDS)}, got {args.kinds!r}")
    from mogrpo.data.policy_samples import read_samples

    pairs = refusal_pairs(read_samples(args.harvest), kinds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    print(f"wrote {len(pairs)} pairs {dict(Counter(p['kind'] for p in pairs))} to {args.out}")


if __name__ == "__main__":
    main()
