"""One step's importance-sampling correction of rollouts sampled in another dtype (``grpo.generation.dtype``).

The ratio rho = pi_trainer / pi_rollout (mogrpo/grpo/importance.py) needs the trainer's log-probs before
this batch's updates: with ``num_iterations > 1`` those are the old log-probs, otherwise the update's own
first-iteration log-probs (detached), so no extra forward pass runs. Each micro-batch's ratio is computed
once, at its first iteration, and reused by the later ones.

Metrics (TRL's ``sampling/importance_sampling_ratio/*`` and ``sampling/sampling_logp_difference/*``):
``train/is_ratio_min|mean|max`` and ``train/sampling_logp_diff_mean|max`` over this rank's completion tokens
(sequence modes: over its completions).
"""

from __future__ import annotations

import torch

from mogrpo.grpo.importance import ratio_stats, rollout_is_ratio


class RolloutCorrection:
    """The ratios of one step's micro-batches; ``cfg`` a :class:`~mogrpo.configs.grpo.RolloutCorrectionConfig`."""

    def __init__(self, cfg, sampler_logp: torch.Tensor, completion_mask: torch.Tensor):
        self.cfg = cfg
        self.sampler_logp = sampler_logp
        self.mask = completion_mask
        self._ratios: dict[tuple[int, int], torch.Tensor] = {}
        self._diffs: list[torch.Tensor] = []

    def ratio(self, s: slice, trainer_logp: torch.Tensor) -> torch.Tensor:
        """rho of the micro-batch ``s`` (computed from ``trainer_logp`` the first time, then reused)."""
        key = (s.start, s.stop)
        if key not in self._ratios:
            sampler, mask = self.sampler_logp[s].to(trainer_logp.device), self.mask[s].to(trainer_logp.device)
            c = self.cfg
            self._ratios[key] = rollout_is_ratio(trainer_logp.detach(), sampler, mask, c.mode, c.clip_min, c.clip_max)
            self._diffs.append((trainer_logp.detach().float() - sampler.float())[mask.bool()].abs().cpu())
        return self._ratios[key]

    def metrics(self) -> dict[str, float]:
        keys = sorted(self._ratios)
        if not keys:
            return {}
        ratio = torch.cat([self._ratios[k].cpu() for k in keys])
        mask = torch.cat([self.mask[slice(*k)].cpu() for k in keys])
        stats = ratio_stats(ratio, mask)
        diff = torch.cat(self._diffs)
        return {
            "train/is_ratio_min": stats["min"],
            "train/is_ratio_mean": stats["mean"],
            "train/is_ratio_max": stats["max"],
            "train/sampling_logp_diff_mean": float(diff.mean()) if diff.numel() else 0.0,
            "train/sampling_logp_diff_max": float(diff.max()) if diff.numel() else 0.0,
        }
