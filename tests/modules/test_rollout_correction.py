"""Rollouts in another dtype, corrected by importance sampling, inside a GRPO step
(mogrpo/modules/rollout_correction.py, GRPOModule with ``grpo.generation.dtype``)."""

from __future__ import annotations

import pytest
import torch
from test_grpo_module import _cfg, _fit, _module

from mogrpo.configs.grpo import RolloutCorrectionConfig
from mogrpo.errors import ConfigError
from mogrpo.modules.rollout_correction import RolloutCorrection

IS_METRICS = ["train/is_ratio_min", "train/is_ratio_mean", "train/is_ratio_max", "train/sampling_logp_diff_mean",
              "train/sampling_logp_diff_max"]  # fmt: skip


def test_bf16_rollouts_of_a_float32_policy_are_corrected_and_logged(tmp_path):
    cfg = _cfg(tmp_path, "grpo.generation.dtype=bfloat16", "grpo.rollout_correction.mode=token_truncate")
    module = _module(cfg, tmp_path)
    seen = []
    original = module.rollout

    def spy(prompts):
        roll, n = original(prompts)
        seen.append(roll)
        return roll, n

    module.rollout = spy
    _fit(module, max_steps=2)
    assert module.rollout_dtype == torch.bfloat16
    assert all(r.dtype == torch.bfloat16 and r.logprobs is not None for r in seen)
    for h in module.history:
        assert all(k in h for k in IS_METRICS)
        assert 0 < h["train/is_ratio_min"] <= h["train/is_ratio_mean"] <= h["train/is_ratio_max"] <= 3.0
        assert h["train/is_ratio_mean"] == pytest.approx(1.0, abs=0.05)  # bf16 and fp32 policies are close
        assert 0 < h["train/sampling_logp_diff_mean"] < 0.05


def test_float32_rollouts_log_no_ratio(tmp_path):
    module = _module(_cfg(tmp_path), tmp_path)
    _fit(module, max_steps=1)
    assert module.rollout_dtype is None
    assert not any(k in module.history[0] for k in IS_METRICS)


def test_the_ratio_of_a_micro_batch_is_computed_once_and_reused():
    sampler = torch.tensor([[-1.0, -1.0], [-2.0, -2.0]])
    mask = torch.ones(2, 2)
    c = RolloutCorrection(RolloutCorrectionConfig(mode="token_truncate", clip_max=2.0), sampler, mask)
    first = c.ratio(slice(0, 2), torch.tensor([[-0.5, -1.0], [-2.0, -5.0]]))
    again = c.ratio(slice(0, 2), torch.zeros(2, 2))  # a later iteration: the policy moved, rho does not
    assert torch.equal(first, again)
    torch.testing.assert_close(first, torch.tensor([[2.0 ** 0 * 1.6487212707, 1.0], [1.0, 0.0497870684]]))
    m = c.metrics()
    assert m["train/is_ratio_max"] == pytest.approx(1.6487212707) and m["train/sampling_logp_diff_max"] == 3.0


def test_bad_correction_settings_name_the_field():
    with pytest.raises(ConfigError, match="mode"):
        RolloutCorrectionConfig(mode="token")
    with pytest.raises(ConfigError, match="clip_min"):
        RolloutCorrectionConfig(clip_min=3.0, clip_max=2.0)
    with pytest.raises(ConfigError, match="clip_max"):
        RolloutCorrectionConfig(mode="token_truncate", clip_max=None)
