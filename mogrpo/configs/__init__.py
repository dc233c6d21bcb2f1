"""One typed, documented config per group of the Hydra tree: frozen dataclasses checked in ``__post_init__``.

=================  ======================================  =========================================
config group       dataclass                               read by
=================  ======================================  =========================================
``grpo``           :class:`GRPOConfig` (+ shaping,         :class:`mogrpo.modules.grpo_module.GRPOModule`
                   warm_start, clip, kl, generation)
``method``         :class:`MethodConfig` (+ ppo, dpo)      the policy stage (GRPO, PPO or DPO module)
``reward``         :class:`RewardConfig` (+ constraint,     the GRPO module, the reward and eval stages
                   ensemble, schedule)
``eval``           :class:`EvalConfig`                     :mod:`mogrpo.stages.evaluation`
``model``          :class:`ModelConfig`                    :func:`mogrpo.models.policy.build_policy`
``reward_model``   :class:`RewardModelConfig`              :mod:`mogrpo.stages.reward`
``data``           :class:`DataConfig`                     :mod:`mogrpo.stages.inputs`
``reward_data``    :class:`RewardDataConfig`               :func:`mogrpo.data.labelled.load_labelled`
root keys          :class:`TrainConfig`, :class:`EvaluateConfig`, :class:`ScoreConfig`   the entry points
``soup``           :class:`~mogrpo.configs.soup.SoupConfig`  ``python -m mogrpo.soup``
=================  ======================================  =========================================

``Config.of(cfg)`` reads one from the composed config and ``Config.from_node(node, key)`` from a node; a bad
value is a :class:`~mogrpo.errors.ConfigError` naming its full key. The YAML files keep the defaults and
their reasons; every field here has its default (the same: ``tests/configs`` checks it) and a help text.
Each dataclass is registered in Hydra's ConfigStore as ``schema/<group>`` (:func:`register`).

This package imports only dataclasses, omegaconf and :mod:`mogrpo.errors` (no torch): the entry points
check a config in well under two seconds, before any heavy import.
"""

from __future__ import annotations

from mogrpo.configs.base import RENAMED, Config, help_of, option
from mogrpo.configs.data import DataConfig, RewardDataConfig
from mogrpo.configs.evaluation import AcceptanceThresholds, AlarmThresholds, EvalConfig
from mogrpo.configs.grpo import LOSS_TYPES, SCALES, GRPOConfig
from mogrpo.configs.method import METHODS, DPOConfig, MethodConfig, PPOConfig
from mogrpo.configs.models import ModelConfig, RewardModelConfig
from mogrpo.configs.reward import AGGREGATIONS, CONSTRAINT_MODES, RESCALES, RewardConfig
from mogrpo.configs.run import STAGES, EvaluateConfig, ScoreConfig, TrainConfig
from mogrpo.configs.shaping import PENALTIES, ShapingConfig
from mogrpo.configs.warm_start import WarmStartConfig

#: group -> its config (the ConfigStore names, ``schema/<group>``)
GROUPS: dict[str, type[Config]] = {
    "grpo": GRPOConfig,
    "method": MethodConfig,
    "reward": RewardConfig,
    "eval": EvalConfig,
    "model": ModelConfig,
    "reward_model": RewardModelConfig,
    "data": DataConfig,
    "reward_data": RewardDataConfig,
}


def register() -> None:
    """Store every group's dataclass in Hydra's ConfigStore as ``schema/<group>`` (idempotent)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for group, cls in GROUPS.items():
        store.store(group="schema", name=group, node=cls, package=group)


register()

__all__ = [
    "AGGREGATIONS", "CONSTRAINT_MODES", "DPOConfig", "GROUPS", "LOSS_TYPES", "METHODS", "MethodConfig", "PENALTIES",
    "PPOConfig", "RENAMED", "RESCALES", "SCALES",
    "STAGES", "AcceptanceThresholds", "AlarmThresholds", "Config", "DataConfig", "EvalConfig", "EvaluateConfig",
    "GRPOConfig", "ModelConfig", "RewardConfig", "RewardDataConfig", "RewardModelConfig", "ScoreConfig",
    "ShapingConfig", "TrainConfig", "WarmStartConfig", "help_of", "option", "register",
]  # fmt: skip
