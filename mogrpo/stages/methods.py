"""The ``method`` group in the policy stage: which Lightning module trains (GRPO, PPO or DPO), on which data.

:func:`build_module` builds :class:`~mogrpo.modules.grpo_module.GRPOModule`, ``PPOModule`` or ``DPOModule``
from the same policy, tokenizer, regressor and shared settings; :func:`build_datamodule` gives the prompts
(every method but offline DPO) or offline DPO's preference pairs (:func:`mogrpo.data.dpo_pairs.offline_pairs`
on reward_data's train split, ``grpo.batch_size / G`` pairs per step). The budget (``method_summary``):
``grpo.max_steps`` sampled batches, each ``grpo.batch_size`` answers scored once by the reward model; PPO takes
``optimizer_steps_per_batch`` Lightning steps on each.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from mogrpo.configs import DataConfig, GRPOConfig, MethodConfig, ModelConfig, RewardConfig, TrainConfig

log = logging.getLogger(__name__)


def pair_encoder(tokenizer, max_prompt_length: int, max_response_tokens: int, system_prompt: str | None):
    """``rows -> (input_ids, attention_mask, completion_mask)`` for ``2P`` rows, chosen first: each answer after
    its chat-templated prompt, cut to ``max_response_tokens`` (the rollouts' cap), left-padded
    (mogrpo/warm_start/encode.py, the warm start's encoding)."""
    from mogrpo.warm_start.encode import collate, encode_demonstrations

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def encode(rows: list[dict]):
        demos = [{"prompt": r["prompt"], "response": r[k]} for k in ("chosen", "rejected") for r in rows]
        encoded, _ = encode_demonstrations(tokenizer, demos, max_prompt_length, max_response_tokens, "truncate",
                                           system_prompt)  # fmt: skip
        return collate(encoded, pad)

    return encode


def load_offline_pairs(cfg: DictConfig, method: MethodConfig) -> list[dict]:
    """Offline DPO's pairs from reward_data's train split, judged by the reward's weighted aggregate."""
    from mogrpo.data.dpo_pairs import offline_pairs
    from mogrpo.errors import DataError
    from mogrpo.stages.reward import load_reward_data

    reward = RewardConfig.of(cfg)
    rows = load_reward_data(cfg)["train"].to_list()
    pairs = offline_pairs(rows, list(reward.aspects), reward.weight_list, method.dpo.max_pairs)
    if not pairs:
        raise DataError("no preference pairs (nor two differently labelled answers to one prompt) in the train "
                        "split", source="reward_data (method.dpo.mode=offline)")  # fmt: skip
    log.info("offline DPO: %d pairs from %d labelled rows of reward_data's train split", len(pairs), len(rows))
    return pairs


def build_datamodule(cfg: DictConfig, prompts: list[dict]):
    """The prompts, or offline DPO's pairs, ``grpo.prompts_per_step`` rows per step."""
    from mogrpo.data.prompts import PromptDataModule

    method, grpo, run = MethodConfig.of(cfg), GRPOConfig.of(cfg), TrainConfig.of(cfg)
    rows = prompts if method.samples else load_offline_pairs(cfg, method)
    return PromptDataModule(rows, grpo.prompts_per_step, seed=run.seed)


def build_module(cfg: DictConfig, policy, tokenizer, regressor, run_dir: Path):
    """The method's LightningModule on the shared policy, regressor and settings."""
    from mogrpo.modules.grpo_module import GRPOModule

    method, grpo, reward = MethodConfig.of(cfg), GRPOConfig.of(cfg), RewardConfig.of(cfg)
    model, data = ModelConfig.of(cfg), DataConfig.of(cfg)
    shared = {"max_prompt_length": model.max_prompt_length, "system_prompt": data.system_prompt, "run_dir": run_dir}
    if method.name == "ppo":
        from mogrpo.modules.ppo_module import PPOModule

        return PPOModule(policy, tokenizer, regressor, grpo, reward, ppo=method.ppo, **shared)
    if method.name == "dpo":
        from mogrpo.modules.dpo_module import DPOModule

        encode = None
        if method.dpo.mode == "offline":
            encode = pair_encoder(tokenizer, model.max_prompt_length, grpo.generation.max_new_tokens,
                                  data.system_prompt)  # fmt: skip
        return DPOModule(policy, tokenizer, regressor, grpo, reward, dpo=method.dpo, encode_pairs=encode, **shared)
    return GRPOModule(policy, tokenizer, regressor, grpo, reward, **shared)


def optimizer_steps_per_batch(module) -> int:
    """Lightning's steps per sampled batch: PPO's epochs x mini-batches, 1 otherwise (GRPO's ``num_iterations``
    keep counting as steps, as before the method group)."""
    return int(getattr(module, "optimizer_steps_per_batch", 1))


def method_summary(cfg: DictConfig, module, n_trainable: int) -> dict[str, Any]:
    """The method's entries of the stage summary: name, settings, trainable parameters (LoRA + value head),
    sampled batches and reward-model calls (answers scored)."""
    method, grpo = MethodConfig.of(cfg), GRPOConfig.of(cfg)
    extra = sum(p.numel() for p in getattr(module, "value_head", None).parameters()) if method.name == "ppo" else 0
    batches = len(module.history)
    return {
        "name": method.name,
        "settings": (method.ppo.to_dict() if method.name == "ppo" else method.dpo.to_dict() if method.name == "dpo"
                     else {}),  # fmt: skip
        "trainable_params": n_trainable + extra,
        "value_head_params": extra,
        "sampled_batches": batches,
        "reward_model_calls": batches * grpo.batch_size if method.samples else 0,
        "generated_completions": batches * grpo.batch_size if method.samples else 0,
    }
