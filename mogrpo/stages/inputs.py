"""What the stages read before any model loads: the prompt sets of ``data``, the warm start's demonstrations,
and the shared data folder. ``train`` reads them first too, so a broken file fails before the reward model
trains (naming file and row).
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mogrpo.configs import WarmStartConfig
from mogrpo.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def shared_data_root(cfg: DictConfig) -> Path | None:
    """``paths.shared_data`` as a Path, or None when unset / unresolvable (the sections that need it skip)."""
    try:
        root = OmegaConf.select(cfg, "paths.shared_data", default=None, throw_on_resolution_failure=True)
    except Exception as err:  # an env / resolver problem
        log.warning("paths.shared_data could not be resolved: %s", err)
        return None
    return Path(str(root)).expanduser() if root not in (None, "", "???") else None


def load_prompt_sets(cfg: DictConfig, which: str) -> list[dict]:
    """``cfg.data.<which>`` (``train`` / ``validation`` / ``heldout``) instantiated: a non-empty list of
    prompt dicts. ``validation`` is optional: a ``data`` config without it gives ``[]``.

    ``train`` is refused (:class:`~mogrpo.errors.ConfigError` naming ``data.train``) when it is drawn
    from an evaluation-only set (:func:`check_train_files` before it is read, :func:`check_train_prompts`).
    """
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    if which == "validation" and OmegaConf.select(cfg, "data.validation") is None:
        return []
    if which == "train":
        check_train_files(cfg)
    try:
        prompts = instantiate(cfg.data[which], _convert_="all")
    except InstantiationException as err:  # Hydra wraps errors: surface a DataError as itself (one clear line)
        if isinstance(err.__cause__, DataError):
            raise err.__cause__ from None
        raise
    if not prompts:
        raise DataError("no prompts", source=f"data.{which}")
    if which == "train":
        check_train_prompts(cfg, prompts)
    return list(prompts)


def check_train_files(cfg: DictConfig) -> None:
    """Refuse a ``data.train`` that names a file of XSTest, AdvBench or Self-Instruct's user-oriented
    instructions (evaluation only, :mod:`mogrpo.data.eval_only`); needs no data."""
    from mogrpo.data.eval_only import eval_only_files_named

    try:
        node = OmegaConf.to_container(cfg.data.train, resolve=True)
    except Exception:  # an unresolvable interpolation: the file names still show
        node = OmegaConf.to_container(cfg.data.train, resolve=False)
    named = eval_only_files_named(node)
    if named:
        raise ConfigError("data.train", f"reads {named[0]}, an evaluation-only prompt set: XSTest, AdvBench and "
                          "Self-Instruct's user-oriented instructions are never GRPO training prompts")  # fmt: skip


def check_train_prompts(cfg: DictConfig, prompts: list[dict]) -> None:
    """Refuse GRPO training prompts that are in XSTest, AdvBench or Self-Instruct's user-oriented
    instructions by normalised text (any user turn counts), checked when ``paths.shared_data`` holds them."""
    from mogrpo.data.eval_only import eval_only_texts, find_eval_only

    hits = find_eval_only(prompts, eval_only_texts(shared_data_root(cfg)))
    if hits:
        sets = sorted({name for _, name in hits})
        first = hits[0][0]
        raise ConfigError(
            "data.train",
            f"{len(hits)} prompt(s) are in evaluation-only sets ({', '.join(sets)}), e.g. {first.get('id')!r}: "
            f"{first['prompt'][:80]!r}; drop them (mogrpo.data.eval_only.drop_eval_only) or use data=real_mix",
        )


def load_demonstrations(cfg: DictConfig) -> list[dict] | None:
    """The warm start's train-split demonstrations (:func:`mogrpo.data.demonstrations.demonstrations`), read
    before any model loads; None when the warm start is off."""
    from mogrpo.data.demonstrations import demonstrations

    config = WarmStartConfig.of(cfg)
    if not config.enabled:
        return None
    return demonstrations(shared_data_root(cfg), config.sources)


def load_distill_prompts(cfg: DictConfig) -> list[dict] | None:
    """The prompts ``grpo.warm_start.self_distill`` has the policy answer
    (:func:`mogrpo.warm_start.self_distill.distill_prompts`), read before any model loads; None when off."""
    from mogrpo.warm_start.self_distill import distill_prompts

    config = WarmStartConfig.of(cfg)
    if not (config.enabled and config.self_distill):
        return None
    prompts = distill_prompts(shared_data_root(cfg), config.self_distill)
    if not prompts:
        raise ConfigError("grpo.warm_start.self_distill", f"{list(config.self_distill)} have no train-split prompt")
    return prompts
