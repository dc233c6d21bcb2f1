"""What the evaluation stage writes and logs: ``samples.jsonl`` (one line per set and prompt),
``eval.json``, the flat ``eval/...`` scalars sent to the experiment logger, and the run's point on the
Pareto front as W&B summary fields (``pareto/...``, :func:`pareto_fields`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch


def sample_record(pset, i: int, answers: Mapping[str, dict | None], aspects: Sequence[str],
                  weights: torch.Tensor) -> dict[str, Any]:
    """Prompt ``i`` of ``pset``: its fields, and per side the response, scores, reward and refusal class."""
    row = pset.rows[i]
    sample = {"set": pset.name, "id": row.get("id"), "prompt": row["prompt"], "category": row.get("category"),
              "kind": row.get("kind")}  # fmt: skip
    for extra in ("label", "type", "source"):
        if extra in row:
            sample[extra] = row[extra]
    if len(row.get("messages") or ()) > 1:  # a multi-turn prompt: the turns the policy saw
        sample["messages"] = row["messages"]
    for side in ("base", "aligned"):
        a = answers.get(side)
        if a is None:
            continue
        sample[f"{side}_response"] = a["responses"][i]
        sample[f"{side}_scores"] = dict(zip(aspects, a["scores"][i].tolist()))
        sample[f"{side}_reward"] = float(a["scores"][i] @ weights)
        sample[f"{side}_refusal"] = a["refusal"][i]
    return sample


def write_samples(path: Path, sets: Sequence, answers: Mapping[str, Mapping[str, dict | None]],
                  aspects: Sequence[str], weights: Sequence[float]) -> Path:
    """One JSON line per (set, prompt): :func:`sample_record`."""
    w = torch.tensor(list(weights), dtype=torch.float32)
    with path.open("w", encoding="utf-8") as fh:
        for pset in sets:
            for i in range(len(pset.rows)):
                fh.write(json.dumps(sample_record(pset, i, answers[pset.name], aspects, w), default=str) + "\n")
    return path


def eval_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """Flat ``eval/...`` scalars for the experiment logger: the evaluated split's table, its refusal per
    kind (``eval/<split>/<kind>/<side>/refusal_rate``), XSTest / AdvBench, calibration, ranking rates,
    acceptance (1 = pass, 0 = fail) and the number of alarms."""
    metrics: dict[str, float] = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
            metrics[key] = float(value)

    for name, row in [*(result.get("aspects") or {}).items(), ("reward", result.get("aggregate") or {})]:
        for key in ("base", "aligned", "abs_change"):
            put(f"eval/{key}/{name}", row.get(key))
    split = result.get("split") or "heldout"
    for kind, sub in (result.get("by_kind") or {}).items():
        refusal = sub.get("refusal") or {}
        for side in ("base", "aligned", "change"):
            for key in ("refusal_rate", "full_refusal_rate"):
                put(f"eval/{split}/{kind}/{side}/{key}", (refusal.get(side) or {}).get(key))
    checks = {"xstest": ("over_refusal_rate", "unsafe_refusal_rate"), "advbench": ("compliance_rate", "refusal_rate")}
    for part, keys in checks.items():
        node = result.get(part) or {}
        for side in ("base", "aligned"):
            for key in keys:
                put(f"eval/{part}/{side}/{key}", (node.get(side) or {}).get(key))
    safetybench = result.get("safetybench") or {}
    for side in ("base", "aligned"):
        node = safetybench.get(side) or {}
        put(f"eval/safetybench/{side}/accuracy", node.get("accuracy"))
        for category, c in (node.get("by_category") or {}).items():
            put(f"eval/safetybench/{side}/{category}", c.get("accuracy"))
    cal = result.get("calibration") or {}
    for aspect, m in ((cal.get("reward_data") or {}).get("aspects") or {}).items():
        for key in ("r2", "mae", "spearman"):
            put(f"eval/calibration/{aspect}/{key}", m.get(key))
    put("eval/calibration/diasafety_auroc", (cal.get("diasafety") or {}).get("auroc"))
    for check, r in ((result.get("ranking") or {}).get("checks") or {}).items():
        put(f"eval/ranking/{check}", (r or {}).get("aggregate"))
    acceptance = result.get("acceptance") or {}
    if isinstance(acceptance.get("passed"), bool):
        metrics["eval/acceptance/passed"] = float(acceptance["passed"])
    for c in acceptance.get("criteria") or []:
        if c.get("status") in ("pass", "fail"):
            metrics[f"eval/acceptance/{c['name']}"] = float(c["status"] == "pass")
    metrics["eval/alarms"] = float(len(result.get("alarms") or []))
    return metrics


def pareto_fields(result: Mapping[str, Any]) -> dict[str, Any]:
    """The run's point on the Pareto front, W&B summary fields with stable names (README, "The dashboard"):

    - ``pareto/<aspect>``         the aligned policy's mean score on the evaluated split (held-out prompts by
      default; the base policy's when no adapter was evaluated): the point a sweep's front is drawn from
    - ``pareto/base/<aspect>``    the base policy's mean on the same prompts
    - ``pareto/weight/<aspect>``  the aspect weights of ``reward.weights`` (the start of a schedule)
    - ``pareto/split``            which split the means are of (``heldout`` or ``validation``)
    - ``pareto/soup_lambda/<i>``  a soup's (``python -m mogrpo.soup``) coefficient of its i-th adapter
    """
    fields: dict[str, Any] = {}
    for aspect, row in (result.get("aspects") or {}).items():
        point = row.get("aligned") if row.get("aligned") is not None else row.get("base")
        for key, value in ((f"pareto/{aspect}", point), (f"pareto/base/{aspect}", row.get("base"))):
            if isinstance(value, int | float) and value == value:
                fields[key] = float(value)
    for aspect, w in (result.get("weights") or {}).items():
        fields[f"pareto/weight/{aspect}"] = float(w)
    for i, lam in enumerate((result.get("soup") or {}).get("coefficients") or []):
        fields[f"pareto/soup_lambda/{i}"] = float(lam)
    if fields:
        fields["pareto/split"] = str(result.get("split") or "heldout")
    return fields


def log_results(cfg, result: Mapping[str, Any], out_dir: Path, plots: Sequence[str]) -> None:
    """Metrics, the per-aspect table and the PNGs to the experiment logger (W&B: table + images), and the
    ``pareto/...`` summary fields (:func:`pareto_fields`)."""
    from mogrpo.callbacks import log_eval_table, log_image, wandb_logger_of
    from mogrpo.utils.logging import finish_logger, make_logger

    logger = make_logger(cfg, "eval")
    try:
        if logger is not None:
            logger.log_metrics(eval_metrics(result))
            log_eval_table(logger, result)
            if (wb := wandb_logger_of(logger)) is not None:
                wb.experiment.summary.update(pareto_fields(result))
            for name in plots:
                log_image(logger, f"eval/{Path(name).stem}", out_dir / name)
            logger.save()
    finally:
        finish_logger(logger)

