"""The evaluation stage: base vs aligned policy on held-out prompts, scored by the reward regressor.

One model serves both: the base answers with the LoRA adapters disabled, the aligned policy with
them on. Writes ``samples.jsonl`` (one line per prompt, both responses and their scores) into the
run dir and returns the per-aspect table of :func:`mogrpo.eval.compare.aspect_table`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def eval_device(cfg: DictConfig) -> torch.device:
    """CUDA when the trainer asks for a GPU (or ``auto``) and one is there, else CPU."""
    accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="cpu"))
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def adapter_path(cfg: DictConfig, run_dir: Path) -> Path | None:
    """``eval.adapter`` if set (it must exist), else ``<run_dir>/adapter`` if GRPO wrote one, else None."""
    from mogrpo.config import ConfigError

    explicit = OmegaConf.select(cfg, "eval.adapter", default=None)
    if explicit:
        path = Path(str(explicit)).expanduser()
        if not (path / "adapter_config.json").is_file():
            raise ConfigError("eval.adapter", f"{path} is not a saved peft adapter (no adapter_config.json)")
        return path
    default = run_dir / "adapter"
    return default if (default / "adapter_config.json").is_file() else None


def load_policy_for_eval(cfg: DictConfig, adapter: Path | None):
    """The base causal LM with the adapter loaded on top (or the bare base when ``adapter`` is None)."""
    from mogrpo.models.loading import load_causal_lm
    from mogrpo.models.policy import to_plain

    model, tokenizer = load_causal_lm(to_plain(cfg.model.spec))
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    return model.eval(), tokenizer


def _log_table(cfg: DictConfig, table: dict[str, Any]) -> None:
    from mogrpo.utils.logging import finish_logger, make_logger

    metrics = {}
    for name, row in [*table["aspects"].items(), ("reward", table["aggregate"])]:
        for key in ("base", "aligned", "abs_change"):
            if row[key] is not None:
                metrics[f"eval/{key}/{name}"] = row[key]
    logger = make_logger(cfg, "eval")
    try:
        if logger is not None:
            logger.log_metrics(metrics)
            logger.save()
    finally:
        finish_logger(logger)


def run_eval_stage(cfg: DictConfig, run_dir: str | Path, reward_dir: str | Path) -> dict[str, Any]:
    """Generate with base and aligned policy on ``eval.max_prompts`` held-out prompts, score, compare."""
    from mogrpo.config import reward_weights
    from mogrpo.eval.compare import aspect_table, generate_responses, score_responses
    from mogrpo.models.policy import to_plain
    from mogrpo.stages.grpo import load_prompt_sets, load_regressor

    t0 = time.time()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = load_prompt_sets(cfg, "heldout")[: int(cfg.eval.max_prompts)]
    aspects = list(cfg.reward.aspects)
    weights = reward_weights(cfg.reward)
    regressor = load_regressor(reward_dir, aspects)
    adapter = adapter_path(cfg, run_dir)
    if adapter is None:
        log.warning("no adapter in %s and no eval.adapter: evaluating the base policy only", run_dir / "adapter")
    device = eval_device(cfg)
    model, tokenizer = load_policy_for_eval(cfg, adapter)
    model.to(device)
    regressor.to(device)
    decoding = to_plain(cfg.eval.decoding)
    prompts = [r["prompt"] for r in rows]
    gen_args = {
        "decoding": decoding,
        "batch_size": int(cfg.eval.batch_size),
        "max_prompt_length": int(cfg.model.max_prompt_length),
        "system_prompt": cfg.data.get("system_prompt"),
    }

    torch.manual_seed(int(cfg.seed))  # the same random stream for base and aligned when sampling
    with model.disable_adapter() if adapter is not None else contextlib.nullcontext():
        base = generate_responses(model, tokenizer, prompts, desc="base", **gen_args)
    base_scores = score_responses(regressor, prompts, base, run_dir)
    aligned = aligned_scores = None
    if adapter is not None:
        torch.manual_seed(int(cfg.seed))
        aligned = generate_responses(model, tokenizer, prompts, desc="aligned", **gen_args)
        aligned_scores = score_responses(regressor, prompts, aligned, run_dir)

    table = aspect_table(base_scores, aligned_scores, aspects, weights)
    w = torch.tensor(weights)
    samples_path = run_dir / "samples.jsonl"
    with samples_path.open("w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            sample = {
                "id": row.get("id"),
                "prompt": row["prompt"],
                "category": row.get("category"),
                "kind": row.get("kind"),
                "base_response": base[i],
                "base_scores": dict(zip(aspects, base_scores[i].tolist())),
                "base_reward": float(base_scores[i] @ w),
            }
            if aligned is not None:
                sample["aligned_response"] = aligned[i]
                sample["aligned_scores"] = dict(zip(aspects, aligned_scores[i].tolist()))
                sample["aligned_reward"] = float(aligned_scores[i] @ w)
            fh.write(json.dumps(sample) + "\n")
    _log_table(cfg, table)
    return {
        "n_prompts": len(rows),
        "adapter": str(adapter) if adapter is not None else None,
        "decoding": decoding,
        **table,
        "samples": str(samples_path),
        "wall_time_s": round(time.time() - t0, 1),
    }
