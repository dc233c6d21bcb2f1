"""Shared fixtures: composed configs for tests (tiny models, no logger, outputs under tmp_path)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import mogrpo.utils.resolvers  # noqa: F401  (registers ${mogrpo.project_root:})

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"

# The machine's cores are shared: by the pytest-xdist workers (`make test` runs one per core), and by a
# test's subprocesses, which get OMP_NUM_THREADS=TEST_THREADS. At most 2 threads each, at least 1.
WORKERS = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
TEST_THREADS = str(max(1, min(2, (os.cpu_count() or 1) // WORKERS)))
torch.set_num_threads(min(int(TEST_THREADS), torch.get_num_threads()))


def compose_cfg(overrides: Sequence[str], tmp_path: Path, config_name: str = "train") -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with ``overrides``, outputs and logs under ``tmp_path``.

    ``paths.output_dir`` interpolates ``${hydra:runtime.output_dir}``, which only exists inside a
    Hydra app, so it is always overridden here (a later override in ``overrides`` wins).
    """
    base = [f"paths.output_dir={tmp_path / 'output'}", f"paths.log_dir={tmp_path / 'logs'}"]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=[*base, *overrides], return_hydra_config=False)


def lora_weights(policy) -> dict[str, torch.Tensor]:
    """A copy of the peft ``policy``'s LoRA weights, by their saved names."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().clone() for k, v in get_peft_model_state_dict(policy).items()}


def saved_lora_weights(adapter_dir: Path) -> dict[str, torch.Tensor]:
    """The LoRA weights of the adapter saved in ``adapter_dir``."""
    from safetensors.torch import load_file

    return load_file(str(Path(adapter_dir) / "adapter_model.safetensors"))


def stage_cfg(tmp_path: Path, *overrides: str) -> DictConfig:
    """The smoke experiment for a stage test: no logger, no completions table."""
    return compose_cfg(["experiment=smoke", "logger=none", "grpo.log_completions_every=0", *overrides], tmp_path)


@pytest.fixture
def tiny_cfg(tmp_path: Path) -> DictConfig:
    """The smoke experiment (tiny policy, tiny encoder) with no experiment logger."""
    return compose_cfg(["experiment=smoke", "logger=none"], tmp_path)


ASPECTS = ["politeness", "meaningfulness", "actionability", "safety"]


def make_labelled(n_train: int = 24, n_val: int = 8, n_test: int = 8, aspects: Sequence[str] = ASPECTS):
    """A small labelled ``DatasetDict`` shaped like ``mogrpo.data.labelled.load_labelled``'s output.

    Columns prompt, response, source and one float32 column per aspect; every third row leaves
    its last aspect unlabelled (NaN), and the labels follow the response (polite/rude) so they vary.
    """
    from datasets import Dataset, DatasetDict, Features, Value

    features = Features(
        {"prompt": Value("string"), "response": Value("string"), "source": Value("string")}
        | {a: Value("float32") for a in aspects}
    )

    def split(n: int, offset: int) -> Dataset:
        rows: dict[str, list] = {c: [] for c in features}
        for i in range(offset, offset + n):
            polite = i % 2 == 0
            rows["prompt"].append(f"How do I fix issue number {i}?")
            rows["response"].append(
                f"Thank you for asking! Step {i}: restart it, then check the log." if polite else "No. Figure it out."
            )
            rows["source"].append("fake")
            for k, a in enumerate(aspects):
                value = (0.9 if polite else 0.1) - 0.05 * k
                rows[a].append(float("nan") if (i % 3 == 0 and k == len(aspects) - 1) else value)
        return Dataset.from_dict(rows, features=features)

    return DatasetDict(
        {"train": split(n_train, 0), "validation": split(n_val, n_train), "test": split(n_test, n_train + n_val)}
    )


@pytest.fixture
def fake_labelled():
    """A small labelled DatasetDict over the default aspects (see :func:`make_labelled`)."""
    return make_labelled()


@pytest.fixture
def offline_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """W&B offline, every wandb file (config, cache, artifact staging) under tmp_path."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb_home" / var.lower()))
    return tmp_path


@pytest.fixture(scope="module")
def smoke_tokenizer(tmp_path_factory):
    """The tokenizer of the smoke experiment's tiny policy."""
    from mogrpo.models.loading import load_causal_lm
    from mogrpo.utils.io import to_plain

    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path_factory.mktemp("tok"))
    return load_causal_lm(to_plain(cfg.model)["spec"])[1]


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory) -> Path:
    """An untrained tiny regressor, saved (it only has to give scores)."""
    from mogrpo.models.regressor import build_regressor

    tmp = tmp_path_factory.mktemp("reward")
    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp)
    torch.manual_seed(0)
    return build_regressor(cfg.reward_model, list(cfg.reward.aspects)).save(tmp / "regressor")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One reward-regressor cache for every end-to-end multirun of the session (tests/test_sweeps.py,
    tests/test_method_sweep.py): the first job trains the tiny regressor, the others reuse it
    (``reward_model.reuse_cached=true``)."""
    return tmp_path_factory.mktemp("cache")
