"""Which process am I, and the few collectives the stages need, with or without a process group.

Under ``trainer=ddp`` Lightning starts one process per device: with its default ``popen`` launcher the
children re-run ``python -m mogrpo.train <same overrides> hydra.run.dir=<parent's run dir>``; under
``torchrun`` or SLURM ``srun`` every rank is started from outside. Either way every rank runs
:func:`mogrpo.train.train` from the top, so everything that writes a file asks :func:`is_global_zero`
first, and a rank that reads what rank 0 wrote waits at the strategy's ``barrier``.

Before a Trainer has set up the process group the rank comes from the launcher's environment
(``RANK``, ``LOCAL_RANK``, ``SLURM_PROCID``: Lightning's ``rank_zero_only.rank``); afterwards from
``torch.distributed``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities.rank_zero import rank_zero_only


def _initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def global_rank() -> int:
    """This process's rank among all processes of the job (0 without a process group or launcher)."""
    if _initialized():
        return int(torch.distributed.get_rank())
    return int(getattr(rank_zero_only, "rank", 0) or 0)


def world_size() -> int:
    """The number of processes of the job (``WORLD_SIZE`` before the process group exists; else 1)."""
    if _initialized():
        return int(torch.distributed.get_world_size())
    return int(os.environ.get("WORLD_SIZE", 1))


def is_global_zero() -> bool:
    """True in the one process that writes the run's files (summary, adapter, history, checkpoints)."""
    return global_rank() == 0


def gather_rows(x: torch.Tensor, all_gather: Callable[[torch.Tensor], torch.Tensor], n_ranks: int) -> torch.Tensor:
    """Concatenate every rank's ``x`` along dim 0: ``[N, ...]`` -> ``[n_ranks * N, ...]`` (rank order).

    ``all_gather`` is ``LightningModule.all_gather`` (``[N, ...]`` -> ``[n_ranks, N, ...]``); every rank
    must pass the same shape. With one rank ``x`` comes back as it is.
    """
    if n_ranks <= 1:
        return x
    return all_gather(x).reshape(-1, *x.shape[1:])


def mean_across_ranks(
    values: Mapping[str, float],
    reduce: Callable[..., torch.Tensor],
    n_ranks: int,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """The mean over ranks of each value, in one collective.

    ``reduce`` is ``strategy.reduce`` (called with ``reduce_op="mean"``); ``device`` is the rank's device
    (NCCL reduces CUDA tensors only).
    """
    if n_ranks <= 1 or not values:
        return dict(values)
    keys = list(values)
    stacked = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    reduced = reduce(stacked, reduce_op="mean")
    return {k: float(v) for k, v in zip(keys, reduced.cpu().tolist())}


def seed_rank(seed: int, rank: int) -> None:
    """Seed python, numpy and torch with ``seed + rank`` (each rank samples different completions)."""
    s = int(seed) + int(rank)
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)


class RankOffsetSeed(Callback):
    """At ``fit`` start in a job of several processes, reseed each rank with ``seed + global_rank``.

    Every rank starts from ``seed_everything(seed)``; without an offset every rank would draw the same
    random numbers for its sampling. Single-process runs are left untouched (their RNG stream stays
    what it was). A resumed run restores the checkpoint's per-rank RNG states afterwards
    (``on_train_start`` of :class:`mogrpo.utils.checkpoint.GRPOCheckpoint`).
    """

    def __init__(self, seed: int):
        self.seed = int(seed)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.world_size > 1:
            seed_rank(self.seed, trainer.global_rank)
