"""PPO-RLHF on a LoRA policy as a LightningModule (the InstructGPT / TRL ``PPOTrainer`` recipe).

One ``training_step`` = one sampled batch, the same as GRPO's (``grpo.batch_size / G`` prompts x ``G``
answers, ``grpo.batch_size`` reward-model calls: :func:`~mogrpo.modules.sampled_step.sample_and_score`):

1. the aggregate multi-aspect reward s of each answer (with the shaping penalties), as in GRPO;
2. with no gradient: log pi_old and the values V_old (one forward, the value head on the last hidden
   state: :mod:`mogrpo.models.value_head`), log pi_ref (the base model, adapters disabled);
3. per-token rewards ``r_t = -kl_coef (log pi_old - log pi_ref) + s [t = last]`` and GAE(gamma, lambda)
   advantages and returns (:mod:`mogrpo.ppo`), the advantages whitened over the batch's tokens;
4. ``ppo.epochs`` passes over the batch in shuffled mini-batches of ``ppo.mini_batch_size`` answers, one
   optimiser step each, on ``clipped surrogate + vf_coef * clipped value loss``.

The LoRA parameters and the value head train, with one AdamW (the head's learning rate
``ppo.value_lr``); the base weights and the regressor stay frozen. Metrics: GRPO's names
(mogrpo/modules/step_metrics.py; ``train/kl`` is the rollout's mean k1 KL to the reference) plus
``train/value_loss``, ``train/value_clip_frac``, ``train/explained_variance``, ``train/approx_kl``,
``train/value_mean``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping

import torch

from mogrpo.configs import PPOConfig
from mogrpo.models.value_head import ValueHead, hidden_size, logprobs_and_values
from mogrpo.modules.grpo_module import GRPOModule
from mogrpo.modules.sampled_step import finish_step, sample_and_score
from mogrpo.modules.schedules import linear_warmup
from mogrpo.ppo import (
    explained_variance,
    gae,
    kl_shaped_rewards,
    masked_mean,
    masked_whiten,
    ppo_policy_loss,
    value_loss,
)


class PPOModule(GRPOModule):
    """PPO with a value head, sharing GRPO's rollout, scoring, reference pass and checkpoints.

    Args: those of :class:`GRPOModule`, and ``ppo`` (:class:`~mogrpo.configs.PPOConfig`, ``method.ppo``).
    """

    def __init__(self, policy, tokenizer, regressor, grpo, reward, ppo: PPOConfig | Mapping | None = None, **kwargs):
        super().__init__(policy, tokenizer, regressor, grpo, reward, **kwargs)
        self.ppo = PPOConfig.from_node(ppo, "method.ppo")
        self.value_head = ValueHead(hidden_size(policy))

    @property
    def mini_batch_size(self) -> int:
        return self.ppo.mini_batch_size or self.config.batch_size

    @property
    def optimizer_steps_per_batch(self) -> int:
        """Optimiser steps per sampled batch: ``epochs x batch_size / mini_batch_size`` (Lightning counts these)."""
        return self.ppo.epochs * -(-self.config.batch_size // self.mini_batch_size)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [*super().trainable_parameters(), *self.value_head.parameters()]

    def configure_optimizers(self):
        lora = super().trainable_parameters()
        if not lora:
            raise ValueError("model.lora.target_modules: the policy has no trainable parameter")
        optimizer = self.config.make_optimizer(lora)
        head = {"params": list(self.value_head.parameters())}
        if self.ppo.value_lr is not None:
            head["lr"] = float(self.ppo.value_lr)
        optimizer.add_param_group(head)
        warmup = functools.partial(linear_warmup, warmup_steps=self.config.warmup_steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    @torch.no_grad()
    def rollout_values(self, input_ids, attention_mask, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log pi_old, V_old)`` of the sampled tokens, ``[N, T]`` each, in eval mode."""
        was_training = self.policy.training
        self.policy.eval()
        try:
            return logprobs_and_values(self.policy, self.value_head, input_ids, attention_mask, T, self._temperature)
        finally:
            self.policy.train(was_training)

    def training_step(self, batch: list[dict], batch_idx: int) -> None:
        p = self.ppo
        s = sample_and_score(self, batch)
        roll = s.roll
        input_ids, attention_mask, mask = roll.input_ids, roll.attention_mask, roll.completion_mask
        T = mask.shape[1]
        t0 = time.perf_counter()
        old_logp, old_values = self.rollout_values(input_ids, attention_mask, T)
        ref_logp = self.compute_ref_logprobs(input_ids, attention_mask, T) if p.kl_coef > 0 else old_logp
        s.timings["logprob_s"] = time.perf_counter() - t0
        rewards, kl = kl_shaped_rewards(s.shaped.to(self.device), old_logp, ref_logp, mask, float(p.kl_coef))
        adv, returns = gae(rewards, old_values, mask, float(p.gamma), float(p.lam))
        if p.whiten_advantages:
            adv = masked_whiten(adv, mask)
        t0 = time.perf_counter()
        update, extra = self._ppo_update(input_ids, attention_mask, mask, old_logp, old_values, adv, returns)
        s.timings["update_s"] = time.perf_counter() - t0
        update["kl"] = float(masked_mean(kl, mask))
        extra["train/explained_variance"] = float(explained_variance(old_values, returns, mask))
        extra["train/value_mean"] = float(masked_mean(old_values, mask))
        seq_adv = (adv * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)  # one number per answer, for the logs
        finish_step(self, s, seq_adv, update, extra)

    def _ppo_update(self, input_ids, attention_mask, mask, old_logp, old_values, adv, returns):
        """``epochs`` x mini-batches of optimiser steps; returns GRPO's update dict and PPO's own metrics."""
        p = self.ppo
        opt, scheduler = self.optimizers(), self.lr_schedulers()
        params = self.trainable_parameters()
        N, mb = input_ids.shape[0], self.mini_batch_size
        lr = float(opt.param_groups[0]["lr"])
        sums = {"loss": 0.0, "clip_ratio": 0.0, "value_loss": 0.0, "value_clip_frac": 0.0, "approx_kl": 0.0,
                "grad_norm": 0.0}  # fmt: skip
        entropy = entropy_tokens = 0.0
        n = 0
        self.policy.train()
        for epoch in range(p.epochs):
            order = torch.randperm(N, device=input_ids.device)
            for start in range(0, N, mb):
                i = order[start : start + mb]
                out = logprobs_and_values(self.policy, self.value_head, input_ids[i], attention_mask[i], mask.shape[1],
                                          self._temperature, return_entropy=epoch == 0)  # fmt: skip
                logp, values = out[0], out[1]
                pg, pm = ppo_policy_loss(logp, old_logp[i], adv[i], mask[i], float(p.clip))
                vl, vm = value_loss(values, old_values[i], returns[i], mask[i], float(p.value_clip))
                loss = pg + float(p.vf_coef) * vl
                self.manual_backward(loss)
                grads = [q.grad for q in params if q.grad is not None]
                if grads:
                    sums["grad_norm"] += float(torch.nn.utils.get_total_norm(grads))
                if self.config.max_grad_norm:
                    self.clip_gradients(opt, gradient_clip_val=float(self.config.max_grad_norm),
                                        gradient_clip_algorithm="norm")  # fmt: skip
                opt.step()
                opt.zero_grad()
                scheduler.step()
                n += 1
                sums["loss"] += float(loss.detach())
                sums["clip_ratio"] += float(pm["clip_ratio"])
                sums["approx_kl"] += float(pm["approx_kl"])
                sums["value_loss"] += float(vl.detach())
                sums["value_clip_frac"] += float(vm["clip_frac"])
                if epoch == 0:
                    cm = mask[i].to(out[2].dtype)
                    entropy += float((out[2] * cm).sum())
                    entropy_tokens += float(cm.sum())
        mean = {k: v / max(n, 1) for k, v in sums.items()}
        update = {"loss": mean["loss"], "kl": 0.0, "clip_ratio": mean["clip_ratio"],
                  "entropy": entropy / max(entropy_tokens, 1.0), "grad_norm": mean["grad_norm"], "lr": lr}  # fmt: skip
        extra = {f"train/{k}": mean[k] for k in ("value_loss", "value_clip_frac", "approx_kl")}
        return update, extra
