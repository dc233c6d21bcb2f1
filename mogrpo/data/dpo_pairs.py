"""Offline DPO's (prompt, chosen, rejected) pairs from the reward model's labelled data (mogrpo/data/labelled.py).

Two kinds of row give a pair, both judged by the *aggregate* of the labelled aspects with the reward's
weights, so offline DPO prefers what the GRPO reward prefers:

- a **preference** row (non-empty ``rejected``): per labelled aspect k the label p_k = P(response better);
  the pair is (response, rejected) when ``sum_k w_k (p_k - 1/2) > 0``, swapped when < 0, dropped on 0;
- **absolute** rows sharing a prompt: each row's aggregate ``sum_k w_k r_k`` over the aspects every row of
  that prompt labels; the best row is chosen and the worst rejected, dropped when they tie.

The rows come from the split the reward model trained on (``train``): the held-out splits stay unseen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

PAIR_KEYS = ("prompt", "chosen", "rejected")


def _labels(row: Mapping[str, Any], aspects: Sequence[str]) -> dict[str, float]:
    out = {}
    for a in aspects:
        v = row.get(a)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            out[a] = float(v)
    return out


def offline_pairs(rows: Sequence[Mapping[str, Any]], aspects: Sequence[str], weights: Sequence[float],
                  max_pairs: int | None = None) -> list[dict[str, str]]:  # fmt: skip
    """The pairs of ``rows`` (labelled rows: prompt, response, rejected, one column per aspect), in row order."""
    w = dict(zip(aspects, (float(x) for x in weights)))
    pairs: list[dict[str, str]] = []
    by_prompt: dict[str, list[dict[str, float | str]]] = {}
    for row in rows:
        labels = _labels(row, aspects)
        if not labels:
            continue
        prompt, response, rejected = str(row["prompt"]), str(row["response"]), str(row.get("rejected") or "")
        if rejected:
            margin = sum(w[a] * (p - 0.5) for a, p in labels.items())
            if margin:
                better, worse = (response, rejected) if margin > 0 else (rejected, response)
                pairs.append({"prompt": prompt, "chosen": better, "rejected": worse})
        else:
            by_prompt.setdefault(prompt, []).append({"response": response, **labels})
    for prompt, group in by_prompt.items():
        if len(group) < 2:
            continue
        shared = [a for a in aspects if all(a in r for r in group)]
        if not shared:
            continue
        scored = sorted(group, key=lambda r: sum(w[a] * float(r[a]) for a in shared))
        lo, hi = (sum(w[a] * float(r[a]) for a in shared) for r in (scored[0], scored[-1]))
        if hi > lo and scored[0]["response"] != scored[-1]["response"]:
            pairs.append({"prompt": prompt, "chosen": str(scored[-1]["response"]), "rejected": str(scored[0]["response"])})
    return pairs[:max_pairs] if max_pairs is not None else pairs
