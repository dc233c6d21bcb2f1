"""``precision: auto`` picks bf16 only where the hardware runs it natively (mogrpo/utils/precision.py)."""

from __future__ import annotations

import logging

from mogrpo.utils import precision


def test_explicit_precision_is_kept():
    assert precision.resolve_precision("32-true") == "32-true"
    assert precision.resolve_precision("bf16-mixed", "cpu") == "bf16-mixed"


def test_auto_on_cpu_follows_the_bf16_flags(monkeypatch, caplog):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    with caplog.at_level(logging.INFO, logger="mogrpo.utils.precision"):
        assert precision.resolve_precision("auto", "cpu", "reward model") == "bf16-mixed"
    assert "reward model precision auto -> bf16-mixed (the CPU has avx512_bf16)" in caplog.text
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert precision.resolve_precision("auto", "cpu") == "32-true"
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    assert precision.cpu_has_fast_bf16()


def test_rollout_dtype_auto_follows_the_cpu_and_logs_its_choice(monkeypatch, caplog):
    import logging

    import torch

    from mogrpo.utils import precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    with caplog.at_level(logging.INFO, logger="mogrpo.utils.precision"):
        assert precision.resolve_rollout_dtype("auto", torch.float32, "cpu") == torch.bfloat16
    assert "avx512_bf16" in caplog.text
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2"}))
    assert precision.resolve_rollout_dtype("auto", torch.float32, "cpu") is None  # emulated bf16: keep fp32
    assert precision.resolve_rollout_dtype(None, torch.float32) is None
    assert precision.resolve_rollout_dtype("bfloat16", torch.float32) == torch.bfloat16
    assert precision.resolve_rollout_dtype("bfloat16", torch.bfloat16) is None  # the policy's own: exact path
