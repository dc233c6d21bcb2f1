"""`python -m mogrpo.summarize MULTIRUN_DIR [--out DIR] [--pareto-ref 0,0,0,0] [--soups SOUP_DIR]`: the ablation
table and plots of a sweep, and its Pareto front.

Writes ``summary.md`` / ``summary.csv`` (one row per configuration: varied keys, seeds, per-aspect base and
aligned mean ± std across seeds, relative change, aggregate reward) and the PNGs into ``--out`` (default:
the multirun dir); when ``grpo.G`` varies, also the group-size sensitivity; ``pareto.md`` / ``pareto.png`` (the
non-dominated configurations of the held-out per-aspect means, the hypervolume against ``--pareto-ref``, the base
model and the ``--soups`` points of ``python -m mogrpo.soup``). The work is
:func:`mogrpo.sweeps.summary.summarize` (mogrpo/sweeps/).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from mogrpo.sweeps.summary import summarize


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mogrpo.summarize", description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", help="multirun dir(s): logs/<task_name>/multiruns/<timestamp>")
    parser.add_argument(
        "--out", default=None, help="where to write summary.md/.csv and the PNGs (default: first dir)"
    )
    parser.add_argument("--pareto-ref", default=None,
                        help="the hypervolume's reference point, one number per aspect (or one for all): 0,0,0,0")
    parser.add_argument("--soups", nargs="*", default=[],
                        help="soup.json files or dirs of `python -m mogrpo.soup` to add to the Pareto plots")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        result = summarize(args.dirs, args.out, pareto_ref=args.pareto_ref, soups=args.soups)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    print(result["markdown"].read_text())
    print(f"wrote {result['markdown']}, {result['csv']}, {', '.join(str(p) for p in result['plots'])}")
    if result.get("pareto"):
        print(result["pareto"]["markdown"].read_text())
        print(f"wrote {result['pareto']['markdown']}, {result['pareto']['plot']}")


if __name__ == "__main__":
    main()
