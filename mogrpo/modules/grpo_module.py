"""GRPO on a LoRA policy as a LightningModule (manual optimisation).

One ``training_step`` = one sampled batch of B prompts x G completions (DeepSeekMath, alg. 1):

1. rollout: chat template, left-pad/-truncate, ``generate`` G completions per prompt (no grad);
2. reward: the frozen regressor scores every (user prompt, completion) -> ``[N, K]``;
3. advantages from the K aspect scores and the active shaping penalties (``mogrpo.grpo.advantages``,
   ``mogrpo.grpo.shaping``; for ``constrained`` the constrained aspect is weighted by the Lagrange
   multiplier, as scalarised rewards or advantages (``mogrpo.grpo.constraint``), updated by dual ascent);
4. old log-probs (only when ``num_iterations > 1``) and reference log-probs (only when beta > 0,
   the same model with its adapters disabled); rollouts in another dtype (``grpo.generation.dtype``)
   are reweighted by the truncated importance ratio (mogrpo/modules/rollout_correction.py);
5. ``num_iterations`` optimiser steps, each accumulating micro-batches of ``micro_batch_size``
   completions, with clipped gradients and a linear warm-up schedule.

The settings arrive as typed configs (:class:`~mogrpo.configs.GRPOConfig`, :class:`~mogrpo.configs.RewardConfig`):
the module does not know where they sit in the config tree.

Every step's metrics are logged (``train/*``, ``reward/<aspect>``, ``time/*``: mogrpo/modules/step_metrics.py)
and kept in ``history``; the last rollout is kept in ``last_rollout`` for completion tables.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule

from mogrpo.configs import GRPOConfig, RewardConfig
from mogrpo.errors import ConfigError, RewardError  # noqa: F401  (both: what a bad config / score raises)
from mogrpo.grpo import (
    advantages,
    constrained_advantages,
    lagrangian_weights,
    penalties,
    policy_loss,
    weighted_reward,
    with_penalties,
)
from mogrpo.grpo.loss import micro_batch_weight
from mogrpo.metrics.refusal import refusal_labels
from mogrpo.models.generation import Rollout, generate_group
from mogrpo.models.logprobs import reference_logprobs, token_logprobs
from mogrpo.models.policy import chat_prompts, disable_dropout, encode_prompts
from mogrpo.modules.rollout_correction import RolloutCorrection
from mogrpo.modules.sampled_step import finish_step, sample_and_score
from mogrpo.modules.schedules import linear_warmup
from mogrpo.modules.strategy_ops import clip_gradient_norm, step_tokens
from mogrpo.utils.checkpoint import check_trainable_keys
from mogrpo.utils.distributed import gather_rows
from mogrpo.utils.precision import resolve_rollout_dtype

log = logging.getLogger(__name__)


class GRPOModule(LightningModule):
    """GRPO with LoRA adapters on a frozen base, rewarded by a frozen multi-aspect regressor.

    Args:
        policy: the peft-wrapped causal LM (only its LoRA parameters train).
        tokenizer: the policy's tokenizer (left padding).
        regressor: a :class:`~mogrpo.models.regressor.MultiAspectRegressor` (kept frozen, eval mode).
        grpo: the GRPO settings (a node of the ``grpo`` group is checked into one).
        reward: aspects, weights, aggregation, constraint (likewise for a ``reward`` node).
        max_prompt_length: prompts over this many tokens are cut from the left (``model.max_prompt_length``).
        system_prompt: added before each user prompt (``data.system_prompt``).
        run_dir: where ``bad_reward.jsonl`` goes if the regressor returns NaN/inf.
    """

    def __init__(
        self,
        policy,
        tokenizer,
        regressor,
        grpo: GRPOConfig | Mapping,
        reward: RewardConfig | Mapping,
        max_prompt_length: int = 256,
        system_prompt: str | None = None,
        run_dir: str | Path | None = None,
    ):
        super().__init__()
        self.automatic_optimization = False
        self.strict_loading = False  # checkpoints hold only the LoRA weights
        self.policy = policy.train()  # HF models load in eval mode; Lightning no longer switches them
        self.tokenizer = tokenizer
        self.regressor = regressor.eval().requires_grad_(False)
        self.config = GRPOConfig.from_node(grpo, GRPOConfig.KEY)
        self.reward = reward = RewardConfig.from_node(reward, RewardConfig.KEY)
        self.aspects = list(reward.aspects)
        if list(regressor.aspects) != self.aspects:
            raise ValueError(
                f"reward.aspects {self.aspects} differ from the regressor's aspects {list(regressor.aspects)}"
            )
        self.weights = reward.weight_list  # the active ones: reward.schedule moves them each step
        self.threshold = float(reward.constraint.threshold) if reward.constrained else None
        self.aggregation = reward.aggregation
        self.constrained = reward.constrained
        self.constraint = reward.constraint if self.constrained else None
        self.constraint_index = reward.constraint_index if self.constrained else None
        self.lagrange_multiplier = float(reward.constraint.lambda_init) if self.constrained else None
        self.shaping = self.config.shaping
        self.max_prompt_length = int(max_prompt_length)
        self.system_prompt = system_prompt
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.history: list[dict[str, Any]] = []
        self.last_rollout: dict[str, Any] | None = None
        # the KL reference's LoRA weights (grpo.kl.reference=warm_start); None: the base model
        self.reference_adapter: dict[str, torch.Tensor] | None = None
        if self.config.disable_dropout and disable_dropout(self.policy):
            log.info("grpo.disable_dropout: the policy's dropout switched off (old log-probs see none either)")
        self._rollout_dtype: tuple[torch.dtype | None] | None = None  # resolved at the first rollout

    # ------------------------------------------------------------------ modes and optimiser
    def train(self, mode: bool = True):
        """Lightning switches modes; the reward regressor always stays in eval mode."""
        super().train(mode)
        self.regressor.eval()
        return self

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.policy.parameters() if p.requires_grad]

    def configure_optimizers(self):
        params = self.trainable_parameters()
        if not params:
            raise ValueError("model.lora.target_modules: the policy has no trainable parameter")
        optimizer = self.config.make_optimizer(params)
        warmup = functools.partial(linear_warmup, warmup_steps=self.config.warmup_steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ------------------------------------------------------------------ pieces of a step
    def current_weights(self) -> tuple[list[float], str]:
        """The aspect weights and the aggregation the advantages use at this step."""
        if self.constrained:
            w = lagrangian_weights(self.weights, self.constraint_index, self.lagrange_multiplier)
            return w.tolist(), "sum_then_normalize" if self.constraint.mode == "reward_weights" else "normalize_then_sum"
        return self.weights, self.aggregation

    def step_advantages(
        self, scores: torch.Tensor, roll: Rollout, kinds: Sequence[str | None] | None = None,
        prompts: Sequence[str] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """``(advantages, shaped reward, {metric: [N]})``: the aspect scores with the active shaping penalties as
        extra columns (mogrpo/grpo/shaping.py), aggregated as configured (constrained: mogrpo/grpo/constraint.py);
        the per-completion diagnostics are every penalty and, for an ensemble, the members' spread. ``kinds``:
        each completion's prompt kind (adversarial / benign / None), for the refusal penalty; ``prompts``: each
        completion's prompt, for its grader's non-answer check (mogrpo/metrics/refusal.py)."""
        g = self.config
        marked = self.shaping.refusal_non_answer > 0
        labels = refusal_labels(roll.texts, prompts, mark_non_answer=marked) if kinds is not None else None
        if kinds is None and "refusal" in self.shaping.active:
            raise ValueError("grpo.shaping.refusal is on but the step got no prompt kinds")
        pens = penalties(self.shaping, roll.texts, roll.lengths, g.generation.max_new_tokens, labels, kinds)
        cols, w = with_penalties(scores, self.weights, self.shaping, pens)
        every = None  # scale=batch under DDP: the std over every rank's rows, as TRL (rewards gathered first)
        if g.scale == "batch" and self._n_ranks() > 1:
            every = gather_rows(cols.float().to(self.device), self.all_gather, self._n_ranks()).cpu()
        if self.constrained:
            c = self.constraint
            adv = constrained_advantages(cols, w, self.constraint_index, self.lagrange_multiplier, g.G, c.mode,
                                         g.scale, float(g.advantage_eps), c.rescale, every)  # fmt: skip
            w = lagrangian_weights(w, self.constraint_index, self.lagrange_multiplier).tolist()
        else:
            adv = advantages(cols, w, g.G, self.aggregation, g.scale, float(g.advantage_eps), every)
        diagnostics = {f"train/penalty/{name}": p for name, p in pens.items()}
        if getattr(self.regressor, "last_std", None) is not None:  # mogrpo/models/ensemble.py
            diagnostics["train/reward_ensemble_std"] = self.regressor.last_std.mean(dim=1)
        return adv, weighted_reward(cols, w), diagnostics

    @property
    def rollout_dtype(self) -> torch.dtype | None:
        """The dtype rollouts run in (``grpo.generation.dtype`` resolved once, logged; None = the policy's own)."""
        if self._rollout_dtype is None:
            own = next(p for n, p in self.policy.named_parameters() if "lora_" not in n).dtype
            self._rollout_dtype = (resolve_rollout_dtype(self.config.generation.dtype, own, self.device.type),)
        return self._rollout_dtype[0]

    def rollout(self, prompts: Sequence[str | Sequence[Mapping]]) -> tuple[Rollout, int]:
        """G sampled completions per prompt (a user prompt or its chat messages, see ``chat_prompts``);
        also the number of prompts cut to ``max_prompt_length``. In another dtype (``rollout_dtype``) the
        sampler's log-probs come back too, for the rollout correction."""
        texts = chat_prompts(self.tokenizer, prompts, self.system_prompt)
        ids, mask, n_truncated = encode_prompts(self.tokenizer, texts, self.max_prompt_length)
        dtype = self.rollout_dtype
        roll = generate_group(
            self.policy, self.tokenizer, ids.to(self.device), mask.to(self.device), self.config.G,
            self.config.generation.to_dict(), dtype=dtype,
            return_logprobs=dtype is not None and self.config.rollout_correction.enabled,
        )  # fmt: skip
        return roll, n_truncated

    def _chunks(self, n: int) -> list[slice]:
        mb = self.config.micro_batch_size or n
        return [slice(s, min(s + mb, n)) for s in range(0, n, mb)]

    def _group_size(self, n: int) -> int:
        """G when every micro-batch holds whole groups (each prompt's forward is then shared by its G
        completions, see ``token_logprobs``), else 1."""
        G = self.config.G
        whole = all(s.start % G == 0 and (s.stop - s.start) % G == 0 for s in self._chunks(n))
        return G if whole else 1

    @torch.no_grad()
    def _frozen_logprobs(self, logprobs, input_ids: torch.Tensor, attention_mask: torch.Tensor, T: int) -> torch.Tensor:
        """``logprobs(policy, ids, mask, T, temperature, group_size=G)`` over the micro-batches, in eval mode."""
        was_training = self.policy.training
        G = self._group_size(input_ids.shape[0])
        self.policy.eval()
        try:
            return torch.cat([logprobs(self.policy, input_ids[s], attention_mask[s], T, self._temperature, group_size=G)
                              for s in self._chunks(input_ids.shape[0])])  # fmt: skip
        finally:
            self.policy.train(was_training)

    def compute_old_logprobs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, T: int) -> torch.Tensor:
        """log pi_old of the sampled tokens (the policy before this batch's updates), ``[N, T]``."""
        return self._frozen_logprobs(token_logprobs, input_ids, attention_mask, T)

    def compute_ref_logprobs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, T: int) -> torch.Tensor:
        """log pi_ref of the sampled tokens, ``[N, T]``: the base model (adapters disabled), or the adapter in
        ``reference_adapter`` (``grpo.kl.reference=warm_start``: set by mogrpo/stages/grpo.py)."""
        ref = functools.partial(reference_logprobs, adapter=self.reference_adapter)
        return self._frozen_logprobs(ref, input_ids, attention_mask, T)

    @property
    def _temperature(self) -> float:
        return float(self.config.generation.temperature)

    # ------------------------------------------------------------------ several processes (DDP)
    def _n_ranks(self) -> int:
        return int(self.trainer.world_size) if self._trainer is not None else 1

    # ------------------------------------------------------------------ the step
    def training_step(self, batch: list[dict], batch_idx: int) -> None:
        """Steps 1-3 (rollout, reward, advantages with the shaping penalties) and 6-7 (metrics over every rank,
        dual ascent, log) are shared with PPO and DPO (mogrpo/modules/sampled_step.py); 4-5 are GRPO's."""
        g = self.config
        G, B = g.G, len(batch)
        s = sample_and_score(self, batch)
        roll, adv = s.roll, s.advantages
        no_signal = (adv.view(B, G) == 0).all(dim=1).repeat_interleave(G)  # groups that cannot teach anything
        loss_mask = roll.completion_mask.clone()
        if g.zero_std == "mask":
            loss_mask[no_signal.to(loss_mask.device)] = 0
        adv = adv.to(self.device)

        # 4. old / reference log-probs
        input_ids, attention_mask = roll.input_ids, roll.attention_mask
        T = roll.completion_ids.shape[1]
        t0 = time.perf_counter()
        old_logp = self.compute_old_logprobs(input_ids, attention_mask, T) if g.num_iterations > 1 else None
        ref_logp = self.compute_ref_logprobs(input_ids, attention_mask, T) if float(g.kl.beta) > 0 else None
        s.timings["logprob_s"] = time.perf_counter() - t0

        # 5. updates
        t0 = time.perf_counter()
        correction = (RolloutCorrection(g.rollout_correction, roll.logprobs, roll.completion_mask)
                      if roll.logprobs is not None else None)  # fmt: skip
        update = self._update(input_ids, attention_mask, roll.completion_mask, loss_mask, adv, old_logp, ref_logp,
                              correction)  # fmt: skip
        s.timings["update_s"] = time.perf_counter() - t0
        finish_step(self, s, adv, update, {})

    def _update(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        completion_mask: torch.Tensor,
        loss_mask: torch.Tensor,
        adv: torch.Tensor,
        old_logp: torch.Tensor | None,
        ref_logp: torch.Tensor | None,
        correction: RolloutCorrection | None = None,
    ) -> dict[str, float]:
        """``num_iterations`` optimiser steps on one rollout; returns averaged loss, kl, clip ratio, entropy
        (and, with a rollout ``correction``, its ratio's statistics)."""
        g = self.config
        opt = self.optimizers()
        scheduler = self.lr_schedulers()
        params = self.trainable_parameters()
        T = completion_mask.shape[1]
        active_rows = int((loss_mask.sum(dim=1) > 0).sum())
        active_tokens = float(loss_mask.sum())
        num_items = step_tokens(self, active_tokens, self._n_ranks()) if g.loss_type == "dapo" else None
        chunks = self._chunks(input_ids.shape[0])
        group_size = self._group_size(input_ids.shape[0])
        sums = {"loss": 0.0, "kl": 0.0, "clip_ratio": 0.0, "entropy": 0.0, "grad_norm": 0.0}
        kl_tokens = entropy_tokens = 0.0
        lr = float(opt.param_groups[0]["lr"])
        self.policy.train()
        for iteration in range(g.num_iterations):
            for s in chunks:
                m = loss_mask[s]
                n_tokens = float(m.sum())
                w = micro_batch_weight(g.loss_type, m.shape[0], n_tokens, active_rows, active_tokens)
                out = token_logprobs(
                    self.policy, input_ids[s], attention_mask[s], T, self._temperature, return_entropy=iteration == 0,
                    group_size=group_size,
                )
                logp, entropy = out if iteration == 0 else (out, None)
                trainer_logp = old_logp[s] if old_logp is not None else logp
                is_ratio = correction.ratio(s, trainer_logp) if correction is not None else None
                loss, lm = policy_loss(
                    logp,
                    old_logp[s] if old_logp is not None else None,
                    adv[s],
                    m,
                    ref_logp=ref_logp[s] if ref_logp is not None else None,
                    beta=float(g.kl.beta),
                    clip_low=float(g.clip.low),
                    clip_high=float(g.clip.high),
                    loss_type=g.loss_type,
                    max_completion_length=g.generation.max_new_tokens,
                    return_metrics=True,
                    is_ratio=is_ratio,
                    num_items=num_items,
                )
                self.manual_backward(loss * w)  # every rank runs every micro-batch (DDP stays in step)
                sums["loss"] += float(loss.detach()) * w
                sums["kl"] += float(lm["kl"]) * n_tokens
                sums["clip_ratio"] += float(lm["clip_ratio"]) * n_tokens
                kl_tokens += n_tokens
                if iteration == 0:
                    cm = completion_mask[s].to(entropy.dtype)
                    sums["entropy"] += float((entropy * cm).sum())
                    entropy_tokens += float(cm.sum())
            sums["grad_norm"] += clip_gradient_norm(self, opt, params, float(g.max_grad_norm or 0.0))
            opt.step()
            opt.zero_grad()
            scheduler.step()
        n_it = g.num_iterations
        return {
            "loss": sums["loss"] / n_it,
            "kl": sums["kl"] / max(kl_tokens, 1.0),
            "clip_ratio": sums["clip_ratio"] / max(kl_tokens, 1.0),
            "entropy": sums["entropy"] / max(entropy_tokens, 1.0),
            "grad_norm": sums["grad_norm"] / n_it,
            "lr": lr,
            **(correction.metrics() if correction is not None else {}),
        }

    # ------------------------------------------------------------------ checkpoints
    def trainable_keys(self) -> set[str]:
        return {name for name, p in self.named_parameters() if p.requires_grad}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep only the LoRA weights (not the frozen base or regressor), the multiplier and the history."""
        keys = self.trainable_keys()
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if k in keys}
        checkpoint["mogrpo"] = {"lagrange_multiplier": self.lagrange_multiplier, "history": list(self.history)}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_trainable_keys(set(checkpoint.get("state_dict", {})), self.trainable_keys())
        state = checkpoint.get("mogrpo", {})
        self.lagrange_multiplier = state.get("lagrange_multiplier", self.lagrange_multiplier)
        self.history = list(state.get("history", []))
