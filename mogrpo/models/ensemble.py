"""A conservative ensemble of reward regressors: the GRPO reward is mean - k std over M regressors.

``reward.ensemble.checkpoints`` names saved regressor directories (``<run>/reward_model`` of runs
trained with other seeds, e.g. ``python -m mogrpo.train --multirun stage=reward seed=1,2``); the GRPO
stage scores with the run's own regressor and those, through :class:`EnsembleRegressor`, which reads
like one regressor (``aspects``, ``score``) to :class:`~mogrpo.modules.grpo_module.GRPOModule`. The
formula and its reason are in :mod:`mogrpo.grpo.shaping` (``conservative_scores``). Evaluation keeps
the run's own regressor alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mogrpo.grpo.shaping import conservative_scores


class EnsembleRegressor(nn.Module):
    """M >= 2 regressors over the same aspects; ``score`` gives ``mean - k std`` per aspect.

    After each ``score`` call, ``last_std`` holds the members' spread ``[N, K]`` (logged as
    ``train/reward_ensemble_std``: a rise says the policy drifts where the reward models disagree).
    """

    def __init__(self, members: Sequence[nn.Module], k: float = 1.0):
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 regressors, got {len(members)}")
        aspects = [list(m.aspects) for m in members]
        if any(a != aspects[0] for a in aspects):
            raise ValueError(f"the ensemble's regressors score different aspects: {aspects}")
        self.members = nn.ModuleList(members)
        self.aspects = aspects[0]
        self.k = float(k)
        self.last_std: torch.Tensor | None = None

    def score(self, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Conservative scores ``[N, K]`` (float32, on CPU)."""
        samples = torch.stack([m.score(prompts, responses, batch_size) for m in self.members])
        self.last_std = samples.std(dim=0)
        return conservative_scores(samples, self.k)
