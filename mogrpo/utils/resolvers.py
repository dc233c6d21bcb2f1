"""OmegaConf resolvers used by the config tree (registered on import of mogrpo.train).

- ``${mogrpo.project_root:}``  the repository root
- ``${mogrpo.weight_sweep:ASPECTS,LEVELS,WEIGHTS}``  the weight vectors of ``experiment=pareto_weights`` as
  one Hydra choice sweep of ``reward.weights`` mappings (:func:`weight_sweep`)
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf


def project_root() -> str:
    """The repository root when running from a checkout (where pyproject.toml is), else the cwd."""
    here = Path(__file__).resolve().parents[2]
    return str(here if (here / "pyproject.toml").is_file() else Path.cwd())


def simplex_grid(k: int, levels: int) -> list[list[float]]:
    """Every weight vector of ``k`` aspects with entries in {0, 1/levels, ..., 1} summing to 1, in
    lexicographic order of the counts, largest first: ``C(levels + k - 1, k - 1)`` vectors (4 aspects, levels 2: 10).
    """
    if k < 1 or levels < 1:
        raise ValueError(f"a simplex grid needs k >= 1 aspects and levels >= 1, got k={k}, levels={levels}")
    counts = (c for c in itertools.product(range(levels, -1, -1), repeat=k) if sum(c) == levels)
    return [[n / levels for n in c] for c in counts]


def _number(x: Any) -> str:
    return f"{float(x):g}"


def weight_sweep(aspects: Sequence[str], levels: Any = 2, weights: Any = None) -> str:
    """The Hydra sweep string of ``reward.weights``: ``{a: w, ...},{a: w, ...}``, one mapping per vector.

    ``weights`` (a list of vectors in aspect order, or of mappings aspect -> weight; a left-out aspect weighs 0)
    wins over the simplex grid of ``levels`` (:func:`simplex_grid`).
    """
    aspects = [str(a) for a in aspects]
    if weights:
        vectors = []
        for i, w in enumerate(weights):
            if isinstance(w, Mapping):
                unknown = sorted(set(map(str, w)) - set(aspects))
                if unknown:
                    raise ValueError(f"pareto.weights.{i}: aspects {unknown} are not among {aspects}")
                w = [w.get(a, 0.0) for a in aspects]
            if len(w) != len(aspects):
                raise ValueError(f"pareto.weights.{i}: {len(w)} weights for the {len(aspects)} aspects {aspects}")
            vectors.append(list(w))
    else:
        vectors = simplex_grid(len(aspects), int(levels))
    return ",".join("{" + ",".join(f"{a}:{_number(x)}" for a, x in zip(aspects, v)) + "}" for v in vectors)


def register() -> None:
    if not OmegaConf.has_resolver("mogrpo.project_root"):
        OmegaConf.register_new_resolver("mogrpo.project_root", project_root)
    if not OmegaConf.has_resolver("mogrpo.weight_sweep"):
        OmegaConf.register_new_resolver("mogrpo.weight_sweep", weight_sweep)


register()
