"""The warm start inside the GRPO stage (mogrpo/stages/warm_start.py) on the smoke experiment: it runs on
the policy right before the first GRPO step, is logged and recorded, and a resumed run never repeats it."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from conftest import lora_weights, saved_lora_weights, stage_cfg

import mogrpo.stages.warm_start as ws
from mogrpo.modules.grpo_module import GRPOModule
from mogrpo.stages.grpo import run_grpo_stage

WARM = ["grpo.warm_start.enabled=true", "grpo.warm_start.steps=3", "grpo.warm_start.batch_size=2",
        "grpo.warm_start.max_response_tokens=12", "grpo.warm_start.overlong=truncate"]  # fmt: skip


@pytest.fixture
def events(monkeypatch):
    """The order in which the warm start trains and GRPO steps run, and the LoRA weights at GRPO's first step."""
    seen: list = []
    train, step = ws._train, GRPOModule.training_step

    def spy_train(*args, **kwargs):
        seen.append("warm_start")
        return train(*args, **kwargs)

    def spy_step(self, batch, batch_idx):
        if "grpo" not in seen:
            seen.append(lora_weights(self.policy))
        seen.append("grpo")
        return step(self, batch, batch_idx)

    monkeypatch.setattr(ws, "_train", spy_train)
    monkeypatch.setattr(GRPOModule, "training_step", spy_step)
    return seen


def _never_train(monkeypatch):
    monkeypatch.setattr(ws, "_train", lambda *a, **k: pytest.fail("the warm start ran again on resume"))


def _raise_trains(*args, **kwargs):
    raise RuntimeError("trains")


