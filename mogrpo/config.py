"""Checks of the composed config that run before any model or data loads.

Every mistake raises :class:`ConfigError` naming the key, so ``python -m mogrpo.train grpo.G=1``
fails in milliseconds with ``grpo.G must be an integer >= 2, got 1`` instead of after a model load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mogrpo.errors import ConfigError
from mogrpo.grpo import (
    AGGREGATIONS,
    CONSTRAINT_MODES,
    LOSS_TYPES,
    RESCALES,
    SCALES,
    ShapingConfig,
    ShapingConfigError,
)
from mogrpo.warm_start import WarmStartConfig, WarmStartConfigError

STAGES = ("reward", "grpo", "eval", "all")
REWARD_AGGREGATIONS = (*AGGREGATIONS, "constrained")


def _get(cfg: DictConfig, key: str, default=None):
    return OmegaConf.select(cfg, key, default=default)


def reward_weights(reward_cfg: Mapping | DictConfig) -> list[float]:
    """The aspect weights in aspect order, from a mapping aspect -> weight or a list.

    Raises ConfigError for an unknown aspect name or a list of the wrong length.
    """
    aspects = list(reward_cfg["aspects"])
    weights = reward_cfg["weights"]
    if isinstance(weights, Mapping | DictConfig):
        unknown = [k for k in weights if k not in aspects]
        if unknown:
            raise ConfigError(
                "reward.weights", f"weight given for aspect(s) {unknown} that do not exist; aspects are {aspects}"
            )
        values = [weights.get(a, 0.0) for a in aspects]
    elif isinstance(weights, Sequence) or OmegaConf.is_list(weights):
        values = list(weights)
        if len(values) != len(aspects):
            raise ConfigError(
                "reward.weights", f"{len(values)} weights for {len(aspects)} aspects {aspects}; give one per aspect"
            )
    else:
        raise ConfigError("reward.weights", f"must be a mapping aspect -> weight or a list, got {weights!r}")
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError) as err:
        raise ConfigError("reward.weights", f"weights must be numbers, got {values}") from err
    return values


def check_reward(cfg: DictConfig) -> None:
    reward = cfg.reward
    aspects = list(reward.aspects)
    if not aspects:
        raise ConfigError("reward.aspects", "needs at least one aspect")
    if len(set(aspects)) != len(aspects):
        raise ConfigError("reward.aspects", f"aspect names must be unique, got {aspects}")
    weights = reward_weights(reward)
    if all(w == 0 for w in weights) and reward.aggregation != "constrained":
        raise ConfigError("reward.weights", "all weights are 0: the reward would carry no signal")
    if reward.aggregation not in REWARD_AGGREGATIONS:
        raise ConfigError("reward.aggregation", f"must be one of {REWARD_AGGREGATIONS}, got {reward.aggregation!r}")
    if reward.aggregation == "constrained":
        if reward.constraint.aspect not in aspects:
            raise ConfigError("reward.constraint.aspect", f"{reward.constraint.aspect!r} is not one of {aspects}")
        if not 0 <= reward.constraint.threshold <= 1:
            raise ConfigError("reward.constraint.threshold", f"must be in [0, 1], got {reward.constraint.threshold}")
        for key in ("lambda_init", "lambda_lr"):
            value = reward.constraint.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ConfigError(f"reward.constraint.{key}", f"must be a number >= 0, got {value!r}")
    check_ensemble(reward.get("ensemble"))
    constraint = reward.get("constraint")  # checked even when unused, so a typo never passes silently
    if constraint is not None:
        mode, rescale = constraint.get("mode", "reward_weights"), constraint.get("rescale", "sum")
        if mode not in CONSTRAINT_MODES:
            raise ConfigError("reward.constraint.mode", f"must be one of {CONSTRAINT_MODES}, got {mode!r}")
        if rescale not in RESCALES:
            raise ConfigError("reward.constraint.rescale", f"must be one of {RESCALES}, got {rescale!r}")


def check_ensemble(ensemble) -> None:
    """``reward.ensemble``: saved regressor directories that exist, and k >= 0."""
    if ensemble is None:
        return
    checkpoints = ensemble.get("checkpoints") or []
    if isinstance(checkpoints, str) or not (OmegaConf.is_list(checkpoints) or isinstance(checkpoints, Sequence)):
        raise ConfigError("reward.ensemble.checkpoints", f"must be a list of regressor directories, got {checkpoints!r}")
    for i, path in enumerate(checkpoints):
        if not Path(str(path)).is_dir():
            raise ConfigError(f"reward.ensemble.checkpoints.{i}", f"{path} is not a directory (a saved regressor)")
    k = ensemble.get("k", 1.0)
    if isinstance(k, bool) or not isinstance(k, int | float) or not k >= 0:
        raise ConfigError("reward.ensemble.k", f"must be a number >= 0, got {k!r}")


def check_grpo(cfg: DictConfig) -> None:
    g = cfg.grpo
    G = g.G
    if not isinstance(G, int) or isinstance(G, bool) or G < 2:
        raise ConfigError("grpo.G", f"must be an integer >= 2 (a group needs two completions to compare), got {G!r}")
    if not isinstance(g.batch_size, int) or g.batch_size < G or g.batch_size % G:
        raise ConfigError(
            "grpo.batch_size",
            f"{g.batch_size} completions per step do not fit whole groups of G={G}: "
            f"prompts per step = batch_size / G must be a whole number >= 1 (try grpo.batch_size={max(G, G * round((g.batch_size or G) / G))})",
        )
    mb = _get(cfg, "grpo.micro_batch_size")
    if mb is not None and (not isinstance(mb, int) or mb < 1 or g.batch_size % mb):
        raise ConfigError("grpo.micro_batch_size", f"must divide grpo.batch_size={g.batch_size}, got {mb}")
    if g.loss_type not in LOSS_TYPES:
        raise ConfigError("grpo.loss_type", f"must be one of {LOSS_TYPES}, got {g.loss_type!r}")
    if g.scale not in SCALES:
        raise ConfigError("grpo.scale", f"must be one of {SCALES}, got {g.scale!r}")
    if g.kl.beta < 0:
        raise ConfigError("grpo.kl.beta", f"must be >= 0, got {g.kl.beta}")
    if g.num_iterations < 1:
        raise ConfigError("grpo.num_iterations", f"must be >= 1, got {g.num_iterations}")
    if g.max_steps < 1:
        raise ConfigError("grpo.max_steps", f"must be >= 1, got {g.max_steps}")
    if g.clip.low < 0 or g.clip.high < 0:
        raise ConfigError("grpo.clip", f"clip.low and clip.high must be >= 0, got {g.clip.low}, {g.clip.high}")
    if g.zero_std not in ("keep", "mask"):
        raise ConfigError("grpo.zero_std", f"must be 'keep' or 'mask', got {g.zero_std!r}")
    try:
        ShapingConfig.from_config(g.get("shaping"))
    except ShapingConfigError as err:
        raise ConfigError(f"grpo.shaping.{err.key}", err.message) from None
    gen = g.generation
    if gen.temperature <= 0:
        raise ConfigError("grpo.generation.temperature", f"must be > 0 (GRPO samples), got {gen.temperature}")
    if not 0 < gen.top_p <= 1:
        raise ConfigError("grpo.generation.top_p", f"must be in (0, 1], got {gen.top_p}")
    if gen.max_new_tokens < 1:
        raise ConfigError("grpo.generation.max_new_tokens", f"must be >= 1, got {gen.max_new_tokens}")


def warm_start_settings(cfg: DictConfig) -> WarmStartConfig:
    """``grpo.warm_start`` as a checked :class:`~mogrpo.warm_start.WarmStartConfig` (absent: off); a bad value
    is a ConfigError naming its key, e.g. ``grpo.warm_start.steps``."""
    node = _get(cfg, "grpo.warm_start")
    if node is not None and not OmegaConf.is_dict(node):
        raise ConfigError("grpo.warm_start", f"must be a mapping of settings (enabled, steps, ...), got {node!r}")
    try:
        return WarmStartConfig.from_config(OmegaConf.to_container(node, resolve=True) if node is not None else None)
    except WarmStartConfigError as err:
        raise ConfigError(f"grpo.warm_start.{err.key}", err.message) from None


def check_warm_start(cfg: DictConfig) -> None:
    """The warm start's settings, and (when it is on and reads public data) that ``paths.shared_data`` exists."""
    from mogrpo.data.demonstrations import SHARED_SOURCES

    settings = warm_start_settings(cfg)
    shared = [s for s in settings.sources if s in SHARED_SOURCES]
    if not settings.enabled or not shared:
        return
    root = _get(cfg, "paths.shared_data")
    if root in (None, "", "???") or not Path(str(root)).expanduser().is_dir():
        raise ConfigError(
            "paths.shared_data",
            f"grpo.warm_start.sources {shared} read {root}, which does not exist; {SHARED_DATA_HINT}, or keep the "
            "warm start on the packaged data: grpo.warm_start.sources=[builtin]",
        )


