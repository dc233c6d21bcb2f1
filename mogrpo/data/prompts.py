"""Prompts for GRPO: the builtin prompt set, any jsonl / csv / parquet file or hub data set, and
the data module that hands the trainer ``prompts_per_step = grpo.batch_size // grpo.G`` prompts.

Every prompt is a dict ``{"id", "prompt", "category", "kind", "split"}`` (``category``, ``kind``
and ``split`` may be None for files that lack them), plus ``messages`` when a file's row has them
(the chat messages of a multi-turn prompt, :mod:`mogrpo.data.messages`). The public prompt sets
and their mix are in :mod:`mogrpo.data.prompt_sources` and :mod:`mogrpo.data.prompt_mix`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Sampler

from mogrpo.data.messages import check_messages
from mogrpo.data.reader import read_rows
from mogrpo.errors import DataError

BUILTIN_SPLITS = ("train", "heldout")
FIELDS = ("id", "prompt", "category", "kind", "split")


def _to_prompt(row: dict, prompt_column: str, source: str, row_no: int, default_id: str) -> dict[str, Any]:
    if prompt_column not in row:
        raise DataError(f"no column {prompt_column!r} (columns: {sorted(row)})", source=source, row=row_no)
    prompt = row[prompt_column]
    if not isinstance(prompt, str) or not prompt.strip():
        raise DataError(f"empty prompt in column {prompt_column!r}: {prompt!r}", source=source, row=row_no)
    out = {
        "id": str(row.get("id") or default_id),
        "prompt": prompt,
        "category": row.get("category"),
        "kind": row.get("kind"),
        "split": row.get("split"),
    }
    if row.get("source") is not None:  # where the prompt came from (the evaluation reports refusal per source)
        out["source"] = str(row["source"])
    if row.get("messages") is not None:  # a multi-turn prompt: the policy answers these chat messages
        out["messages"] = check_messages(row["messages"], source=source, row=row_no)
    return out


def prompts_from_file(
    path: str | Path, prompt_column: str = "prompt", split: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Prompts from a ``.jsonl`` / ``.json`` / ``.csv`` / ``.tsv`` / ``.parquet`` file or a ``datasets`` hub name
    (:func:`mogrpo.data.reader.read_rows`).

    ``split``: for a hub data set, the split to load; for a file whose rows have a ``split`` field,
    keep only those rows. ``limit``: the first this many prompts. Raises DataError naming the file
    and row for a missing column or an empty prompt, and for a file with no prompts.
    """
    source = str(path)
    table = read_rows(path, split or "train", missing="prompt file does not exist", text_csv=True)
    local = Path(source).expanduser()
    suffix = local.suffix.lower() if Path(table.where).is_file() else ""
    rows = list(zip(table.numbers, table.rows))
    if suffix and split is not None:  # a file's rows: those of the split (rows without one count as in it)
        rows = [(n, r) for n, r in rows if (r.get("split") or split) == split]
    stem = local.stem if suffix else source.replace("/", "_")
    prompts = [_to_prompt(row, prompt_column, source, n, f"{stem}-{n}") for n, row in rows]
    if limit is not None:
        prompts = prompts[: int(limit)]
    if not prompts:
        raise DataError(f"no prompts{f' in split {split!r}' if split else ''}", source=source)
    return prompts


def builtin_prompts(split: str | None = None, eval_only_root: str | Path | None = None) -> list[dict[str, Any]]:
    """The builtin prompt set (``mogrpo/data/builtin/prompts.jsonl``): ``train``, ``heldout`` or all (None).

    ``eval_only_root``: a shared data folder; the prompts that are in its evaluation-only sets are
    left out (:func:`mogrpo.data.eval_only.drop_eval_only`: two ``sounds_harmful`` train prompts are
    XSTest prompts), so the builtin train split passes the GRPO stage's evaluation-only check.
    """
    if split is not None and split not in BUILTIN_SPLITS:
        raise DataError(
            f"split must be one of {BUILTIN_SPLITS} or None, got {split!r}", source="builtin prompts"
        )
    path = Path(str(resources.files("mogrpo.data") / "builtin" / "prompts.jsonl"))
    prompts = prompts_from_file(path, split=split)
    if eval_only_root is not None:
        from mogrpo.data.eval_only import drop_eval_only

        prompts = drop_eval_only(prompts, eval_only_root)
    return prompts


# --------------------------------------------------------------------------- batches
class EpochShuffleSampler(Sampler[int]):
    """A fresh permutation every epoch, from ``seed + epoch`` (so the order is reproducible and
    resumable); Lightning calls :meth:`set_epoch` at the start of each epoch."""

    def __init__(self, num_items: int, seed: int = 0):
        self.num_items = int(num_items)
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.num_items, generator=g).tolist())

    def __len__(self) -> int:
        return self.num_items


def _collate(rows: list[dict]) -> list[dict]:
    return rows


class ResumableDataLoader(DataLoader):
    """A DataLoader that knows its place: ``state_dict()`` = the epoch and the batches served in it.

    Lightning stores that state in the checkpoint's loop state and calls ``load_state_dict()`` on
    resume, so a run killed mid-epoch continues with the next unseen batch of the same epoch order
    (the sampler's ``set_epoch`` permutation) instead of starting the epoch over. It also draws the
    iterator's base seed from its own generator, so starting an epoch leaves the global RNG (which
    sampling uses) alone and a resumed run draws the same completions as an uninterrupted one.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        if len(args) < 12:  # generator is DataLoader's 12th parameter
            kwargs.setdefault("generator", torch.Generator().manual_seed(0))
        super().__init__(*args, **kwargs)
        self._epoch = 0
        self._served = 0
        self._resume: tuple[int, int] | None = None

    def __iter__(self) -> Iterator:
        return self._track(super().__iter__())

    def _track(self, batches: Iterator) -> Iterator:
        # a generator: runs at the first next(), after Lightning has called the sampler's set_epoch
        self._epoch, self._served = int(getattr(self.sampler, "epoch", 0)), 0
        resume, self._resume = self._resume, None
        if resume is not None and resume[0] == self._epoch:
            for _ in range(min(resume[1], len(self))):
                next(batches)
                self._served += 1
        for batch in batches:
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self._epoch, "batches": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._resume = (int(state["epoch"]), int(state["batches"]))


class PromptDataModule(LightningDataModule):
    """Batches of ``prompts_per_step`` prompt dicts, reshuffled every epoch with the seed.

    The trainer stops at ``max_steps`` (with ``max_epochs=-1``), so a run may cycle over the prompts
    several times. Incomplete last batches are dropped so every step has the same B.
    """

    def __init__(
        self, prompts: Sequence[dict], prompts_per_step: int, seed: int = 0, source: str = "data.train"
    ):
        super().__init__()
        if prompts_per_step < 1:
            raise ValueError(f"prompts_per_step must be >= 1, got {prompts_per_step}")
        if len(prompts) < prompts_per_step:
            raise DataError(
                f"{len(prompts)} prompts but a step needs grpo.batch_size / grpo.G = {prompts_per_step}",
                source=source,
            )
        self.prompts = list(prompts)
        self.prompts_per_step = int(prompts_per_step)
        self.seed = int(seed)

    def train_dataloader(self) -> DataLoader:
        return ResumableDataLoader(
            self.prompts,
            batch_size=self.prompts_per_step,
            sampler=EpochShuffleSampler(len(self.prompts), self.seed),
            drop_last=True,
            collate_fn=_collate,
            num_workers=0,
        )
