"""Experiment loggers: W&B that works offline with no account, and never crashes a run."""

from __future__ import annotations

import logging
import os
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def wandb_mode(mode: str | None) -> str:
    """``online`` only when asked for or when an API key is configured; ``offline`` otherwise."""
    if mode:
        return mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def make_wandb_logger(
    project: str = "mogrpo",
    entity: str | None = None,
    mode: str | None = None,
    group: str | None = None,
    save_dir: str = ".",
    name: str | None = None,
    job_type: str | None = None,
    tags: list[str] | None = None,
    config: dict[str, Any] | None = None,
):
    """A Lightning ``WandbLogger`` (offline by default); ``None`` if wandb cannot start."""
    from lightning.pytorch.loggers import WandbLogger

    os.makedirs(save_dir, exist_ok=True)
    try:
        logger = WandbLogger(
            project=project,
            entity=entity,
            mode=wandb_mode(mode),
            group=group[:128] if group else None,
            save_dir=save_dir,
            name=name[:128] if name else None,
            job_type=job_type[:64] if job_type else None,
            tags=[t[:64] for t in (tags or [])][:64],
            config=config,
            settings={"silent": True} if False else None,
        )
        _ = logger.experiment  # start now so failures surface here, not mid-run
        return logger
    except Exception as err:  # never crash a run over logging
        log.warning("W&B logger could not start (%s); continuing without it", err)
        return None


def make_logger(cfg: DictConfig, job_type: str):
    """Instantiate ``cfg.logger`` for one stage (``job_type``: reward / grpo / eval), or None."""
    import hydra

    node = cfg.get("logger")
    if node is None or node.get("_target_") is None:
        return None
    kwargs: dict[str, Any] = {}
    if str(node._target_).endswith("make_wandb_logger"):
        kwargs = {
            "job_type": job_type,
            "config": OmegaConf.to_container(cfg, resolve=True),
            "tags": [str(t) for t in cfg.get("tags", [])],
        }
    return hydra.utils.instantiate(node, **kwargs)


def finish_logger(logger) -> None:
    """Close a W&B run (so each job of a multirun is its own run); no-op for other loggers."""
    if logger is None:
        return
    try:
        import wandb

        if getattr(logger, "_experiment", None) is not None:
            wandb.finish()
    except Exception as err:
        log.warning("closing the W&B run failed: %s", err)
