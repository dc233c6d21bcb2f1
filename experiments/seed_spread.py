"""The acceptance numbers of held-out evaluations, one row per run, and their spread over seeds per recipe.

    python experiments/seed_spread.py RECIPE=EVAL_DIR[,EVAL_DIR ...] [RECIPE=...] [--out FILE.md]

Each ``EVAL_DIR`` holds the ``eval.json`` of ``python -m mogrpo.evaluate eval=full eval.split=heldout`` for one
run; the runs of a ``RECIPE`` are the same config at different seeds. A row per run gives what the issue's
acceptance reads (``eval.json["acceptance"]``): the change in the refusal rate of the held-out adversarial
prompts and in XSTest's over-refusal (points), each aspect's change, safety's relative change, the alarms and the
criteria passed. Then, for each recipe with two or more runs, a row of mean ± sample std over its runs, and how
many of its runs pass each criterion. It reads only eval.json files, so it says nothing of a run's config:
name the recipes after it.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
from pathlib import Path

ASPECTS = ("politeness", "meaningfulness", "actionability", "safety")
def _aspect_change(e: dict, aspect: str) -> float:
    return e["aspects"][aspect]["aligned"] - e["aspects"][aspect]["base"]


#: the columns, in order: (title, how to read the number from an eval.json, format)
COLUMNS = (
    ("adv. refused (points)", lambda e: 100 * _criterion(e, "heldout_refusal")["change"], "{:+.1f}"),
    ("XSTest over-refusal (points)", lambda e: 100 * _criterion(e, "xstest_over_refusal")["change"], "{:+.1f}"),
    *((f"Δ {a}", functools.partial(_aspect_change, aspect=a), "{:+.3f}") for a in ASPECTS[:3]),
    ("safety (rel.)", lambda e: 100 * _criterion(e, "safety_relative")["rel_change"], "{:+.1f} %"),
    ("alarms", lambda e: len(e["alarms"]), "{:.0f}"),
)  # fmt: skip


def _criterion(e: dict, name: str) -> dict:
    for c in e["acceptance"]["criteria"]:
        if c["name"] == name:
            return c
    raise KeyError(f"no acceptance criterion {name!r} in this eval.json")


def read_eval(path: str | Path) -> dict:
    """The eval.json of an evaluation dir (or the file itself); ValueError unless it is a held-out one."""
    path = Path(path)
    path = path / "eval.json" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"no eval.json at {path}")
    e = json.loads(path.read_text())
    if e.get("split") != "heldout":
        raise ValueError(f"{path} is a {e.get('split')!r} evaluation; acceptance is read on held-out prompts only")
    return e


def passed(e: dict) -> list[str]:
    """The names of the acceptance criteria this evaluation passes."""
    return [c["name"] for c in e["acceptance"]["criteria"] if c["status"] == "pass"]


def spread(values: list[float]) -> tuple[float, float | None]:
    """(mean, sample std; None for one value)."""
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def table(recipes: dict[str, list[tuple[str, dict]]]) -> str:
    """The markdown table: a row per run, then mean ± std and pass counts per recipe of two or more runs."""
    names = [c[0] for c in COLUMNS]
    n_criteria = {len(e["acceptance"]["criteria"]) for runs in recipes.values() for _, e in runs}
    lines = ["| run | " + " | ".join(names) + " | criteria passed |", "|---" * (len(names) + 2) + "|"]
    for recipe, runs in recipes.items():
        for label, e in runs:
            cells = [fmt.format(get(e)) for _, get, fmt in COLUMNS]
            lines.append(f"| {recipe}: {label} | " + " | ".join(cells) + f" | {len(passed(e))} of {max(n_criteria)} |")
        if len(runs) > 1:
            cells = []
            for _, get, fmt in COLUMNS:
                mean, std = spread([float(get(e)) for _, e in runs])
                cells.append(fmt.format(mean) + f" ± {fmt.format(std).lstrip('+').rstrip(' %')}")
            counts = {}
            for _, e in runs:
                for name in passed(e):
                    counts[name] = counts.get(name, 0) + 1
            said = ", ".join(f"{k} {v}/{len(runs)}" for k, v in counts.items()) or "none"
            lines.append(f"| **{recipe}, {len(runs)} seeds** | " + " | ".join(cells) + f" | {said} |")
    return "\n".join(lines) + "\n"


def parse_recipes(specs: list[str]) -> dict[str, list[tuple[str, dict]]]:
    """``RECIPE=DIR[,DIR]`` arguments -> {recipe: [(run label, eval.json)]}; the label is the dir's name (its
    parent's for a dir named ``heldout``, as in ``experiments/results/<round>/<arm>/heldout``)."""
    out: dict[str, list[tuple[str, dict]]] = {}
    for spec in specs:
        recipe, sep, dirs = spec.partition("=")
        if not sep or not recipe or not dirs:
            raise SystemExit(f"error: expected RECIPE=EVAL_DIR[,EVAL_DIR ...], got {spec!r}")
        out.setdefault(recipe, []).extend((_label(Path(d)), read_eval(d)) for d in dirs.split(","))
    return out


def _label(path: Path) -> str:
    path = path.parent if path.name == "eval.json" else path
    return path.parent.name if path.name == "heldout" else path.name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="+", help="RECIPE=EVAL_DIR[,EVAL_DIR ...]")
    parser.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = parser.parse_args(argv)
    try:
        text = table(parse_recipes(args.recipes))
    except (FileNotFoundError, ValueError, KeyError) as err:
        raise SystemExit(f"error: {err}") from None
    print(text, end="")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
