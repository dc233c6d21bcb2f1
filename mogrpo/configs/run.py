"""The root keys of the three entry points' configs: ``conf/train.yaml``, ``conf/evaluate.yaml``, ``conf/score.yaml``.

The groups below the root (``grpo``, ``reward``, ``eval``, ...) have configs of their own; ``trainer``,
``logger`` and ``paths`` are ``_target_`` / path nodes of Lightning, W&B and Hydra, read where they are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mogrpo.configs.base import Config, check_bool, check_choice, check_int, check_str, option, select
from mogrpo.errors import ConfigError

STAGES = ("reward", "grpo", "eval", "all")


def _tags(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(t, str | int | float) for t in value):
        raise ConfigError("tags", f"must be a list of strings, got {value!r}")


@dataclass(frozen=True)
class TrainConfig(Config):
    """``python -m mogrpo.train``: which stages run, and the run's identity."""

    stage: str = option("all", "reward | grpo | eval | all (reward model if none given/cached -> GRPO -> evaluation)")
    seed: int = option(42, "seeds python, numpy, torch (and the data splits)")
    task_name: str = option("train", "the name of the job family; runs go to ${paths.log_dir}/${task_name}/")
    tags: list[Any] = option(help="free-form tags added to the W&B run", factory=list)
    retain_freed_memory: bool = option(True, "keep freed memory in the process (glibc malloc thresholds) instead "
                                       "of re-faulting the same large buffers every step (mogrpo/utils/allocator.py)")
    resume: Any = option(None, "resume a killed GRPO run: a checkpoint directory, or auto for the last one in the "
                         "run dir (null = a fresh start)")

    def __post_init__(self):
        check_choice("stage", self.stage, STAGES)
        check_int("seed", self.seed)
        check_str("task_name", self.task_name)
        _tags(self.tags)
        check_bool("retain_freed_memory", self.retain_freed_memory)

    @property
    def trains_policy(self) -> bool:
        return self.stage in ("grpo", "all")

    @property
    def evaluates(self) -> bool:
        return self.stage in ("eval", "all")


@dataclass(frozen=True)
class EvaluateConfig(Config):
    """``python -m mogrpo.evaluate``: which trained run to evaluate (the policy and reward model it left)."""

    run_dir: str | None = option(None, "a run dir written by `python -m mogrpo.train`: its adapter/ and "
                                 "reward_model/ are used unless eval.adapter / reward_model.checkpoint are given")
    sensitivity: str | None = option(None, "a multirun dir of a group-size sweep: write the spread of the final "
                                     "aligned safety across seeds per G instead of evaluating")
    seed: int = option(42, "seeds the prompt subsets, the reward-data split (as in train) and sampled decoding")
    task_name: str = option("evaluate", "runs go to ${paths.log_dir}/${task_name}/")
    tags: list[Any] = option(help="free-form tags added to the W&B run", factory=list)

    def __post_init__(self):
        check_str("run_dir", self.run_dir, none=True)
        check_str("sensitivity", self.sensitivity, none=True)
        check_int("seed", self.seed)
        _tags(self.tags)


@dataclass(frozen=True)
class ScoreConfig(Config):
    """``python -m mogrpo.score``: score (prompt, response) pairs of a CSV / JSONL file with a saved regressor."""

    input: str = option(help="the file to score: .csv or .jsonl (one JSON object per line)")
    checkpoint: str = option(help="a directory saved by `python -m mogrpo.train stage=reward` (reward_model.checkpoint)")
    output: str | None = option(None, "where to write the scored rows; null = <input stem>.scored<ext> beside the "
                                "input. Its extension picks the format")
    prompt_column: str = option("prompt", "the column of the prompts")
    response_column: str = option("response", "the column of the responses")
    columns: dict[str, Any] = option(help="the output column of each aspect; null = score_<aspect>", factory=dict)
    allow_empty_response: bool = option(False, "score empty responses instead of rejecting them")
    batch_size: int = option(32, "pairs per regressor call")
    device: str = option("cpu", "cpu | cuda | cuda:0 ...")

    def __post_init__(self):
        check_str("prompt_column", self.prompt_column)
        check_str("response_column", self.response_column)
        check_bool("allow_empty_response", self.allow_empty_response)
        check_int("batch_size", self.batch_size, low=1)
        check_str("device", self.device)

    @classmethod
    def of(cls, cfg: Any) -> ScoreConfig:
        """From the composed ``score`` config (the checkpoint sits at ``reward_model.checkpoint``)."""
        names = [n for n in cls.__dataclass_fields__ if n != "checkpoint"]
        node = {n: select(cfg, n) for n in names if n in cfg}
        node["checkpoint"] = select(cfg, "reward_model.checkpoint")
        return cls.from_node(node, "")
