"""``grpo`` (conf/grpo/default.yaml): the GRPO hyper-parameters, read by :class:`mogrpo.modules.grpo_module.GRPOModule`.

The defaults are conf/grpo/default.yaml's (G = 8, lr 3e-4, KL 0.04, 32 new tokens; the paper's G = 4,
lr 1e-4, no KL collapsed in our sweep: the reasons are in that file's comments). Names follow TRL's ``GRPOConfig`` where the
meaning is the same (``num_iterations``, ``loss_type``, ``max_grad_norm``); where it is not, the name
says what it is: ``advantage_eps`` is the epsilon added to the advantages' std (TRL's ``epsilon`` is the
clip range, here ``clip.low`` / ``clip.high``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mogrpo.configs.base import (
    Config,
    check_bool,
    check_choice,
    check_int,
    check_number,
    is_int,
    option,
)
from mogrpo.configs.shaping import ShapingConfig
from mogrpo.configs.warm_start import WarmStartConfig
from mogrpo.errors import ConfigError

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "gspo")
SCALES = ("group", "batch", "none")
ROLLOUT_DTYPES = ("float32", "bfloat16", "float16", "auto")
IS_MODES = ("token_truncate", "token_mask", "sequence_truncate", "sequence_mask")
ZERO_STD = ("keep", "mask")


@dataclass(frozen=True)
class ClipConfig(Config):
    """The PPO ratio clip: the ratio is kept in ``[1 - low, 1 + high]``."""

    low: float = option(0.2, "1 - low is the ratio's lower bound, in [0, 1)")
    high: float = option(0.2, "1 + high is the ratio's upper bound, >= 0 (DAPO's clip-higher: 0.28)")

    def __post_init__(self):
        if not isinstance(self.low, int | float) or isinstance(self.low, bool) or not 0 <= self.low < 1:
            raise ConfigError("low", f"must be a number in [0, 1) (the ratio's lower bound 1 - low must stay > 0), "
                              f"got {self.low!r}")  # fmt: skip
        check_number("high", self.high, low=0)


#: what ``grpo.kl.reference`` may name
KL_REFERENCES = ("base", "warm_start", "init")


@dataclass(frozen=True)
class KLConfig(Config):
    """The KL penalty against a reference policy: the base model, the warm-started one, or ``grpo.init_adapter``."""

    beta: float = option(0.04, "KL coefficient (k3 estimator); 0 = no KL and no reference pass")
    reference: str = option("base", "the reference policy: base (the base model, the adapters disabled) or "
                            "warm_start (the adapter as grpo.warm_start left it, as RLHF's SFT reference; needs "
                            "grpo.warm_start.enabled) or init (the adapter grpo.init_adapter names, e.g. an offline "
                            "DPO run's; needs grpo.init_adapter)")

    def __post_init__(self):
        if not isinstance(self.beta, int | float) or isinstance(self.beta, bool) or self.beta < 0:
            raise ConfigError("beta", f"must be >= 0, got {self.beta!r}")
        check_choice("reference", self.reference, KL_REFERENCES)


@dataclass(frozen=True)
class GenerationConfig(Config):
    """How the rollouts are sampled (mogrpo/models/generation.py ``generate_group``)."""

    max_new_tokens: int = option(32, "the completion cap L_max, in tokens")
    temperature: float = option(1.0, "sampling temperature, > 0")
    top_p: float = option(1.0, "nucleus sampling, in (0, 1] (1 = off)")
    top_k: int = option(0, "top-k filter (0 = off)")
    fast_sampling: bool = option(True, "draw tokens by one inverse-CDF search per row instead of torch.multinomial: "
                                 "the same distribution, another random stream, ~8 % faster generation on CPU")
    do_sample: bool = option(True, "sample (false: greedy, every completion of a group alike: for debugging only)")
    repetition_penalty: float = option(1.0, "HF's repetition penalty (1 = off, whatever the model's "
                                       "generation_config says)")
    min_new_tokens: int | None = option(None, "EOS is suppressed before this many tokens (null = off)")
    dtype: str | None = option(None, "the dtype rollouts run in: null = the policy's own weights, exactly the "
                               "policy the update trains; float32 | bfloat16 | float16 = a transient copy of the "
                               "model in that dtype (LoRA folded in float32 first), corrected by "
                               "grpo.rollout_correction; auto = bfloat16 where the hardware runs it natively "
                               "(CUDA with bf16, a CPU with AVX512-BF16 / AMX), else null")

    def __post_init__(self):
        if not isinstance(self.temperature, int | float) or isinstance(self.temperature, bool) or self.temperature <= 0:
            raise ConfigError("temperature", f"must be > 0 (GRPO samples), got {self.temperature!r}")
        if not isinstance(self.top_p, int | float) or isinstance(self.top_p, bool) or not 0 < self.top_p <= 1:
            raise ConfigError("top_p", f"must be in (0, 1], got {self.top_p!r}")
        if not is_int(self.max_new_tokens) or self.max_new_tokens < 1:
            raise ConfigError("max_new_tokens", f"must be >= 1, got {self.max_new_tokens!r}")
        check_int("top_k", self.top_k, low=0)
        check_bool("fast_sampling", self.fast_sampling)
        check_bool("do_sample", self.do_sample)
        check_number("repetition_penalty", self.repetition_penalty, low=0, open_low=True)
        check_int("min_new_tokens", self.min_new_tokens, low=0, none=True)
        if self.dtype is not None:
            check_choice("dtype", self.dtype, ROLLOUT_DTYPES)


@dataclass(frozen=True)
class RolloutCorrectionConfig(Config):
    """Truncated importance sampling when rollouts run in another dtype than the update (mogrpo/grpo/importance.py);
    TRL's ``vllm_importance_sampling_correction`` / ``_mode`` / ``_clip_min`` / ``_clip_max``, same defaults."""

    enabled: bool = option(True, "reweight the loss by pi_trainer / pi_rollout when grpo.generation.dtype makes "
                           "them differ (off: the rollouts are treated as on-policy)")
    mode: str = option("sequence_mask", "token_truncate | token_mask | sequence_truncate | sequence_mask: per "
                       "token or one ratio per completion; clamp to [clip_min, clip_max] or zero outside it")
    clip_min: float | None = option(None, "lower bound of the ratio (null = none)")
    clip_max: float | None = option(3.0, "upper bound of the ratio, the cap (null = none)")

    def __post_init__(self):
        check_bool("enabled", self.enabled)
        check_choice("mode", self.mode, IS_MODES)
        check_number("clip_min", self.clip_min, low=0, none=True)
        check_number("clip_max", self.clip_max, low=0, open_low=True, none=True)
        if self.clip_min is not None and self.clip_max is not None and self.clip_min >= self.clip_max:
            raise ConfigError("clip_min", f"must be < clip_max={self.clip_max}, got {self.clip_min}")
        if self.mode.endswith("truncate") and self.clip_min is None and self.clip_max is None:
            raise ConfigError("clip_max", f"mode={self.mode} needs a bound (clip_max or clip_min)")


