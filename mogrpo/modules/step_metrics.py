"""The metrics of one GRPO step: :func:`gather_statistics` collects them over every rank, :func:`step_metrics`
names them.

Names (stable: history files, W&B panels and ``mogrpo.summarize`` read them):

- ``train/*``: loss, reward (the aspects' weighted sum, no shaping), group statistics, KL, lengths, ...
- ``reward/<aspect>``: the mean regressor score of each aspect
- ``train/shaped_reward_mean``: the reward with the active shaping penalties (``grpo.shaping``)
- ``train/penalty/<name>``: the batch mean of each shaping penalty in [0, 1], active or not
- ``train/reward_ensemble_std``: with ``reward.ensemble``, the mean spread of the regressors' scores
- ``train/lagrange_multiplier``, ``train/constraint_mean``, ``train/constraint_slack``,
  ``train/constraint_violation_rate``: ``reward.aggregation=constrained`` only (the lambda this step used)
- ``train/weight/<aspect>``, ``train/constraint_threshold``: the weights the advantages used this step and,
  constrained, the threshold (``reward.schedule``: :func:`mogrpo.grpo.schedules.schedule_metrics`)
- ``time/*``: wall time of each part of the step
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from mogrpo.grpo import group_stats

PROG_BAR = ("train/loss", "train/reward_mean", "train/kl")


def gather_statistics(
    module, n_ranks: int, scores: torch.Tensor, rewards: torch.Tensor, roll, adv: torch.Tensor,
    n_prompts_truncated: int, update: dict[str, float], shaped: torch.Tensor, diagnostics: dict[str, torch.Tensor],
) -> dict[str, Any]:
    """The step's statistics over the completions of every rank (one process: this rank's own).

    Per-completion tensors are concatenated across ranks with ``module.all_gather`` (not ``sync_dist``:
    a mean of per-rank stds / maxima / group stats is not the statistic of the whole batch); the
    update's loss, KL, clip ratio and entropy are averaged over ranks in place (one ``reduce``).
    Every rank ends with the same numbers, so the history and the logged metrics are global.
    """
    from mogrpo.utils.distributed import gather_rows, mean_across_ranks

    n = n_ranks

    def every(x: torch.Tensor) -> torch.Tensor:
        return gather_rows(x.to(module.device), module.all_gather, n).cpu()

    keys = ("loss", "kl", "clip_ratio", "entropy")
    update.update(mean_across_ranks({k: update[k] for k in keys}, module.trainer.strategy.reduce, n, module.device))
    shaped_all = every(shaped.float())  # the reward the advantages see: its group stats tell the signal
    rank = int(module.global_rank) if n > 1 else 0
    N = rewards.shape[0]
    return {
        "scores": every(scores.float()),
        "rewards": every(rewards.float()),
        "shaped": shaped_all,
        "diagnostics": {name: every(x.float()) for name, x in diagnostics.items()},
        "stats": group_stats(shaped_all, module.config.G),
        "lengths": every(roll.lengths.float()),
        "truncated": every(roll.truncated.float()),
        "adv": every(adv.float()),
        "prompts_truncated": float(every(torch.tensor([float(n_prompts_truncated)])).sum()),
        "local": slice(rank * N, (rank + 1) * N),
    }


def step_metrics(
    aspects: Sequence[str], every: Mapping[str, Any], update: Mapping[str, float], roll, timings: Mapping[str, float]
) -> dict[str, float]:
    """The step's metrics: ``every`` from :func:`gather_statistics`, ``update`` from ``_update``, ``roll`` the rollout."""
    scores, rewards, stats, lengths = every["scores"], every["rewards"], every["stats"], every["lengths"]
    return {
        "train/loss": update["loss"],
        "train/reward_mean": float(rewards.mean()),
        "train/reward_std": float(rewards.std()),
        **{f"reward/{a}": float(scores[:, k].mean()) for k, a in enumerate(aspects)},
        "train/shaped_reward_mean": float(every["shaped"].mean()),
        **{name: float(x.mean()) for name, x in every["diagnostics"].items()},
        "train/group_std": float(stats["group_std"]),
        "train/frac_zero_std": float(stats["frac_zero_std"]),
        "train/kl": update["kl"],
        "train/clip_ratio": update["clip_ratio"],
        "train/completion_length_mean": float(lengths.mean()),
        "train/completion_length_max": float(lengths.max()),
        "train/frac_truncated": float(every["truncated"].mean()),
        "train/entropy": update["entropy"],
        "train/prompts_truncated": float(every["prompts_truncated"]),
        "train/completions": float(rewards.numel()),
        "train/advantage_abs_mean": float(every["adv"].abs().mean()),
        "train/grad_norm": update["grad_norm"],
        "train/lr": update["lr"],
        "train/gen_tokens_per_s": roll.num_tokens / max(roll.generate_s, 1e-9),
        "time/generate_s": roll.generate_s,
        **{f"time/{k}": v for k, v in timings.items()},
    }


def constraint_metrics(lam: float, stats: Mapping[str, float]) -> dict[str, float]:
    """The constrained run's metrics: the multiplier this step used and the constraint's statistics."""
    return {
        "train/lagrange_multiplier": float(lam),
        "train/constraint_mean": stats["value"],
        "train/constraint_slack": stats["slack"],
        "train/constraint_violation_rate": stats["violation_rate"],
    }
