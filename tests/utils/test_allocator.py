"""mogrpo/utils/allocator.py: freed buffers stay in the process, so reusing them costs no page faults."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap

import pytest

from mogrpo.utils.allocator import _glibc, retain_freed_memory

needs_glibc = pytest.mark.skipif(_glibc() is None, reason="the malloc thresholds are glibc's")

# A training step's pattern: several large buffers allocated, filled and freed together, step after
# step. Prints the minor page faults of the last 3 of 8 steps (the first ones grow the heap).
STEP_MIB = (96, 48, 24, 12)
PROBE = textwrap.dedent(
    f"""
    import resource, sys
    import torch
    from mogrpo.utils.allocator import retain_freed_memory
    if sys.argv[1] == "on":
        assert retain_freed_memory()
    def faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for i in range(8):
        if i == 5:
            f0 = faults()
        bufs = [torch.ones((mib << 20) // 4) for mib in {STEP_MIB}]
        del bufs
    print(faults() - f0)
    """
)


def _steady_faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


@needs_glibc
def test_retained_memory_is_reused_without_page_faults():
    pages = (sum(STEP_MIB) << 20) // resource.getpagesize()  # one step's pages
    default, retained = _steady_faults("off"), _steady_faults("on")
    assert default >= 3 * pages // 2  # glibc's default: the buffers are mapped and faulted in afresh every step
    assert retained < pages // 10  # raised thresholds: the freed blocks are reused, already mapped


@needs_glibc
def test_retain_freed_memory_reports_success_on_glibc():
    assert retain_freed_memory() is True


def test_no_glibc_is_a_no_op(monkeypatch):
    monkeypatch.setattr("mogrpo.utils.allocator._glibc", lambda: None)
    assert retain_freed_memory() is False
