"""The paper's benchmarks in the evaluation stage: SafetyBench (accuracy per category) and HelpSteer2 (prompts).

- ``eval.helpsteer2``: HelpSteer2's distinct prompts (:func:`mogrpo.data.benchmarks.helpsteer2_prompts`) become
  one more prompt set (``sets.helpsteer2`` of ``eval.json``): both policies answer, the reward model scores
  every answer per aspect, as on the held-out prompts.
- ``eval.safetybench``: each item as SafetyBench's zero-shot prompt (:func:`mogrpo.metrics.safetybench.mc_prompt`),
  answered by both policies with the evaluation's decoding; the letter each picked
  (:func:`~mogrpo.metrics.safetybench.parse_choice`) and the accuracy per category, base and aligned
  (``eval.json["safetybench"]``), and the predictions in SafetyBench's submission form (``{id: index}``).

Both are off by default, and off on the validation split unless ``eval.<name>.on_validation``. Without the hub
(``HF_HUB_OFFLINE=1``) and no local ``path``, or when loading fails, the section is skipped with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from mogrpo.configs import EvalConfig
from mogrpo.stages.evaluation_settings import skipped

log = logging.getLogger(__name__)


def _rows(evaluation: EvalConfig, name: str) -> tuple[list[dict] | None, dict | None]:
    """(the benchmark's raw rows, None), or (None, the skipped record saying why)."""
    from mogrpo.data.benchmarks import BenchmarkUnavailable, benchmark_rows

    settings = getattr(evaluation, name)
    if not settings.enabled:
        return None, skipped(f"disabled (eval.{name}.enabled=false)")
    if evaluation.split == "validation" and not settings.on_validation:
        return None, skipped(f"off on the validation split: {name} is for reporting, never for tuning; "
                             f"eval.{name}.on_validation=true runs it anyway")  # fmt: skip
    try:
        return benchmark_rows(settings.hub, settings.subset, settings.split, settings.path, f"eval.{name}"), None
    except BenchmarkUnavailable as err:
        log.warning("eval.%s skipped: %s", name, err)
        return None, skipped(str(err))


def helpsteer2_set(cfg: DictConfig):
    """HelpSteer2's prompts as a :class:`~mogrpo.stages.evaluation_sets.PromptSet`, or the skipped record."""
    from mogrpo.data.benchmarks import helpsteer2_prompts
    from mogrpo.stages.evaluation_sets import PromptSet

    evaluation = EvalConfig.of(cfg)
    rows, skip = _rows(evaluation, "helpsteer2")
    if rows is None:
        return skip
    prompts = helpsteer2_prompts(rows, evaluation.helpsteer2.limit, evaluation.helpsteer2.path or "nvidia/HelpSteer2")
    return PromptSet("helpsteer2", "HelpSteer2 prompts", prompts)


def load_safetybench(cfg: DictConfig) -> list[dict] | dict:
    """SafetyBench's checked items, or the skipped record (read before any model loads: bad rows fail early)."""
    from mogrpo.data.benchmarks import safetybench_items

    evaluation = EvalConfig.of(cfg)
    rows, skip = _rows(evaluation, "safetybench")
    if rows is None:
        return skip
    s = evaluation.safetybench
    return safetybench_items(rows, s.limit, s.path or s.hub)


def safetybench_section(model, tokenizer, items: list[dict] | dict, gen_args: Mapping[str, Any], with_adapter: bool,
                        seed: int) -> dict[str, Any]:  # fmt: skip
    """Both policies answer every item; ``{"status", "n_items", "base", "aligned", "predictions"}`` (each side:
    :func:`~mogrpo.metrics.safetybench.accuracy_by_category`), or the skipped record passed in."""
    from mogrpo.metrics.safetybench import accuracy_by_category, mc_prompt, parse_choice
    from mogrpo.stages.evaluation import generate_pair
    from mogrpo.stages.evaluation_sets import PromptSet

    if isinstance(items, dict):
        return items
    pset = PromptSet("safetybench", "SafetyBench", [{"prompt": mc_prompt(i["question"], i["options"]),
                                                     "kind": None} for i in items])  # fmt: skip
    base, aligned = generate_pair(model, tokenizer, pset, gen_args, with_adapter, seed)
    out: dict[str, Any] = {"status": "done", "n_items": len(items)}
    for side, responses in (("base", base), ("aligned", aligned)):
        if responses is None:
            out[side] = None
            continue
        choices = [parse_choice(r, i["options"]) for r, i in zip(responses, items)]
        out[side] = accuracy_by_category(items, choices)
        out[f"{side}_predictions"] = {str(i["id"]): (-1 if c is None else c) for i, c in zip(items, choices)}
    if out["base"] is not None and out["base"]["n"] == 0:
        out["note"] = "no item has an answer (SafetyBench's test answers are not public): submit the predictions"
    return out