def _history(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


def test_off_by_default_nothing_changes(tmp_path, reward_dir, events):
    out = run_grpo_stage(stage_cfg(tmp_path, "grpo.max_steps=1"), tmp_path / "run", reward_dir)
    assert out["warm_start"] == {"enabled": False} and "warm_start" not in events
    assert not (tmp_path / "run" / ws.WARM_START_JSON).exists()
    assert [h["step"] for h in _history(tmp_path / "run")] == [1]


def test_runs_before_grpo_is_logged_and_recorded(tmp_path, reward_dir, events):
    cfg = stage_cfg(tmp_path, *WARM, "grpo.max_steps=2", "grpo.checkpoint_every=0", "logger=csv")
    run_dir = tmp_path / "run"
    out = run_grpo_stage(cfg, run_dir, reward_dir)
    assert events[0] == "warm_start" and events[2:] == ["grpo", "grpo"]
    # GRPO's first step starts from the warm-started adapter, which differs from the fresh one
    at_grpo_start, saved = events[1], saved_lora_weights(run_dir / ws.WARM_START_ADAPTER)
    assert set(at_grpo_start) == set(saved) and all(torch.equal(at_grpo_start[k], saved[k]) for k in saved)
    assert any("lora_B" in k and saved[k].abs().sum() > 0 for k in saved)  # B starts at 0: the warm start trained it

    record = json.loads((run_dir / ws.WARM_START_JSON).read_text())
    assert record["complete"] and record["steps"] == 3 and len(record["losses"]) == 3 and record["wall_time_s"] > 0
    assert record["config"]["steps"] == 3 and record["config"]["sources"] == ["builtin"]
    demos = record["demonstrations"]
    assert set(demos["available"]) == {"adversarial/builtin", "benign/builtin"}
    assert sum(demos["seen"].values()) == 3 * 2 and demos["mix"]["adversarial/builtin"] == demos["mix"]["benign/builtin"]
    assert out["warm_start"]["status"] == "trained" and out["warm_start"]["losses"] == record["losses"]

    history = _history(run_dir)
    assert [h.get("phase") for h in history] == ["warm_start"] * 3 + [None, None]  # warm start first
    assert [h["warm_start/loss"] for h in history[:3]] == record["losses"]
    assert [h["step"] for h in history[3:]] == [1, 2] and out["sampled_batches"] == 2
    assert out["final"]["step"] == 2  # the GRPO summary is over the GRPO steps only
    (metrics,) = (tmp_path / "output" / "csv").rglob("metrics.csv")
    logged = [float(r["warm_start/loss"]) for r in csv.DictReader(metrics.open()) if r.get("warm_start/loss")]
    assert logged == pytest.approx(record["losses"])


def test_not_run_again_when_resuming_from_a_grpo_checkpoint(tmp_path, reward_dir, monkeypatch):
    run_dir = tmp_path / "run"
    run_grpo_stage(stage_cfg(tmp_path, *WARM, "grpo.max_steps=2", "grpo.checkpoint_every=1"), run_dir, reward_dir)
    first = _history(run_dir)
    (run_dir / "history.jsonl").write_text("")  # a killed run's history may be cut short: it comes back whole
    _never_train(monkeypatch)
    out = run_grpo_stage(stage_cfg(tmp_path, *WARM, "grpo.max_steps=3", "resume=auto"), run_dir, reward_dir)
    assert out["resumed_from"].endswith("step_2") and out["steps"] == 3
    assert out["warm_start"]["status"] == "in_checkpoint" and out["warm_start"]["losses"] == json.loads(
        (run_dir / ws.WARM_START_JSON).read_text())["losses"]  # fmt: skip
    history = _history(run_dir)
    assert history[:5] == first and [h["step"] for h in history[3:]] == [1, 2, 3]


def test_resume_before_the_first_checkpoint_reuses_the_finished_warm_start(tmp_path, reward_dir, monkeypatch, events):
    run_dir = tmp_path / "run"
    run_grpo_stage(stage_cfg(tmp_path, *WARM, "grpo.max_steps=1", "grpo.checkpoint_every=0"), run_dir, reward_dir)
    saved = saved_lora_weights(run_dir / ws.WARM_START_ADAPTER)
    events.clear()
    _never_train(monkeypatch)
    out = run_grpo_stage(stage_cfg(tmp_path, *WARM, "grpo.max_steps=1", "resume=auto"), run_dir, reward_dir)
    assert out["resumed_from"] is None and out["warm_start"]["status"] == "reused"
    at_grpo_start = events[0]
    assert all(torch.equal(at_grpo_start[k], saved[k]) for k in saved)  # GRPO starts from the saved warm start
    # another warm-start config is a fresh warm start, not a reuse
    monkeypatch.setattr(ws, "_train", _raise_trains)
    with pytest.raises(RuntimeError, match="trains"):
        run_grpo_stage(stage_cfg(tmp_path, *WARM, "grpo.warm_start.steps=4", "resume=auto"), run_dir, reward_dir)


def test_too_few_demonstrations_after_the_length_filter_names_the_key(tmp_path, reward_dir):
    from mogrpo.config import ConfigError

    cfg = stage_cfg(tmp_path, *WARM, "grpo.warm_start.overlong=drop", "grpo.warm_start.max_response_tokens=2")
    with pytest.raises(ConfigError, match="^grpo.warm_start.max_response_tokens: 0 of"):
        run_grpo_stage(cfg, tmp_path / "run", reward_dir)


def test_refusals_only_drops_the_adversarial_demonstrations_the_grader_calls_compliance(tmp_path, reward_dir):
    cfg = stage_cfg(tmp_path, *WARM, "grpo.warm_start.refusals_only=true", "grpo.max_steps=1", "grpo.checkpoint_every=0")
    run_grpo_stage(cfg, tmp_path / "run", reward_dir)
    record = json.loads((tmp_path / "run" / ws.WARM_START_JSON).read_text())
    dropped = record["encoding"]["not_refusals_dropped"]
    demos = record["demonstrations"]
    # cut to 12 tokens, some builtin refusals end before their refusal starts: those are dropped
    assert record["config"]["refusals_only"] is True and dropped.get("full_compliance", 0) > 0
    assert demos["fit_length"]["adversarial/builtin"] == demos["available"]["adversarial/builtin"] - sum(dropped.values())
    assert demos["fit_length"]["benign/builtin"] == demos["available"]["benign/builtin"]  # benign ones all kept


def test_max_opener_share_cuts_the_adversarial_demonstrations_that_open_alike(tmp_path, reward_dir):
    cfg = stage_cfg(tmp_path, *WARM, "grpo.warm_start.max_opener_share=0.3", "grpo.max_steps=1",
                    "grpo.checkpoint_every=0")  # fmt: skip
    run_grpo_stage(cfg, tmp_path / "run", reward_dir)
    record = json.loads((tmp_path / "run" / ws.WARM_START_JSON).read_text())
    capped = record["encoding"]["openers_capped"]
    demos = record["demonstrations"]
    assert record["config"]["max_opener_share"] == 0.3 and sum(capped.values()) > 0
    assert demos["fit_length"]["adversarial/builtin"] == demos["available"]["adversarial/builtin"] - sum(capped.values())
    assert demos["fit_length"]["benign/builtin"] == demos["available"]["benign/builtin"]  # benign ones all kept


def test_the_warm_start_loss_reaches_the_wandb_run_of_the_grpo_stage(tmp_path, reward_dir, offline_wandb):
    from helpers import offline_runs, read_wandb_run

    cfg = stage_cfg(tmp_path, *WARM, "grpo.max_steps=1", "grpo.checkpoint_every=0", "logger=wandb")
    run_dir = tmp_path / "run"
    out = run_grpo_stage(cfg, run_dir, reward_dir)
    (run,) = [read_wandb_run(r) for r in offline_runs(tmp_path / "output")]
    assert run["run"]["job_type"] == "grpo"
    rows = [r for r in run["history"] if "warm_start/loss" in r]
    assert [r["warm_start/step"] for r in rows] == [1, 2, 3]
    assert [r["warm_start/loss"] for r in rows] == pytest.approx(out["warm_start"]["losses"])
    assert any("train/reward_mean" in r for r in run["history"])  # and GRPO's metrics after them


def test_the_kl_reference_is_the_warm_start_when_asked_and_the_base_otherwise(tmp_path, reward_dir, monkeypatch):
    seen: list = []
    ref = GRPOModule.compute_ref_logprobs

    def spy_ref(self, *args):
        seen.append(self.reference_adapter)
        return ref(self, *args)

    monkeypatch.setattr(GRPOModule, "compute_ref_logprobs", spy_ref)
    run_dir = tmp_path / "run"
    kl = ["grpo.max_steps=1", "grpo.checkpoint_every=0", "grpo.kl.beta=0.1"]
    run_grpo_stage(stage_cfg(tmp_path, *WARM, *kl, "grpo.kl.reference=warm_start"), run_dir, reward_dir)
    saved = saved_lora_weights(run_dir / ws.WARM_START_ADAPTER)
    (adapter,) = seen
    assert set(adapter) == set(saved) and all(torch.equal(adapter[k], saved[k]) for k in saved)
    seen.clear()
    run_grpo_stage(stage_cfg(tmp_path, *WARM, *kl), tmp_path / "base_ref", reward_dir)
    assert seen == [None]  # grpo.kl.reference=base: the adapters disabled


def test_self_distill_adds_the_policys_own_compliant_answers_as_benign_demonstrations(tmp_path, reward_dir):
    from helpers import FIXTURE_SHARED_DATA

    shared = f"paths.shared_data={FIXTURE_SHARED_DATA}"
    cfg = stage_cfg(tmp_path, *WARM, shared, "grpo.warm_start.self_distill=[hh_helpful_sensitive,safetext_scenarios]",
                    "grpo.max_steps=1", "grpo.checkpoint_every=0")  # fmt: skip
    run_grpo_stage(cfg, tmp_path / "run", reward_dir)
    record = json.loads((tmp_path / "run" / ws.WARM_START_JSON).read_text())
    distilled = record["self_distill"]
    assert distilled["sources"] == ["hh_helpful_sensitive", "safetext_scenarios"] and distilled["prompts"] >= 1
    assert sum(distilled["labels"].values()) == distilled["prompts"]
    assert distilled["kept"] == distilled["labels"].get("full_compliance", 0)
    assert record["demonstrations"]["available"].get("benign/self_distilled", 0) == distilled["kept"]
    assert record["config"]["self_distill"] == ["hh_helpful_sensitive", "safetext_scenarios"]


def test_self_distill_off_leaves_no_record(tmp_path, reward_dir):
    cfg = stage_cfg(tmp_path, *WARM, "grpo.max_steps=1", "grpo.checkpoint_every=0")
    run_grpo_stage(cfg, tmp_path / "run", reward_dir)
    assert "self_distill" not in json.loads((tmp_path / "run" / ws.WARM_START_JSON).read_text())
