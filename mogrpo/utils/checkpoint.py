"""Resumable GRPO checkpoints: one directory per save, written atomically, and where to resume from.

Every ``grpo.checkpoint_every`` optimiser steps :class:`GRPOCheckpoint` writes::

    <run_dir>/checkpoints/
        step_4/
            state.ckpt   a Lightning checkpoint: the LoRA weights only (GRPOModule.on_save_checkpoint), the
                         optimizer and LR scheduler, the loop state (global step, epoch, batch), the prompt
                         loader's position (epoch + batches served: ResumableDataLoader), the Lagrange
                         multiplier and the metric history (GRPOModule), and the RNG states of python,
                         numpy and torch of every rank (this callback). Tensors and plain Python only:
                         it loads with ``torch.load(..., weights_only=True)``.
            adapter/     the LoRA adapter at that step (peft ``save_pretrained``; ``eval.adapter=`` takes it)
            meta.json    step, epoch, batches of the epoch done, world size, time
        step_6/ ...
        last             the name of the newest complete checkpoint (``step_6``)

A checkpoint is built in ``.step_<n>.tmp/`` beside its final place and renamed into place with
``os.replace`` once complete; ``last`` is replaced the same way. A run killed at any moment leaves
every ``step_<n>/`` complete (at worst a ``.tmp`` dir, which is ignored and removed by the next save).

Resume with ``resume=<checkpoint dir>`` or ``resume=auto hydra.run.dir=<the run dir>`` (the newest
checkpoint of that run dir; a fresh start when there is none): :func:`resolve_resume`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer

log = logging.getLogger(__name__)

CHECKPOINTS_DIR = "checkpoints"
STATE_NAME = "state.ckpt"
ADAPTER_DIR = "adapter"
META_NAME = "meta.json"
LAST_NAME = "last"
STEP_DIR = re.compile(r"^step_(\d+)$")


# --------------------------------------------------------------------------- files
def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temp file beside it and ``os.replace`` (never half-written)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def step_dir_name(step: int) -> str:
    return f"step_{int(step)}"


def is_complete(path: str | os.PathLike) -> bool:
    """A checkpoint dir holding its state, meta and adapter config."""
    path = Path(path)
    return all((path / name).is_file() for name in (STATE_NAME, META_NAME, f"{ADAPTER_DIR}/adapter_config.json"))


def list_checkpoints(root: str | os.PathLike) -> list[Path]:
    """The ``step_<n>`` dirs under ``root``, oldest step first (``.tmp`` dirs left out)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := STEP_DIR.match(p.name))]
    return [p for _, p in sorted(found)]


def last_checkpoint(root: str | os.PathLike) -> Path | None:
    """The checkpoint ``root/last`` names, or (if that is missing) the complete one with the highest step."""
    root = Path(root)
    pointer = root / LAST_NAME
    if pointer.is_file():
        named = root / pointer.read_text(encoding="utf-8").strip()
        if STEP_DIR.match(named.name) and is_complete(named):
            return named
    complete = [p for p in list_checkpoints(root) if is_complete(p)]
    return complete[-1] if complete else None


