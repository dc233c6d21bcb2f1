"""Bad input and divergence: each case stops (or carries on) with a message that names the culprit.

- malformed prompt / labelled files: ``python -m mogrpo.train`` fails before any model loads, naming file + line
- a LoRA config that trains nothing: refused, naming ``model.lora.target_modules``
- NaN / inf from the reward model: the run stops, the prompt and completion saved in ``bad_reward.jsonl``
- an empty completion (EOS first): scored like any other, no crash
- prompts over ``model.max_prompt_length``: cut and counted in ``train/prompts_truncated``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TEST_THREADS

REPO_ROOT = Path(__file__).resolve().parents[1]
# lines that only appear once a model is being built or a Trainer started
MODEL_LOAD_MARKS = ("GPU available", "trainable LoRA parameters", "converting", "Initializing distributed")


def _train(*overrides: str, tmp_path: Path, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "OMP_NUM_THREADS": TEST_THREADS}
    cmd = [sys.executable, "-m", "mogrpo.train", "experiment=smoke", "logger=none", f"paths.log_dir={tmp_path / 'logs'}",
           "trainer.enable_progress_bar=false", *overrides]  # fmt: skip
    t0 = time.time()
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return done, time.time() - t0


def _cfg(tmp_path, *overrides):
    from conftest import compose_cfg

    return compose_cfg(["experiment=smoke", "logger=none", *overrides], tmp_path)


# --------------------------------------------------------------------------- malformed files, end to end
@pytest.mark.slow  # a subprocess: python -m mogrpo.train
def test_broken_prompt_file_fails_before_any_model_loads_naming_file_and_line(tmp_path):
    bad = tmp_path / "prompts.jsonl"
    bad.write_text('{"prompt": "How do tides work?"}\n{"prompt": "Unclosed\n{"prompt": "Fine."}\n')
    done, seconds = _train("data=file", f"data.train.path={bad}", "data.train.prompt_column=prompt",
                           tmp_path=tmp_path)  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"{bad}: line 2 is not valid JSON" in out  # stage=all: checked before the reward model trains
    assert not any(mark in out for mark in MODEL_LOAD_MARKS), out[-2000:]
    assert "Traceback" not in out  # one clear line
    assert seconds < 60


@pytest.mark.slow  # a subprocess: python -m mogrpo.train
def test_broken_labelled_file_fails_before_any_model_loads_naming_file_and_line(tmp_path):
    bad = tmp_path / "labelled.jsonl"
    rows = [{"prompt": f"q{i}", "response": f"a{i}", "safety": 1.0} for i in range(4)]
    lines = [json.dumps(r) for r in rows]
    lines.insert(2, '{"prompt": "q", "response": ')  # line 3 is cut short
    bad.write_text("\n".join(lines) + "\n")
    done, seconds = _train("stage=reward", "reward_data=file", f"reward_data.sources.0.path={bad}",
                           "+reward_data.sources.0.aspect_columns.safety=safety", tmp_path=tmp_path)  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert str(bad) in out and "line 3 is not valid JSON" in out
    assert not any(mark in out for mark in MODEL_LOAD_MARKS), out[-2000:]
    assert "Traceback" not in out
    assert seconds < 60


@pytest.mark.slow  # a subprocess: python -m mogrpo.train
def test_lora_targets_that_match_nothing_are_refused_naming_the_key(tmp_path, reward_dir):
    done, _ = _train("stage=grpo", f"reward_model.checkpoint={reward_dir}", "model.lora.target_modules=[nonexistent]",
                     tmp_path=tmp_path)  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "error: model.lora.target_modules" in out and "nonexistent" in out
    assert "Traceback" not in out
    assert not list((tmp_path / "logs").rglob("adapter"))


# --------------------------------------------------------------------------- divergence and odd completions
def test_nan_reward_stops_the_run_and_saves_the_prompt_and_completion(tmp_path, reward_dir, monkeypatch):
    from mogrpo.models.regressor import MultiAspectRegressor
    from mogrpo.modules.grpo_module import RewardError
    from mogrpo.stages.grpo import run_grpo_stage

    real_score = MultiAspectRegressor.score

    def nan_on_second_row(self, prompts, responses, batch_size=64):
        scores = real_score(self, prompts, responses, batch_size)
        scores[1, 2] = float("nan")
        return scores

    monkeypatch.setattr(MultiAspectRegressor, "score", nan_on_second_row)
    cfg = _cfg(tmp_path, "grpo.max_steps=3")
    run_dir = tmp_path / "run"
    with pytest.raises(RewardError) as info:
        run_grpo_stage(cfg, run_dir, reward_dir)
    (row,) = [json.loads(line) for line in (run_dir / "bad_reward.jsonl").read_text().splitlines()]
    assert row["prompt"] and isinstance(row["completion"], str)
    assert row["prompt"] in str(info.value) and repr(row["completion"]) in str(info.value)
    assert row["scores"]["actionability"] != row["scores"]["actionability"]  # NaN, as returned
    assert not (run_dir / "adapter").exists()  # stopped at step 1: nothing trained is saved as a result


def test_inf_reward_is_caught_too(tmp_path, reward_dir, monkeypatch):
    from mogrpo.models.regressor import MultiAspectRegressor
    from mogrpo.modules.grpo_module import RewardError
    from mogrpo.stages.grpo import run_grpo_stage

    monkeypatch.setattr(MultiAspectRegressor, "score", lambda self, p, r, batch_size=64: torch.full((len(p), 4), float("inf")))
    with pytest.raises(RewardError, match="non-finite"):
        run_grpo_stage(_cfg(tmp_path, "grpo.max_steps=1"), tmp_path / "run", reward_dir)
    assert len((tmp_path / "run" / "bad_reward.jsonl").read_text().splitlines()) == 4  # the whole batch


def test_empty_completions_are_scored_not_a_crash(tmp_path, reward_dir, monkeypatch):
    from transformers import GenerationMixin

    from mogrpo.models.regressor import MultiAspectRegressor
    from mogrpo.stages.grpo import run_grpo_stage

    def eos_first(self, input_ids=None, attention_mask=None, num_return_sequences=1, eos_token_id=None, **kw):
        eos = eos_token_id[0] if isinstance(eos_token_id, list) else eos_token_id
        prompts = input_ids.repeat_interleave(num_return_sequences, dim=0)
        return torch.cat([prompts, torch.full((prompts.shape[0], 3), eos, dtype=prompts.dtype)], dim=1)

    scored: list[str] = []
    real_score = MultiAspectRegressor.score

    def spy(self, prompts, responses, batch_size=64):
        scored.extend(responses)
        return real_score(self, prompts, responses, batch_size)

    monkeypatch.setattr(GenerationMixin, "generate", eos_first)
    monkeypatch.setattr(MultiAspectRegressor, "score", spy)
    out = run_grpo_stage(_cfg(tmp_path, "grpo.max_steps=2"), tmp_path / "run", reward_dir)
    assert out["steps"] == 2
    assert scored and set(scored) == {""}  # every completion empty, and every one scored
    final = out["final"]
    assert final["train/completion_length_mean"] == 1.0  # just the EOS token
    assert final["train/frac_truncated"] == 0.0
    assert all(final[f"reward/{a}"] == final[f"reward/{a}"] for a in ("politeness", "safety"))  # finite


def test_prompts_over_the_limit_are_cut_from_the_left_and_counted(tmp_path, reward_dir, monkeypatch):
    from mogrpo.models import generation as policy_mod
    from mogrpo.stages.grpo import run_grpo_stage

    widths: list[int] = []
    real = policy_mod.generate_group

    def spy(model, tokenizer, prompt_ids, prompt_mask, G, gen, **kwargs):
        widths.append(prompt_ids.shape[1])
        return real(model, tokenizer, prompt_ids, prompt_mask, G, gen, **kwargs)

    import mogrpo.modules.grpo_module as gm

    monkeypatch.setattr(gm, "generate_group", spy)
    out = run_grpo_stage(_cfg(tmp_path, "grpo.max_steps=2", "model.max_prompt_length=6"), tmp_path / "run", reward_dir)
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    prompts_per_step = 2  # smoke: batch_size 4 / G 2; every chat-templated prompt is over 6 tokens
    assert [h["train/prompts_truncated"] for h in history] == [prompts_per_step] * 2
    assert widths == [6, 6]
    assert out["steps"] == 2
