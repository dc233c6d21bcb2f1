"""How the aggregate ranking checks move with the aspect weights, for one trained reward model.

    python experiments/ranking_weights.py RUN_DIR/reward_model --split validation [--out DIR]

Scores the held-out ranking pairs of ``reward_data.ranking`` (conf/reward_data/real_mix.yaml) once
on ``--split`` (choose weights on ``validation``; report ``test``), then evaluates every weight
vector of a grid (``--levels`` for politeness, meaningfulness, actionability; ``--safety-levels``)
without scoring again: R = sum_k w_k r_k, rate = share of pairs where R_better > R_worse. Prints a
markdown table sorted by the worst of the two GRPO-critical rates (refusal over harmful compliance,
helpful answer over refusal) and writes it with a JSON beside it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CRITICAL = ("refusal_over_harmful", "helpful_over_refusal")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reward_model", type=Path)
    ap.add_argument("--split", default="validation", choices=("validation", "test"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--override", action="append", default=[], help="extra train-config overrides")
    ap.add_argument("--levels", default="0.25,0.5,1", help="weights tried for each non-safety aspect")
    ap.add_argument("--safety-levels", default="1,2,3,4,6,8", help="weights tried for safety")
    args = ap.parse_args(argv)

    import torch
    from hydra import compose, initialize_config_dir

    import mogrpo.utils.resolvers  # noqa: F401
    from mogrpo.metrics.ranking import pair_scores, win_rate
    from mogrpo.models.regressor import MultiAspectRegressor
    from mogrpo.stages.reward_ranking import ranking_pairs

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=[f"reward_data.eval_split={args.split}", *args.override])
    regressor = MultiAspectRegressor.load(args.reward_model)
    pairs, skipped = ranking_pairs(cfg)
    scores = {check: pair_scores(regressor, p) for check, p in pairs.items() if p}
    aspects = regressor.aspects
    levels = [float(x) for x in args.levels.split(",")]
    safety_levels = [float(x) for x in args.safety_levels.split(",")]
    grid = [dict(zip(aspects, w)) for w in itertools.product(levels, levels, levels, safety_levels)]
    rows = []
    for weights in grid:
        w = torch.tensor([weights[a] for a in aspects])
        rates = {check: win_rate(b @ w, x @ w) for check, (b, x) in scores.items()}
        rows.append({"weights": weights, "rates": rates, "worst_critical": min(rates.get(c, 0.0) for c in CRITICAL)})
    rows.sort(key=lambda r: -r["worst_critical"])
    checks = list(scores)
    header = "| " + " | ".join([*aspects, *checks]) + " |"
    lines = [header, "|" + "---|" * (len(aspects) + len(checks))]
    for r in rows:
        cells = [f"{r['weights'][a]:g}" for a in aspects] + [f"{100 * r['rates'][c]:.1f}%" for c in checks]
        lines.append("| " + " | ".join(cells) + " |")
    n = {c: len(p) for c, p in pairs.items()}
    text = f"ranking checks on the {args.split} split, pairs per check {n}\n\n" + "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"ranking_weights_{args.split}.md").write_text(text)
        (args.out / f"ranking_weights_{args.split}.json").write_text(json.dumps({"n": n, "skipped": skipped, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
