"""DPO on a LoRA policy as a LightningModule, online (the aggregate reward picks the pairs) or offline.

Online, one ``training_step`` = one sampled batch, the same as GRPO's (``grpo.batch_size / G`` prompts x
``G`` answers, ``grpo.batch_size`` reward-model calls: :func:`~mogrpo.modules.sampled_step.sample_and_score`);
in each group the answer with the highest aggregate reward is chosen and the lowest rejected
(:func:`mogrpo.dpo.best_worst_pairs`; a tie trains nothing). Offline, a step is a batch of preference pairs
(``prompt``, ``chosen``, ``rejected``) from reward_data, encoded by the ``encode_pairs`` the stage passes.

Either way: the sequence log-probs of chosen and rejected under the policy (summed; IPO: averaged per token,
as TRL) and under the reference, the same model with its adapters disabled (no gradient, no second copy),
then :func:`mogrpo.dpo.dpo_loss` and one optimiser step. Log-probs are at temperature 1: DPO's objective is
about pi itself, not the sampling distribution. Metrics (besides GRPO's names when online):
``train/dpo_margin``, ``train/dpo_accuracy``, ``train/dpo_chosen_reward``, ``train/dpo_rejected_reward``,
``train/dpo_pairs`` (pairs that were not ties).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import torch

from mogrpo.configs import DPOConfig
from mogrpo.dpo import best_worst_pairs, dpo_loss, sequence_logps
from mogrpo.models.logprobs import reference_logprobs, token_logprobs
from mogrpo.modules.grpo_module import GRPOModule
from mogrpo.modules.sampled_step import finish_step, sample_and_score

#: encode_pairs(rows) -> (input_ids [2P, L], attention_mask [2P, L], completion_mask [2P, T]): chosen rows first
PairEncoder = Callable[[list[dict]], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


class DPOModule(GRPOModule):
    """DPO / IPO against the adapters-disabled base model, sharing GRPO's rollout, scoring and checkpoints.

    Args: those of :class:`GRPOModule`, ``dpo`` (:class:`~mogrpo.configs.DPOConfig`, ``method.dpo``) and, for
    ``dpo.mode=offline``, ``encode_pairs`` (a :data:`PairEncoder`).
    """

    def __init__(self, policy, tokenizer, regressor, grpo, reward, dpo: DPOConfig | Mapping | None = None,
                 encode_pairs: PairEncoder | None = None, **kwargs):  # fmt: skip
        super().__init__(policy, tokenizer, regressor, grpo, reward, **kwargs)
        self.dpo = DPOConfig.from_node(dpo, "method.dpo")
        if self.dpo.mode == "offline" and encode_pairs is None:
            raise ValueError("method.dpo.mode=offline needs encode_pairs (the stage builds it from reward_data)")
        self.encode_pairs = encode_pairs

    def pair_loss(self, input_ids, attention_mask, mask, weights) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """``(loss, metrics, entropy [2P, T])`` of P pairs laid out chosen rows first, then rejected."""
        d = self.dpo
        T, P = mask.shape[1], input_ids.shape[0] // 2
        with torch.no_grad():
            was_training = self.policy.training
            self.policy.eval()
            try:
                ref = reference_logprobs(self.policy, input_ids, attention_mask, T)
            finally:
                self.policy.train(was_training)
        logp, entropy = token_logprobs(self.policy, input_ids, attention_mask, T, return_entropy=True)
        average = d.loss_type == "ipo"
        seq, ref_seq = sequence_logps(logp, mask, average), sequence_logps(ref, mask, average)
        loss, metrics = dpo_loss(seq[:P], seq[P:], ref_seq[:P], ref_seq[P:], float(d.beta), d.loss_type,
                                 float(d.label_smoothing), weights.to(seq.device))  # fmt: skip
        kl = ((logp.detach() - ref) * mask).sum() / mask.sum().clamp(min=1)  # k1 KL to the reference, per token
        metrics["kl"] = kl
        return loss, metrics, entropy

    def _step(self, loss: torch.Tensor) -> tuple[float, float]:
        """One optimiser step on ``loss``; returns ``(grad_norm, lr)``."""
        opt, scheduler = self.optimizers(), self.lr_schedulers()
        lr = float(opt.param_groups[0]["lr"])
        self.policy.train()
        self.manual_backward(loss)
        grads = [p.grad for p in self.trainable_parameters() if p.grad is not None]
        norm = float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0
        if self.config.max_grad_norm:
            self.clip_gradients(opt, gradient_clip_val=float(self.config.max_grad_norm), gradient_clip_algorithm="norm")
        opt.step()  # always (a batch of ties too): every step is one sampled batch, whatever the rewards
        opt.zero_grad()
        scheduler.step()
        return norm, lr

    @staticmethod
    def _extra(metrics: dict, weights: torch.Tensor) -> dict[str, float]:
        return {
            "train/dpo_margin": float(metrics["margin"]),
            "train/dpo_accuracy": float(metrics["accuracy"]),
            "train/dpo_chosen_reward": float(metrics["chosen_reward"]),
            "train/dpo_rejected_reward": float(metrics["rejected_reward"]),
            "train/dpo_pairs": float(weights.sum()),
        }

    def training_step(self, batch: list[dict], batch_idx: int) -> None:
        if self.dpo.mode == "offline":
            return self._offline_step(batch)
        s = sample_and_score(self, batch)
        roll = s.roll
        chosen, rejected, weights = best_worst_pairs(s.shaped, self.config.G, float(self.dpo.min_gap))
        rows = torch.cat([chosen, rejected]).to(roll.input_ids.device)
        t0 = time.perf_counter()
        loss, metrics, entropy = self.pair_loss(roll.input_ids[rows], roll.attention_mask[rows],
                                                roll.completion_mask[rows], weights)  # fmt: skip
        grad_norm, lr = self._step(loss)
        s.timings["update_s"] = time.perf_counter() - t0
        mask = roll.completion_mask[rows].to(entropy.dtype)
        update = {"loss": float(loss.detach()), "kl": float(metrics["kl"]), "clip_ratio": 0.0,
                  "entropy": float((entropy * mask).sum() / mask.sum().clamp(min=1)), "grad_norm": grad_norm, "lr": lr}
        # per answer: +w for the chosen, -w for the rejected, 0 for the answers DPO did not use
        role = torch.zeros(roll.completion_ids.shape[0])
        role[chosen] += weights
        role[rejected] -= weights
        finish_step(self, s, role, update, self._extra(metrics, weights))

    def _offline_step(self, batch: list[dict]) -> None:
        t0 = time.perf_counter()
        input_ids, attention_mask, mask = (x.to(self.device) for x in self.encode_pairs(batch))
        weights = torch.ones(input_ids.shape[0] // 2)
        loss, metrics, entropy = self.pair_loss(input_ids, attention_mask, mask, weights)
        grad_norm, lr = self._step(loss)
        m = mask.to(entropy.dtype)
        out = {
            "train/loss": float(loss.detach()),
            "train/kl": float(metrics["kl"]),
            "train/entropy": float((entropy * m).sum() / m.sum().clamp(min=1)),
            "train/grad_norm": grad_norm,
            "train/lr": lr,
            "time/update_s": time.perf_counter() - t0,
            **self._extra(metrics, weights),
        }
        self.log_dict(out, on_step=True, on_epoch=False, batch_size=len(batch))
        self.history.append({"step": int(self.global_step), "batch": len(self.history) + 1, **out})
