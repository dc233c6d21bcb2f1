"""PPOModule: PPO-RLHF steps on the tiny policy (mogrpo/modules/ppo_module.py, mogrpo/models/value_head.py)."""

from __future__ import annotations

import torch
from lightning.pytorch import Trainer

from mogrpo.configs import PPOConfig
from mogrpo.data.prompts import PromptDataModule
from mogrpo.models.policy import build_policy
from mogrpo.models.regressor import build_regressor
from mogrpo.models.value_head import logprobs_and_values
from mogrpo.modules.ppo_module import PPOModule

PROMPTS = [{"id": str(i), "prompt": p} for i, p in enumerate(["Hi!", "How do tides work?", "Say no.", "Tell a joke."])]


def _module(tmp_path, **ppo) -> PPOModule:
    from conftest import compose_cfg

    cfg = compose_cfg(["experiment=smoke", "logger=none", "method=ppo"], tmp_path)
    torch.manual_seed(0)
    policy, tok = build_policy(cfg.model)
    regressor = build_regressor(cfg.reward_model, list(cfg.reward.aspects))
    settings = {**PPOConfig.from_node(cfg.method.ppo).to_dict(), **ppo}
    return PPOModule(policy, tok, regressor, cfg.grpo, cfg.reward, ppo=settings,
                     max_prompt_length=cfg.model.max_prompt_length, run_dir=tmp_path)  # fmt: skip


def _fit(module: PPOModule, batches: int) -> Trainer:
    trainer = Trainer(
        accelerator="cpu", devices=1, max_steps=batches * module.optimizer_steps_per_batch, max_epochs=-1,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    B = module.config.batch_size // module.config.G
    trainer.fit(module, train_dataloaders=PromptDataModule(PROMPTS, B, seed=0).train_dataloader())
    return trainer


def test_ppo_trains_lora_and_the_value_head_and_nothing_else(tmp_path):
    module = _module(tmp_path, epochs=2, mini_batch_size=2)  # 4 answers a batch: 2 epochs x 2 mini-batches
    assert module.optimizer_steps_per_batch == 4
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    trainer = _fit(module, batches=2)
    assert trainer.global_step == 8 and len(module.history) == 2  # 2 sampled batches, 4 optimiser steps each
    after = dict(module.named_parameters())
    head = [n for n in before if n.startswith("value_head.")]
    lora = [n for n in before if "lora_B" in n]
    assert len(head) == 2 and lora
    assert all(not torch.equal(before[n], after[n]) for n in head + lora)
    frozen = [n for n, p in module.named_parameters() if not p.requires_grad]
    assert any("base_layer" in n for n in frozen) and any(n.startswith("regressor.") for n in frozen)
    assert all(torch.equal(before[n], after[n].detach()) for n in frozen)
    row = module.history[-1]
    for key in ("train/loss", "train/reward_mean", "train/kl", "train/value_loss", "train/explained_variance",
                "train/approx_kl", "train/value_clip_frac", "reward/safety", "time/update_s"):  # fmt: skip
        assert key in row and row[key] == row[key], key  # present and not NaN
    assert module.value_head.linear.weight.numel() == module.policy.config.hidden_size  # hidden_size + 1 params
    assert module.trainable_keys() >= {"value_head.linear.weight", "value_head.linear.bias"}  # checkpointed


def test_the_value_head_reads_the_forward_that_gives_the_logprobs(tmp_path):
    from mogrpo.models.logprobs import token_logprobs

    module = _module(tmp_path)
    ids = torch.tensor([[0, 5, 6, 7, 8], [9, 10, 11, 12, 13]])
    mask = torch.tensor([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]])
    torch.nn.init.normal_(module.value_head.linear.weight)
    with torch.no_grad():  # LoRA B starts at 0: move it, so the check sees whether the adapters are on
        for name, p in module.policy.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.5)
    module.policy.eval()
    logp, values = logprobs_and_values(module.policy, module.value_head, ids, mask, 2)
    torch.testing.assert_close(logp, token_logprobs(module.policy, ids, mask, 2))
    with module.policy.disable_adapter():
        assert not torch.allclose(logp, token_logprobs(module.policy, ids, mask, 2))  # the adapters count
    assert values.shape == (2, 2) and values.abs().sum() > 0


def test_the_fallback_through_output_hidden_states_gives_the_same_numbers(tmp_path, monkeypatch):
    import mogrpo.models.value_head as vh

    module = _module(tmp_path)
    torch.nn.init.normal_(module.value_head.linear.weight)
    module.policy.eval()
    ids, mask = torch.tensor([[0, 5, 6, 7, 8]]), torch.tensor([[0, 1, 1, 1, 1]])
    assert vh._trunk_and_head(module.policy) is not None  # the fast path on a Llama
    fast = logprobs_and_values(module.policy, module.value_head, ids, mask, 3)
    monkeypatch.setattr(vh, "_trunk_and_head", lambda model: None)
    slow = logprobs_and_values(module.policy, module.value_head, ids, mask, 3)
    torch.testing.assert_close(fast, slow)
