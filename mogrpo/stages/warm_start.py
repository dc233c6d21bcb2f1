"""The warm start inside the GRPO stage: a short SFT of the LoRA adapter on safe demonstrations, right
before the first GRPO step, on the same peft policy (``grpo.warm_start``, off by default).

Writes into the run dir (rank 0), once the warm start is done:

    warm_start_adapter/  the LoRA adapter after the warm start (``eval.adapter=`` evaluates SFT alone)
    warm_start.json      the record: config, steps, losses, wall time and s/step, the demonstrations per
                         kind/source (available, after the length filter, in the mix, seen), the encoding
                         counts and the per-step rows that head ``history.jsonl``

Its per-step ``warm_start/loss`` (and lr, grad norm, tokens) goes to the run's logger as it trains,
with ``warm_start/step`` as its step, and into the history.

Resuming (``resume``) never trains twice:

- from a GRPO checkpoint: not run; that checkpoint's adapter already holds the warm start. The record
  is read back (its rows go back at the head of ``history.jsonl``).
- ``resume=auto`` before the first GRPO checkpoint, with a finished warm start of the same config in
  the run dir: its adapter is loaded instead of training again. A run killed during the warm start
  itself has no record and trains it again from the start (it is short, and seeded).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mogrpo.configs import WarmStartConfig

log = logging.getLogger(__name__)

WARM_START_JSON = "warm_start.json"
WARM_START_ADAPTER = "warm_start_adapter"
PHASE = "warm_start"  # the ``phase`` of the warm start's rows in history.jsonl


def read_record(run_dir: str | Path) -> dict[str, Any] | None:
    """The finished warm start's record in ``run_dir``, or None."""
    path = Path(run_dir) / WARM_START_JSON
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        log.warning("%s is not valid JSON; ignoring it", path)
        return None
    return record if isinstance(record, dict) and record.get("complete") else None


