"""Lightning wrapping of the multi-label reward regressor: data module, masked loss, metrics.

Labels are partial: a row may carry a label for some aspects only (NaN = missing). The loss is
the squared error averaged over the labelled (row, aspect) entries only (:func:`masked_mse`),
and each aspect's metrics are updated only on the rows labelled for that aspect.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import torch
from lightning.pytorch import LightningDataModule, LightningModule
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics import (
    MeanAbsoluteError,
    MeanSquaredError,
    MetricCollection,
    PearsonCorrCoef,
    R2Score,
    SpearmanCorrCoef,
    SumMetric,
)

from mogrpo.models.regressor import MultiAspectRegressor

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
SCHEDULES = ("constant", "linear")


# --------------------------------------------------------------------------- the loss
def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the labelled entries only.

        M_ik = 1 if target_ik is not NaN else 0
        L = sum_ik M_ik (pred_ik - target_ik)^2 / max(1, sum_ik M_ik)

    With no labelled entry the result is 0 and still depends on ``pred`` (a zero gradient, not
    a broken graph), so a batch without labels trains nothing instead of crashing.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    mask = ~torch.isnan(target)
    diff = torch.where(mask, pred - torch.nan_to_num(target, nan=0.0), torch.zeros_like(pred))
    return diff.pow(2).sum() / mask.sum().clamp(min=1)


def per_aspect_masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Masked MSE of each column ``k`` of ``[N, K]`` tensors: ``[K]``, NaN where column ``k`` has no label.

        L_k = sum_i M_ik (pred_ik - target_ik)^2 / sum_i M_ik
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    mask = ~torch.isnan(target)
    diff = torch.where(mask, pred - torch.nan_to_num(target, nan=0.0), torch.zeros_like(pred))
    counts = mask.sum(0)
    per = diff.pow(2).sum(0) / counts.clamp(min=1)
    return torch.where(counts > 0, per, torch.full_like(per, float("nan")))


# --------------------------------------------------------------------------- data
def collate_pairs(
    rows: Sequence[Mapping[str, Any]],
    tokenize: Callable[[Sequence[str], Sequence[str]], Mapping[str, torch.Tensor]],
    aspects: Sequence[str],
) -> dict[str, torch.Tensor]:
    """Rows of a labelled dataset -> ``tokenize(prompts, responses)`` plus ``labels [B, K]`` (NaN = missing)."""
    batch = dict(tokenize([r["prompt"] for r in rows], [r["response"] for r in rows]))
    labels = [[float("nan") if r[a] is None else float(r[a]) for a in aspects] for r in rows]
    batch["labels"] = torch.tensor(labels, dtype=torch.float32)
    return batch


class RewardDataModule(LightningDataModule):
    """Loaders over a labelled ``DatasetDict`` (splits train / validation / test).

    ``tokenize`` is :meth:`MultiAspectRegressor.tokenize` (pairs -> ``input_ids``, ``attention_mask``, ...).
    """

    def __init__(
        self,
        dataset,
        tokenize: Callable[[Sequence[str], Sequence[str]], Mapping[str, torch.Tensor]],
        aspects: Sequence[str],
        batch_size: int = 32,
        num_workers: int = 0,
        group_by_length: bool = True,
        seed: int = 0,
    ):
        super().__init__()
        missing = [s for s in SPLITS if s not in dataset]
        if missing:
            raise ValueError(f"labelled dataset lacks split(s) {missing}; has {list(dataset)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.aspects = list(aspects)
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.group_by_length = bool(group_by_length)
        self.seed = int(seed)
        self.collate = partial(collate_pairs, tokenize=tokenize, aspects=self.aspects)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(
            self.dataset[split],
            batch_size=self.batch_size,
            shuffle=shuffle,
            collate_fn=self.collate,
            num_workers=self.num_workers,
        )

    def train_dataloader(self) -> DataLoader:
        if not self.group_by_length:
            return self._loader("train", shuffle=True)
        # Random batches of similar lengths: pairs are padded to the longest in their batch, so
        # grouping cuts the padded tokens the encoder processes (about half on the builtin data).
        # Under DDP Lightning swaps in a DistributedSampler (plain shuffling).
        try:
            from transformers.trainer_pt_utils import LengthGroupedSampler
        except ImportError as err:  # moved or gone in this transformers: say so, then shuffle plainly
            import transformers

            log.warning("fast path 'group_by_length' is off: %s (transformers %s); batches are shuffled plainly",
                        err, transformers.__version__)  # fmt: skip
            return self._loader("train", shuffle=True)

        train = self.dataset["train"]
        lengths = [len(p) + len(r) for p, r in zip(train["prompt"], train["response"])]
        sampler = LengthGroupedSampler(
            self.batch_size, lengths=lengths, generator=torch.Generator().manual_seed(self.seed)
        )
        return DataLoader(
            train, batch_size=self.batch_size, sampler=sampler, collate_fn=self.collate, num_workers=self.num_workers
        )

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


# --------------------------------------------------------------------------- the module
def _aspect_metrics() -> MetricCollection:
    metrics = {
        "mse": MeanSquaredError(),
        "mae": MeanAbsoluteError(),
        "r2": R2Score(),
        "pearson": PearsonCorrCoef(),
        "spearman": SpearmanCorrCoef(),
    }
    return MetricCollection(metrics, compute_groups=False)


def linear_warmup_decay(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR factor: ``step / warmup`` while warming up, then linear decay to 0 at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    remaining = max(1, total_steps - warmup_steps)
    return max(0.0, 1.0 - (step - warmup_steps) / remaining)


class RewardRegressorModule(LightningModule):
    """Trains a :class:`MultiAspectRegressor` with :func:`masked_mse`.

    Logs ``train/loss``, ``val/loss``, ``test/loss`` and per aspect ``val|test/<aspect>/mse|mae|r2|pearson|spearman``
    (NaN when an aspect has too few labelled rows for the metric). The encoder trains at ``optim``'s
    lr, the heads at ``head_lr``.
    """

    def __init__(
        self,
        regressor: MultiAspectRegressor,
        optim: Callable[..., torch.optim.Optimizer] | None = None,
        head_lr: float | None = None,
        schedule: str = "constant",
        warmup_ratio: float = 0.0,
    ):
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        self.save_hyperparameters(ignore=["regressor", "optim"])
        self.regressor = regressor
        self.aspects = list(regressor.aspects)
        self.optim = optim if optim is not None else partial(torch.optim.AdamW, lr=5e-5)
        self.head_lr = head_lr
        self.schedule = schedule
        self.warmup_ratio = float(warmup_ratio)
        self.metrics = nn.ModuleDict(
            {
                stage: nn.ModuleDict({a: _aspect_metrics() for a in self.aspects})
                for stage in ("val", "test")
            }
        )
        self.counts = nn.ModuleDict(
            {stage: nn.ModuleDict({a: SumMetric() for a in self.aspects}) for stage in ("val", "test")}
        )

    def on_fit_start(self) -> None:
        # HF ``from_pretrained`` returns encoders in eval mode and Lightning keeps each submodule's
        # mode: switch the whole regressor (encoder dropout included) to training mode once.
        self.regressor.train()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.regressor(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    def _predict(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        return self(**inputs).float(), batch["labels"]

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        pred, labels = self._predict(batch)
        loss = masked_mse(pred, labels)
        self.log("train/loss", loss, prog_bar=True, batch_size=labels.shape[0])
        return loss

    def _eval_step(self, stage: str, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        pred, labels = self._predict(batch)
        loss = masked_mse(pred, labels)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val", batch_size=labels.shape[0])
        for k, aspect in enumerate(self.aspects):
            mask = ~torch.isnan(labels[:, k])
            n = int(mask.sum())
            if n == 0:
                continue
            self.metrics[stage][aspect].update(pred[mask, k], labels[mask, k])
            self.counts[stage][aspect].update(torch.tensor(float(n), device=labels.device))
        return loss

    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._eval_step("val", batch)

    def test_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._eval_step("test", batch)

    def _log_aspect_metrics(self, stage: str) -> None:
        for aspect in self.aspects:
            collection, counter = self.metrics[stage][aspect], self.counts[stage][aspect]
            values = {name: float("nan") for name in collection}
            with warnings.catch_warnings():  # "compute before update" / "constant input": NaN, not noise
                warnings.simplefilter("ignore")
                n = int(counter.compute())  # summed over processes: every rank takes the same branch
                if n >= 1:
                    for name in ("mse", "mae"):
                        values[name] = float(collection[name].compute())
                if n >= 2:  # r2 and correlations need two rows (and are NaN for constant inputs)
                    for name in ("r2", "pearson", "spearman"):
                        try:
                            values[name] = float(collection[name].compute())
                        except (ValueError, RuntimeError):
                            values[name] = float("nan")
            for name, value in values.items():
                self.log(f"{stage}/{aspect}/{name}", value if math.isfinite(value) else float("nan"))
            collection.reset()
            counter.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_aspect_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_aspect_metrics("test")

    def configure_optimizers(self):
        encoder_params = [p for p in self.regressor.encoder.parameters() if p.requires_grad]
        head_params = [p for p in self.regressor.heads.parameters() if p.requires_grad]
        head_group: dict[str, Any] = {"params": head_params}
        if self.head_lr is not None:
            head_group["lr"] = float(self.head_lr)
        optimizer = self.optim([{"params": encoder_params}, head_group])
        if self.schedule == "constant":
            return optimizer
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(round(self.warmup_ratio * total))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, partial(linear_warmup_decay, warmup_steps=warmup, total_steps=total)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
