"""``model`` (conf/model/: the policy LM) and ``reward_model`` (conf/reward_model/: the reward encoder).

``spec`` is a :class:`mogrpo.models.loading.ModelSpec` node (where the weights come from), ``lora`` a
``peft.LoraConfig`` node and ``optim`` an optimiser node: ``_target_`` nodes of other libraries, kept as
mappings and built where they are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mogrpo.configs.base import Config, check_bool, check_choice, check_int, check_number, check_str, option
from mogrpo.errors import ConfigError

POOLINGS = ("mean", "cls")
#: reward_model.precision: auto (mogrpo/utils/precision.py) or one of Lightning's
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true")
SCHEDULES = ("constant", "linear")


def _mapping(name: str, value: Any, none: bool = False) -> None:
    if value is None and none:
        return
    if not isinstance(value, dict):
        raise ConfigError(name, f"must be a mapping{' or null' if none else ''}, got {value!r}")


@dataclass(frozen=True)
class ModelConfig(Config):
    """The policy: a causal LM with LoRA adapters on a frozen base."""

    KEY = "model"

    name: str = option("smollm2_135m", "the name of the model entry (conf/model/<name>.yaml)")
    spec: dict[str, Any] = option(help="where the weights come from: a ModelSpec node (source hub / local / "
                                  "packaged / tiny, name_or_path, dtype, ...)", factory=dict)
    lora: dict[str, Any] | None = option(None, "the LoRA adapters: a peft.LoraConfig node (r, lora_alpha, "
                                         "target_modules, ...); GRPO needs one")
    gradient_checkpointing: bool = option(False, "trade compute for memory on the policy's update pass")
    max_prompt_length: int = option(256, "prompts longer than this (in tokens, after the chat template) keep "
                                    "their last tokens and are counted")
    decoder_layer: str | None = option(None, "the block FSDP shards as one unit (trainer=fsdp)")
    memory_estimate_gib: float | None = option(None, "a rough memory plan at the grpo defaults (GiB), its "
                                               "arithmetic in the YAML")

    def __post_init__(self):
        _mapping("spec", self.spec)
        _mapping("lora", self.lora, none=True)
        check_bool("gradient_checkpointing", self.gradient_checkpointing)
        check_int("max_prompt_length", self.max_prompt_length, low=1)
        check_str("decoder_layer", self.decoder_layer, none=True)
        check_number("memory_estimate_gib", self.memory_estimate_gib, low=0, none=True)

    def check_lora(self) -> None:
        """GRPO trains LoRA adapters: a lora node with target modules and r >= 1 (keys below ``model``)."""
        if self.lora is None:
            raise ConfigError("lora", "GRPO trains LoRA adapters: the model entry needs a lora node")
        if not self.lora.get("target_modules"):
            raise ConfigError("lora.target_modules", "is empty: nothing would be trainable")
        r = self.lora.get("r", 0)
        if not isinstance(r, int) or isinstance(r, bool) or r < 1:
            raise ConfigError("lora.r", f"must be >= 1, got {self.lora.get('r')}")


@dataclass(frozen=True)
class RewardLossConfig(Config):
    """The two terms of the regressor's loss (mogrpo/reward/losses.py)."""

    absolute_weight: float = option(1.0, "weight of the masked MSE on absolute labels")
    pair_weight: float = option(1.0, "weight of the Bradley-Terry loss on preference rows")

    def __post_init__(self):
        check_number("absolute_weight", self.absolute_weight, low=0)
        check_number("pair_weight", self.pair_weight, low=0)
        if self.absolute_weight + self.pair_weight == 0:
            raise ConfigError("pair_weight", "absolute_weight and pair_weight are both 0: the loss would be 0")


@dataclass(frozen=True)
class RewardModelConfig(Config):
    """The multi-label reward regressor: encoder -> pooling -> K sigmoid heads, and how it trains."""

    KEY = "reward_model"

    name: str = option("minilm", "the name of the encoder entry (conf/reward_model/<name>.yaml)")
    spec: dict[str, Any] = option(help="where the encoder's weights come from: a ModelSpec node", factory=dict)
    pooling: str = option("mean", "how token states become one vector: mean | cls")
    max_length: int = option(128, "(prompt, response) pairs are cut to this many tokens (longest side first)")
    head_dropout: float = option(0.1, "dropout before the heads")
    checkpoint: str | None = option(None, "a saved regressor directory to use instead of training one")
    reuse_cached: bool = option(True, "reuse a regressor trained earlier with the same encoder, data, aspects "
                                "and seed (kept in paths.cache_dir)")
    optim: dict[str, Any] = option(help="the optimiser of the encoder: a _target_ node, _partial_: true", factory=dict)
    head_lr: float | None = option(1.0e-3, "learning rate of the K heads (null: optim's lr)")
    batch_size: int = option(32, "pairs per step")
    group_by_length: bool = option(True, "batch pairs of similar length (less padding, same data per epoch)")
    freeze_embeddings: bool = option(False, "train the transformer layers and heads, not the embeddings")
    limit_val_batches: float | None = option(None, "validation batches per epoch, or a share of them (null = all)")
    max_epochs: int = option(6, "epochs over the training split")
    loss: RewardLossConfig = option(help="the two terms of the loss", config=RewardLossConfig)
    schedule: str = option("constant", "learning-rate schedule: constant | linear (warm-up, then linear decay)")
    warmup_ratio: float = option(0.0, "linear schedule: the share of steps that warm up")
    precision: str | None = option(None, "training precision: auto = bf16-mixed where the CPU / GPU runs bf16 "
                                   "natively, else 32-true (mogrpo/utils/precision.py); or a Lightning precision "
                                   "(null: the trainer's)")

    def __post_init__(self):
        _mapping("spec", self.spec)
        check_choice("pooling", self.pooling, POOLINGS)
        check_int("max_length", self.max_length, low=1)
        check_number("head_dropout", self.head_dropout, low=0, high=1)
        check_str("checkpoint", self.checkpoint, none=True)
        check_bool("reuse_cached", self.reuse_cached)
        _mapping("optim", self.optim)
        check_number("optim.lr", self.optim.get("lr"), low=0, open_low=True)
        check_number("head_lr", self.head_lr, low=0, open_low=True, none=True)
        check_int("batch_size", self.batch_size, low=1)
        check_number("limit_val_batches", self.limit_val_batches, low=0, open_low=True, none=True)
        check_int("max_epochs", self.max_epochs, low=1)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_number("warmup_ratio", self.warmup_ratio, low=0, high=1)
        if self.precision is not None:
            check_choice("precision", self.precision, PRECISIONS)
