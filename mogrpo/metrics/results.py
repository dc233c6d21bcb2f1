"""Reading the numbers back out of an evaluation result (``eval.json``, ``summary.json["eval"]``).

:func:`eval_means` accepts the layouts results have been written in, so the W&B table of a run
(:mod:`mogrpo.callbacks.completions_table`) and the sweep summaries (:mod:`mogrpo.sweeps`) read one way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def finite_or_none(x: Any) -> float | None:
    """``x`` as a float rounded to 6 places, None when it is no number or NaN."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else round(v, 6)


REWARD_NAMES = ("reward", "aggregate", "aggregate_reward", "reward_mean")


def _mean_of(v: Any) -> float | None:
    """A number, or the ``mean`` of a ``{"mean": .., "std": ..}`` mapping."""
    if isinstance(v, Mapping):
        v = v.get("mean")
    if isinstance(v, bool):
        return None
    return finite_or_none(v) if isinstance(v, int | float) else None


def _per_name(node: Any) -> dict[str, float | None]:
    """``{"safety": 0.9, "reward": {"mean": 2.1}}`` (or nested under ``aspects``) -> name -> mean."""
    if not isinstance(node, Mapping):
        return {}
    out = {}
    inner = node.get("aspects")
    if isinstance(inner, Mapping):
        out.update({k: _mean_of(v) for k, v in inner.items() if _mean_of(v) is not None})
    for k, v in node.items():
        if k != "aspects" and _mean_of(v) is not None:
            out.setdefault(k, _mean_of(v))
    return out


def eval_means(eval_result: Mapping[str, Any] | None) -> dict[str, tuple[float | None, float | None]]:
    """name -> (base mean, aligned mean) for every aspect and the aggregate reward (named ``reward``).

    Accepts either layout of an evaluation result (``summary.json["eval"]``):

    - by name:   ``{"aspects": {"safety": {"base": .., "aligned": ..}}, "reward": {"base": .., "aligned": ..}}``
      (the ``aspects`` level optional; values may be numbers or ``{"mean": ..}``)
    - by policy: ``{"base": {"safety": .., "reward": ..}, "aligned": {...}}`` (optionally ``{"aspects": {...}}``)
    """
    if not isinstance(eval_result, Mapping):
        return {}
    out: dict[str, tuple[float | None, float | None]] = {}
    for container in (eval_result.get("aspects"), eval_result):
        if not isinstance(container, Mapping):
            continue
        for name, v in container.items():
            if isinstance(v, Mapping) and ("base" in v or "aligned" in v) and name not in ("base", "aligned"):
                pair = (_mean_of(v.get("base")), _mean_of(v.get("aligned")))
                if pair != (None, None):
                    out.setdefault(name, pair)
    if not out:
        base, aligned = _per_name(eval_result.get("base")), _per_name(eval_result.get("aligned"))
        for name in [*base, *(k for k in aligned if k not in base)]:
            out[name] = (base.get(name), aligned.get(name))
    for alias in REWARD_NAMES[1:]:  # one name for the aggregate reward
        if alias in out and "reward" not in out:
            out["reward"] = out.pop(alias)
    return out


