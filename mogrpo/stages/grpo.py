"""The GRPO stage: prompts -> frozen reward regressor -> LoRA policy -> Lightning fit -> adapter.

The policy stage of every ``method`` (GRPO, PPO or DPO: :mod:`mogrpo.stages.methods` builds the module and,
for offline DPO, the pairs); the summary keeps the key ``grpo`` and adds ``method`` and ``peak_memory_mib``.

Writes into the run dir: ``adapter/`` (peft ``save_pretrained``), ``history.jsonl`` (one line
of metrics per sampled batch) and every ``grpo.checkpoint_every`` steps ``checkpoints/step_<n>/``
(``resume=auto`` continues from the newest: mogrpo/utils/checkpoint.py). Under DDP only global
rank 0 writes files.

With ``grpo.warm_start.enabled`` the policy is first fine-tuned on safe demonstrations, right before
the first GRPO step (mogrpo/stages/warm_start.py: ``warm_start.json``, ``warm_start_adapter/``; its
per-step rows, ``"phase": "warm_start"``, head ``history.jsonl``); a resumed run does not repeat it.
With ``grpo.init_adapter`` the LoRA adapter starts from a saved one (an offline DPO run's, say) instead of a
fresh one, and ``grpo.kl.reference=init`` makes that adapter the KL reference (DPO -> GRPO, as SFT -> RLHF).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf

from mogrpo.configs import DataConfig, GRPOConfig, ModelConfig, RewardConfig, TrainConfig
from mogrpo.errors import ConfigError
from mogrpo.models.regressor import load_regressor
from mogrpo.stages.inputs import load_demonstrations, load_distill_prompts, load_prompt_sets

log = logging.getLogger(__name__)

# the summary's "final_mean" averages the metrics of this many last steps
FINAL_WINDOW = 5


def write_history(history: list[dict], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in history:
            fh.write(json.dumps(row) + "\n")


class HistoryWriter(Callback):
    """Streams ``history.jsonl`` one line per step (rank 0), so a killed run keeps its metrics.

    At train start the file is rewritten from the ``prefix`` rows (the warm start's) and the module's
    history (restored from the checkpoint on resume), so the steps re-run after a resume are not
    written twice.
    """

    def __init__(self, path: Path, prefix: list[dict] | None = None):
        self.path = Path(path)
        self.prefix = list(prefix or [])

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            write_history([*self.prefix, *pl_module.history], self.path)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.is_global_zero and pl_module.history:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(pl_module.history[-1]) + "\n")


def summarize_history(history: list[dict], window: int = FINAL_WINDOW) -> dict[str, Any]:
    """The last step's metrics and the mean of each metric over the last ``window`` steps."""
    if not history:
        return {"final": {}, "final_mean": {}}
    last = history[-window:]
    keys = [k for k in history[-1] if k not in ("step", "batch")]
    mean = {k: sum(float(r[k]) for r in last if k in r) / sum(1 for r in last if k in r) for k in keys}
    return {"final": dict(history[-1]), "final_mean": mean}


def grpo_callbacks(cfg: DictConfig) -> list[Callback]:
    """The optional callbacks of the GRPO stage's Trainer: the W&B completions table every
    ``grpo.log_completions_every`` steps, and any ``callbacks`` node of the config (``_target_`` nodes)."""
    from hydra.utils import instantiate

    from mogrpo.callbacks import CompletionsTable

    grpo, reward = GRPOConfig.of(cfg), RewardConfig.of(cfg)
    out: list[Callback] = []
    if grpo.log_completions_every > 0:
        out.append(CompletionsTable(every=grpo.log_completions_every, aspects=list(reward.aspects)))
    node = cfg.get("callbacks")
    return out + [instantiate(c) for c in (node or {}).values() if c is not None and c.get("_target_")]


def check_prompt_kinds(grpo: GRPOConfig, datamodule) -> None:
    """``grpo.shaping.refusal`` grades answers by their prompt's kind: a ConfigError if no train prompt has one."""
    prompts = getattr(datamodule, "prompts", None)
    if "refusal" not in grpo.shaping.active or prompts is None:
        return
    if not any(p.get("kind") in ("adversarial", "benign") for p in prompts):
        raise ConfigError("grpo.shaping.refusal.coef", "is on but no train prompt has a kind (adversarial or benign; "
                          "data=file: a kind column) to say whether to refuse it")  # fmt: skip


def run_grpo_stage(cfg: DictConfig, run_dir: str | Path, reward_dir: str | Path) -> dict[str, Any]:
    """Train LoRA adapters with the configured method (GRPO by default); returns steps, final metrics, adapter
    path, the method's budget and cost, and wall time."""
    from hydra.utils import instantiate

    from mogrpo.callbacks.peak_memory import PeakMemory
    from mogrpo.callbacks.progress_lines import ProgressLines
    from mogrpo.models import fast_paths
    from mogrpo.models.policy import build_policy, count_trainable, load_lora_weights, read_lora_weights
    from mogrpo.stages import methods, warm_start
    from mogrpo.utils.checkpoint import CHECKPOINTS_DIR, STATE_NAME, GRPOCheckpoint, resolve_resume
    from mogrpo.utils.distributed import RankOffsetSeed, is_global_zero
    from mogrpo.utils.logging import finish_logger, make_logger

    t0 = time.time()
    run, grpo, reward = TrainConfig.of(cfg), GRPOConfig.of(cfg), RewardConfig.of(cfg)
    model, data = ModelConfig.of(cfg), DataConfig.of(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    resume = resolve_resume(run.resume, run_dir)
    init = Path(grpo.init_adapter).expanduser() if grpo.init_adapter else None  # GRPOConfig checked it is one
    # data first: a bad prompt file fails before any model loads
    datamodule = methods.build_datamodule(cfg, load_prompt_sets(cfg, "train"))  # offline DPO: preference pairs
    check_prompt_kinds(grpo, datamodule)
    demos = load_demonstrations(cfg) if resume is None else None  # None: off, or resumed
    distill = load_distill_prompts(cfg) if resume is None else None  # grpo.warm_start.self_distill's prompts
    regressor = load_regressor(reward_dir, reward.aspects)
    if reward.ensemble.checkpoints:  # mean - k std over this run's regressor and the saved ones
        from mogrpo.models.ensemble import EnsembleRegressor

        members = [regressor, *(load_regressor(d, reward.aspects) for d in reward.ensemble.checkpoints)]
        regressor = EnsembleRegressor(members, k=reward.ensemble.k)
        log.info("GRPO reward: a conservative ensemble of %d regressors (mean - %g std)", len(members), regressor.k)
    policy, tokenizer = build_policy(model)
    if init is not None:  # a resumed run's checkpoint then replaces these weights with its own
        load_lora_weights(policy, init, "grpo.init_adapter")
        log.info("grpo.init_adapter: the LoRA adapter starts from %s", init)
    n_trainable = count_trainable(policy)
    speed = fast_paths.report(policy)
    for path, reason in speed.items():
        if reason is not None:
            fast_paths.warn_unavailable(path, reason)
    log.info("fast paths on: %s", ", ".join(p for p, r in speed.items() if r is None) or "none")
    log.info("GRPO: %d prompts, %d per step, %d trainable LoRA parameters", len(datamodule.prompts),
             grpo.prompts_per_step, n_trainable)
    module = methods.build_module(cfg, policy, tokenizer, regressor, run_dir)  # method=grpo | ppo | dpo
    peak = PeakMemory()
    logger = make_logger(cfg, "grpo")
    adapter_dir = run_dir / "adapter"
    history_path = run_dir / "history.jsonl"
    history = HistoryWriter(history_path)
    warm: dict[str, Any] | None = None
    checkpoints = GRPOCheckpoint(run_dir / CHECKPOINTS_DIR, every=grpo.checkpoint_every or 0,
                                 keep=grpo.keep_checkpoints)  # fmt: skip
    try:
        trainer = instantiate(
            cfg.trainer,
            max_steps=grpo.max_steps * methods.optimizer_steps_per_batch(module),  # grpo.max_steps: sampled batches
            max_epochs=-1,  # cycle over the prompts until max_steps
            logger=logger if logger is not None else False,
            enable_checkpointing=False,
            default_root_dir=str(run_dir),
            callbacks=[
                RankOffsetSeed(run.seed), checkpoints, history, peak,
                ProgressLines("grpo", keys=("train/reward_mean", "train/kl", "train/loss")),
                *grpo_callbacks(cfg),
            ],
        )
        # the warm start (grpo.warm_start): on the same peft policy, on the Trainer's device, before GRPO's first step
        warm = warm_start.warm_start_policy(
            grpo.warm_start, policy, tokenizer, demos, run_dir, resume, logger, device=trainer.strategy.root_device,
            forward_context=trainer.precision_plugin.forward_context, seed=run.seed, resuming=bool(run.resume),
            max_prompt_length=model.max_prompt_length, system_prompt=data.system_prompt,
            progress=bool(OmegaConf.select(cfg, "trainer.enable_progress_bar", default=True)), distill_prompts=distill,
        )
        history.prefix = warm_start.history_rows(warm)
        reference = grpo.kl.reference
        if reference != "base" and float(grpo.kl.beta) > 0:  # the KL pulls towards the warm start / init adapter
            if not hasattr(module, "reference_adapter"):
                raise ConfigError("grpo.kl.reference", f"{reference} is not supported by method={type(module).__name__}")
            module.reference_adapter = (warm_start.reference_adapter(warm, run_dir) if reference == "warm_start"
                                        else read_lora_weights(init, "grpo.init_adapter"))  # fmt: skip
            log.info("grpo.kl.reference=%s: the KL reference is that adapter, not the base model", reference)
        if resume is not None:
            log.info("resuming GRPO from %s", resume)
        ckpt_path = str(resume / STATE_NAME) if resume is not None else None
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        if trainer.is_global_zero:
            policy.save_pretrained(str(adapter_dir))
    finally:
        if is_global_zero():
            write_history([*history.prefix, *module.history], history_path)
        finish_logger(logger)
    summary: dict[str, Any] = {
        "steps": int(trainer.global_step),
        "sampled_batches": len(module.history),
        **summarize_history(module.history),
        "adapter": str(adapter_dir),
        "history": str(history_path),
        "trainable_params": n_trainable,
        "method": methods.method_summary(cfg, module, n_trainable),
        "peak_memory_mib": dict(peak.peak),
        "fast_paths": {path: "on" if reason is None else f"off: {reason}" for path, reason in speed.items()},
        "world_size": int(trainer.world_size),
        "resumed_from": str(resume) if resume is not None else None,
        "warm_start": warm_start.summary_of(warm),
        "init_adapter": str(init) if init is not None else None,
        "checkpoints": [str(run_dir / CHECKPOINTS_DIR / f"step_{s}") for s in checkpoints.saved],
        "wall_time_s": round(time.time() - t0, 1),
    }
    if module.constrained:
        summary["lagrange_multiplier"] = module.lagrange_multiplier
    return summary
