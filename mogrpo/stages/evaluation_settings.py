"""The evaluation stage's settings: the checked ``eval`` config, the device, and the policy (base model +
adapter) to evaluate. Loads nothing but the policy.

``eval.split`` picks the prompts the policy is judged on: ``heldout`` (``data.heldout``, what
reports use) or ``validation`` (``data.validation``, what tuning and sweeps use: choose settings on
training or validation prompts only, report on held-out ones).
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from mogrpo.config import check_eval_split
from mogrpo.configs import EvalConfig, ModelConfig
from mogrpo.errors import ConfigError


def skipped(reason: str) -> dict[str, str]:
    """The record of a section that did not run."""
    return {"status": "skipped", "reason": reason}


def check_eval_config(cfg: DictConfig) -> EvalConfig:
    """The checked ``eval`` settings; a ConfigError naming the key for a bad value (cheap; loads nothing)."""
    evaluation = EvalConfig.of(cfg)
    check_eval_split(cfg, evaluation)
    return evaluation


def eval_device(cfg: DictConfig) -> torch.device:
    """CUDA when the trainer asks for a GPU (or ``auto``) and one is there, else CPU."""
    accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="cpu"))
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def adapter_path(evaluation: EvalConfig, run_dir: Path) -> Path | None:
    """``eval.adapter`` if set (it must exist), else ``<run_dir>/adapter`` if GRPO wrote one, else None."""
    if evaluation.adapter:
        return check_adapter(evaluation.adapter, "eval.adapter")
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

    model, tokenizer = load_causal_lm(ModelConfig.of(cfg).spec)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    return model.eval(), tokenizer