def check_lora(cfg: DictConfig) -> None:
    lora = _get(cfg, "model.lora")
    if lora is None:
        raise ConfigError("model.lora", "GRPO trains LoRA adapters: the model entry needs a lora node")
    if not lora.get("target_modules"):
        raise ConfigError("model.lora.target_modules", "is empty: nothing would be trainable")
    if lora.get("r", 0) < 1:
        raise ConfigError("model.lora.r", f"must be >= 1, got {lora.get('r')}")


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


def check_shared_data(cfg: DictConfig) -> None:
    """The data folders the stages will read exist: a missing ``../shared/data`` fails here, before any
    model loads, naming ``paths.shared_data`` and the fix (the default reward data and prompts are
    real public data; the packaged builtin data is the offline demo, chosen on purpose only)."""
    from pathlib import Path

    groups = []
    if cfg.stage in ("reward", "all"):
        groups.append("reward_data")
    if cfg.stage in ("grpo", "all", "eval"):
        groups.append("data")
    for group in groups:
        node = _get(cfg, group)
        for root in _roots(node) if node is not None else []:
            if not Path(root).expanduser().is_dir():
                raise ConfigError(
                    "paths.shared_data", f"{group}={_get(cfg, f'{group}.name', '?')} reads {root}, which does not exist; {SHARED_DATA_HINT}"
                )


def check_config(cfg: DictConfig) -> None:
    """Validate the whole composed config (cheap; loads nothing)."""
    if cfg.stage not in STAGES:
        raise ConfigError("stage", f"must be one of {STAGES}, got {cfg.stage!r}")
    check_reward(cfg)
    if cfg.stage in ("grpo", "all"):
        check_grpo(cfg)
        check_warm_start(cfg)
        check_lora(cfg)
    for key in ("reward_data.val_fraction", "reward_data.test_fraction"):
        v = _get(cfg, key)
        if v is not None and not 0 <= v < 1:
            raise ConfigError(key, f"must be in [0, 1), got {v}")
    check_shared_data(cfg)
