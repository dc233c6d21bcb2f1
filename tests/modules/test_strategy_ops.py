"""The strategy-dependent pieces of a GRPO step (mogrpo/modules/strategy_ops.py). FSDP itself cannot run
here (Lightning 2.6 refuses FSDP on CPU): experiments/fsdp_check.py runs it on a GPU (experiments/gpu_check.sh)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from mogrpo.modules.strategy_ops import clip_gradient_norm, step_tokens


def _module(strategy):
    calls = []
    module = SimpleNamespace(_trainer=object(), trainer=SimpleNamespace(strategy=strategy), device="cpu",
                             clip_gradients=lambda opt, **kw: calls.append(kw))  # fmt: skip
    return module, calls


def test_under_fsdp_the_root_module_clips_over_every_shard():
    seen = []
    fsdp_root = SimpleNamespace(clip_grad_norm_=lambda max_norm: seen.append(max_norm) or torch.tensor(2.5))
    module, calls = _module(SimpleNamespace(model=fsdp_root))
    assert clip_gradient_norm(module, None, [], 1.0) == 2.5
    assert seen == [1.0] and calls == []  # Lightning's clip_gradients (which raises under FSDPPrecision) not used
    clip_gradient_norm(module, None, [], 0.0)
    assert seen[-1] == float("inf")  # no clipping: the norm is still reported


def test_elsewhere_lightnings_clip_and_the_norm_before_it():
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    module, calls = _module(SimpleNamespace(model=torch.nn.Linear(1, 1)))
    assert clip_gradient_norm(module, None, [p], 1.0) == pytest.approx(5.0)
    assert calls == [{"gradient_clip_val": 1.0, "gradient_clip_algorithm": "norm"}]
    assert clip_gradient_norm(module, None, [p], 0.0) == pytest.approx(5.0) and len(calls) == 1


def test_step_tokens_is_the_global_count_over_the_ranks():
    module, _ = _module(SimpleNamespace(reduce=lambda t, reduce_op: t + 30.0))  # the other rank holds 30 tokens
    assert step_tokens(module, 10.0, 2) == 20.0  # (10 + 30) / 2
    assert step_tokens(module, 10.0, 1) == 10.0
