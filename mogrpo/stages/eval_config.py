"""The evaluation stage's settings: config checks naming the key, the split evaluated, decoding,
device, and the policy (base model + adapter) to evaluate. Loads nothing but the policy.

``eval.split`` picks the prompts the policy is judged on: ``heldout`` (``data.heldout``, what
reports use) or ``validation`` (``data.validation``, what tuning and sweeps use: choose settings on
training or validation prompts only, report on held-out ones).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from mogrpo.errors import ConfigError

#: eval.split -> the ``data`` key holding its prompts
SPLITS = {"heldout": "heldout", "validation": "validation"}


def skipped(reason: str) -> dict[str, str]:
    """The record of a section that did not run."""
    return {"status": "skipped", "reason": reason}


def select(cfg: DictConfig, key: str, default: Any = None) -> Any:
    """``OmegaConf.select`` with a default (None for a missing key)."""
    return OmegaConf.select(cfg, key, default=default)


def plain(node: Any) -> Any:
    """A DictConfig / ListConfig as plain Python (resolved); anything else as it is."""
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _check_count(cfg: DictConfig, key: str, allow_none: bool = True, allow_zero: bool = False) -> None:
    value = select(cfg, key)
    if value is None and allow_none:
        return
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        what = "an integer >= 0" if allow_zero else "a positive integer"
        raise ConfigError(key, f"must be {what}{' or null' if allow_none else ''}, got {value!r}")


def eval_split(cfg: DictConfig) -> str:
    """``eval.split`` (default ``heldout``); a ConfigError naming it for another value."""
    split = select(cfg, "eval.split", "heldout") or "heldout"
    if split not in SPLITS:
        raise ConfigError("eval.split", f"must be one of {list(SPLITS)}, got {split!r}")
    return str(split)


def check_split(cfg: DictConfig) -> None:
    """``eval.split`` is known, and ``eval.split=validation`` has a ``data.validation`` to read."""
    split = eval_split(cfg)
    if select(cfg, f"data.{SPLITS[split]}") is None:
        raise ConfigError(
            f"data.{SPLITS[split]}",
            f"is not set in data={select(cfg, 'data.name', '?')}, and eval.split={split} evaluates on it; "
            "use a data group with that split (data=real_mix has train / validation / heldout) or eval.split=heldout",
        )


def check_eval_config(cfg: DictConfig) -> None:
    """ConfigError naming the key for a bad ``eval`` value (cheap; loads nothing)."""
    from mogrpo.eval.acceptance import AcceptanceThresholds
    from mogrpo.eval.alarms import AlarmThresholds

    _check_count(cfg, "eval.batch_size", allow_none=False)
    _check_count(cfg, "eval.decoding.max_new_tokens", allow_none=False)
    for key in ("eval.max_prompts", "eval.xstest.limit", "eval.advbench.limit", "eval.prompt_file.limit",
                "eval.calibration.max_rows", "eval.calibration.diasafety.limit", "eval.ranking.batch_size"):
        _check_count(cfg, key)
    _check_count(cfg, "eval.side_by_side", allow_zero=True)
    check_split(cfg)
    if select(cfg, "eval.decoding.do_sample", False):
        temperature = select(cfg, "eval.decoding.temperature", 1.0)
        if not isinstance(temperature, int | float) or temperature <= 0:
            raise ConfigError("eval.decoding.temperature", f"must be > 0 when sampling, got {temperature!r}")
        top_p = select(cfg, "eval.decoding.top_p", 1.0)
        if not isinstance(top_p, int | float) or not 0 < top_p <= 1:
            raise ConfigError("eval.decoding.top_p", f"must be in (0, 1], got {top_p!r}")
    for key, thresholds in (("eval.alarms", AlarmThresholds), ("eval.acceptance", AcceptanceThresholds)):
        try:
            thresholds.from_config(plain(select(cfg, key)))
        except ValueError as err:
            raise ConfigError(key, str(err)) from None


def decoding_settings(cfg: DictConfig) -> dict[str, Any]:
    """``eval.decoding`` as a plain dict with its ``seed`` (default: the run's seed), as recorded in eval.json."""
    dec = dict(plain(select(cfg, "eval.decoding")) or {})
    dec.setdefault("do_sample", False)
    if dec.get("seed") is None:
        dec["seed"] = int(select(cfg, "seed", 0) or 0)
    return dec


def eval_device(cfg: DictConfig) -> torch.device:
    """CUDA when the trainer asks for a GPU (or ``auto``) and one is there, else CPU."""
    accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="cpu"))
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def adapter_path(cfg: DictConfig, run_dir: Path) -> Path | None:
    """``eval.adapter`` if set (it must exist), else ``<run_dir>/adapter`` if GRPO wrote one, else None."""
    explicit = OmegaConf.select(cfg, "eval.adapter", default=None)
    if explicit:
        return check_adapter(explicit, "eval.adapter")
    default = run_dir / "adapter"
    return default if (default / "adapter_config.json").is_file() else None


def check_adapter(path: str | Path, key: str) -> Path:
    """``path`` as a Path if it holds a saved peft adapter, else a ConfigError naming ``key``."""
    path = Path(str(path)).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ConfigError(key, f"{path} is not a saved peft adapter (no adapter_config.json)")
    return path


def load_policy_for_eval(cfg: DictConfig, adapter: Path | None):
    """The base causal LM with the adapter loaded on top (or the bare base when ``adapter`` is None)."""
    from mogrpo.models.loading import load_causal_lm
    from mogrpo.utils.io import to_plain

    model, tokenizer = load_causal_lm(to_plain(cfg.model.spec))
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    return model.eval(), tokenizer
