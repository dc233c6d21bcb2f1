"""Experiment loggers: W&B that works offline with no account, and never crashes a run.

Each stage (reward / grpo / eval) opens its own W&B run with :func:`make_logger` and closes it with
:func:`finish_logger`, so every job of a multirun is its own run. The run's fields come from the config:

- ``group``    the experiment (``task_name``) plus the multirun's timestamp, so sibling jobs group together
- ``name``     a short name from the job's overrides, e.g. ``G=4,beta=0.04,reward=single_safety,s42``
- ``job_type`` the stage
- ``tags``     ``cfg.tags`` + experiment, model, reward names
- ``config``   the resolved config as a plain dict (without the ``hydra`` node)

W&B caps names and groups at 128 characters, tags and job types at 64: every field is cut to fit.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mogrpo.utils.io import to_plain

log = logging.getLogger(__name__)

MAX_NAME = 128
MAX_GROUP = 128
MAX_TAG = 64
MAX_JOB_TYPE = 64
MAX_TAGS = 64
# override keys that say where/how a job runs, not what it computes: left out of the run name
NAME_EXCLUDED_KEYS = (
    "experiment",
    "seed",
    "logger",
    "trainer",
    "paths",
    "stage",
    "hydra",
    "tags",
    "task_name",
    "resume",
    "callbacks",
)


def wandb_mode(mode: str | None) -> str:
    """``online`` only when asked for or when an API key is configured; ``offline`` otherwise."""
    if mode:
        return mode
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def _fit(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its head plus a short hash (keeps it unique)."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return text[: limit - len(digest) - 1] + "~" + digest


def _split_override(override: str) -> tuple[str, str] | None:
    """``'+grpo.kl.beta=0.04'`` -> ``('grpo.kl.beta', '0.04')``; deletions (``~key``) and flags -> None."""
    override = override.strip()
    if not override or override.startswith("~") or "=" not in override:
        return None
    key, value = override.split("=", 1)
    key = key.lstrip("+")
    key = re.sub(r"@.*$", "", key)  # group@package=option -> group
    return key, value


# ... and any key ending in one of these (``model.spec.cache_dir=...``)
NAME_EXCLUDED_LEAVES = (
    "cache_dir",
    "save_dir",
    "output_dir",
    "log_dir",
    "enable_progress_bar",
    "reuse_cached",
)


def _excluded(key: str, excluded: Sequence[str]) -> bool:
    if key.rsplit(".", 1)[-1] in NAME_EXCLUDED_LEAVES:
        return True
    return any(key == e or key.startswith(e + ".") or key.startswith(e + "/") for e in excluded)


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """The shortest dotted suffix of each key that no other key shares.

    ``['grpo.G', 'grpo.kl.beta', 'reward']`` -> ``G``, ``beta``, ``reward``; but ``grpo.clip.low`` and
    ``eval.low`` keep ``clip.low`` and ``eval.low``.
    """
    parts = {k: k.split(".") for k in keys}
    out = {}
    for key, comps in parts.items():
        for n in range(1, len(comps) + 1):
            suffix = ".".join(comps[-n:])
            if not any(other != key and ".".join(oc[-n:]) == suffix for other, oc in parts.items()):
                out[key] = suffix
                break
        else:
            out[key] = key
    return out


def _short_value(value: str) -> str:
    """Paths shrink to their last component (``/a/b/ckpt`` -> ``ckpt``); other values stay."""
    if "/" in value and not value.startswith("["):
        return Path(value.rstrip("/")).name or value
    return value


def run_name(
    overrides: Sequence[str],
    seed: int | str | None = None,
    default: str = "run",
    excluded: Sequence[str] = NAME_EXCLUDED_KEYS,
    max_len: int = MAX_NAME,
    swept: Sequence[str] = (),
) -> str:
    """A short, readable W&B run name from a job's overrides (like Hydra's ``override_dirname``).

    Hand-written, not ``hydra.job.override_dirname``: that one keeps the full keys (``grpo.kl.beta=0.04``),
    no seed suffix and Hydra's sort order, and has no length cap; a W&B name wants the short keys, the swept
    keys first, ``s<seed>`` last and at most 128 characters. It honours the same ``exclude_keys``
    (``run_fields`` passes them).

    Prefixes are dropped where unambiguous, the ``swept`` keys (the experiment's ``hydra.sweeper.params``)
    come first, the other keys follow sorted, and the seed ends the name as ``s<seed>``::

        run_name(["grpo.G=4", "grpo.kl.beta=0.04", "reward=single_safety", "seed=42"], seed=42)
        == "G=4,beta=0.04,reward=single_safety,s42"

    ``default`` names a job without any override. A name longer than ``max_len`` keeps its head and its
    seed, and a hash of the whole stands in for the cut middle (so names stay unique).
    """
    pairs = [p for p in (_split_override(o) for o in overrides) if p is not None]
    pairs = [(k, v) for k, v in pairs if not _excluded(k, excluded)]
    short = short_keys([k for k, _ in pairs])
    order = {k: i for i, k in enumerate(swept)}
    pairs.sort(key=lambda kv: (order.get(kv[0], len(order)), short[kv[0]]))
    body = ",".join(f"{short[k]}={_short_value(v)}" for k, v in pairs) or default
    tail = f",s{seed}" if seed is not None else ""
    if len(body) + len(tail) <= max_len:
        return body + tail
    return _fit(body + tail, max_len - len(tail)) + tail


def wandb_group(
    task_name: str,
    run_dir: str | os.PathLike | None = None,
    sweep_dir: str | os.PathLike | None = None,
    max_len: int = MAX_GROUP,
) -> str:
    """The W&B group: ``task_name`` for a single run, ``<task_name>-<sweep dir name>`` in a multirun.

    Without a Hydra runtime (``sweep_dir`` None) a run dir laid out as ``.../multiruns/<timestamp>/<job>``
    (conf/hydra/default.yaml) counts as a multirun job and ``<timestamp>`` is taken from it.
    """
    stamp = None
    if sweep_dir is not None:
        stamp = Path(sweep_dir).name
    elif run_dir is not None:
        p = Path(run_dir)
        if p.parent.parent.name == "multiruns":
            stamp = p.parent.name
    return _fit(f"{task_name}-{stamp}" if stamp else str(task_name), max_len)


def wandb_tags(cfg: DictConfig, experiment: str | None = None) -> list[str]:
    """``cfg.tags`` + the experiment, model and reward names; unique, in that order, each <= 64 chars."""
    tags = [str(t) for t in (cfg.get("tags") or [])]
    tags += [
        experiment or "",
        str(OmegaConf.select(cfg, "model.name", default="") or ""),
        str(OmegaConf.select(cfg, "reward.name", default="") or ""),
    ]
    out: list[str] = []
    for tag in tags:
        tag = tag.strip()[:MAX_TAG]
        if tag and tag not in out:
            out.append(tag)
    return out[:MAX_TAGS]


def _resolved_or_text(node: Any) -> Any:
    """:func:`~mogrpo.utils.io.to_plain`, except that leaves that cannot resolve keep their ``${...}`` text
    (a W&B config of a job outside Hydra, where ``${hydra:...}`` has no value)."""
    try:
        return to_plain(node)
    except Exception:
        pass
    if isinstance(node, DictConfig):
        out = {}
        for key in node.keys():
            try:
                out[key] = _resolved_or_text(node[key])
            except Exception:
                out[key] = str(node._get_node(key)._value())
        return out
    out_list = []
    for i in range(len(node)):
        try:
            out_list.append(_resolved_or_text(node[i]))
        except Exception:
            out_list.append(str(node._get_node(i)._value()))
    return out_list


def wandb_config(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as a plain dict, without the ``hydra`` node (JSON-serialisable for W&B)."""
    plain = _resolved_or_text(cfg)
    plain.pop("hydra", None)
    return plain


def _hydra_runtime() -> Any | None:
    """The running job's ``HydraConfig`` node, or None outside a Hydra app (tests, notebooks)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return HydraConfig.get() if HydraConfig.initialized() else None
    except Exception:
        return None


def _is_multirun(hc: Any) -> bool:
    from hydra.types import RunMode

    return hc.mode == RunMode.MULTIRUN


def run_fields(cfg: DictConfig, job_type: str) -> dict[str, Any]:
    """name / group / job_type / tags / config of the W&B run of one stage of this job."""
    hc = _hydra_runtime()
    task_name = str(cfg.get("task_name") or "train")
    overrides: list[str] = []
    experiment = None
    sweep_dir = None
    excluded = list(NAME_EXCLUDED_KEYS)
    swept: list[str] = []
    if hc is not None:
        swept = [str(k) for k in (OmegaConf.select(hc, "sweeper.params", default=None) or {})]
        overrides = list(hc.overrides.task)
        experiment = hc.runtime.choices.get("experiment")
        if _is_multirun(hc):
            sweep_dir = hc.sweep.dir
        excluded += list(OmegaConf.select(hc, "job.config.override_dirname.exclude_keys", default=[]) or [])
    if experiment is None and task_name != "train":
        experiment = task_name
    run_dir = OmegaConf.select(cfg, "paths.output_dir", default=None, throw_on_resolution_failure=False)
    return {
        "name": run_name(overrides, seed=cfg.get("seed"), default=task_name, excluded=excluded, swept=swept),
        "group": wandb_group(task_name, run_dir=run_dir, sweep_dir=sweep_dir),
        "job_type": job_type[:MAX_JOB_TYPE],
        "tags": wandb_tags(cfg, experiment),
        "config": wandb_config(cfg),
    }


def make_wandb_logger(
    project: str = "mogrpo",
    entity: str | None = None,
    mode: str | None = None,
    group: str | None = None,
    save_dir: str = ".",
    name: str | None = None,
    job_type: str | None = None,
    tags: Sequence[str] | None = None,
    config: dict[str, Any] | None = None,
):
    """A Lightning ``WandbLogger`` (offline by default); ``None`` if wandb cannot start."""
    try:
        import wandb
        from lightning.pytorch.loggers import WandbLogger

        os.makedirs(save_dir, exist_ok=True)
        if wandb.run is not None:  # a run left open would swallow this one (WandbLogger reuses wandb.run)
            wandb.finish()
        logger = WandbLogger(
            project=project,
            entity=entity,
            mode=wandb_mode(mode),
            group=_fit(group, MAX_GROUP) if group else None,
            save_dir=save_dir,
            name=_fit(name, MAX_NAME) if name else None,
            job_type=job_type[:MAX_JOB_TYPE] if job_type else None,
            tags=[str(t)[:MAX_TAG] for t in (tags or [])][:MAX_TAGS],
            config=config,
        )
        _ = logger.experiment  # start now so failures surface here, not mid-run
        return logger
    except Exception as err:  # never crash a run over logging
        log.warning("W&B logger could not start (%s); continuing without it", err)
        return None


def make_logger(cfg: DictConfig, job_type: str):
    """Instantiate ``cfg.logger`` for one stage (``job_type``: reward / grpo / eval), or None.

    For W&B, name / group / tags / config are derived by :func:`run_fields`; ``logger.group`` set in the
    config wins over the derived group. Never raises: a logger that cannot start gives None.
    """
    import hydra

    node = cfg.get("logger")
    if node is None or node.get("_target_") is None:
        return None
    try:
        kwargs: dict[str, Any] = {}
        if str(node._target_).endswith("make_wandb_logger"):
            kwargs = run_fields(cfg, job_type)
            if node.get("group"):
                kwargs.pop("group")
        # a partial first: instantiate()'s own first parameter is called ``config``
        return hydra.utils.instantiate(node, _partial_=True)(**kwargs)
    except Exception as err:
        log.warning("logger %s could not start (%s); continuing without it", node.get("_target_"), err)
        return None


def finish_logger(logger, exit_code: int | None = None) -> None:
    """Close a W&B run (so each job of a multirun is its own run); no-op for other loggers.

    Called in a ``finally`` block; ``exit_code`` defaults to 1 while an exception is propagating
    (the W&B run is then marked failed), else 0.
    """
    if logger is None:
        return
    try:
        if getattr(logger, "_experiment", None) is None:
            return
        import wandb

        if exit_code is None:
            exit_code = 1 if sys.exc_info()[0] is not None else 0
        wandb.finish(exit_code=exit_code)
    except Exception as err:
        log.warning("closing the W&B run failed: %s", err)
