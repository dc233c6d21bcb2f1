"""Lightning wrapping of the multi-label reward regressor: data module, mixed loss, metrics.

Labels are partial: a row may carry a label for some aspects only (NaN = missing). Absolute rows
train with the masked MSE and preference rows (a ``rejected`` response beside the ``response``)
with a masked Bradley-Terry loss on the logits, both in one batch (:func:`mogrpo.reward.reward_loss`).
Each aspect's regression metrics are updated only on the absolute rows labelled for it, its
pairwise accuracy only on the preference rows labelled for it.
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
from mogrpo.modules.schedules import linear_warmup_decay
from mogrpo.reward import pairwise_accuracy, reward_loss

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
SCHEDULES = ("constant", "linear")
REJECTED_PREFIX = "rejected_"


# --------------------------------------------------------------------------- data
def collate_pairs(
    rows: Sequence[Mapping[str, Any]],
    tokenize: Callable[[Sequence[str], Sequence[str]], Mapping[str, torch.Tensor]],
    aspects: Sequence[str],
) -> dict[str, torch.Tensor]:
    """Rows of a labelled dataset -> ``tokenize(prompts, responses)`` plus ``labels [B, K]`` (NaN =
    missing), ``pair_index [P]`` (the preference rows) and ``rejected_<key>`` (their rejected responses,
    tokenized the same way; absent when the batch has no preference row)."""
    batch = dict(tokenize([r["prompt"] for r in rows], [r["response"] for r in rows]))
    labels = [[float("nan") if r[a] is None else float(r[a]) for a in aspects] for r in rows]
    batch["labels"] = torch.tensor(labels, dtype=torch.float32)
    pairs = [i for i, r in enumerate(rows) if str(r.get("rejected") or "").strip()]
    batch["pair_index"] = torch.tensor(pairs, dtype=torch.long)
    if pairs:
        rejected = tokenize([rows[i]["prompt"] for i in pairs], [rows[i]["rejected"] for i in pairs])
        batch.update({f"{REJECTED_PREFIX}{k}": v for k, v in rejected.items()})
    return batch


def split_batch(batch: Mapping[str, torch.Tensor]) -> tuple[dict, dict, torch.Tensor, torch.Tensor]:
    """``(response inputs, rejected inputs, labels, pair_index)`` of a :func:`collate_pairs` batch."""
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "pair_index") and not k.startswith(REJECTED_PREFIX)}
    rejected = {k[len(REJECTED_PREFIX) :]: v for k, v in batch.items() if k.startswith(REJECTED_PREFIX)}
    pair_index = batch.get("pair_index")
    if pair_index is None:
        pair_index = torch.zeros(0, dtype=torch.long, device=batch["labels"].device)
    return inputs, rejected, batch["labels"], pair_index


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
        rejected = train["rejected"] if "rejected" in train.column_names else [""] * len(train)
        lengths = [len(p) + len(r) + len(x or "") for p, r, x in zip(train["prompt"], train["response"], rejected)]
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


class RewardRegressorModule(LightningModule):
    """Trains a :class:`MultiAspectRegressor` with :func:`mogrpo.reward.reward_loss`.

    Logs ``train/loss`` (and its parts ``train/mse``, ``train/bt``), ``val/loss``, ``test/loss``, per
    aspect ``val|test/<aspect>/mse|mae|r2|pearson|spearman`` on absolute rows (NaN when an aspect has
    too few labelled rows for the metric) and ``val|test/<aspect>/pair_acc`` on preference rows (when
    the split has any). The encoder trains at ``optim``'s lr, the heads at ``head_lr``; the two loss
    terms are weighted by ``absolute_weight`` and ``pair_weight``.
    """

    def __init__(
        self,
        regressor: MultiAspectRegressor,
        optim: Callable[..., torch.optim.Optimizer] | None = None,
        head_lr: float | None = None,
        schedule: str = "constant",
        warmup_ratio: float = 0.0,
        absolute_weight: float = 1.0,
        pair_weight: float = 1.0,
    ):
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if absolute_weight < 0 or pair_weight < 0 or absolute_weight + pair_weight == 0:
            raise ValueError(f"loss weights must be >= 0 and not both 0, got {absolute_weight}, {pair_weight}")
        self.save_hyperparameters(ignore=["regressor", "optim"])
        self.regressor = regressor
        self.aspects = list(regressor.aspects)
        self.optim = optim if optim is not None else partial(torch.optim.AdamW, lr=5e-5)
        self.head_lr = head_lr
        self.schedule = schedule
        self.warmup_ratio = float(warmup_ratio)
        self.absolute_weight = float(absolute_weight)
        self.pair_weight = float(pair_weight)
        self.metrics = nn.ModuleDict(
            {
                stage: nn.ModuleDict({a: _aspect_metrics() for a in self.aspects})
                for stage in ("val", "test")
            }
        )
        self.counts = nn.ModuleDict(
            {stage: nn.ModuleDict({a: SumMetric() for a in self.aspects}) for stage in ("val", "test")}
        )
        self.pair_counts = nn.ModuleDict(
            {
                f"{stage}_{what}": nn.ModuleDict({a: SumMetric() for a in self.aspects})
                for stage in ("val", "test")
                for what in ("correct", "total")
            }
        )

    def on_fit_start(self) -> None:
        # HF ``from_pretrained`` returns encoders in eval mode and Lightning keeps each submodule's
        # mode: switch the whole regressor (encoder dropout included) to training mode once.
        self.regressor.train()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.regressor(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    def _logits(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Pre-sigmoid scores ``[B, K]`` (a regressor without ``logits`` gives scores; they are inverted)."""
        if hasattr(self.regressor, "logits"):
            return self.regressor.logits(**inputs).float()
        return torch.logit(self(**inputs).float().clamp(1e-6, 1 - 1e-6))

    def _loss(self, batch: Mapping[str, torch.Tensor]):
        inputs, rejected, labels, pair_index = split_batch(batch)
        logits = self._logits(inputs)
        rejected_logits = self._logits(rejected) if pair_index.numel() else None
        loss, parts = reward_loss(
            logits, labels, pair_index, rejected_logits, self.absolute_weight, self.pair_weight
        )
        return loss, parts, logits, rejected_logits, labels, pair_index

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, parts, *_ , labels, _ = self._loss(batch)
        n = labels.shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=n)
        self.log_dict({"train/mse": parts["mse"], "train/bt": parts["bt"]}, batch_size=n)
        return loss

    def _eval_step(self, stage: str, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        loss, _, logits, rejected_logits, labels, pair_index = self._loss(batch)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val", batch_size=labels.shape[0])
        pred = torch.sigmoid(logits)
        absolute = torch.ones(labels.shape[0], dtype=torch.bool, device=labels.device)
        absolute[pair_index] = False
        for k, aspect in enumerate(self.aspects):
            mask = ~torch.isnan(labels[:, k]) & absolute
            n = int(mask.sum())
            if n == 0:
                continue
            self.metrics[stage][aspect].update(pred[mask, k], labels[mask, k])
            self.counts[stage][aspect].update(torch.tensor(float(n), device=labels.device))
        if pair_index.numel():
            target = labels[pair_index]
            acc = pairwise_accuracy(logits[pair_index], rejected_logits, target)
            counted = (~torch.isnan(target) & (target != 0.5)).sum(0).float()
            for k, aspect in enumerate(self.aspects):
                if counted[k] > 0:
                    self.pair_counts[f"{stage}_correct"][aspect].update(acc[k] * counted[k])
                    self.pair_counts[f"{stage}_total"][aspect].update(counted[k])
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
            correct, total = self.pair_counts[f"{stage}_correct"][aspect], self.pair_counts[f"{stage}_total"][aspect]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                n_pairs = float(total.compute())
                if n_pairs > 0:
                    self.log(f"{stage}/{aspect}/pair_acc", float(correct.compute()) / n_pairs)
            correct.reset()
            total.reset()

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