def _default_optim() -> dict[str, Any]:
    return {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 3.0e-4, "weight_decay": 0.0,
            "betas": [0.9, 0.99]}  # fmt: skip


@dataclass(frozen=True)
class GRPOConfig(Config):
    """GRPO on a LoRA policy (DeepSeekMath alg. 1): one step = ``batch_size / G`` prompts x ``G`` completions."""

    KEY = "grpo"

    G: int = option(8, "completions sampled per prompt (the group size), >= 2")
    batch_size: int = option(16, "completions per optimizer step; prompts per step = batch_size / G. Fixed while G "
                             "varies, so a G sweep compares runs at the same sampling budget per step")
    micro_batch_size: int | None = option(None, "completions per forward/backward chunk (gradient accumulation "
                                          "inside a step); null = the whole batch")
    max_steps: int = option(80, "optimizer steps")
    num_iterations: int = option(1, "policy updates per sampled batch (> 1 reuses the batch with ratio clipping; "
                                 "old log-probs are then computed)")
    optim: dict[str, Any] = option(help="the optimiser of the LoRA parameters: a _target_ node, _partial_: true "
                                   "(lr > 0)", factory=_default_optim)
    warmup_steps: int = option(0, "linear warm-up of the learning rate over this many optimizer steps")
    max_grad_norm: float | None = option(1.0, "clip the gradient norm to this (0 or null = no clipping)")
    loss_type: str = option("grpo", "grpo (mean over sequences of the token mean), bnpo (token mean over the "
                            "batch), dr_grpo (sum / (N x max_new_tokens)), dapo (token mean over the whole step, "
                            "every rank) or gspo (grpo with one length-normalised ratio per sequence)")
    scale: str = option("group", "advantage scale: group (the group's std), batch (the batch's std) or none "
                        "(centre only, Dr. GRPO)")
    advantage_eps: float = option(1.0e-4, "added to the std the advantages are divided by")
    clip: ClipConfig = option(help="the ratio clip [1 - low, 1 + high]", config=ClipConfig)
    kl: KLConfig = option(help="the KL penalty against the reference policy", config=KLConfig)
    zero_std: str = option("keep", "groups whose G rewards are all equal: keep (advantage 0) or mask (dropped "
                           "from the loss normaliser)")
    generation: GenerationConfig = option(help="how the rollouts are sampled", config=GenerationConfig)
    rollout_correction: RolloutCorrectionConfig = option(
        help="importance sampling between rollout and trainer log-probs (grpo.generation.dtype)",
        config=RolloutCorrectionConfig)
    disable_dropout: bool = option(True, "switch every dropout of the policy off (LoRA's lora_dropout too), as "
                                   "TRL's disable_dropout: old log-probs are computed without dropout, so with "
                                   "dropout the ratio is not 1 at the first iteration and the clip acts on noise")
    log_completions_every: int = option(10, "log a completions table every this many steps (0 = never)")
    checkpoint_every: int | None = option(20, "save a resumable checkpoint every this many steps (0 or null = "
                                          "never): <run_dir>/checkpoints/step_<n>/")
    keep_checkpoints: int | None = option(None, "keep only the newest this many checkpoints (null = all)")
    shaping: ShapingConfig = option(help="penalties against reward hacking (conf/grpo/shaping/)",
                                    config=ShapingConfig)
    warm_start: WarmStartConfig = option(help="the optional supervised warm start before GRPO",
                                         config=WarmStartConfig)
    init_adapter: str | None = option(None, "start from this saved LoRA adapter (a dir with adapter_config.json, "
                                      "e.g. an offline DPO run's <run>/adapter) instead of a fresh one; it must "
                                      "have this run's model.lora (null = a fresh adapter)")

    def __post_init__(self):
        G = self.G
        if not is_int(G) or G < 2:
            raise ConfigError("G", f"must be an integer >= 2 (a group needs two completions to compare), got {G!r}")
        b = self.batch_size
        if not is_int(b) or b < G or b % G:
            hint = f" (try grpo.batch_size={max(G, G * round((b or G) / G))})" if is_int(b) else ""
            raise ConfigError("batch_size", f"{b!r} completions per step do not fit whole groups of G={G}: prompts "
                              f"per step = batch_size / G must be a whole number >= 1{hint}")  # fmt: skip
        mb = self.micro_batch_size
        if mb is not None and (not is_int(mb) or mb < 1 or b % mb):
            raise ConfigError("micro_batch_size", f"must divide grpo.batch_size={b}, got {mb!r}")
        for name in ("max_steps", "num_iterations"):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ConfigError(name, f"must be >= 1, got {value!r}")
        if not isinstance(self.optim, dict) or not self.optim.get("_target_"):
            raise ConfigError("optim", f"must be a _target_ node of an optimiser, got {self.optim!r}")
        check_number("optim.lr", self.optim.get("lr"), low=0, open_low=True)
        check_int("warmup_steps", self.warmup_steps, low=0)
        check_number("max_grad_norm", self.max_grad_norm, low=0, none=True)
        check_choice("loss_type", self.loss_type, LOSS_TYPES)
        check_choice("scale", self.scale, SCALES)
        check_number("advantage_eps", self.advantage_eps, low=0)
        if self.zero_std not in ZERO_STD:
            raise ConfigError("zero_std", f"must be 'keep' or 'mask', got {self.zero_std!r}")
        check_bool("disable_dropout", self.disable_dropout)
        check_int("log_completions_every", self.log_completions_every, low=0)
        check_int("checkpoint_every", self.checkpoint_every, low=0, none=True)
        check_int("keep_checkpoints", self.keep_checkpoints, low=1, none=True)
        if self.kl.reference == "warm_start" and not self.warm_start.enabled:
            raise ConfigError("kl.reference", "is warm_start but grpo.warm_start.enabled is false: there is no "
                              "warm-started adapter to be the reference (grpo.warm_start.enabled=true, or "
                              "grpo.kl.reference=base)")
        if self.init_adapter is not None:
            if not isinstance(self.init_adapter, str) or not self.init_adapter:
                raise ConfigError("init_adapter", f"must be a saved peft adapter's dir or null, got {self.init_adapter!r}")
            if not (Path(self.init_adapter).expanduser() / "adapter_config.json").is_file():
                raise ConfigError("init_adapter", f"{self.init_adapter} is not a saved peft adapter (no "
                                  "adapter_config.json): name a run's adapter/ dir")  # fmt: skip
        if self.kl.reference == "init" and self.init_adapter is None:
            raise ConfigError("kl.reference", "is init but grpo.init_adapter is null: there is no initial adapter to "
                              "be the reference (grpo.init_adapter=<run>/adapter, or grpo.kl.reference=base)")

    @property
    def prompts_per_step(self) -> int:
        return self.batch_size // self.G

    def make_optimizer(self, params):
        """The optimiser of ``optim`` (a ``_target_`` node) over ``params``."""
        from hydra.utils import instantiate

        return instantiate(self.optim, _partial_=True)(params)
