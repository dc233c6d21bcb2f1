"""The parts of a step that PPO and online DPO share with GRPO: sample, score, and log the step.

:func:`sample_and_score` is steps 1-3 of :class:`~mogrpo.modules.grpo_module.GRPOModule`'s step (the
``reward.schedule`` weights of this batch, the rollout of ``G`` answers per prompt, the frozen regressor's
``[N, K]`` scores, the aggregate reward with the shaping penalties), with the module's own helpers;
:func:`finish_step` is its steps 6 and 7 (statistics over every rank, the metric names of
:mod:`mogrpo.modules.step_metrics`, the constraint's dual ascent (:func:`dual_ascent`), ``log_dict``,
``history``, ``last_rollout``). The methods differ only in what lies between: how the reward becomes a loss.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from mogrpo.grpo import constraint_stats, update_lagrange_multiplier, weighted_reward
from mogrpo.grpo.schedules import schedule_metrics, scheduled
from mogrpo.modules.step_metrics import PROG_BAR, constraint_metrics, gather_statistics, step_metrics
from mogrpo.modules.strategy_ops import check_finite_on_every_rank


@dataclass
class SampledBatch:
    """One sampled, scored batch: B prompts x G answers, the answers of a prompt in consecutive rows."""

    roll: Any  # mogrpo.models.generation.Rollout
    user_prompts: list[str]  # [N] the plain prompt of each answer
    scores: torch.Tensor  # [N, K] the regressor's aspect scores
    rewards: torch.Tensor  # [N] the aspects' weighted sum (what is logged)
    shaped: torch.Tensor  # [N] the same with the shaping penalties: the scalar each method learns from
    advantages: torch.Tensor  # [N] GRPO's group-normalised advantages of ``shaped`` (what GRPO learns from)
    diagnostics: dict[str, torch.Tensor]
    n_prompts_truncated: int
    timings: dict[str, float] = field(default_factory=dict)


def sample_and_score(module, batch: list[dict]) -> SampledBatch:
    """Rollout, reward and aggregate, as GRPO's step does (``module`` is a GRPOModule or a subclass)."""
    G = module.config.G
    # reward.schedule, by sampled batch (PPO's global_step counts its optimiser steps; grpo.max_steps counts batches)
    module.weights, module.threshold = scheduled(module.reward, len(module.history), module.config.max_steps)
    prompts = [row["prompt"] for row in batch]
    roll, n_truncated = module.rollout([row.get("messages") or row["prompt"] for row in batch])
    user_prompts = [p for p in prompts for _ in range(G)]
    t0 = time.perf_counter()
    scores = module.regressor.score(user_prompts, roll.texts)
    check_finite_on_every_rank(module, scores, user_prompts, roll.texts)
    score_s = time.perf_counter() - t0
    kinds = [row.get("kind") for row in batch for _ in range(G)]  # the refusal penalty's rule
    adv, shaped, diagnostics = module.step_advantages(scores, roll, kinds, user_prompts)
    rewards = weighted_reward(scores, module.current_weights()[0])
    return SampledBatch(roll, user_prompts, scores, rewards, shaped.float(), adv, diagnostics, n_truncated,
                        {"score_s": score_s})  # fmt: skip


def finish_step(module, s: SampledBatch, adv: torch.Tensor, update: dict[str, float], extra: dict[str, float]) -> dict:
    """Gather, name, log and keep the step's metrics (``extra``: the method's own, e.g. ``train/value_loss``);
    ``adv`` is one number per answer ``[N]`` (the advantage or the weight the method gave it)."""
    every = gather_statistics(module, module._n_ranks(), s.scores, s.rewards, s.roll, adv, s.n_prompts_truncated,
                              update, s.shaped, s.diagnostics)  # fmt: skip
    metrics = {**step_metrics(module.aspects, every, update, s.roll, s.timings), **extra,
               **schedule_metrics(module.aspects, module.current_weights()[0], module.threshold)}
    metrics.update(dual_ascent(module, every["scores"]))
    B = len(s.user_prompts) // module.config.G
    module.log_dict({k: v for k, v in metrics.items() if k in PROG_BAR}, on_step=True, on_epoch=False,
                    prog_bar=True, batch_size=B)  # fmt: skip
    module.log_dict({k: v for k, v in metrics.items() if k not in PROG_BAR}, on_step=True, on_epoch=False,
                    batch_size=B)  # fmt: skip
    module.history.append({"step": int(module.global_step), "batch": len(module.history) + 1, **metrics})
    local = every["local"]
    module.last_rollout = {
        "step": int(module.global_step),
        "prompts": s.user_prompts,
        "completions": s.roll.texts,
        "scores": {a: every["scores"][local, k].tolist() for k, a in enumerate(module.aspects)},
        "reward": every["rewards"][local].tolist(),
        "advantage": adv.detach().cpu().tolist(),
        "truncated": s.roll.truncated.cpu().tolist(),
    }
    return metrics


def dual_ascent(module, scores: torch.Tensor) -> dict[str, float]:
    """``reward.aggregation=constrained``: the constraint's metrics with the multiplier this step used, then one
    dual-ascent update of ``module.lagrange_multiplier`` from every rank's scores (GRPO's step 7); {} otherwise."""
    if not module.constrained:
        return {}
    c = constraint_stats(scores[:, module.constraint_index], module.threshold)
    out = constraint_metrics(module.lagrange_multiplier, c)
    module.lagrange_multiplier = update_lagrange_multiplier(module.lagrange_multiplier, c["value"], module.threshold,
                                                            float(module.constraint.lambda_lr))  # fmt: skip
    return out