def history_rows(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The warm start's rows for ``history.jsonl`` (``{"phase": "warm_start", "warm_start/step", ...}``)."""
    return [dict(r) for r in (record or {}).get("history", [])]


def _log_row(logger, row: dict[str, Any]) -> None:
    if logger is None:
        return
    try:
        logger.log_metrics({k: v for k, v in row.items() if k != "phase"}, step=int(row["warm_start/step"]))
    except Exception as err:  # never crash a run over logging
        log.warning("logging the warm start failed: %s", err)


def _define_wandb_step(logger) -> None:
    """In W&B, plot ``warm_start/*`` against ``warm_start/step`` (not the GRPO step)."""
    experiment = getattr(logger, "_experiment", None)
    if experiment is not None and hasattr(experiment, "define_metric"):
        try:
            experiment.define_metric("warm_start/*", step_metric="warm_start/step")
        except Exception:
            pass


def _cap_adversarial_openers(tokenizer, demos, encoded, config: WarmStartConfig):
    """``encoded`` with each opener of the adversarial demonstrations' trained text cut to its share
    (:func:`mogrpo.warm_start.openers.cap_openers`; benign ones all kept), and the drops per opener."""
    from mogrpo.warm_start.encode import trained_text
    from mogrpo.warm_start.openers import cap_openers

    adversarial = [e for e in encoded if demos[e.index]["kind"] == "adversarial"]
    kept, dropped = cap_openers([trained_text(tokenizer, e) for e in adversarial], config.max_opener_share,
                                config.mix_seed, config.opener_words)  # fmt: skip
    gone = {adversarial[i].index for i in set(range(len(adversarial))) - set(kept)}
    return [e for e in encoded if e.index not in gone], dropped


def _self_distill(config: WarmStartConfig, policy, tokenizer, prompts, *, max_prompt_length: int,
                  system_prompt: str | None, progress: bool) -> tuple[list[dict], dict[str, Any]]:
    """``grpo.warm_start.self_distill``: the policy's greedy answers to ``prompts`` that the refusal grader calls
    compliance, as benign demonstrations (:mod:`mogrpo.warm_start.self_distill`), and their record."""
    import time

    from mogrpo.warm_start.self_distill import answer_prompts, distilled_demonstrations

    start = time.perf_counter()
    answers = answer_prompts(policy, tokenizer, prompts, config.max_response_tokens, max_prompt_length, system_prompt,
                             config.self_distill_batch_size, progress)  # fmt: skip
    demos, labels = distilled_demonstrations(prompts, answers)
    record = {"sources": list(config.self_distill), "prompts": len(prompts), "labels": labels, "kept": len(demos),
              "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
    log.info("warm start: self_distill kept %d of the policy's %d answers to %s (grader labels %s) in %.0f s",
             len(demos), len(prompts), list(config.self_distill), labels, record["seconds"])  # fmt: skip
    return demos, record


def _train(config: WarmStartConfig, policy, tokenizer, demos, logger, forward_context, *, seed: int,
           max_prompt_length: int, system_prompt: str | None, progress: bool,
           distill_prompts: list[dict] | None = None) -> dict[str, Any]:  # fmt: skip
    """Self-distil (if asked), encode, filter by length, mix, train; the record (without status), its
    ``history`` the per-step rows."""
    from mogrpo.data.demonstrations import demo_counts, mix_demonstrations
    from mogrpo.errors import ConfigError, DataError
    from mogrpo.warm_start.encode import encode_demonstrations, graded_refusals
    from mogrpo.warm_start.loop import run_warm_start

    distilled = None
    if config.self_distill:
        if not distill_prompts:
            raise ValueError("grpo.warm_start.self_distill is on but no prompts were given (stages.inputs.load_distill_prompts)")
        extra, distilled = _self_distill(config, policy, tokenizer, distill_prompts, max_prompt_length=max_prompt_length,
                                         system_prompt=system_prompt, progress=progress)  # fmt: skip
        demos = [*demos, *extra]
    encoded, stats = encode_demonstrations(
        tokenizer, demos, max_prompt_length, config.max_response_tokens, config.overlong, system_prompt,
    )  # fmt: skip
    if config.refusals_only:
        encoded, stats["not_refusals_dropped"] = graded_refusals(tokenizer, demos, encoded)
        log.info("warm start: refusals_only dropped %s adversarial demonstrations the refusal grader does not call "
                 "a refusal", stats["not_refusals_dropped"])  # fmt: skip
    if config.max_opener_share is not None:
        encoded, capped = _cap_adversarial_openers(tokenizer, demos, encoded, config)
        stats["openers_capped"] = capped
        log.info("warm start: max_opener_share=%s dropped %d adversarial demonstrations (most: %s)",
                 config.max_opener_share, sum(capped.values()), dict(list(capped.items())[:3]))  # fmt: skip
    fitting = [demos[e.index] for e in encoded]
    short = (f"{len(fitting)} of {len(demos)} demonstrations {dict(demo_counts(fitting))} have a response of at most "
             f"max_response_tokens={config.max_response_tokens} tokens")  # fmt: skip
    try:
        mixed = {id(d) for d in mix_demonstrations(fitting, config.adversarial_fraction, config.mix_seed)}
    except DataError as err:
        raise ConfigError("grpo.warm_start.max_response_tokens", f"{short}: {err}") from None
    pool = [e for e in encoded if id(demos[e.index]) in mixed]
    if len(pool) < config.batch_size:
        raise ConfigError("grpo.warm_start.max_response_tokens", f"{short}, {len(pool)} after the adversarial:benign "
                          f"mix: fewer than a batch of grpo.warm_start.batch_size={config.batch_size}")  # fmt: skip
    rows: list[dict[str, Any]] = []

    def on_step(row: dict[str, Any]) -> None:
        rows.append({"phase": PHASE, **row})
        _log_row(logger, rows[-1])

    _define_wandb_step(logger)
    log.info("warm start: %d steps of %d on %d demonstrations %s", config.steps, config.batch_size, len(pool),
             dict(demo_counts([demos[e.index] for e in pool])))  # fmt: skip
    result = run_warm_start(policy, tokenizer, pool, config, seed=seed, on_step=on_step,
                            progress=progress, forward_context=forward_context)  # fmt: skip
    if logger is not None and hasattr(logger, "save"):
        logger.save()
    seen = [demos[i] for i in result.pop("seen")]
    unique = list({id(d): d for d in seen}.values())
    record = {
        **result,
        "config": config.to_dict(),
        "seed": int(seed),  # the batch order's
        "demonstrations": {
            "available": dict(demo_counts(demos)),  # train split, evaluation-only prompts dropped
            "fit_length": dict(demo_counts(fitting)),  # after the max_response_tokens (and refusals_only) filter
            "mix": dict(demo_counts([demos[e.index] for e in pool])),  # after the adversarial:benign ratio
            "used": dict(demo_counts(unique)),  # distinct demonstrations in some batch
            "seen": dict(demo_counts(seen)),  # with repeats: steps x batch_size in all
        },
        "encoding": stats,
        "history": rows,
    }
    if distilled is not None:
        record["self_distill"] = distilled
    return record


def warm_start_policy(
    config: WarmStartConfig,
    policy,
    tokenizer,
    demos: list[dict] | None,
    run_dir: str | Path,
    resume: Path | None,
    logger=None,
    device=None,
    forward_context: Callable | None = None,
    *,
    seed: int,
    resuming: bool,
    max_prompt_length: int,
    system_prompt: str | None = None,
    progress: bool = True,
    distill_prompts: list[dict] | None = None,
) -> dict[str, Any] | None:
    """Warm-start ``policy`` in place as ``config`` (``grpo.warm_start``) says (see the module docstring);
    returns the record with its ``status`` (``trained`` / ``reused`` / ``in_checkpoint``), or None when off.

    ``demos``: :func:`mogrpo.stages.inputs.load_demonstrations`; ``resume``: the GRPO checkpoint the stage
    resumes from (None: a fresh start); ``resuming``: the run was asked to resume (``resume=auto`` with no
    checkpoint yet reuses a finished warm start of the same config); ``device``: where to train (the
    Trainer's root device; the policy is moved there only when it trains); ``forward_context``: the
    Trainer's precision context (autocast under mixed precision); ``seed``: the batch order's;
    ``max_prompt_length``, ``system_prompt``: as the GRPO rollouts (``model``, ``data``); ``distill_prompts``:
    :func:`mogrpo.stages.inputs.load_distill_prompts` (``self_distill``: answered by the policy as it is here).
    Under DDP every rank runs the same seeded steps on the same batches (so the ranks start GRPO from one
    adapter); rank 0 writes the files. Under FSDP the warm start trains the whole model on one device.
    """
    from mogrpo.utils.distributed import is_global_zero
    from mogrpo.utils.io import write_json

    if not config.enabled:
        return None
    run_dir = Path(run_dir)
    if resume is not None:  # the checkpoint's adapter already holds the warm start
        record = read_record(run_dir) or read_record(Path(resume).parent.parent)
        if record is None:
            log.warning("resuming from %s: no %s found; the warm start is not run again (the checkpoint's "
                        "adapter continues as it is)", resume, WARM_START_JSON)  # fmt: skip
            return {"status": "in_checkpoint", "config": config.to_dict(), "history": []}
        if record.get("config") != config.to_dict():
            log.warning("resuming with another grpo.warm_start than the run's (%s); it is not run again",
                        record.get("config"))  # fmt: skip
        if is_global_zero() and not (run_dir / WARM_START_JSON).is_file():
            write_json(run_dir / WARM_START_JSON, record)
        return {**record, "status": "in_checkpoint"}
    adapter_dir = run_dir / WARM_START_ADAPTER
    record = read_record(run_dir) if resuming else None
    if record is not None and record.get("config") == config.to_dict() and (adapter_dir / "adapter_config.json").is_file():
        from mogrpo.models.policy import load_lora_weights

        load_lora_weights(policy, adapter_dir, "resume")
        log.info("resume: the run's warm start is done; loaded its adapter from %s", adapter_dir)
        return {**record, "status": "reused"}
    if demos is None:
        raise ValueError("the warm start is on but no demonstrations were given (stages.inputs.load_demonstrations)")
    if device is not None:
        policy.to(device)
    record = _train(config, policy, tokenizer, demos, logger, forward_context, seed=seed,
                    max_prompt_length=max_prompt_length, system_prompt=system_prompt, progress=progress,
                    distill_prompts=distill_prompts)  # fmt: skip
    record.update(complete=True, adapter=str(adapter_dir))
    if is_global_zero():
        policy.save_pretrained(str(adapter_dir))  # first the adapter, then the record that says it is done
        write_json(run_dir / WARM_START_JSON, record)
    log.info("warm start: loss %.3f -> %.3f in %d steps (%.2f s/step)", record["losses"][0], record["losses"][-1],
             record["steps"], record["s_per_step"])  # fmt: skip
    return {**record, "status": "trained"}


def reference_adapter(record: dict[str, Any] | None, run_dir: str | Path) -> dict[str, Any]:
    """The warm start's LoRA weights, the KL reference of ``grpo.kl.reference=warm_start``: read from the
    adapter the warm start saved (``<run_dir>/warm_start_adapter``, else its record's ``adapter``: a run resumed
    into a new dir), so a resumed run gets the same reference as the run it continues."""
    from mogrpo.errors import ConfigError
    from mogrpo.models.policy import read_lora_weights

    where = [Path(p) for p in (Path(run_dir) / WARM_START_ADAPTER, (record or {}).get("adapter")) if p]
    for adapter_dir in where:
        if (adapter_dir / "adapter_model.safetensors").is_file():
            return read_lora_weights(adapter_dir, "grpo.kl.reference")
    raise ConfigError("grpo.kl.reference", f"is warm_start but no warm-start adapter was found in {where}")


def summary_of(record: dict[str, Any] | None) -> dict[str, Any]:
    """The warm start's entry of the GRPO summary (the record without its per-step rows)."""
    if record is None:
        return {"enabled": False}
    return {"enabled": True, **{k: v for k, v in record.items() if k != "history"}}
