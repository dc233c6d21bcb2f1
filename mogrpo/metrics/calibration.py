"""How well the reward regressor's K scores match held-out human labels.

Per aspect k, over the rows whose label y_k is present (NaN = missing, masked out):

    mse  = mean (p - y)^2            mae = mean |p - y|
    r2   = 1 - sum (y - p)^2 / sum (y - mean y)^2
    pearson, spearman: linear / rank correlation of p and y
    bias = mean (p - y)              (> 0: the regressor over-scores that aspect)

All metrics come from ``torchmetrics.functional``; a metric that is undefined on the data
(fewer than two labelled rows, a constant label or prediction) is NaN instead of an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torchmetrics.functional import (
    mean_absolute_error,
    mean_squared_error,
    pearson_corrcoef,
    r2_score,
    spearman_corrcoef,
)
from torchmetrics.functional.classification import binary_auroc as _binary_auroc

from mogrpo.utils.formatting import pyplot
from mogrpo.utils.io import write_json

NAN = float("nan")


def regression_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Metrics of one aspect's predictions ``[N]`` against labels ``[N]`` (NaN labels masked out).

    Returns ``{r2, mae, mse, pearson, spearman, bias, n}``; ``n`` is the number of labelled rows.
    """
    pred = torch.as_tensor(pred, dtype=torch.float32).flatten()
    target = torch.as_tensor(target, dtype=torch.float32).flatten()
    if pred.shape != target.shape:
        raise ValueError(f"pred has {pred.numel()} values but target has {target.numel()}")
    mask = ~torch.isnan(target)
    p, y = pred[mask], target[mask]
    n = int(mask.sum())
    out: dict[str, float] = {"r2": NAN, "mae": NAN, "mse": NAN, "pearson": NAN, "spearman": NAN, "bias": NAN}
    if n >= 1:
        out["mse"] = float(mean_squared_error(p, y))
        out["mae"] = float(mean_absolute_error(p, y))
        out["bias"] = float((p - y).mean())
    y_varies = n >= 2 and bool(y.max() > y.min())
    p_varies = n >= 2 and bool(p.max() > p.min())
    if y_varies:
        out["r2"] = float(r2_score(p, y))
    if y_varies and p_varies:
        out["pearson"] = float(pearson_corrcoef(p, y))
        out["spearman"] = float(spearman_corrcoef(p, y))
    out["n"] = n
    return out


