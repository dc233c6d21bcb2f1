"""Formatting shared by the markdown reports: numbers, percentages, tables, and matplotlib set up headless."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def finite(x: Any) -> float | None:
    """``x`` as a float when it is a finite number (not a bool), else None."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)


def fmt(x: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; ``–`` for None / NaN."""
    v = finite(x)
    return "–" if v is None else f"{v:.{digits}f}"


def fmt_signed(x: Any, digits: int = 3) -> str:
    v = finite(x)
    return "–" if v is None else f"{v:+.{digits}f}"


def fmt_pct(x: Any, signed: bool = False) -> str:
    """``0.123`` -> ``12.3%`` (``+12.3%`` when ``signed``); ``–`` for None / NaN."""
    v = finite(x)
    if v is None:
        return "–"
    return f"{100 * v:+.1f}%" if signed else f"{100 * v:.1f}%"


def fmt_points(x: Any) -> str:
    """A change of a rate in percentage points: ``0.25`` -> ``+25.0 pts``; ``–`` for None / NaN."""
    v = finite(x)
    return "–" if v is None else f"{100 * v:+.1f} pts"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table (``|`` in cells escaped)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in rows)])


def is_done(part: Any) -> bool:
    """A section that ran (a mapping whose ``status`` is not ``skipped``)."""
    return isinstance(part, Mapping) and part.get("status", "done") != "skipped"


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def nan_if_missing(x: Any) -> float:
    """``x`` as a float, NaN when it is missing (what matplotlib leaves out)."""
    v = finite(x)
    return math.nan if v is None else v
