"""`python -m mogrpo.soup`: rewarded soups of LoRA adapters, each evaluated on the held-out prompts.

    python -m mogrpo.soup 'soup.adapters=[RUN_A,RUN_B]' soup.coefficients=[0,0.25,0.5,0.75,1]
    python -m mogrpo.soup 'soup.adapters=[A,B,C]' 'soup.coefficients=[[0.5,0.5,0],[0.2,0.3,0.5]]' eval.max_prompts=50
    python -m mogrpo.summarize SWEEP_DIR --soups logs/soup/runs/<timestamp>      # soups beside the trained runs

A thin ``@hydra.main`` around :func:`soup` (tests import it); the interpolation is
:mod:`mogrpo.models.lora_soup`, the work :func:`mogrpo.stages.soup.run_soup_stage`. The config is checked before
torch is imported.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from mogrpo.config import check_evaluate_config
from mogrpo.configs.soup import SoupConfig
from mogrpo.utils import resolvers  # noqa: F401  (registers ${mogrpo.project_root:})
from mogrpo.utils.cli import CONF_DIR, console_entry, run_reporting_user_errors

log = logging.getLogger(__name__)


@console_entry("soup")  # a key Hydra cannot place: one ConfigError line before the app runs
@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="soup")
def main(cfg: DictConfig) -> None:
    run_reporting_user_errors(soup, cfg)


def soup(cfg: DictConfig) -> dict[str, Any]:
    """Write and evaluate the soups; returns what ``soup.json`` holds."""
    run = check_evaluate_config(cfg)  # the eval and reward settings, before any model loads
    settings = SoupConfig.of(cfg)
    from mogrpo.stages.reward import MODEL_DIR, resolve_reward_model
    from mogrpo.stages.soup import adapter_dir, run_soup_stage
    from mogrpo.utils.seed import seed_everything

    for i, a in enumerate(settings.adapters):
        adapter_dir(a, f"soup.adapters.{i}")  # every adapter exists, before any model loads
    seed_everything(run.seed)
    out_dir = Path(str(cfg.paths.output_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    first = Path(settings.adapters[0]).expanduser()
    if not OmegaConf.select(cfg, "reward_model.checkpoint", default=None) and (first / MODEL_DIR).is_dir():
        cfg = cfg.copy()
        OmegaConf.update(cfg, "reward_model.checkpoint", str(first / MODEL_DIR), force_add=True)
    reward_dir, _ = resolve_reward_model(cfg, out_dir, force_train=False)
    return run_soup_stage(cfg, out_dir, reward_dir)


if __name__ == "__main__":
    main()
