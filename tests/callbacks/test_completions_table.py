"""The completions table (a fake GRPO module, a real Trainer, an offline WandbLogger read back) and the eval table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import offline_runs, read_wandb_run
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger

from mogrpo.callbacks import CompletionsTable
from mogrpo.callbacks.completions_table import (
    completion_rows,
    eval_means,
    eval_rows,
    log_eval_table,
    log_image,
)
from mogrpo.utils.logging import make_wandb_logger

ASPECTS = ["politeness", "safety"]


def _rollout(step: int) -> dict:
    """GRPOModule.last_rollout's layout: 2 prompts x G=2 completions, K=2 aspects; numbers grow with the step."""
    return {
        "step": step,
        "prompts": ["p0", "p0", "p1", "p1"],
        "completions": [f"c{step}_{i}" for i in range(4)],
        "scores": {
            "politeness": [0.1 * step, 0.2 * step, 0.3 * step, 0.4 * step],
            "safety": [0.9 * step, 0.8 * step, 0.7 * step, 0.6 * step],
        },
        "reward": [1.0 * step, 2.0 * step, 3.0 * step, 4.0 * step],
        "advantage": [-0.5, 0.5, -0.5, 0.5],
        "truncated": [False] * 4,
    }


def test_completion_rows_read_tensors_and_one_prompt_per_group():
    rollout = {
        "prompts": ["p0", "p1"],
        "completions": ["a", "b", "c", "d"],
        "scores": torch.tensor([[0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]]),
        "rewards": torch.tensor([1.0, 2.0, 3.0, 4.0]),
        "advantages": torch.tensor([-0.5, 0.5, -0.5, 0.5]),
    }
    columns, rows = completion_rows(rollout, step=1)
    assert columns == ["step", "prompt", "completion", "aspect_0", "aspect_1", "reward", "advantage"]
    assert rows[2] == [1, "p1", "c", 0.3, 0.7, 3.0, -0.5]


class FakeGRPO(LightningModule):
    """Trains a scalar; exposes ``last_rollout`` like the GRPO module."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.last_rollout = None

    def training_step(self, batch, batch_idx):
        self.last_rollout = _rollout(self.global_step + 1)
        return (self.w - 1).pow(2).sum()

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.zeros(8, 1), batch_size=1)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(logger, callbacks, root: Path, steps: int = 4) -> None:
    Trainer(
        max_steps=steps,
        logger=logger,
        callbacks=callbacks,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        default_root_dir=str(root),
    ).fit(FakeGRPO())


def test_completion_rows_of_the_grpo_module_rollout():
    columns, rows = completion_rows(_rollout(1), step=3)
    assert columns == ["step", "prompt", "completion", "politeness", "safety", "reward", "advantage"]
    assert [r[1] for r in rows] == ["p0", "p0", "p1", "p1"]
    assert rows[2] == [3, "p1", "c1_2", 0.3, 0.7, 3.0, -0.5]
    _, reordered = completion_rows(_rollout(1), step=3, aspects=["safety", "politeness"])
    assert reordered[2][3:5] == [0.7, 0.3]
    _, capped = completion_rows(_rollout(1), step=3, aspects=ASPECTS, max_rows=2)
    assert len(capped) == 2


def test_table_every_two_steps_reads_back_from_the_offline_run(offline_wandb):
    logger = make_wandb_logger(project="t", save_dir=str(offline_wandb / "run"), job_type="grpo")
    callback = CompletionsTable(every=2, aspects=ASPECTS)
    try:
        _fit(logger, [callback], offline_wandb)
    finally:
        import wandb

        wandb.finish()
    assert callback.logged_steps == [2, 4]
    (run_dir,) = offline_runs(offline_wandb / "run")
    back = read_wandb_run(run_dir)
    tables = [
        h for h in back["history"] if h.get("completions._type") == "table-file"
    ]  # history is flattened
    assert [h["trainer/global_step"] for h in tables] == [2, 4]
    meta = back["summary"]["summary"]["completions"]
    assert meta["_type"] == "table-file" and meta["nrows"] == 4 and meta["ncols"] == 7
    table = json.loads((run_dir / "files" / meta["path"]).read_text())  # the file the reader points to
    assert table["columns"] == ["step", "prompt", "completion", "politeness", "safety", "reward", "advantage"]
    assert table["data"][3] == [4, "p1", "c4_3", pytest.approx(1.6), pytest.approx(2.4), 16.0, 0.5]


def test_table_is_a_no_op_without_wandb(tmp_path):
    callback = CompletionsTable(every=1, aspects=ASPECTS)
    _fit(CSVLogger(str(tmp_path)), [callback], tmp_path, steps=2)
    assert callback.logged_steps == []


@pytest.mark.parametrize(
    "result",
    [
        {  # mogrpo.metrics.aspects.aspect_table, as the eval stage returns it
            "n_prompts": 8,
            "n": 8,
            "aspects": {"safety": {"base": 0.5, "aligned": 0.75, "abs_change": 0.25, "rel_change": 0.5}},
            "aggregate": {"base": 1.0, "aligned": 1.5, "abs_change": 0.5, "rel_change": 0.5},
            "weights": {"safety": 1.0},
            "decoding": {"do_sample": False, "max_new_tokens": 8},
        },
        {"aspects": {"safety": {"base": 0.5, "aligned": 0.75}}, "reward": {"base": 1.0, "aligned": 1.5}},
        {
            "safety": {"base": {"mean": 0.5, "std": 0.1}, "aligned": {"mean": 0.75}},
            "aggregate": {"base": 1.0, "aligned": 1.5},
        },
        {
            "base": {"aspects": {"safety": 0.5}, "reward": 1.0},
            "aligned": {"aspects": {"safety": 0.75}, "reward": 1.5},
        },
        {
            "base": {"safety": 0.5, "reward": {"mean": 1.0}},
            "aligned": {"safety": 0.75, "reward": {"mean": 1.5}},
        },
    ],
)
def test_eval_means_read_every_layout(result):
    assert eval_means(result) == {"safety": (0.5, 0.75), "reward": (1.0, 1.5)}


def test_eval_rows_delta_and_relative_change():
    columns, rows = eval_rows(
        {"aspects": {"safety": {"base": 0.5, "aligned": 0.75}, "politeness": {"base": 0.0, "aligned": 0.2}}}
    )
    assert columns == ["aspect", "base", "aligned", "delta", "rel_change"]
    assert rows == [["safety", 0.5, 0.75, 0.25, 0.5], ["politeness", 0.0, 0.2, 0.2, None]]


def test_log_eval_table_and_image_into_an_offline_run(offline_wandb):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png = offline_wandb / "calibration.png"
    plt.plot([0, 1], [0, 1])
    plt.savefig(png)
    plt.close()
    logger = make_wandb_logger(project="t", save_dir=str(offline_wandb / "run"), job_type="eval")
    assert log_eval_table(logger, {"aspects": {"safety": {"base": 0.5, "aligned": 0.75}}})
    assert log_image(logger, "reward/calibration", png)
    assert not log_image(logger, "missing", offline_wandb / "nope.png")
    assert not log_eval_table(CSVLogger(str(offline_wandb)), {"aspects": {}})
    import wandb

    wandb.finish()
    (run_dir,) = offline_runs(offline_wandb / "run")
    summary = read_wandb_run(run_dir)["summary"]["summary"]
    assert summary["eval/safety/base"] == 0.5 and summary["eval/safety/aligned"] == 0.75
    assert summary["eval/aspects"]["nrows"] == 1
    assert summary["reward/calibration"]["_type"] == "images/separated"
