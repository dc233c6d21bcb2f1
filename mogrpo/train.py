"""`python -m mogrpo.train`: reward regressor -> GRPO with LoRA -> base vs aligned evaluation.

    python -m mogrpo.train                                   # stage=all on the embedded SmolLM2
    python -m mogrpo.train stage=reward                      # train + save + calibrate the regressor
    python -m mogrpo.train model=qwen7b reward=multilabel    # a real hub model (needs a GPU)
    python -m mogrpo.train --multirun grpo.G=2,4,8           # an ablation sweep

A thin ``@hydra.main`` around :func:`train`, which tests import and call with a composed config. The config is
checked before torch, Lightning or any data library is imported, so a mistake fails in about a second
(this module imports hydra, omegaconf and the config checks only).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from mogrpo.config import check_config
from mogrpo.configs import RewardModelConfig, TrainConfig
from mogrpo.utils import resolvers  # noqa: F401  (registers ${mogrpo.project_root:})
from mogrpo.utils.cli import CONF_DIR, console_entry, run_reporting_user_errors
from mogrpo.utils.io import write_json
from mogrpo.utils.launch import check_launch

log = logging.getLogger(__name__)


@console_entry("train")  # a key Hydra cannot place: one ConfigError line before the app runs
@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> None:
    run_reporting_user_errors(train, cfg)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Run the configured stages; returns (and writes to ``summary.json``) the run's summary."""
    run = check_config(cfg)  # before any model or data loads (and before torch is imported)
    check_launch(cfg)
    from mogrpo.utils.distributed import is_global_zero, world_size
    from mogrpo.utils.seed import seed_everything

    seed_everything(run.seed)
    if run.retain_freed_memory:
        from mogrpo.utils.allocator import retain_freed_memory

        retain_freed_memory()
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    summary: dict[str, Any] = {
        "stage": run.stage,
        "seed": run.seed,
        "choices": _choices(cfg),
        "run_dir": str(run_dir),
    }

    _check_prompts(cfg)
    reward_dir = _resumed_reward_model(cfg, run_dir, summary)
    if run.stage in ("reward", "all") and reward_dir is None:
        from mogrpo.stages.reward import resolve_reward_model

        reward_dir, reward_summary = resolve_reward_model(cfg, run_dir, force_train=run.stage == "reward")
        summary["reward_model"] = reward_summary
    if run.trains_policy:
        from mogrpo.stages.grpo import run_grpo_stage
        from mogrpo.stages.reward import resolve_reward_model

        if reward_dir is None:
            reward_dir, summary["reward_model"] = resolve_reward_model(cfg, run_dir, force_train=False)
        summary["grpo"] = run_grpo_stage(cfg, run_dir, reward_dir)
    if run.evaluates and is_global_zero():  # evaluation needs no other rank: rank 0 alone
        from mogrpo.stages.evaluation import run_eval_stage
        from mogrpo.stages.reward import resolve_reward_model

        if reward_dir is None:
            reward_dir, summary["reward_model"] = resolve_reward_model(cfg, run_dir, force_train=False)
        summary["eval"] = run_eval_stage(cfg, run_dir, reward_dir)

    summary["world_size"] = world_size()  # processes that trained (DDP: devices x nodes)
    summary["wall_time_s"] = round(time.time() - t0, 1)
    if is_global_zero():
        write_json(run_dir / "summary.json", summary)
        log.info("summary written to %s", run_dir / "summary.json")
    return summary


def _resumed_reward_model(cfg: DictConfig, run_dir: Path, summary: dict[str, Any]) -> Path | None:
    """With ``resume`` set, the reward model the interrupted run trained (``<run_dir>/reward_model``), so the
    resumed GRPO keeps its reward; None otherwise. A ``resume`` path without a checkpoint fails here."""
    from mogrpo.models.regressor import CONFIG_NAME
    from mogrpo.utils.checkpoint import resolve_resume

    run = TrainConfig.of(cfg)
    resume = resolve_resume(run.resume, run_dir)
    saved = run_dir / "reward_model"
    if resume is None or not run.trains_policy or RewardModelConfig.of(cfg).checkpoint:
        return None
    if not (saved / CONFIG_NAME).is_file():
        return None
    summary["reward_model"] = {"status": "resumed", "path": str(saved)}
    log.info("resuming: reusing the reward model of the run in %s", saved)
    return saved


def _check_prompts(cfg: DictConfig) -> None:
    """Read the prompt sets the stages will use, so a broken prompt file fails now (naming file and row),
    not after the reward model has trained."""
    from mogrpo.stages.inputs import load_demonstrations, load_distill_prompts, load_prompt_sets

    run = TrainConfig.of(cfg)
    if run.trains_policy:
        load_prompt_sets(cfg, "train")
        if run.resume is None:  # a resumed run does not warm-start again
            load_demonstrations(cfg)
            load_distill_prompts(cfg)
    if run.evaluates:
        load_prompt_sets(cfg, "heldout")


def _choices(cfg: DictConfig) -> dict[str, Any]:
    """The config group choices and the key knobs, for summaries and W&B."""
    choices = {}
    try:
        from hydra.core.hydra_config import HydraConfig

        choices = {k: v for k, v in HydraConfig.get().runtime.choices.items() if not k.startswith("hydra")}
    except Exception:
        for group in ("model", "reward_model", "reward", "reward_data", "data", "grpo", "method", "trainer", "logger"):
            node = OmegaConf.select(cfg, f"{group}.name")
            if node is not None:
                choices[group] = node
    choices["method"] = OmegaConf.select(cfg, "method.name", default="grpo")
    choices["G"] = OmegaConf.select(cfg, "grpo.G")
    choices["beta"] = OmegaConf.select(cfg, "grpo.kl.beta")
    choices["aggregation"] = OmegaConf.select(cfg, "reward.aggregation")
    choices["reward"] = OmegaConf.select(cfg, "reward.name")
    choices["warm_start"] = bool(OmegaConf.select(cfg, "grpo.warm_start.enabled", default=False))
    if choices["aggregation"] == "constrained":
        choices["constraint_mode"] = OmegaConf.select(cfg, "reward.constraint.mode")
    return choices


if __name__ == "__main__":
    main()
