"""``grpo.init_adapter`` in the GRPO stage (mogrpo/stages/grpo.py) on the smoke experiment: GRPO's first step
starts from the saved adapter, ``grpo.kl.reference=init`` makes it the KL reference, and an adapter of other
LoRA settings fails naming the key."""

from __future__ import annotations

import pytest
import torch
from conftest import lora_weights, saved_lora_weights, stage_cfg

from mogrpo.errors import ConfigError
from mogrpo.modules.grpo_module import GRPOModule
from mogrpo.stages.grpo import run_grpo_stage

ONE_STEP = ["grpo.max_steps=1", "grpo.checkpoint_every=0"]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in b)


@pytest.fixture
def trained_adapter(tmp_path, reward_dir):
    """A run's adapter after two GRPO steps at a high lr (its LoRA B is no longer the fresh adapter's zero)."""
    run_dir = tmp_path / "first"
    run_grpo_stage(stage_cfg(tmp_path, "grpo.max_steps=2", "grpo.checkpoint_every=0", "grpo.optim.lr=1e-2"), run_dir,
                   reward_dir)  # fmt: skip
    saved = saved_lora_weights(run_dir / "adapter")
    assert any(v.abs().sum() > 0 for k, v in saved.items() if "lora_B" in k)
    return run_dir / "adapter"


@pytest.fixture
def first_step(monkeypatch):
    """The LoRA weights at GRPO's first step, and the KL reference adapter each reference pass saw."""
    seen: dict = {"weights": None, "references": []}
    step, ref = GRPOModule.training_step, GRPOModule.compute_ref_logprobs

    def spy_step(self, batch, batch_idx):
        if seen["weights"] is None:
            seen["weights"] = lora_weights(self.policy)
        return step(self, batch, batch_idx)

    def spy_ref(self, *args):
        seen["references"].append(self.reference_adapter)
        return ref(self, *args)

    monkeypatch.setattr(GRPOModule, "training_step", spy_step)
    monkeypatch.setattr(GRPOModule, "compute_ref_logprobs", spy_ref)
    return seen


def test_grpo_starts_from_the_init_adapter_and_the_kl_reference_stays_base(tmp_path, reward_dir, trained_adapter,
                                                                           first_step):  # fmt: skip
    out = run_grpo_stage(stage_cfg(tmp_path, *ONE_STEP, "grpo.kl.beta=0.1", f"grpo.init_adapter={trained_adapter}"),
                         tmp_path / "second", reward_dir)  # fmt: skip
    assert _same(first_step["weights"], saved_lora_weights(trained_adapter))
    assert first_step["references"] == [None]  # grpo.kl.reference=base: the adapters disabled
    assert out["init_adapter"] == str(trained_adapter)


def test_kl_reference_init_is_the_init_adapter(tmp_path, reward_dir, trained_adapter, first_step):
    cfg = stage_cfg(tmp_path, *ONE_STEP, "grpo.kl.beta=0.1", f"grpo.init_adapter={trained_adapter}",
               "grpo.kl.reference=init")  # fmt: skip
    run_grpo_stage(cfg, tmp_path / "second", reward_dir)
    (reference,) = first_step["references"]
    assert _same(reference, saved_lora_weights(trained_adapter))


def test_without_init_adapter_grpo_starts_from_a_fresh_adapter(tmp_path, reward_dir, first_step):
    run_grpo_stage(stage_cfg(tmp_path, *ONE_STEP), tmp_path / "run", reward_dir)
    assert all(v.abs().sum() == 0 for k, v in first_step["weights"].items() if "lora_B" in k)


def test_an_adapter_of_other_lora_settings_fails_naming_the_key(tmp_path, reward_dir, trained_adapter, first_step):
    cfg = stage_cfg(tmp_path, *ONE_STEP, f"grpo.init_adapter={trained_adapter}", "model.lora.r=8")
    with pytest.raises(ConfigError) as info:
        run_grpo_stage(cfg, tmp_path / "second", reward_dir)
    assert info.value.key == "grpo.init_adapter" and "other LoRA shapes" in info.value.message
    assert first_step["weights"] is None  # before any GRPO step
