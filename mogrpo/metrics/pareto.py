"""Pareto fronts of per-aspect scores: non-dominated filtering and the exact hypervolume (all maximised).

A point is a vector of K per-aspect means (higher is better in every aspect). ``q`` *dominates* ``p`` when

    q_k >= p_k for every k   and   q_k > p_k for at least one k,

and the *front* (the non-dominated set) is every point that no other point dominates; two equal points do
not dominate each other, so both stay. The *hypervolume* of a set S against a reference point r is the
Lebesgue measure of the region the set dominates above r,

    HV(S; r) = vol( union_{p in S} [r_1, p_1] x ... x [r_K, p_K] ),

where a point that is not above r in every aspect adds nothing. It is computed exactly by slicing
(Zitzler's HSO, "hypervolume by slicing objectives"): sort the points by the last aspect, and between two
consecutive levels of that aspect the cross-section is the (K-1)-dimensional hypervolume of the points at
or above the level:

    HV_K(S) = sum_i (z_i - z_{i+1}) HV_{K-1}({p[:-1] : p in S, p_K >= z_i}),   z_1 >= z_2 >= ... , z_{n+1} = r_K

with ``HV_1(S) = max_p p_1 - r_1``. Cost O(n^(K-1) log n): exact and instant for the tens of runs of a
sweep and K <= 5 aspects. Plain Python floats: no tensor library needed.
"""

from __future__ import annotations

from collections.abc import Sequence

Point = Sequence[float]


def _check(points: Sequence[Point], ref: Point | None = None) -> int:
    """The dimension K of ``points`` (all the same length, >= 1; ``ref`` too when given)."""
    dims = {len(p) for p in points}
    if ref is not None:
        dims.add(len(ref))
    if len(dims) > 1:
        raise ValueError(f"points (and the reference point) must have one length, got lengths {sorted(dims)}")
    k = dims.pop() if dims else 0
    if points and k < 1:
        raise ValueError("points need at least one coordinate")
    return k


def dominates(q: Point, p: Point) -> bool:
    """``q`` dominates ``p`` (maximisation): at least as good everywhere and strictly better somewhere."""
    _check([q, p])
    return all(a >= b for a, b in zip(q, p)) and any(a > b for a, b in zip(q, p))


def non_dominated_mask(points: Sequence[Point]) -> list[bool]:
    """``mask[i]``: no other point dominates ``points[i]`` (equal points are kept alike). O(n^2 K)."""
    _check(points)
    return [not any(dominates(q, p) for j, q in enumerate(points) if j != i) for i, p in enumerate(points)]


def non_dominated(points: Sequence[Point]) -> list[int]:
    """The indices of the non-dominated points, in input order."""
    return [i for i, keep in enumerate(non_dominated_mask(points)) if keep]


def _hv(points: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    """Slicing on the last coordinate; every point is strictly above ``ref`` in every coordinate."""
    if not points:
        return 0.0
    if len(ref) == 1:
        return max(p[0] for p in points) - ref[0]
    ordered = sorted(points, key=lambda p: p[-1], reverse=True)
    total = 0.0
    for i, p in enumerate(ordered):
        below = ordered[i + 1][-1] if i + 1 < len(ordered) else ref[-1]
        depth = p[-1] - below
        if depth > 0:
            total += depth * _hv([q[:-1] for q in ordered[: i + 1]], ref[:-1])
    return total


def hypervolume(points: Sequence[Point], ref: Point) -> float:
    """The exact hypervolume dominated by ``points`` above the reference point ``ref`` (see the module docstring).

    Points not strictly above ``ref`` in every coordinate add nothing; dominated points change nothing, so
    the hypervolume of a set equals that of its front.
    """
    _check(points, ref)
    r = tuple(float(x) for x in ref)
    above = [tuple(float(x) for x in p) for p in points if all(float(x) > y for x, y in zip(p, r))]
    front = [above[i] for i in non_dominated(above)] if len(above) > 1 else above
    return _hv(sorted(set(front)), r)


def parse_reference(text: str | Sequence[float] | None, k: int, default: float = 0.0) -> list[float]:
    """A reference point from ``"0,0,0,0"`` (or one number for every aspect, or a list); None -> ``default``s."""
    if text is None:
        return [float(default)] * k
    values = [v for v in text.split(",") if v.strip()] if isinstance(text, str) else list(text)
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"the reference point must be numbers separated by commas, got {text!r}") from None
    if len(out) == 1:
        out = out * k
    if len(out) != k:
        raise ValueError(f"the reference point has {len(out)} coordinates for {k} aspects")
    return out
