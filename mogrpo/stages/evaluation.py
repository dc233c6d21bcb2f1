"""The evaluation stage: base vs aligned policy on the evaluated split and attack prompts, refusal
checks, reward-model calibration and ranking, alarms, acceptance, and the report.

One model serves both policies: the base answers with the LoRA adapters disabled
(``with model.disable_adapter()``), the aligned policy with them on; both passes start from
``torch.manual_seed(eval.decoding.seed)``. Sections, each configured under ``eval`` (conf/eval/):

1. per prompt set (:mod:`mogrpo.stages.evaluation_sets`: the evaluated split, ``eval.split`` = ``heldout``
   (``data.heldout``) or ``validation`` (``data.validation``, for tuning); ``xstest``, ``advbench``
   from ``paths.shared_data``, off on the validation split; ``prompt_file``): the per-aspect table of
   :func:`mogrpo.metrics.aspects.aspect_table` over all prompts and per prompt ``kind`` (XSTest safe ->
   benign, unsafe -> adversarial; AdvBench adversarial), and the refusal rates of
   :func:`mogrpo.metrics.refusal.label_rates` per kind and, within a kind, per source
   (:mod:`mogrpo.metrics.tables`; ``by_kind[kind]["refusal"]`` is the first-class refusal metric);
2. XSTest over-refusal / refusal (:func:`mogrpo.metrics.refusal_sets.xstest_metrics`) and AdvBench
   compliance (:func:`mogrpo.metrics.refusal_sets.advbench_metrics`), base and aligned;
3. reward-model calibration (:mod:`mogrpo.stages.evaluation_calibration`): per-aspect R², MAE, Spearman on
   ``reward_data``'s test split, the AUROC of the safety score against DiaSafety's human labels, and
   the aggregate ranking rates (``ranking``) from the reward model's ``calibration.json`` or recomputed;
4. alarms (:func:`mogrpo.metrics.alarms.check_alarms`, thresholds ``eval.alarms``);
5. acceptance (:func:`mogrpo.metrics.acceptance.check_acceptance`, thresholds ``eval.acceptance``);
   SafetyBench (``eval.safetybench``: accuracy per category) and HelpSteer2's prompts (``eval.helpsteer2``, a
   prompt set), off by default (:mod:`mogrpo.stages.evaluation_benchmarks`);
6. ``eval.side_by_side`` answers of a stratified sample of the split (:mod:`mogrpo.reports.side_by_side`).

A section whose data is absent (or that is disabled) is ``{"status": "skipped", "reason": ...}``.
Writes into the run dir: ``eval.json`` (the returned dict), ``report.md``, ``samples.jsonl`` (one
line per prompt and set: both responses, their scores and refusal classes) and the PNGs of
:mod:`mogrpo.reports.report`. The returned dict keeps the evaluated split's table at the top level
(``split``, ``n``, ``aspects``, ``aggregate``, ``weights``, ``by_kind``: what ``summary.json["eval"]``
readers use).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from mogrpo.configs import DataConfig, EvalConfig, ModelConfig, RewardConfig
from mogrpo.metrics.tables import refusal_checks, set_table
from mogrpo.models.generation import generate_responses
from mogrpo.models.regressor import check_finite_scores, load_regressor
from mogrpo.stages.evaluation_benchmarks import load_safetybench, safetybench_section
from mogrpo.stages.evaluation_calibration import (
    diasafety_calibration,
    load_calibration_data,
    ranking_rates,
    reward_data_calibration,
    run_calibration,
)
from mogrpo.stages.evaluation_output import eval_metrics, log_results, sample_record, write_samples
from mogrpo.stages.evaluation_sets import (
    KINDS,
    PromptSet,
    advbench_set,
    heldout_set,
    load_sets,
    prompt_file_set,
    stratified_head,
    xstest_set,
)
from mogrpo.stages.evaluation_settings import (
    adapter_path,
    check_adapter,
    check_eval_config,
    eval_device,
    load_policy_for_eval,
    skipped,
)
from mogrpo.utils.io import write_json

__all__ = [
    "EVAL_JSON", "KINDS", "SAMPLES", "PromptSet", "adapter_path", "advbench_set", "answer_set", "check_adapter",
    "check_eval_config", "diasafety_calibration", "eval_device", "eval_metrics", "generate_pair",
    "generate_responses", "heldout_set", "load_calibration_data", "load_policy_for_eval", "load_sets", "log_results",
    "prompt_file_set", "refusal_checks", "reward_data_calibration", "run_calibration", "run_eval_stage",
    "score_responses", "set_table", "side_by_side_section", "skipped", "stratified_head", "write_samples",
    "xstest_set",
]  # fmt: skip

log = logging.getLogger(__name__)

EVAL_JSON = "eval.json"
SAMPLES = "samples.jsonl"


# --------------------------------------------------------------------------- generation and scoring
def score_responses(regressor, prompts: Sequence[str], responses: Sequence[str], run_dir=None) -> torch.Tensor:
    """Aspect scores ``[N, K]`` of (prompt, response) pairs; raises if any is NaN/inf (see ``check_finite_scores``)."""
    scores = regressor.score(list(prompts), list(responses))
    check_finite_scores(scores, prompts, responses, regressor.aspects, run_dir)
    return scores


def generate_pair(
    model, tokenizer, pset: PromptSet, gen_args: Mapping[str, Any], with_adapter: bool, seed: int
) -> tuple[list[str], list[str] | None]:
    """(base responses, aligned responses or None): the base with the adapter disabled; both passes
    start from ``torch.manual_seed(seed)``. Progress bars are labelled ``<set>: base`` / ``<set>: aligned``."""
    torch.manual_seed(seed)
    with model.disable_adapter() if with_adapter else contextlib.nullcontext():
        base = generate_responses(model, tokenizer, pset.chats, desc=f"{pset.name}: base", **gen_args)
    if not with_adapter:
        return base, None
    torch.manual_seed(seed)
    aligned = generate_responses(model, tokenizer, pset.chats, desc=f"{pset.name}: aligned", **gen_args)
    return base, aligned


def answer_set(model, tokenizer, regressor, pset: PromptSet, gen_args: Mapping[str, Any], with_adapter: bool,
               seed: int, run_dir: Path) -> dict[str, dict | None]:
    """``{side: {"responses", "scores" [N, K], "refusal"} | None}`` of one set (see :func:`generate_pair`)."""
    from mogrpo.metrics.refusal import detect_refusal

    log.info("evaluating %d prompts of %s", len(pset.rows), pset.name)
    base, aligned = generate_pair(model, tokenizer, pset, gen_args, with_adapter, seed)
    return {
        side: None if responses is None else {
            "responses": responses,
            "scores": score_responses(regressor, pset.prompts, responses, run_dir),
            "refusal": [detect_refusal(r, p).label for r, p in zip(responses, pset.prompts, strict=True)],
        }
        for side, responses in (("base", base), ("aligned", aligned))
    }


def side_by_side_section(evaluation: EvalConfig, pset: PromptSet, answers: Mapping[str, dict | None],
                         aspects: list[str], weights: list[float]) -> dict[str, Any]:
    """``eval.side_by_side`` prompts of ``pset`` with both answers (:mod:`mogrpo.reports.side_by_side`)."""
    from mogrpo.reports.side_by_side import sample_indices, section

    n = evaluation.side_by_side
    if n == 0:
        return skipped("disabled (eval.side_by_side=0)")
    seed = evaluation.subset_seed
    w = torch.tensor(weights, dtype=torch.float32)
    indices = sample_indices(pset.rows, n, seed)
    records = {i: sample_record(pset, i, answers, aspects, w) for i in indices}
    return section(records, indices, pset.name, seed)


# --------------------------------------------------------------------------- the stage
def run_eval_stage(
    cfg: DictConfig,
    run_dir: str | Path,
    reward_dir: str | Path,
    adapter: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate base vs aligned policy (see the module docstring); returns what ``eval.json`` holds.

    ``adapter``: the peft adapter to evaluate; None looks for ``eval.adapter`` / ``<run_dir>/adapter``
    (no adapter: the base policy alone, every ``aligned`` None). ``extra``: keys added to the result
    (e.g. where the evaluated run came from).
    """
    from mogrpo.metrics.acceptance import check_acceptance
    from mogrpo.metrics.alarms import check_alarms
    from mogrpo.metrics.calibration import to_jsonable
    from mogrpo.metrics.diversity import diversity
    from mogrpo.reports.report import write_report

    t0 = time.time()
    evaluation, reward, policy = check_eval_config(cfg), RewardConfig.of(cfg), ModelConfig.of(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    adapter = check_adapter(adapter, "eval.adapter") if adapter is not None else adapter_path(evaluation, run_dir)
    aspects, weights = list(reward.aspects), reward.weight_list
    split = evaluation.split
    # data first: a bad prompt file fails before any model loads
    sets, skipped_sets = load_sets(cfg)
    safetybench_items = load_safetybench(cfg)  # the items, or the skipped record (off, offline)
    main = sets[0]  # the evaluated split (heldout / validation)
    calibration_data = load_calibration_data(cfg, aspects)

    device = eval_device(cfg)
    regressor = load_regressor(reward_dir, aspects).to(device)
    calibration = run_calibration(cfg, regressor, calibration_data, aspects, run_dir)
    ranking = ranking_rates(cfg, regressor, reward_dir, aspects, weights)
    if adapter is None:
        log.warning("no adapter (eval.adapter, %s): evaluating the base policy only", run_dir / "adapter")
    model, tokenizer = load_policy_for_eval(cfg, adapter)
    model.to(device)
    decoding = evaluation.decoding.settings(run_seed=int(OmegaConf.select(cfg, "seed", default=0) or 0))
    gen_args = {
        "decoding": decoding,
        "batch_size": evaluation.batch_size,
        "max_prompt_length": policy.max_prompt_length,
        "system_prompt": DataConfig.of(cfg).system_prompt,
    }
    answers = {
        p.name: answer_set(model, tokenizer, regressor, p, gen_args, adapter is not None, int(decoding["seed"]), run_dir)
        for p in sets
    }
    safetybench = safetybench_section(model, tokenizer, safetybench_items, gen_args, adapter is not None,
                                      int(decoding["seed"]))  # fmt: skip
    del model

    tables = {p.name: set_table(p, answers[p.name], aspects, weights) for p in sets}
    table = tables[main.name]
    result: dict[str, Any] = {
        "split": split,
        "n_prompts": table["n"],
        "adapter": str(adapter) if adapter is not None else None,
        "reward_model": str(reward_dir),
        "decoding": decoding,
        "batch_size": evaluation.batch_size,
        "n": table["n"],
        "aspects": table["aspects"],
        "aggregate": table["aggregate"],
        "weights": table["weights"],
        "by_kind": table.get("by_kind", {}),
        "sets": {**tables, **skipped_sets},
    }
    for name in ("xstest", "advbench"):
        pset = next((p for p in sets if p.name == name), None)
        result[name] = refusal_checks(pset, answers[name]) if pset is not None else skipped_sets[name]
    result["safetybench"] = safetybench
    result["diversity"] = {
        side: (diversity(a["responses"]) if (a := answers[main.name].get(side)) else None)
        for side in ("base", "aligned")
    }
    result["calibration"] = calibration
    result["ranking"] = ranking
    result["alarms"] = check_alarms(result, evaluation.alarms)
    for alarm in result["alarms"]:
        log.warning("ALARM %s (%s): %s", alarm["name"], alarm["severity"], alarm["message"])
    result["acceptance"] = check_acceptance(to_jsonable(result), evaluation.acceptance)
    log.info("acceptance on the %s split: %s", split, result["acceptance"]["verdict"])
    result["side_by_side"] = side_by_side_section(evaluation, main, answers[main.name], aspects, weights)
    result["samples"] = str(write_samples(run_dir / SAMPLES, sets, answers, aspects, weights))
    result.update(extra or {})
    result["wall_time_s"] = round(time.time() - t0, 1)
    result = to_jsonable(result)  # strict JSON: NaN rates (an empty part) as null
    written = write_report(result, run_dir)
    result["report"] = str(written["report"])
    result["plots"] = written["plots"]
    result["eval_json"] = str(run_dir / EVAL_JSON)
    write_json(run_dir / EVAL_JSON, result)
    log_results(cfg, result, run_dir, written["plots"])
    log.info("evaluation written to %s (%s)", run_dir / EVAL_JSON, written["report"])
    return result
