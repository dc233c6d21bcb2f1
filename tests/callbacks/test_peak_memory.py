"""The policy stage's peak memory (mogrpo/callbacks/peak_memory.py)."""

from __future__ import annotations

from types import SimpleNamespace

from mogrpo.callbacks.peak_memory import PeakMemory, rss_mib


def test_the_peak_is_the_max_over_batches_and_the_history_is_left_alone():
    assert rss_mib() > 0
    cb, module = PeakMemory(), SimpleNamespace(history=[{"step": 0}])
    cb.on_train_start(None, module)
    cb.on_train_batch_end(None, module, None, None, 0)
    assert cb.peak["rss_mib"] > 0 and module.history == [{"step": 0}]
    cb.peak["rss_mib"] = 1e9  # a bigger earlier sample stays the peak
    cb.on_train_batch_end(None, module, None, None, 1)
    assert cb.peak["rss_mib"] == 1e9
