"""The peak memory of a policy-training stage, for comparing methods (``mogrpo.summarize``'s method table).

Sampled after every training batch: the process's resident set (``/proc/self/statm``; the process-wide
``ru_maxrss`` would not do, since a multirun's jobs share one process and an earlier job's peak would stay)
and, on CUDA, ``torch.cuda.max_memory_allocated`` (reset when training starts); :attr:`peak` holds the maxima
(the stage's ``summary.json``: ``peak_memory_mib``). The history rows stay as they were: a resumed run's
rows must equal the first run's.
"""

from __future__ import annotations

import os

import torch
from lightning.pytorch.callbacks import Callback

MIB = 1024 * 1024


def rss_mib() -> float | None:
    """The current resident set size of this process in MiB (None where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / MIB


class PeakMemory(Callback):
    """Records the RSS (and CUDA) peak over the batches of a fit; ``peak`` maps ``rss_mib`` / ``cuda_peak_mib``."""

    def __init__(self):
        self.peak: dict[str, float] = {}

    def on_train_start(self, trainer, pl_module) -> None:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = {"rss_mib": rss_mib()}
        if torch.cuda.is_available():
            now["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / MIB
        for key, value in now.items():
            if value is not None:
                self.peak[key] = max(self.peak.get(key, 0.0), round(value, 1))
