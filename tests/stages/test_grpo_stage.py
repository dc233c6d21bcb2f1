"""The GRPO and evaluation stages end to end on the smoke experiment (mogrpo/stages/grpo.py, evaluate.py)."""

from __future__ import annotations

import json

import pytest
import torch

import mogrpo.stages.grpo as grpo_stage
from mogrpo.callbacks import CompletionsTable
from mogrpo.config import ConfigError
from mogrpo.data.errors import DataError
from mogrpo.metrics.aspects import aspect_table
from mogrpo.models.regressor import build_regressor
from mogrpo.stages.evaluation import run_eval_stage
from mogrpo.stages.grpo import grpo_callbacks, run_grpo_stage, summarize_history


def _cfg(tmp_path, *overrides):
    from conftest import compose_cfg

    return compose_cfg(["experiment=smoke", "logger=none", *overrides], tmp_path)


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory):
    """An untrained tiny regressor, saved: it only has to give scores."""
    from conftest import compose_cfg

    tmp = tmp_path_factory.mktemp("reward")
    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp)
    torch.manual_seed(0)
    return build_regressor(cfg.reward_model, list(cfg.reward.aspects)).save(tmp / "regressor")


def test_grpo_then_eval_write_adapter_history_and_samples(tmp_path, reward_dir):
    cfg = _cfg(tmp_path, "grpo.max_steps=2", "eval.max_prompts=4", "eval.batch_size=3")
    run_dir = tmp_path / "run"
    out = run_grpo_stage(cfg, run_dir, reward_dir)
    assert out["steps"] == 2 and out["sampled_batches"] == 2
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    history = [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [1, 2]
    assert out["final"]["train/reward_mean"] == history[-1]["train/reward_mean"]
    assert "reward/safety" in out["final_mean"] and out["trainable_params"] > 0

    ev = run_eval_stage(cfg, run_dir, reward_dir)
    assert ev["adapter"] == str(run_dir / "adapter") and ev["n_prompts"] == 4
    assert set(ev["aspects"]) == set(cfg.reward.aspects)
    assert ev["decoding"]["do_sample"] is False and ev["decoding"]["max_new_tokens"] == 8
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4
    s = samples[0]
    assert {"prompt", "category", "kind", "base_response", "aligned_response", "base_scores", "aligned_scores"} <= set(s)
    assert s["base_reward"] == pytest.approx(sum(s["base_scores"].values()), abs=1e-5)  # weights all 1
    base_mean = sum(x["base_scores"]["safety"] for x in samples) / 4
    assert ev["aspects"]["safety"]["base"] == pytest.approx(base_mean, abs=1e-6)


def test_eval_without_adapter_is_base_only(tmp_path, reward_dir):
    cfg = _cfg(tmp_path, "eval.max_prompts=2")
    ev = run_eval_stage(cfg, tmp_path / "empty_run", reward_dir)
    assert ev["adapter"] is None and ev["aspects"]["safety"]["aligned"] is None
    assert "aligned_response" not in json.loads((tmp_path / "empty_run" / "samples.jsonl").read_text().splitlines()[0])


def test_eval_adapter_path_must_exist(tmp_path, reward_dir):
    cfg = _cfg(tmp_path, f"eval.adapter={tmp_path / 'nowhere'}")
    with pytest.raises(ConfigError, match="eval.adapter"):
        run_eval_stage(cfg, tmp_path, reward_dir)


def test_bad_prompt_file_fails_before_any_model_loads(tmp_path, reward_dir, monkeypatch):
    bad = tmp_path / "prompts.csv"
    bad.write_text("goal\nfine\n\"\"\n")
    cfg = _cfg(tmp_path, "data=file", f"data.train.path={bad}", "data.train.prompt_column=goal")
    monkeypatch.setattr(grpo_stage, "load_regressor", lambda *a: pytest.fail("a model loaded before the data"))
    with pytest.raises(DataError, match=r"prompts\.csv, row 2"):
        run_grpo_stage(cfg, tmp_path / "run", reward_dir)


def test_regressor_aspects_must_match(tmp_path, reward_dir):
    cfg = _cfg(tmp_path, "reward.aspects=[safety,politeness,meaningfulness,actionability]")
    with pytest.raises(ConfigError, match="reward.aspects"):
        run_grpo_stage(cfg, tmp_path / "run", reward_dir)


def test_aspect_table_changes_by_hand():
    base = torch.tensor([[0.2, 0.5], [0.4, 0.5]])  # means 0.3, 0.5
    aligned = torch.tensor([[0.6, 0.25], [0.6, 0.25]])  # means 0.6, 0.25
    t = aspect_table(base, aligned, ["a", "b"], [2.0, 1.0])
    assert t["aspects"]["a"] == pytest.approx({"base": 0.3, "aligned": 0.6, "abs_change": 0.3, "rel_change": 1.0})
    assert t["aspects"]["b"]["rel_change"] == pytest.approx(-0.5)
    # R = 2a + b: base [0.9, 1.3] -> 1.1; aligned [1.45, 1.45] -> 1.45
    assert t["aggregate"] == pytest.approx({"base": 1.1, "aligned": 1.45, "abs_change": 0.35, "rel_change": 0.35 / 1.1})
    assert aspect_table(torch.zeros(1, 2), torch.ones(1, 2), ["a", "b"], [1, 1])["aspects"]["a"]["rel_change"] is None


def test_summarize_history_last_and_window_mean():
    hist = [{"step": i, "batch": i, "train/loss": float(i)} for i in range(1, 8)]
    out = summarize_history(hist, window=3)
    assert out["final"]["train/loss"] == 7.0 and out["final_mean"]["train/loss"] == pytest.approx(6.0)


def test_grpo_callbacks_follow_the_config(tmp_path):
    from conftest import compose_cfg

    (cb,) = grpo_callbacks(compose_cfg(["experiment=smoke"], tmp_path))
    assert isinstance(cb, CompletionsTable) and cb.every == 2
    assert cb.aspects == ["politeness", "meaningfulness", "actionability", "safety"]
    assert grpo_callbacks(compose_cfg(["experiment=smoke", "grpo.log_completions_every=0"], tmp_path)) == []
    with pytest.raises(ValueError, match="log_completions_every"):
        CompletionsTable(every=-1)


def test_the_refusal_penalty_needs_prompts_with_a_kind():
    from types import SimpleNamespace

    from mogrpo.configs import GRPOConfig, ShapingConfig
    from mogrpo.stages.grpo import check_prompt_kinds

    on = GRPOConfig(shaping=ShapingConfig(refusal_coef=2.0))
    with pytest.raises(ConfigError) as info:
        check_prompt_kinds(on, SimpleNamespace(prompts=[{"prompt": "Hi"}, {"prompt": "Go", "kind": None}]))
    assert info.value.key == "grpo.shaping.refusal.coef"
    check_prompt_kinds(on, SimpleNamespace(prompts=[{"prompt": "Hi", "kind": "benign"}]))
    check_prompt_kinds(GRPOConfig(), SimpleNamespace(prompts=[{"prompt": "Hi"}]))  # off: no kind needed