def resolve_resume(resume: Any, run_dir: str | os.PathLike) -> Path | None:
    """The checkpoint dir to resume from, for the ``resume`` config value.

    ``null`` / ``false`` / ``""``: none. ``auto``: the newest checkpoint of ``<run_dir>/checkpoints``, or
    none if there is none yet (so one command both starts and restarts a preemptible job; pass the old run
    dir with ``hydra.run.dir=``). A path: a checkpoint dir, its ``state.ckpt``, a ``checkpoints`` dir or a run
    dir (the newest checkpoint in it). Raises ConfigError naming ``resume`` for a path with no checkpoint.
    """
    from mogrpo.errors import ConfigError

    if resume is None or resume is False or str(resume).strip() in ("", "null", "none", "false"):
        return None
    if str(resume) == "auto":
        found = last_checkpoint(Path(run_dir) / CHECKPOINTS_DIR)
        if found is None:
            log.info("resume=auto: no checkpoint in %s yet; starting from step 0", Path(run_dir) / CHECKPOINTS_DIR)
        return found
    path = Path(str(resume)).expanduser()
    if path.is_file() and path.name == STATE_NAME:
        path = path.parent
    if is_complete(path):
        return path
    for root in (path, path / CHECKPOINTS_DIR):
        found = last_checkpoint(root)
        if found is not None:
            return found
    raise ConfigError(
        "resume",
        f"{str(path)!r} is not a checkpoint dir (with {STATE_NAME}, {META_NAME}, {ADAPTER_DIR}/) nor a run dir "
        f"holding {CHECKPOINTS_DIR}/step_<n>/; use resume=auto hydra.run.dir=<run dir> or a step_<n> path",
    )


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint's ``state.ckpt`` as a dict, loaded with ``weights_only=True`` (no pickled code)."""
    path = Path(path)
    if path.is_dir():
        path = path / STATE_NAME
    return torch.load(path, map_location="cpu", weights_only=True)


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads((Path(path) / META_NAME).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- RNG states
def rng_state() -> dict[str, torch.Tensor]:
    """This process's RNG states as tensors (so they gather across ranks and load with weights_only).

    ``python``: ``random.getstate()``'s 625 words; ``numpy``: the MT19937 key (624), position and
    has-gauss flag, and the cached gaussian; ``torch``: ``torch.get_rng_state()``; ``cuda``: the current
    device's generator state (only when CUDA is initialised).
    """
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": torch.tensor(words, dtype=torch.int64),
        "numpy": torch.tensor([*keys.tolist(), pos, has_gauss], dtype=torch.int64),
        "numpy_gauss": torch.tensor([cached], dtype=torch.float64),
        "torch": torch.get_rng_state().to(torch.int64),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state().to(torch.int64)
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    """Restore what :func:`rng_state` captured (one rank's row)."""
    random.setstate((3, tuple(int(x) for x in state["python"].tolist()), None))
    numpy = [int(x) for x in state["numpy"].tolist()]
    np.random.set_state(
        ("MT19937", np.array(numpy[:624], dtype=np.uint32), numpy[624], numpy[625], float(state["numpy_gauss"][0]))
    )
    torch.set_rng_state(state["torch"].to(torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].to(torch.uint8))


def gather_rng_state(trainer: Trainer) -> dict[str, torch.Tensor]:
    """Every rank's :func:`rng_state`, stacked ``[world_size, ...]`` (a collective: all ranks call it)."""
    local = rng_state()
    if trainer.world_size <= 1:
        return {k: v.unsqueeze(0) for k, v in local.items()}
    device = trainer.strategy.root_device
    return {k: trainer.strategy.all_gather(v.to(device)).cpu() for k, v in local.items()}


# --------------------------------------------------------------------------- the callback
class GRPOCheckpoint(Callback):
    """Write a resumable checkpoint every ``every`` optimiser steps, and restore RNG states on resume.

    Args:
        root: the checkpoints dir (``<run_dir>/checkpoints``).
        every: save when the global step reaches a multiple of ``every`` (0 = never).
        keep: keep only the newest ``keep`` checkpoints (None = all).
    """

    def __init__(self, root: str | os.PathLike, every: int, keep: int | None = None):
        if every < 0:
            raise ValueError(f"grpo.checkpoint_every must be >= 0, got {every}")
        if keep is not None and keep < 1:
            raise ValueError(f"grpo.keep_checkpoints must be >= 1 or null, got {keep}")
        self.root = Path(root)
        self.every = int(every)
        self.keep = keep
        self.saved: list[int] = []
        self._last_step = 0
        self._rng_to_restore: dict[str, torch.Tensor] | None = None

    # ---------------------------------------------------------------- saving
    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._last_step = int(trainer.global_step)
        if self._rng_to_restore is not None:
            set_rng_state(self._rng_to_restore)
            self._rng_to_restore = None

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = int(trainer.global_step)
        crossed = self.every > 0 and step // self.every > self._last_step // self.every
        self._last_step = step
        if crossed:
            self.save(trainer, pl_module, step, batches_in_epoch=batch_idx + 1)

    def save(self, trainer: Trainer, pl_module: LightningModule, step: int, batches_in_epoch: int) -> Path:
        """Write ``root/step_<step>/`` (all ranks call this: the state may need a collective)."""
        final = self.root / step_dir_name(step)
        tmp = self.root / f".{final.name}.tmp"
        if trainer.is_global_zero:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        trainer.strategy.barrier("checkpoint_tmp_ready")
        trainer.save_checkpoint(tmp / STATE_NAME)  # every rank: dump (and gather); rank 0 writes
        if trainer.is_global_zero:
            policy = getattr(pl_module, "policy", None)
            if policy is not None and hasattr(policy, "save_pretrained"):
                policy.save_pretrained(str(tmp / ADAPTER_DIR))
            meta = {
                "step": step,
                "epoch": int(trainer.current_epoch),
                "batches_in_epoch": int(batches_in_epoch),
                "world_size": int(trainer.world_size),
                "time": time.time(),
            }
            atomic_write_text(tmp / META_NAME, json.dumps(meta, indent=2))
            self._replace(tmp, final)
            atomic_write_text(self.root / LAST_NAME, final.name + "\n")
            self._prune()
            log.info("checkpoint at step %d: %s", step, final)
        trainer.strategy.barrier("checkpoint_written")
        self.saved.append(step)
        return final

    @staticmethod
    def _replace(tmp: Path, final: Path) -> None:
        """Rename ``tmp`` to ``final``; an older ``final`` (a resume re-saving a step) is moved aside first."""
        old = None
        if final.exists():
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def _prune(self) -> None:
        """Remove leftovers of saves that died half-way, and checkpoints beyond the newest ``keep``."""
        for path in self.root.glob(".step_*"):
            shutil.rmtree(path, ignore_errors=True)
        if self.keep is None:
            return
        for path in list_checkpoints(self.root)[: -self.keep]:
            shutil.rmtree(path, ignore_errors=True)

    # ---------------------------------------------------------------- checkpoint contents
    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint["rng"] = gather_rng_state(trainer)
        checkpoint["world_size"] = int(trainer.world_size)

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        rng = checkpoint.get("rng")
        if not rng:
            return
        rank, saved_world = int(trainer.global_rank), int(checkpoint.get("world_size", 1))
        if saved_world != trainer.world_size:
            log.warning(
                "resuming a checkpoint of %d processes with %d: RNG streams and prompt shards differ from the "
                "original run", saved_world, trainer.world_size,
            )
        if rank < next(iter(rng.values())).shape[0]:
            self._rng_to_restore = {k: v[rank] for k, v in rng.items()}


def check_trainable_keys(saved: set[str], expected: set[str]) -> None:
    """Refuse a checkpoint whose trainable parameters are not this run's (``strict_loading`` is off for
    LoRA-only checkpoints, so the module checks the keys itself)."""
    if saved != expected:
        from mogrpo.errors import ConfigError

        raise ConfigError(
            "resume",
            f"the checkpoint holds other trainable parameters than this run's LoRA adapters "
            f"({len(expected - saved)} missing, {len(saved - expected)} unexpected, e.g. "
            f"{sorted(expected ^ saved)[:2]}); resume with the model and model.lora settings it was saved with",
        )
