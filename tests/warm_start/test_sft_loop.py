"""The warm start's SFT loop (mogrpo/warm_start/loop.py) on the tiny policy: only the LoRA parameters
change, the loss falls, every step is reported, and the batch order is seeded and duplicate-free."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from mogrpo.warm_start import WarmStartConfig
from mogrpo.warm_start.loop import batch_order, run_warm_start


def test_only_lora_parameters_change_and_the_loss_falls(tmp_path):
    from conftest import compose_cfg
    from omegaconf import OmegaConf

    from mogrpo.data.demonstrations import builtin
    from mogrpo.models.policy import build_policy
    from mogrpo.warm_start.encode import encode_demonstrations

    torch.manual_seed(0)
    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path)
    policy, tok = build_policy(OmegaConf.to_container(cfg.model, resolve=True))
    encoded, _ = encode_demonstrations(tok, builtin()[:4], 48, 16, overlong="truncate")
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    rows = []
    config = WarmStartConfig(enabled=True, steps=6, batch_size=4, lr=3e-2)  # one batch, seen 6 times
    out = run_warm_start(policy, tok, encoded, config, seed=0, on_step=rows.append, progress=False)

    changed = {n for n, p in policy.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all("lora_" in n for n in changed)  # the frozen base is untouched
    assert {n for n, p in policy.named_parameters() if p.requires_grad} >= changed
    assert out["steps"] == 6 and len(out["losses"]) == 6 and out["losses"][-1] < out["losses"][0] - 0.02
    assert [r["warm_start/step"] for r in rows] == list(range(1, 7))
    assert [r["warm_start/loss"] for r in rows] == out["losses"]
    assert out["response_tokens"] == sum(r["warm_start/tokens"] for r in rows) > 0
    assert sorted(out["seen"]) == sorted([e.index for e in encoded] * 6)
    assert all(p.grad is None for p in policy.parameters())  # nothing left over for GRPO's first step


@pytest.mark.parametrize(("n", "batch", "steps"), [(5, 2, 7), (4, 4, 3), (10, 3, 9), (3, 3, 1)])
def test_batch_order_passes_over_every_item_before_repeating(n, batch, steps):
    order = batch_order(n, batch, steps, seed=1)
    assert len(order) == steps and all(len(b) == batch and len(set(b)) == batch for b in order)
    counts = Counter(i for b in order for i in b)
    assert max(counts.values()) - min(counts[i] for i in range(n)) <= 1  # whole passes: none seen twice before all once
    assert order == batch_order(n, batch, steps, seed=1) and (n <= batch or order != batch_order(n, batch, steps, seed=2))


def test_batch_order_needs_a_full_batch():
    with pytest.raises(ValueError, match="cannot fill a batch"):
        batch_order(2, 3, 1, seed=0)
