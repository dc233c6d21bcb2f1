"""The checks of the composed config that span several groups, run before any model or data loads.

Each group is checked by its own typed config (:mod:`mogrpo.configs`); this module builds the ones a
run needs and adds what no single group can see: a data folder the stages would read but that does not
exist (``paths.shared_data``), an evaluated split the ``data`` group lacks, LoRA settings a GRPO stage
needs. Every mistake raises :class:`~mogrpo.errors.ConfigError` naming the key, so
``python -m mogrpo.train grpo.G=1`` fails in about a second with ``grpo.G: must be an integer >= 2 ...``.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mogrpo.configs import (
    DataConfig,
    EvalConfig,
    EvaluateConfig,
    GRPOConfig,
    MethodConfig,
    ModelConfig,
    RewardConfig,
    RewardDataConfig,
    RewardModelConfig,
    TrainConfig,
    WarmStartConfig,
)
from mogrpo.errors import ConfigError

__all__ = ["ConfigError", "check_config", "check_evaluate_config", "check_eval_split", "check_shared_data"]

SHARED_DATA_HINT = (
    "point paths.shared_data (or the env var MOGRPO_SHARED_DATA) at the folder of public data described "
    "in shared/data/README.md, or run the offline demo on the packaged data: reward_data=builtin data=builtin"
)


def _roots(node) -> list[str]:
    """Every ``root`` value (a data folder) in a config subtree."""
    out: list[str] = []
    if OmegaConf.is_dict(node):
        for key in node:
            value = node._get_node(key)
            if key == "root" and not OmegaConf.is_config(value):
                out.append(str(node[key]))
            elif OmegaConf.is_config(value):
                out += _roots(node[key])
    elif OmegaConf.is_list(node):
        for item in node:
            out += _roots(item) if OmegaConf.is_config(item) else []
    return out


def check_shared_data(cfg: DictConfig, stage: str) -> None:
    """The data folders the stages will read exist: a missing ``../shared/data`` fails here, before any
    model loads, naming ``paths.shared_data`` and the fix (the default reward data and prompts are
    real public data; the packaged builtin data is the offline demo, chosen on purpose only)."""
    groups = []
    if stage in ("reward", "all"):
        groups.append("reward_data")
    if stage in ("grpo", "all", "eval"):
        groups.append("data")
    for group in groups:
        node = OmegaConf.select(cfg, group)
        for root in _roots(node) if node is not None else []:
            if not Path(root).expanduser().is_dir():
                name = OmegaConf.select(cfg, f"{group}.name", default="?")
                raise ConfigError("paths.shared_data", f"{group}={name} reads {root}, which does not exist; {SHARED_DATA_HINT}")


def check_warm_start_data(warm: WarmStartConfig, cfg: DictConfig) -> None:
    """When the warm start is on and reads public data, ``paths.shared_data`` exists."""
    shared = warm.shared_sources
    if not warm.enabled or not shared:
        return
    root = OmegaConf.select(cfg, "paths.shared_data", default=None)
    if root in (None, "", "???") or not Path(str(root)).expanduser().is_dir():
        raise ConfigError(
            "paths.shared_data",
            f"grpo.warm_start.sources {shared} read {root}, which does not exist; {SHARED_DATA_HINT}, or keep the "
            "warm start on the packaged data: grpo.warm_start.sources=[builtin]",
        )


def check_lora(model: ModelConfig) -> None:
    """GRPO trains LoRA adapters: ``model.lora`` names what to train."""
    try:
        model.check_lora()
    except ConfigError as err:
        raise ConfigError(f"model.{err.key}", err.message) from None


def check_eval_split(cfg: DictConfig, evaluation: EvalConfig) -> None:
    """``eval.split`` has a set in the ``data`` group to read (``eval.split=validation`` needs ``data.validation``)."""
    key = f"data.{evaluation.data_key}"
    if OmegaConf.select(cfg, key) is None:
        raise ConfigError(
            key,
            f"is not set in data={OmegaConf.select(cfg, 'data.name', default='?')}, and eval.split={evaluation.split} "
            "evaluates on it; use a data group with that split (data=real_mix has train / validation / heldout) or "
            "eval.split=heldout",
        )


def check_schedule_steps(reward: RewardConfig, grpo: GRPOConfig) -> None:
    """``reward.schedule`` starts before it ends (``end_step``, else ``grpo.max_steps``)."""
    s = reward.schedule
    if s.kind != "constant" and s.end(grpo.max_steps) <= s.start_step:
        raise ConfigError("reward.schedule.start_step", f"{s.start_step} is not before the schedule's end step "
                          f"{s.end(grpo.max_steps)} (reward.schedule.end_step, else grpo.max_steps)")  # fmt: skip


def check_config(cfg: DictConfig) -> TrainConfig:
    """Validate the composed ``train`` config (cheap; loads nothing); returns its root settings."""
    run = TrainConfig.of(cfg)
    RewardConfig.of(cfg)
    if run.trains_policy:
        grpo = GRPOConfig.of(cfg)
        check_schedule_steps(RewardConfig.of(cfg), grpo)
        check_warm_start_data(grpo.warm_start, cfg)
        MethodConfig.of(cfg).check_budget(grpo.G, grpo.batch_size)  # method=grpo|ppo|dpo, on grpo's budget
        check_lora(ModelConfig.of(cfg))
    if run.stage in ("reward", "all"):
        RewardModelConfig.of(cfg)
    if OmegaConf.select(cfg, "reward_data") is not None:
        RewardDataConfig.of(cfg)
    if OmegaConf.select(cfg, "data") is not None:
        DataConfig.of(cfg)
    check_shared_data(cfg, run.stage)
    if run.evaluates:
        check_eval_split(cfg, EvalConfig.of(cfg))  # a bad eval setting fails now, not after GRPO
    return run


def check_evaluate_config(cfg: DictConfig) -> EvaluateConfig:
    """Validate the composed ``evaluate`` config (cheap; loads nothing); returns its root settings."""
    run = EvaluateConfig.of(cfg)
    RewardConfig.of(cfg)
    check_eval_split(cfg, EvalConfig.of(cfg))
    return run
