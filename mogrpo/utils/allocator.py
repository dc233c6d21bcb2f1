"""Keep freed memory in the process (glibc ``malloc``) instead of handing it back to the OS.

A GRPO step on CPU allocates the same large buffers every step (the ``[N, T, V]`` logits of the
update, their gradients, activations). glibc serves blocks above ``M_MMAP_THRESHOLD`` with a fresh
``mmap`` and unmaps them on free, and trims the heap top above ``M_TRIM_THRESHOLD``; either way the
next step page-faults the same memory in again, zero-filling it page by page. Measured on
SmolLM2-135M (8 x 64 tokens, 2 threads): 90k-350k minor faults per update and 2.6-3.8 s per
forward + backward, against ~3k faults and 2.1-2.2 s with both thresholds raised to 1 GiB
(``experiments/bench_step.py --levers``). This is what the PyTorch CPU tuning guides get from
jemalloc / tcmalloc via ``LD_PRELOAD``, with glibc's own ``mallopt`` and no extra library.

The cost: memory freed by a step stays in the process for the next one, so RSS sits at the peak
instead of falling between steps (the peak itself is unchanged). No effect on GPU memory, and a
no-op where the C library is not glibc (macOS, musl): :func:`retain_freed_memory` returns False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
DEFAULT_THRESHOLD = 1 << 30  # 1 GiB: above any per-step buffer of the models this runs on CPU


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()  # only glibc has it
        return libc
    except (OSError, AttributeError):
        return None


def retain_freed_memory(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Raise glibc's mmap and trim thresholds to ``threshold`` bytes for this process.

    Returns True when both took effect, False on another C library or when glibc refused a value.
    """
    libc = _glibc()
    if libc is None:
        log.warning("retain_freed_memory is off: the C library is not glibc, so freed memory goes back to the OS "
                    "and each GRPO step page-faults its buffers again (set retain_freed_memory=false to silence)")
        return False
    ok = bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold))) and bool(libc.mallopt(M_TRIM_THRESHOLD, int(threshold)))
    if not ok:
        log.warning("glibc refused malloc thresholds of %d bytes; freed memory goes back to the OS", threshold)
    return ok
