"""GRPOModule with ``reward.schedule``: the active weights / threshold change with the step and are logged."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn

from mogrpo.data.prompts import PromptDataModule
from mogrpo.models.policy import build_policy
from mogrpo.modules.grpo_module import GRPOModule

ASPECTS = ["politeness", "meaningfulness", "actionability", "safety"]
PROMPTS = [{"id": str(i), "prompt": p} for i, p in enumerate(["Hi!", "How do tides work?", "Say no.", "Tell a joke."])]


class ScriptedRegressor(nn.Module):
    """Scores from a function of the row index within the group; no weights."""

    def __init__(self, fn, G: int):
        super().__init__()
        self.fn, self.G, self.aspects = fn, G, list(ASPECTS)

    def score(self, prompts, responses):
        return torch.tensor([self.fn(i % self.G) for i, _ in enumerate(prompts)], dtype=torch.float32)


def _fit(tmp_path, *overrides, steps: int = 3) -> GRPOModule:
    from conftest import compose_cfg

    cfg = compose_cfg(["experiment=smoke", "logger=none", f"grpo.max_steps={steps}", *overrides], tmp_path)
    torch.manual_seed(0)
    policy, tok = build_policy(cfg.model)
    regressor = ScriptedRegressor(lambda j: [0.1 + 0.3 * j, 0.5, 0.5, 0.5 + 0.4 * j], G=2)  # safety 0.5, 0.9
    module = GRPOModule(policy, tok, regressor, cfg.grpo, cfg.reward, cfg.model.max_prompt_length, run_dir=tmp_path)
    trainer = Trainer(accelerator="cpu", devices=1, max_steps=steps, max_epochs=-1, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, train_dataloaders=PromptDataModule(PROMPTS, 2, seed=0).train_dataloader())
    return module


def test_a_linear_weight_schedule_moves_the_weights_and_logs_them_every_step(tmp_path):
    # smoke: equal weights 1; safety 1 -> 4 over grpo.max_steps = 3: 1, 2, 3 at steps 0, 1, 2
    module = _fit(tmp_path, "reward.schedule.kind=linear", "reward.schedule.final_weights={safety: 4}")
    assert [h["train/weight/safety"] for h in module.history] == pytest.approx([1.0, 2.0, 3.0])
    assert [h["train/weight/politeness"] for h in module.history] == pytest.approx([1.0, 1.0, 1.0])  # constant
    # the logged reward is the one with the active weights: 0.25 (politeness) + 1 + safety weight x 0.7
    assert [h["train/reward_mean"] for h in module.history] == pytest.approx([1.25 + 0.7 * w for w in (1, 2, 3)])
    assert "train/constraint_threshold" not in module.history[0]


def test_a_threshold_schedule_drives_the_dual_ascent(tmp_path):
    # tau 0.8 -> 0.5 linearly over end_step=2: 0.8, 0.65, 0.5; mean safety 0.7; lambda_lr 0.5 from lambda 1
    module = _fit(tmp_path, "reward=constrained_safety", "reward.schedule.kind=linear",
                  "reward.schedule.final_threshold=0.5", "reward.schedule.end_step=2")  # fmt: skip
    assert [h["train/constraint_threshold"] for h in module.history] == pytest.approx([0.8, 0.65, 0.5])
    lams = [1.0, 1.0 + 0.5 * 0.1, 1.05 + 0.5 * -0.05]
    assert [h["train/lagrange_multiplier"] for h in module.history] == pytest.approx(lams)
    # the constrained aspect's active weight is the multiplier
    assert [h["train/weight/safety"] for h in module.history] == pytest.approx(lams)
    assert module.lagrange_multiplier == pytest.approx(lams[-1] + 0.5 * (0.5 - 0.7))