def binary_auroc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` for binary ``labels`` (1 = positive).

    AUROC = P(score of a random positive > score of a random negative), ties counted 1/2.
    NaN when only one class is present.
    """
    scores = torch.as_tensor(scores, dtype=torch.float32).flatten()
    labels = torch.as_tensor(labels).flatten().long()
    if scores.shape != labels.shape:
        raise ValueError(f"{scores.numel()} scores but {labels.numel()} labels")
    if labels.numel() == 0 or labels.min() == labels.max():
        return NAN
    return float(_binary_auroc(scores, labels))


def calibration_report(pred: torch.Tensor, target: torch.Tensor, aspects: Sequence[str]) -> dict[str, Any]:
    """Per-aspect :func:`regression_metrics` of predictions ``[N, K]`` against labels ``[N, K]``.

    Returns ``{"n": N, "aspects": {aspect: metrics}}`` (aspects in the given order).
    """
    pred = torch.as_tensor(pred, dtype=torch.float32)
    target = torch.as_tensor(target, dtype=torch.float32)
    aspects = list(aspects)
    if pred.ndim != 2 or pred.shape != target.shape or pred.shape[1] != len(aspects):
        raise ValueError(
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must both be [N, K] with K={len(aspects)} aspects"
        )
    return {
        "n": int(pred.shape[0]),
        "aspects": {a: regression_metrics(pred[:, k], target[:, k]) for k, a in enumerate(aspects)},
    }


def plot_calibration(
    pred: torch.Tensor, target: torch.Tensor, aspects: Sequence[str], path: str | Path
) -> Path:
    """Write a PNG with one predicted-vs-label scatter per aspect (labelled rows only, y = x line, R² in the title)."""
    plt = pyplot()
    pred = torch.as_tensor(pred, dtype=torch.float32)
    target = torch.as_tensor(target, dtype=torch.float32)
    aspects = list(aspects)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k = len(aspects)
    fig, axes = plt.subplots(1, k, figsize=(3.2 * k, 3.4), squeeze=False)
    for i, (aspect, ax) in enumerate(zip(aspects, axes[0])):
        mask = ~torch.isnan(target[:, i])
        y, p = target[mask, i].numpy(), pred[mask, i].numpy()
        r2 = regression_metrics(pred[:, i], target[:, i])["r2"]
        ax.scatter(y, p, s=8, alpha=0.5)
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_aspect("equal")
        ax.set_xlabel("label")
        if i == 0:
            ax.set_ylabel("predicted")
        r2_text = "n/a" if math.isnan(r2) else f"{r2:.3f}"
        ax.set_title(f"{aspect}\nR² = {r2_text} (n = {int(mask.sum())})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def to_jsonable(obj: Any) -> Any:
    """Replace NaN / inf floats by None (strict JSON has no NaN), recursively."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    return obj


def write_calibration(report: dict[str, Any], path: str | Path) -> Path:
    """Write a calibration report as strict JSON (undefined metrics as null)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, to_jsonable(report))


def labels_tensor(dataset, aspects: Sequence[str]) -> torch.Tensor:
    """The aspect label columns of a labelled ``datasets.Dataset`` as ``[N, K]`` float32 (NaN = missing)."""
    missing = [a for a in aspects if a not in dataset.column_names]
    if missing:
        raise ValueError(f"labelled dataset has no column for aspect(s) {missing}; columns: {dataset.column_names}")
    if len(dataset) == 0:
        return torch.zeros(0, len(aspects))
    cols = [torch.tensor(dataset[a], dtype=torch.float32) for a in aspects]
    return torch.stack(cols, dim=1)


def _pair_rows(dataset) -> torch.Tensor:
    """``[N]`` bool: the preference rows (a non-empty ``rejected`` column)."""
    if "rejected" not in dataset.column_names:
        return torch.zeros(len(dataset), dtype=torch.bool)
    return torch.tensor([bool(str(x or "").strip()) for x in dataset["rejected"]], dtype=torch.bool)


def source_family(source: str) -> str:
    """``"stanford_politeness:wikipedia"`` -> ``"stanford_politeness"``: sources reported together."""
    return str(source).split(":", 1)[0]


def _is_binary(y: torch.Tensor) -> bool:
    values = set(y.unique().tolist())
    return values == {0.0, 1.0}


def source_report(
    pred: torch.Tensor,
    target: torch.Tensor,
    families: Sequence[str],
    is_pair: torch.Tensor,
    rejected: torch.Tensor,
    aspects: Sequence[str],
) -> dict[str, Any]:
    """Per source family: absolute rows -> each labelled aspect's :func:`regression_metrics` plus
    ``auroc`` when its labels are binary (1 = positive); preference rows -> each labelled aspect's
    pairwise ``accuracy`` (chosen scored above rejected, ties 1/2) and ``n``.

    ``pred`` / ``target`` are ``[N, K]`` over all rows, ``rejected`` ``[P, K]`` the scores of the
    rejected responses of the ``P = is_pair.sum()`` preference rows, in row order.
    """
    pair_rows = torch.nonzero(is_pair).flatten()
    out: dict[str, Any] = {}
    for fam in sorted(set(families)):
        rows = torch.tensor([f == fam for f in families], dtype=torch.bool)
        entry: dict[str, Any] = {"n": int(rows.sum())}
        absolute = rows & ~is_pair
        for k, aspect in enumerate(aspects):
            y = target[absolute, k]
            mask = ~torch.isnan(y)
            if mask.any():
                m = regression_metrics(pred[absolute, k], y)
                if _is_binary(y[mask]):
                    m["auroc"] = binary_auroc(pred[absolute, k][mask], y[mask].long())
                entry.setdefault("aspects", {})[aspect] = m
        in_fam = rows[pair_rows]
        for k, aspect in enumerate(aspects):
            y = target[pair_rows, k][in_fam]
            mask = ~torch.isnan(y) & (y != 0.5)
            if mask.any():
                sign = torch.sign(y[mask] - 0.5)
                d = (pred[pair_rows, k][in_fam][mask] - rejected[in_fam, k][mask]) * sign
                acc = float(((d > 0).float() + 0.5 * (d == 0).float()).mean())
                entry.setdefault("pairs", {})[aspect] = {"accuracy": acc, "n": int(mask.sum())}
        out[fam] = entry
    return out


def calibration_for(regressor, dataset, aspects: Sequence[str], batch_size: int = 64):
    """Score a labelled split and report per aspect (absolute rows) and per source family.

    Columns: prompt, response, one per aspect, optionally ``rejected`` (preference rows) and
    ``source``. Returns ``(report, pred [N_abs, K], target [N_abs, K])`` where the regression metrics
    and the two tensors cover the absolute rows only (a preference row's label is a probability
    that its response wins, not a score), ``report["pairs"]`` holds each aspect's pairwise accuracy
    over all preference rows and ``report["sources"]`` the :func:`source_report`.
    """
    aspects = list(aspects)
    if list(regressor.aspects) != aspects:
        raise ValueError(f"regressor aspects {regressor.aspects} differ from {aspects}")
    target = labels_tensor(dataset, aspects)
    prompts = list(dataset["prompt"])
    pred = regressor.score(prompts, list(dataset["response"]), batch_size=batch_size)
    is_pair = _pair_rows(dataset)
    idx = torch.nonzero(is_pair).flatten().tolist()
    rejected = (
        regressor.score([prompts[i] for i in idx], [dataset[i]["rejected"] for i in idx], batch_size=batch_size)
        if idx else torch.zeros(0, len(aspects))
    )  # fmt: skip
    absolute = ~is_pair
    report = calibration_report(pred[absolute], target[absolute], aspects)
    families = [source_family(s) for s in (dataset["source"] if "source" in dataset.column_names else ["?"] * len(dataset))]
    report["sources"] = source_report(pred, target, families, is_pair, rejected, aspects)
    pairs = {}
    for k, aspect in enumerate(aspects):
        y = target[is_pair, k]
        mask = ~torch.isnan(y) & (y != 0.5)
        if mask.any():
            d = (pred[is_pair, k][mask] - rejected[:, k][mask]) * torch.sign(y[mask] - 0.5)
            pairs[aspect] = {"accuracy": float(((d > 0).float() + 0.5 * (d == 0).float()).mean()), "n": int(mask.sum())}
    report["pairs"] = pairs
    return report, pred[absolute], target[absolute]
