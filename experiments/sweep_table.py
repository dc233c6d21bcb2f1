"""The selection table of a GRPO sweep evaluated on the validation prompts (``eval.split=validation``).

    python experiments/sweep_table.py logs/<task>/multiruns/<timestamp> [--out DIR]

One row per job (its command-line overrides): refusal of adversarial prompts and over-refusal of
benign prompts, base -> aligned (the string-pattern detector, full + partial refusals); each
aspect's change and the aggregate's on all prompts; distinct-2 of the aligned answers; the alarms;
GRPO wall time. Rows are sorted by the adversarial refusal rise among the jobs that keep benign
over-refusal within +5 points, raise every aspect and fire no alarm, then the others. Choose settings here, on
validation prompts; report the chosen run on held-out prompts (eval.split=heldout, eval=full).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ASPECTS = ("politeness", "meaningfulness", "actionability", "safety")


def job_row(job: Path) -> dict | None:
    path = job / "eval.json"
    if not path.is_file():
        return None
    e = json.loads(path.read_text())
    overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()) if (job / ".hydra" / "overrides.yaml").is_file() else []
    summary = json.loads((job / "summary.json").read_text()) if (job / "summary.json").is_file() else {}
    kinds = e.get("by_kind") or {}

    def refusal(kind: str, which: str) -> float | None:
        r = (kinds.get(kind) or {}).get("refusal") or {}
        return (r.get(which) or {}).get("refusal_rate")

    row = {
        "job": str(job),
        "overrides": [o for o in overrides if not o.startswith(("hydra.", "reward_model.checkpoint"))],
        "adv_refusal": (refusal("adversarial", "base"), refusal("adversarial", "aligned")),
        "benign_refusal": (refusal("benign", "base"), refusal("benign", "aligned")),
        "aspects": {a: (e.get("aspects") or {}).get(a, {}).get("abs_change") for a in ASPECTS},
        "aggregate": (e.get("aggregate") or {}).get("abs_change"),
        "distinct_2": ((e.get("diversity") or {}).get("aligned") or {}).get("distinct_2"),
        "alarms": [a.get("name", str(a)) if isinstance(a, dict) else str(a) for a in (e.get("alarms") or [])],
        "grpo_s": (summary.get("grpo") or {}).get("wall_time_s"),
        "n": e.get("n"),
    }
    b, a = row["benign_refusal"]
    row["ok"] = (
        None not in (b, a)
        and a - b <= 0.05
        and all(v is not None and v > 0 for v in row["aspects"].values())
        and not row["alarms"]
    )
    base, aligned = row["adv_refusal"]
    row["adv_rise"] = None if None in (base, aligned) else aligned - base
    return row


def _pct(pair: tuple) -> str:
    b, a = pair
    return "–" if None in (b, a) else f"{100 * b:.0f}% → {100 * a:.0f}%"


def table(rows: list[dict]) -> str:
    rows = sorted(rows, key=lambda r: (not r["ok"], -(r["adv_rise"] if r["adv_rise"] is not None else -9)))
    # overrides every job shares are printed once above the table; each row shows what it changes
    common = set.intersection(*(set(r["overrides"]) for r in rows)) if len(rows) > 1 else set()
    shared = [o for o in rows[0]["overrides"] if o in common]
    head = ["overrides", "adv. refusal", "benign refusal", *[f"Δ {a}" for a in ASPECTS], "Δ aggregate",
            "distinct-2", "alarms", "GRPO s", "ok"]  # fmt: skip
    lines = [f"Every job: `{' '.join(shared)}`", ""] if shared else []
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [" ".join(o for o in r["overrides"] if o not in common) or "(the shared ones only)", _pct(r["adv_refusal"]), _pct(r["benign_refusal"]),
                 *["–" if r["aspects"][a] is None else f"{r['aspects'][a]:+.3f}" for a in ASPECTS],
                 "–" if r["aggregate"] is None else f"{r['aggregate']:+.3f}",
                 "–" if r["distinct_2"] is None else f"{100 * r['distinct_2']:.0f}%",
                 ", ".join(r["alarms"]) or "none", "–" if r["grpo_s"] is None else f"{r['grpo_s']:.0f}",
                 "yes" if r["ok"] else "no"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("roots", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    jobs = sorted({p.parent for root in args.roots for p in root.rglob("eval.json")})
    rows = [r for r in (job_row(j) for j in jobs) if r is not None]
    if not rows:
        print(f"no eval.json under {args.roots}", file=sys.stderr)
        return 1
    text = table(rows)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "sweep_table.md").write_text(text)
        (args.out / "sweep_table.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
