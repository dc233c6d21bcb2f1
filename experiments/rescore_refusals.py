"""Re-count the refusals of finished evaluations with the current refusal detector.

A run's ``samples.jsonl`` keeps every base and aligned answer, so a change to the detector
(mogrpo/metrics/refusal_patterns.py) can be applied to old runs without generating again:

    python experiments/rescore_refusals.py /work/runs/sweep2/*/samples.jsonl

Prints, per file, prompt set (``heldout``, ``xstest``, ... where the rows name one) and prompt kind, the share of
answers that are full or partial refusals, base -> aligned, as the run recorded it and as the current detector
counts it, with each row's prompt (so non-answers count: mogrpo/metrics/refusal.py).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from mogrpo.metrics.refusal import detect_refusal


def rates(rows: list[dict]) -> dict[str, dict[str, float]]:
    """``{group: {base_recorded, aligned_recorded, base_now, aligned_now, n}}`` over the rows of one file; the
    group is the prompt kind, ``<set>:<kind>`` where a row names its set."""
    acc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        kind = r.get("kind", "?")
        k = acc[f"{r['set']}:{kind}" if r.get("set") else kind]
        k["n"] += 1
        for side in ("base", "aligned"):
            if f"{side}_response" not in r:
                continue
            k[f"{side}_recorded"] += r.get(f"{side}_refusal") not in (None, "full_compliance")
            k[f"{side}_now"] += detect_refusal(r[f"{side}_response"], r.get("prompt")).label != "full_compliance"
    return {kind: {key: (v if key == "n" else v / d["n"]) for key, v in d.items()} for kind, d in acc.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples", nargs="+", type=Path, help="samples.jsonl files of finished evaluations")
    args = ap.parse_args(argv)
    print("| samples | set:kind | n | recorded: base -> aligned | now: base -> aligned |")
    print("|---|---|---|---|---|")
    for path in args.samples:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for kind, r in sorted(rates(rows).items()):
            print(f"| {path.parent.name} | {kind} | {int(r['n'])} | {r.get('base_recorded', 0):.0%} -> "
                  f"{r.get('aligned_recorded', 0):.0%} | {r.get('base_now', 0):.0%} -> {r.get('aligned_now', 0):.0%} |")


if __name__ == "__main__":
    main()
