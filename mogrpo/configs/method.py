"""``method`` (conf/method/): which policy-optimisation method trains the LoRA adapters, and its own settings.

``grpo`` (default), ``ppo`` (PPO-RLHF, the InstructGPT / TRL ``PPOTrainer`` recipe) or ``dpo`` (offline on
preference pairs, or online on pairs the aggregate reward picks). Everything else is shared by the three:
the policy and its LoRA (``model``), the reward model and its aggregation (``reward_model``, ``reward``),
the prompts (``data``), the sampling budget and optimiser (``grpo.G``, ``grpo.batch_size``,
``grpo.max_steps``, ``grpo.optim``, ``grpo.generation``, ``grpo.max_grad_norm``), the logger, the
checkpoints and the evaluation.

The budget: one step is one sampled batch of ``grpo.batch_size`` completions (``batch_size / G`` prompts
x ``G`` answers) and ``grpo.batch_size`` reward-model calls, whatever the method; ``grpo.max_steps`` counts
these batches. PPO then takes ``ppo.epochs x batch_size / ppo.mini_batch_size`` optimiser steps on each
batch, online DPO one step on its best / worst pairs. Offline DPO samples nothing and calls no reward
model: a step is ``grpo.batch_size / G`` preference pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

from mogrpo.configs.base import Config, check_bool, check_choice, check_int, check_number, option
from mogrpo.errors import ConfigError

METHODS = ("grpo", "ppo", "dpo")
DPO_LOSS_TYPES = ("sigmoid", "ipo")
DPO_MODES = ("online", "offline")


@dataclass(frozen=True)
class PPOConfig(Config):
    """PPO-RLHF (Ouyang et al. 2022; TRL's ``PPOTrainer`` defaults): a value head, a per-token KL penalty in
    the reward, GAE and several epochs of clipped updates over each rollout, in mini-batches.

    The value head is a scalar linear layer on the policy's last hidden state (with the adapters on),
    trained with the LoRA parameters: ``hidden_size + 1`` parameters (577 for SmolLM2-135M) and no
    second network. Its cost is one hidden-state read in the policy's forward; no critic model, no
    extra activations beyond a ``[N, T]`` value tensor (mogrpo/modules/ppo_module.py).
    """

    gamma: float = option(1.0, "GAE discount, in [0, 1] (TRL: 1)")
    lam: float = option(0.95, "GAE lambda, in [0, 1] (TRL: 0.95)")
    kl_coef: float = option(0.05, "the per-token KL penalty in the reward, -kl_coef (log pi_old - log pi_ref), "
                            ">= 0 (TRL: 0.05)")
    epochs: int = option(4, "PPO epochs over each sampled batch, >= 1 (TRL's num_ppo_epochs: 4)")
    mini_batch_size: int | None = option(None, "completions per PPO mini-batch (one optimiser step each); must "
                                         "divide grpo.batch_size; null = the whole batch")
    clip: float = option(0.2, "the policy ratio is clipped to [1 - clip, 1 + clip] (TRL's cliprange: 0.2)")
    value_clip: float = option(0.2, "the value prediction stays within value_clip of its rollout value in the "
                               "clipped value loss (TRL's cliprange_value: 0.2)")
    vf_coef: float = option(0.1, "weight of the value loss in the total loss (TRL: 0.1)")
    whiten_advantages: bool = option(True, "normalise the advantages over the batch's completion tokens (TRL)")
    value_lr: float | None = option(None, "learning rate of the value head (null = grpo.optim.lr)")

    def __post_init__(self):
        check_number("gamma", self.gamma, low=0, high=1)
        check_number("lam", self.lam, low=0, high=1)
        check_number("kl_coef", self.kl_coef, low=0)
        check_int("epochs", self.epochs, low=1)
        check_int("mini_batch_size", self.mini_batch_size, low=1, none=True)
        check_number("clip", self.clip, low=0, high=1, open_low=True)
        check_number("value_clip", self.value_clip, low=0, open_low=True)
        check_number("vf_coef", self.vf_coef, low=0)
        check_bool("whiten_advantages", self.whiten_advantages)
        check_number("value_lr", self.value_lr, low=0, open_low=True, none=True)


@dataclass(frozen=True)
class DPOConfig(Config):
    """DPO (Rafailov et al. 2023) or IPO against the base model (adapters disabled) as the reference."""

    mode: str = option("online", "online: sample grpo.G >= 2 answers per prompt, the aggregate reward picks the "
                       "best as chosen and the worst as rejected (the same reward as GRPO); offline: the "
                       "preference pairs of reward_data's train split (no sampling, no reward-model call)")
    beta: float = option(0.1, "the KL strength, > 0 (TRL: 0.1)")
    loss_type: str = option("sigmoid", "sigmoid (DPO) or ipo (squared loss on length-averaged log-probs)")
    label_smoothing: float = option(0.0, "cDPO: the assumed share of flipped labels, in [0, 0.5); sigmoid only")
    min_gap: float = option(0.0, "online: a group whose best and worst rewards differ by no more than this is "
                            "a tie and trains nothing")
    max_pairs: int | None = option(None, "offline: use at most this many pairs (null = all)")

    def __post_init__(self):
        check_choice("mode", self.mode, DPO_MODES)
        check_number("beta", self.beta, low=0, open_low=True)
        check_choice("loss_type", self.loss_type, DPO_LOSS_TYPES)
        if not isinstance(self.label_smoothing, int | float) or isinstance(self.label_smoothing, bool) or not (
            0 <= self.label_smoothing < 0.5
        ):
            raise ConfigError("label_smoothing", f"must be a number in [0, 0.5), got {self.label_smoothing!r}")
        if self.label_smoothing and self.loss_type != "sigmoid":
            raise ConfigError("label_smoothing", f"applies to loss_type=sigmoid only, not {self.loss_type!r}")
        check_number("min_gap", self.min_gap, low=0)
        check_int("max_pairs", self.max_pairs, low=1, none=True)


@dataclass(frozen=True)
class MethodConfig(Config):
    """The policy-optimisation method and the settings only it reads (the shared ones are the ``grpo`` group's)."""

    KEY = "method"

    name: str = option("grpo", "grpo | ppo | dpo")
    ppo: PPOConfig = option(help="PPO-RLHF's settings (method=ppo)", config=PPOConfig)
    dpo: DPOConfig = option(help="DPO's settings (method=dpo)", config=DPOConfig)

    def __post_init__(self):
        check_choice("name", self.name, METHODS)

    def check_budget(self, G: int, batch_size: int) -> None:
        """The checks that need the shared ``grpo`` settings: PPO's mini-batches divide the batch."""
        mb = self.ppo.mini_batch_size
        if self.name == "ppo" and mb is not None and batch_size % mb:
            raise ConfigError("method.ppo.mini_batch_size", f"must divide grpo.batch_size={batch_size}, got {mb}")

    @property
    def samples(self) -> bool:
        """Whether a step samples completions and calls the reward model (all but offline DPO)."""
        return not (self.name == "dpo" and self.dpo.mode == "offline")
