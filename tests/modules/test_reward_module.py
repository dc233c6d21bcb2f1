import math

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn
from torch.utils.data import DataLoader

from mogrpo.models.regressor import MultiAspectRegressor, build_regressor
from mogrpo.modules.reward_module import (
    RewardDataModule,
    RewardRegressorModule,
    collate_pairs,
    linear_warmup_decay,
)

NAN = float("nan")


def test_linear_warmup_decay_factors():
    assert [linear_warmup_decay(s, 2, 6) for s in range(6)] == pytest.approx([0.5, 1.0, 1.0, 0.75, 0.5, 0.25])


# --------------------------------------------------------------------------- the regressor
@pytest.fixture
def tiny_regressor(tiny_cfg):
    return build_regressor(tiny_cfg.reward_model, list(tiny_cfg.reward.aspects))


@pytest.mark.parametrize("aspects", [["safety"], ["politeness", "meaningfulness", "actionability"]])
def test_heads_follow_the_aspect_list_and_scores_are_in_unit_interval(tiny_cfg, aspects):
    regressor = build_regressor(tiny_cfg.reward_model, aspects)
    assert list(regressor.heads) == aspects
    scores = regressor.score(["hello", "how are you?", "bye"], ["hi", "fine, thanks", ""])
    assert scores.shape == (3, len(aspects))
    assert bool(((scores > 0) & (scores < 1)).all())


def test_save_load_round_trip_gives_identical_scores(tiny_regressor, tmp_path):
    prompts, responses = ["Can you help me?", "Tell me a joke"], ["Sure, here is how.", "No."]
    before = tiny_regressor.score(prompts, responses)
    loaded = MultiAspectRegressor.load(tiny_regressor.save(tmp_path / "rm"))
    assert loaded.aspects == tiny_regressor.aspects
    assert torch.equal(loaded.score(prompts, responses), before)


# --------------------------------------------------------------------------- data
def test_collate_pairs_stacks_labels_with_nan_for_missing():
    def tokenize(prompts, responses):
        return {"input_ids": torch.tensor([[len(p), len(r)] for p, r in zip(prompts, responses)])}

    rows = [{"prompt": "ab", "response": "c", "x": 0.5, "y": None}, {"prompt": "d", "response": "ef", "x": NAN, "y": 1.0}]
    batch = collate_pairs(rows, tokenize, ["x", "y"])
    assert batch["input_ids"].tolist() == [[2, 1], [1, 2]]
    labels = batch["labels"]
    assert labels[0, 0] == 0.5 and labels[1, 1] == 1.0
    assert torch.isnan(labels[0, 1]) and torch.isnan(labels[1, 0])


def test_datamodule_batches_with_regressor_tokenizer(fake_labelled, tiny_regressor):
    dm = RewardDataModule(fake_labelled, tiny_regressor.tokenize, tiny_regressor.aspects, batch_size=5)
    batch = next(iter(dm.val_dataloader()))
    assert batch["input_ids"].shape[0] == 5 and batch["labels"].shape == (5, 4)
    assert len(dm.train_dataloader()) == 5  # 24 rows / 5
    with pytest.raises(ValueError, match="validation"):
        RewardDataModule({"train": fake_labelled["train"]}, tiny_regressor.tokenize, ["safety"])


# --------------------------------------------------------------------------- the Lightning module
def test_fast_dev_run_trains_heads_and_logs_metrics(fake_labelled, tiny_regressor):
    from functools import partial

    module = RewardRegressorModule(tiny_regressor, optim=partial(torch.optim.AdamW, lr=1e-3), head_lr=1e-2)
    groups = module.configure_optimizers().param_groups
    assert [g["lr"] for g in groups] == [1e-3, 1e-2]
    dm = RewardDataModule(fake_labelled, tiny_regressor.tokenize, tiny_regressor.aspects, batch_size=8)
    heads_before = {k: v.clone() for k, v in tiny_regressor.heads.state_dict().items()}
    tiny_regressor.eval()  # as HF from_pretrained hands encoders over: fit must switch them to training
    modes = []
    tiny_regressor.encoder.register_forward_pre_hook(lambda mod, args: modes.append(mod.training))
    trainer = Trainer(fast_dev_run=True, accelerator="cpu", logger=False, enable_progress_bar=False,
                      enable_model_summary=False)
    trainer.fit(module, datamodule=dm)
    assert any(not torch.equal(heads_before[k], v) for k, v in tiny_regressor.heads.state_dict().items())
    assert True in modes, "the encoder never ran in training mode (dropout off while fine-tuning)"
    assert modes[-1] is False  # ... and validation ran in eval mode
    metrics = trainer.callback_metrics
    assert math.isfinite(metrics["train/loss"].item()) and math.isfinite(metrics["val/loss"].item())
    for aspect in tiny_regressor.aspects:
        for name in ("mse", "mae", "r2", "pearson", "spearman"):
            assert f"val/{aspect}/{name}" in metrics
    trainer.test(module, datamodule=dm, verbose=False)
    assert math.isfinite(trainer.callback_metrics["test/politeness/mae"].item())


class _EchoRegressor(nn.Module):
    """Predicts whatever the batch's ``input_ids`` hold: metrics on known numbers."""

    aspects = ["a", "b"]

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(1, 1)
        self.heads = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.Linear(1, 1)})

    def forward(self, input_ids, attention_mask):
        return input_ids.float()


def test_val_metrics_use_only_labelled_rows_and_guard_too_few():
    pred = torch.tensor([[0.2, 0.5], [0.4, 0.5], [0.6, 0.7]])
    labels = torch.tensor([[0.0, NAN], [NAN, NAN], [1.0, 0.5]])
    batch = {"input_ids": pred, "attention_mask": torch.ones(3, 2), "labels": labels}
    trainer = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.validate(RewardRegressorModule(_EchoRegressor()), dataloaders=DataLoader([batch], batch_size=None), verbose=False)
    m = trainer.callback_metrics
    # aspect a, rows 0 and 2: (0.2 - 0)^2 = 0.04, (0.6 - 1)^2 = 0.16 -> mse 0.1, mae 0.3
    assert m["val/a/mse"].item() == pytest.approx(0.1)
    assert m["val/a/mae"].item() == pytest.approx(0.3)
    # SS_tot = 0.5, SS_res = 0.2 -> r2 = 0.6
    assert m["val/a/r2"].item() == pytest.approx(0.6)
    # aspect b: one labelled row -> mse defined, r2 / correlations NaN instead of a crash
    assert m["val/b/mse"].item() == pytest.approx(0.04)
    assert math.isnan(m["val/b/r2"].item()) and math.isnan(m["val/b/spearman"].item())
    # loss over all 3 labelled entries: (0.04 + 0.16 + 0.04) / 3
    assert m["val/loss"].item() == pytest.approx(0.08)
