"""Resumable GRPO checkpoints (mogrpo/utils/checkpoint.py) and the resumable prompt loader they rely on."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer

from mogrpo.config import ConfigError
from mogrpo.data.prompts import EpochShuffleSampler, PromptDataModule, ResumableDataLoader
from mogrpo.utils.checkpoint import (
    GRPOCheckpoint,
    atomic_write_text,
    is_complete,
    last_checkpoint,
    list_checkpoints,
    load_state,
    read_meta,
    resolve_resume,
    rng_state,
    set_rng_state,
)

PROMPTS = [{"id": str(i), "prompt": f"Question number {i}?"} for i in range(7)]  # 3 batches of 2 per epoch


def _fake_ckpt(root: Path, step: int) -> Path:
    d = root / f"step_{step}"
    (d / "adapter").mkdir(parents=True)
    (d / "adapter" / "adapter_config.json").write_text("{}")
    (d / "meta.json").write_text(json.dumps({"step": step}))
    torch.save({"step": step}, d / "state.ckpt")
    return d


# --------------------------------------------------------------------------- files and pointers
def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "last"
    atomic_write_text(path, "step_2\n")
    atomic_write_text(path, "step_4\n")
    assert path.read_text() == "step_4\n"
    assert os.listdir(tmp_path) == ["last"]


def test_last_checkpoint_follows_pointer_and_falls_back_to_highest_complete(tmp_path):
    root = tmp_path / "checkpoints"
    for step in (2, 10, 4):
        _fake_ckpt(root, step)
    (root / ".step_12.tmp").mkdir()  # a save killed half-way
    assert [p.name for p in list_checkpoints(root)] == ["step_2", "step_4", "step_10"]
    assert last_checkpoint(root).name == "step_10"  # no pointer: the highest step
    atomic_write_text(root / "last", "step_4\n")
    assert last_checkpoint(root).name == "step_4"  # the pointer wins (a resumed run re-saving earlier steps)
    atomic_write_text(root / "last", "step_99\n")  # names a dir that is gone
    assert last_checkpoint(root).name == "step_10"
    (root / "step_10" / "meta.json").unlink()  # incomplete: skipped
    assert last_checkpoint(root).name == "step_4"
    assert last_checkpoint(tmp_path / "nothing") is None


def test_resolve_resume_auto_path_run_dir_and_errors(tmp_path):
    run = tmp_path / "run"
    assert resolve_resume(None, run) is None and resolve_resume("", run) is None
    assert resolve_resume("auto", run) is None  # nothing yet: a fresh start
    ckpt = _fake_ckpt(run / "checkpoints", 6)
    _fake_ckpt(run / "checkpoints", 2)
    assert resolve_resume("auto", run) == ckpt
    assert resolve_resume(str(ckpt), tmp_path / "elsewhere") == ckpt
    assert resolve_resume(str(ckpt / "state.ckpt"), tmp_path) == ckpt
    assert resolve_resume(str(run), tmp_path) == ckpt  # a run dir: its newest checkpoint
    assert resolve_resume(str(run / "checkpoints" / "step_2"), tmp_path).name == "step_2"
    with pytest.raises(ConfigError, match=r"^resume: .*not a checkpoint dir"):
        resolve_resume(str(tmp_path / "missing"), run)


def test_rng_state_round_trips_python_numpy_torch_through_weights_only_load(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    state = rng_state()
    torch.save(state, tmp_path / "rng.pt")
    expected = (random.random(), np.random.randn(), np.random.rand(), torch.rand(3))
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    got = (random.random(), np.random.randn(), np.random.rand(), torch.rand(3))
    assert got[:3] == expected[:3] and torch.equal(got[3], expected[3])


# --------------------------------------------------------------------------- the resumable prompt loader
def test_resumable_loader_continues_mid_epoch_in_the_same_order():
    def loader():
        return ResumableDataLoader(PROMPTS, batch_size=2, sampler=EpochShuffleSampler(7, seed=0), drop_last=True,
                                   collate_fn=lambda rows: [r["id"] for r in rows])  # fmt: skip

    full = loader()
    full.sampler.set_epoch(1)
    batches = list(full)
    first = loader()
    first.sampler.set_epoch(1)
    it = iter(first)
    next(it)
    state = first.state_dict()
    assert state == {"epoch": 1, "batches": 1}
    resumed = loader()
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(1)  # Lightning sets the epoch before the first batch
    assert list(resumed) == batches[1:]
    other = loader()
    other.load_state_dict({"epoch": 0, "batches": 2})  # a position in another epoch is not applied
    other.sampler.set_epoch(1)
    assert list(other) == batches


# --------------------------------------------------------------------------- GRPO: save, load, resume
def _module(cfg, tmp_path, spy: list):
    from mogrpo.models.policy import build_policy
    from mogrpo.models.regressor import build_regressor
    from mogrpo.modules.grpo_module import GRPOModule

    class Spy(GRPOModule):
        def training_step(self, batch, batch_idx):
            spy.append((int(self.global_step), [r["id"] for r in batch]))
            return super().training_step(batch, batch_idx)

    torch.manual_seed(0)
    policy, tok = build_policy(cfg.model)
    regressor = build_regressor(cfg.reward_model, list(cfg.reward.aspects))
    return Spy(policy, tok, regressor, cfg.grpo, cfg.reward, 64, run_dir=tmp_path)


def _fit(cfg, tmp_path, root: Path, max_steps: int, ckpt: Path | None = None):
    spy: list = []
    module = _module(cfg, tmp_path, spy)
    callback = GRPOCheckpoint(root, every=2)
    trainer = Trainer(
        accelerator="cpu", devices=1, max_steps=max_steps, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[callback],
    )  # fmt: skip
    trainer.fit(
        module, datamodule=PromptDataModule(PROMPTS, 2, seed=0),
        ckpt_path=str(ckpt / "state.ckpt") if ckpt else None, weights_only=True if ckpt else None,
    )  # fmt: skip
    return module, spy, callback


@pytest.mark.slow
def test_checkpoints_hold_the_resumable_state_and_resume_reproduces_the_run(tmp_path):
    from conftest import compose_cfg

    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path)
    root = tmp_path / "a" / "checkpoints"
    full, full_batches, callback = _fit(cfg, tmp_path, root, max_steps=7)
    assert callback.saved == [2, 4, 6]
    assert [p.name for p in list_checkpoints(root)] == ["step_2", "step_4", "step_6"]
    assert (root / "last").read_text().strip() == "step_6" and not list(root.glob(".*"))

    ckpt = root / "step_4"
    assert is_complete(ckpt) and (ckpt / "adapter" / "adapter_model.safetensors").is_file()
    assert read_meta(ckpt) | {"time": 0} == {"step": 4, "epoch": 1, "batches_in_epoch": 1, "world_size": 1, "time": 0}
    state = load_state(ckpt)  # weights_only=True
    trainable = {n for n, p in full.named_parameters() if p.requires_grad}
    assert set(state["state_dict"]) == trainable  # LoRA only: no frozen base, no regressor
    assert state["optimizer_states"][0]["state"] and state["lr_schedulers"]
    assert state["global_step"] == 4 and state["rng"]["torch"].shape[0] == 1
    assert state["loops"]["fit_loop"]["state_dict"]["combined_loader"] == [{"epoch": 1, "batches": 1}]
    assert [h["step"] for h in state["mogrpo"]["history"]] == [1, 2, 3, 4]

    # resume from a mid-epoch checkpoint (4) and an end-of-epoch one (6 steps = 2 epochs of 3 batches)
    for step in (4, 6):
        resumed, batches, _ = _fit(cfg, tmp_path, tmp_path / f"b{step}", 7, ckpt=root / f"step_{step}")
        assert batches == full_batches[step:]  # the same prompts, in the same order, from step + 1 on
        assert [h["step"] for h in resumed.history] == list(range(1, 8))
        for a, b in zip(resumed.history, full.history):  # the same completions and rewards (RNG restored)
            assert a["train/reward_mean"] == pytest.approx(b["train/reward_mean"], abs=1e-6)
        for (name, p), q in zip(resumed.named_parameters(), full.parameters()):
            torch.testing.assert_close(p, q, msg=name)


# --------------------------------------------------------------------------- atomicity
class _FakeStrategy:
    def barrier(self, name=None):
        pass


class _FakeTrainer:
    """What GRPOCheckpoint.save asks of a Trainer: rank, step, epoch, save_checkpoint, barrier."""

    is_global_zero, world_size, current_epoch, global_rank = True, 1, 0, 0
    strategy = _FakeStrategy()

    def __init__(self):
        self.global_step = 0

    def save_checkpoint(self, path):
        torch.save({"global_step": self.global_step}, path)


class _FakePolicy:
    def __init__(self):
        self.fail_at: int | None = None
        self.step = 0

    def save_pretrained(self, path):
        if self.step == self.fail_at:
            raise OSError("disk full")
        Path(path).mkdir(parents=True)
        (Path(path) / "adapter_config.json").write_text("{}")


def test_a_save_that_dies_half_way_leaves_the_previous_checkpoints_and_pointer_intact(tmp_path):
    root = tmp_path / "checkpoints"
    trainer, policy = _FakeTrainer(), _FakePolicy()
    module = type("M", (), {"policy": policy})()
    callback = GRPOCheckpoint(root, every=2)
    for step in (1, 2, 3, 4):
        trainer.global_step = policy.step = step
        if step == 4:
            policy.fail_at = 4
            with pytest.raises(OSError, match="disk full"):
                callback.on_train_batch_end(trainer, module, None, None, step - 1)
        else:
            callback.on_train_batch_end(trainer, module, None, None, step - 1)
    assert [p.name for p in list_checkpoints(root)] == ["step_2"]  # step_4 never appeared half-written
    assert (root / ".step_4.tmp").is_dir() and last_checkpoint(root).name == "step_2"
    assert load_state(root / "step_2")["global_step"] == 2

    policy.fail_at = None
    for step in (5, 6):  # the run goes on: the next save succeeds and clears the leftovers
        trainer.global_step = policy.step = step
        callback.on_train_batch_end(trainer, module, None, None, step - 1)
    assert sorted(p.name for p in root.iterdir()) == ["last", "step_2", "step_6"]
    trainer.global_step = policy.step = 2
    callback.save(trainer, module, 2, batches_in_epoch=2)  # re-saving an existing step replaces it whole
    assert (root / "last").read_text().strip() == "step_2"
    assert sorted(p.name for p in root.iterdir()) == ["last", "step_2", "step_6"]


def test_keep_prunes_the_oldest_checkpoints(tmp_path):
    root = tmp_path / "checkpoints"
    trainer, policy = _FakeTrainer(), _FakePolicy()
    module = type("M", (), {"policy": policy})()
    callback = GRPOCheckpoint(root, every=1, keep=2)
    for step in range(1, 5):
        trainer.global_step = policy.step = step
        callback.on_train_batch_end(trainer, module, None, None, step - 1)
    assert [p.name for p in list_checkpoints(root)] == ["step_3", "step_4"]
    assert callback.saved == [1, 2, 3, 4]


def test_every_counts_optimiser_steps_even_when_a_batch_makes_several():
    callback = GRPOCheckpoint("unused", every=3)
    saves = []
    callback.save = lambda trainer, module, step, batches_in_epoch: saves.append(step)
    trainer = _FakeTrainer()
    for step in (2, 4, 6, 8, 10):  # num_iterations=2: the global step moves by 2 per batch
        trainer.global_step = step
        callback.on_train_batch_end(trainer, None, None, None, 0)
    assert saves == [4, 6, 10]  # the first step at or past each multiple of 3


def test_resuming_with_other_lora_settings_is_refused_naming_resume(tmp_path):
    from conftest import compose_cfg

    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path)
    module = _module(cfg, tmp_path, [])
    lora = {n: p.detach() for n, p in module.named_parameters() if p.requires_grad}
    module.on_load_checkpoint({"state_dict": lora, "mogrpo": {"history": [{"step": 1}]}})  # the same adapters: fine
    assert module.history == [{"step": 1}]
    other = {n.replace("q_proj", "k_proj"): p for n, p in lora.items()}  # saved with other target_modules
    with pytest.raises(ConfigError, match=r"^resume: the checkpoint holds other trainable parameters"):
        module.on_load_checkpoint({"state_dict": other})
