"""Composition tables for ``mogrpo/data/builtin/DATA_CARD.md``, computed from the shipped files.

    python experiments/data_card_stats.py            # prints markdown to stdout
    python experiments/data_card_stats.py --dir DIR  # another copy of the builtin files

The data card's "Composition" section is this script's output pasted in; rerun it after any edit
to ``prompts.jsonl`` or ``aspect_labelled.jsonl``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

ASPECTS = ("politeness", "meaningfulness", "actionability", "safety")
BUILTIN = Path(__file__).resolve().parents[1] / "mogrpo" / "data" / "builtin"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def table(header: list[str], rows: list[list]) -> str:
    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.2f}"
        return str(v)

    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=BUILTIN)
    args = ap.parse_args()

    prompts = read_jsonl(args.dir / "prompts.jsonl")
    rows = read_jsonl(args.dir / "aspect_labelled.jsonl")
    by_id = {p["id"]: p for p in prompts}
    kinds = ("adversarial", "benign")
    splits = ("train", "heldout")
    sources = sorted({r["source"] for r in rows}, key=lambda s: (s != "written", s))
    styles = [s for s, _ in Counter(r["style"] for r in rows).most_common()]

    print("### Prompts (`prompts.jsonl`)\n")
    print(f"{len(prompts)} prompts.\n")
    c = Counter((p["kind"], p["split"]) for p in prompts)
    print(
        table(
            ["kind", "train", "heldout", "total"],
            [[k, c[k, "train"], c[k, "heldout"], c[k, "train"] + c[k, "heldout"]] for k in kinds]
            + [["all", sum(c[k, "train"] for k in kinds), sum(c[k, "heldout"] for k in kinds), len(prompts)]],
        )
    )
    print()
    cat = Counter((p["category"], p["kind"], p["split"]) for p in prompts)
    cats = list(dict.fromkeys(p["category"] for p in prompts))
    cat_rows = []
    for ca in cats:
        kind = next(p["kind"] for p in prompts if p["category"] == ca)
        cat_rows.append([ca, kind, cat[ca, kind, "train"], cat[ca, kind, "heldout"]])
    print(table(["category", "kind", "train", "heldout"], cat_rows))
    print()

    print("### Labelled responses (`aspect_labelled.jsonl`)\n")
    used_splits = Counter(by_id[r["prompt_id"]]["split"] for r in rows)
    n_prompts_used = len({r["prompt_id"] for r in rows})
    print(
        f"{len(rows)} rows over {n_prompts_used} distinct prompts; prompt split of the rows: "
        + ", ".join(f"{s} {used_splits[s]}" for s in splits)
        + ".\n"
    )

    print("Rows by source and prompt kind:\n")
    sk = Counter((r["source"], by_id[r["prompt_id"]]["kind"]) for r in rows)
    print(
        table(
            ["source"] + list(kinds) + ["total"],
            [[s] + [sk[s, k] for k in kinds] + [sum(sk[s, k] for k in kinds)] for s in sources]
            + [["all"] + [sum(sk[s, k] for s in sources) for k in kinds] + [len(rows)]],
        )
    )
    print()

    print("Rows by style, prompt kind and source:\n")
    st = Counter((r["style"], by_id[r["prompt_id"]]["kind"]) for r in rows)
    ss = Counter((r["style"], r["source"]) for r in rows)
    print(
        table(
            ["style"] + list(kinds) + sources + ["total"],
            [
                [s]
                + [st[s, k] for k in kinds]
                + [ss[s, src] for src in sources]
                + [sum(st[s, k] for k in kinds)]
                for s in styles
            ],
        )
    )
    print()

    print("Rows by prompt category:\n")
    rc = Counter((by_id[r["prompt_id"]]["category"], r["source"]) for r in rows)
    print(
        table(
            ["category"] + sources + ["total"],
            [[ca] + [rc[ca, s] for s in sources] + [sum(rc[ca, s] for s in sources)] for ca in cats],
        )
    )
    print()

    print("Missing (null) labels; a row has at most one:\n")
    miss = Counter()
    miss_src = Counter()
    for r in rows:
        for a in ASPECTS:
            if r[a] is None:
                miss[a] += 1
                miss_src[a, r["source"]] += 1
    n_with_null = sum(any(r[a] is None for a in ASPECTS) for r in rows)
    print(
        table(
            ["aspect"] + sources + ["total"],
            [[a] + [miss_src[a, s] for s in sources] + [miss[a]] for a in ASPECTS]
            + [
                ["rows with a null"]
                + [sum(miss_src[a, s] for a in ASPECTS) for s in sources]
                + [f"{n_with_null} ({100 * n_with_null / len(rows):.1f}%)"]
            ],
        )
    )
    print()

    def means_table(group_of) -> str:
        groups: dict = defaultdict(lambda: defaultdict(list))
        counts = Counter()
        for r in rows:
            g = group_of(r)
            counts[g] += 1
            for a in ASPECTS:
                if r[a] is not None:
                    groups[g][a].append(r[a])
        keys = sorted(groups, key=lambda g: -counts[g])
        return table(
            ["group", "n"] + list(ASPECTS),
            [
                [g if isinstance(g, str) else " / ".join(g), counts[g]]
                + [mean(groups[g][a]) for a in ASPECTS]
                for g in keys
            ],
        )

    print("Mean labels per style (nulls skipped):\n")
    print(means_table(lambda r: r["style"]))
    print()
    print("Mean labels per style and prompt kind (nulls skipped):\n")
    print(means_table(lambda r: (r["style"], by_id[r["prompt_id"]]["kind"])))
    print()
    print("Mean labels per source and prompt kind (nulls skipped):\n")
    print(means_table(lambda r: (r["source"], by_id[r["prompt_id"]]["kind"])))
    print()
    levels = Counter(r[a] for r in rows for a in ASPECTS if r[a] is not None)
    print(
        "Label values used (all aspects): "
        + ", ".join(f"{v:g}: {n}" for v, n in sorted(levels.items()))
        + "."
    )


if __name__ == "__main__":
    main()
