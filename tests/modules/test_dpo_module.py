"""DPOModule: online and offline DPO steps on the tiny policy (mogrpo/modules/dpo_module.py)."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch import Trainer

from mogrpo.configs import DPOConfig
from mogrpo.data.prompts import PromptDataModule
from mogrpo.models.logprobs import reference_logprobs, token_logprobs
from mogrpo.models.policy import build_policy
from mogrpo.models.regressor import build_regressor
from mogrpo.modules.dpo_module import DPOModule

PROMPTS = [{"id": str(i), "prompt": p} for i, p in enumerate(["Hi!", "How do tides work?", "Say no.", "Tell a joke."])]
IDS = torch.tensor([[0, 5, 6, 7, 8], [9, 10, 11, 12, 13]])
MASK = torch.tensor([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]])


def _module(tmp_path, encode_pairs=None, overrides=(), **dpo) -> DPOModule:
    from conftest import compose_cfg

    cfg = compose_cfg(["experiment=smoke", "logger=none", "method=dpo", "grpo.optim.lr=1e-2", *overrides], tmp_path)
    torch.manual_seed(0)
    policy, tok = build_policy(cfg.model)
    regressor = build_regressor(cfg.reward_model, list(cfg.reward.aspects))
    settings = {**DPOConfig.from_node(cfg.method.dpo).to_dict(), **dpo}
    return DPOModule(policy, tok, regressor, cfg.grpo, cfg.reward, dpo=settings, encode_pairs=encode_pairs,
                     max_prompt_length=cfg.model.max_prompt_length, run_dir=tmp_path)  # fmt: skip


def _fit(module: DPOModule, steps: int, rows=PROMPTS) -> Trainer:
    trainer = Trainer(
        accelerator="cpu", devices=1, max_steps=steps, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, train_dataloaders=PromptDataModule(rows, 2, seed=0).train_dataloader())
    return trainer


def _logps(module):
    module.policy.eval()
    with torch.no_grad():
        return token_logprobs(module.policy, IDS, MASK, 3), reference_logprobs(module.policy, IDS, MASK, 3)


@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo"])
def test_online_dpo_trains_lora_and_the_reference_stays_the_base(tmp_path, loss_type):
    module = _module(tmp_path, loss_type=loss_type)
    # the reference is the policy with its adapters disabled: at the start (LoRA B = 0) both agree
    policy0, ref0 = _logps(module)
    torch.testing.assert_close(policy0, ref0)
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    trainer = _fit(module, steps=2)
    assert trainer.global_step == 2 and len(module.history) == 2
    after = dict(module.named_parameters())
    lora = [n for n in before if "lora_B" in n]
    frozen = [n for n, p in module.named_parameters() if not p.requires_grad]
    assert lora and all(not torch.equal(before[n], after[n]) for n in lora)
    assert all(torch.equal(before[n], after[n].detach()) for n in frozen)
    policy1, ref1 = _logps(module)
    torch.testing.assert_close(ref1, ref0)  # the reference did not move
    assert not torch.allclose(policy1, policy0)  # the policy did
    row = module.history[-1]
    for key in ("train/loss", "train/dpo_margin", "train/dpo_accuracy", "train/dpo_pairs", "reward/safety", "train/kl"):
        assert key in row, key
    assert len(module.last_rollout["advantage"]) == 4  # +1 chosen, -1 rejected per group (or 0 on a tie)


def test_offline_dpo_raises_the_chosen_answer(tmp_path):
    chosen, rejected = torch.tensor([[0, 5, 6, 7, 8]]), torch.tensor([[0, 5, 6, 9, 10]])
    mask = torch.tensor([[0, 1, 1, 1, 1]] * 2)

    def encode(rows):
        n = len(rows)
        return (torch.cat([chosen.repeat(n, 1), rejected.repeat(n, 1)]), mask[:1].repeat(2 * n, 1),
                torch.ones(2 * n, 2, dtype=torch.long))  # fmt: skip

    module = _module(tmp_path, encode_pairs=encode, mode="offline", beta=0.5)
    pairs = [{"prompt": "p", "chosen": "a", "rejected": "b"}] * 4
    _fit(module, steps=4, rows=pairs)
    first, last = module.history[0], module.history[-1]
    assert first["train/dpo_margin"] == pytest.approx(0.0, abs=1e-5)  # policy = reference at the start
    assert last["train/dpo_margin"] > 0 and last["train/loss"] < first["train/loss"]
    with pytest.raises(ValueError, match="encode_pairs"):
        _module(tmp_path, mode="offline")


def test_online_dpo_follows_the_reward_schedule_by_sampled_batch(tmp_path):
    module = _module(tmp_path, overrides=["grpo.max_steps=2", "reward.schedule.kind=linear",
                                          "reward.schedule.final_weights={safety: 8}"])  # fmt: skip
    _fit(module, steps=2)
    safety = [row["train/weight/safety"] for row in module.history]
    assert safety[0] == 1.0 and safety[1] > safety[0]  # the weights the pairs were picked with move per batch


def test_online_dpo_runs_the_constraints_dual_ascent(tmp_path):
    module = _module(tmp_path, overrides=["reward=constrained_safety"])
    lam0 = module.lagrange_multiplier
    _fit(module, steps=2)
    rows = module.history
    assert rows[0]["train/lagrange_multiplier"] == lam0 and "train/constraint_mean" in rows[0]
    assert module.lagrange_multiplier != lam0  # updated from the batch's safety scores
