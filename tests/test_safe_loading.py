"""Safe loading: no remote code unless the config says so, safetensors weights, no unrestricted pickle.

Checked on the code paths themselves: ``from_pretrained`` is replaced by a recorder of its kwargs, and
``torch.load`` by a guard that fails on any call without ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

CONF = Path(__file__).resolve().parents[1] / "conf"


class Recorder:
    """Stands in for ``from_pretrained``: records (location, kwargs), returns a small fake object."""

    def __init__(self, make):
        self.calls: list[tuple[str, dict]] = []
        self.make = make

    def __call__(self, location, *args, **kwargs):
        self.calls.append((str(location), kwargs))
        return self.make()


def _fake_tokenizer():
    return SimpleNamespace(pad_token=None, eos_token="</s>", pad_token_id=0, padding_side="right")


def _fake_model():
    return SimpleNamespace(generation_config=SimpleNamespace(pad_token_id=None))


@pytest.fixture
def recorders(monkeypatch):
    import transformers

    rec = {
        "tokenizer": Recorder(_fake_tokenizer),
        "causal_lm": Recorder(_fake_model),
        "encoder": Recorder(_fake_model),
    }
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", rec["tokenizer"])
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", rec["causal_lm"])
    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", rec["encoder"])
    return rec


@pytest.fixture
def guarded_torch_load(monkeypatch):
    """``torch.load`` that records its calls and refuses any without ``weights_only=True``."""
    calls: list[dict] = []
    real = torch.load

    def guard(*args, **kwargs):
        calls.append(kwargs)
        if kwargs.get("weights_only") is not True:
            raise AssertionError(f"torch.load called without weights_only=True: {args[:1]} {kwargs}")
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", guard)
    return calls


@pytest.mark.parametrize("loader", ["load_causal_lm", "load_encoder"])
def test_hub_models_load_safetensors_without_remote_code(recorders, loader):
    from mogrpo.models import loading

    getattr(loading, loader)({"source": "hub", "name_or_path": "org/some-model", "revision": "abc123"})
    model_calls = recorders["causal_lm" if loader == "load_causal_lm" else "encoder"].calls
    (location, kwargs), (tok_location, tok_kwargs) = model_calls[0], recorders["tokenizer"].calls[0]
    assert location == tok_location == "org/some-model"
    assert kwargs["trust_remote_code"] is False and tok_kwargs["trust_remote_code"] is False
    assert kwargs["use_safetensors"] is True  # never a pickled pytorch_model.bin
    assert kwargs["revision"] == "abc123" == tok_kwargs["revision"]


def test_remote_code_only_when_the_config_asks(recorders):
    from mogrpo.models.loading import load_causal_lm

    load_causal_lm({"source": "hub", "name_or_path": "org/custom", "trust_remote_code": True})
    assert recorders["causal_lm"].calls[0][1]["trust_remote_code"] is True
    assert recorders["tokenizer"].calls[0][1]["trust_remote_code"] is True


def test_local_models_load_safetensors_without_remote_code(recorders, tmp_path):
    from mogrpo.models.loading import load_encoder

    load_encoder({"source": "local", "name_or_path": str(tmp_path)})
    (location, kwargs) = recorders["encoder"].calls[0]
    assert location == str(tmp_path) and kwargs["use_safetensors"] is True and kwargs["trust_remote_code"] is False


@pytest.mark.parametrize("group", ["model", "reward_model"])
def test_no_shipped_model_config_turns_on_remote_code(group, tmp_path):
    from conftest import compose_cfg

    from mogrpo.models.loading import as_spec

    for path in sorted((CONF / group).glob("*.yaml")):
        cfg = compose_cfg([f"{group}={path.stem}"], tmp_path)
        spec = as_spec({k: v for k, v in dict(cfg[group].spec).items() if k != "cache_dir"})
        assert spec.trust_remote_code is False, path.name


def test_saved_regressor_loads_from_safetensors_without_pickle(tmp_path, guarded_torch_load, monkeypatch):
    import transformers
    from conftest import compose_cfg

    from mogrpo.models.regressor import MultiAspectRegressor, build_regressor

    cfg = compose_cfg(["experiment=smoke"], tmp_path)
    torch.manual_seed(0)
    saved = build_regressor(cfg.reward_model, ["safety", "politeness"]).save(tmp_path / "regressor")
    assert (saved / "model.safetensors").is_file() and not list(saved.glob("*.bin"))
    tok_calls: list[dict] = []
    real = transformers.AutoTokenizer.from_pretrained.__func__

    def record(cls, location, *args, **kwargs):
        tok_calls.append(kwargs)
        return real(cls, location, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", classmethod(record))
    loaded = MultiAspectRegressor.load(saved)
    assert loaded.aspects == ["safety", "politeness"]
    assert not guarded_torch_load  # safetensors: torch.load never called
    assert tok_calls and not any(kw.get("trust_remote_code") for kw in tok_calls)


def test_eval_adapter_loads_from_safetensors_without_pickle(tmp_path, guarded_torch_load):
    from conftest import compose_cfg

    from mogrpo.models.policy import build_policy
    from mogrpo.stages.evaluation import load_policy_for_eval

    cfg = compose_cfg(["experiment=smoke"], tmp_path)
    policy, _ = build_policy(cfg.model)
    policy.save_pretrained(str(tmp_path / "adapter"))
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    model, _ = load_policy_for_eval(cfg, tmp_path / "adapter")
    assert not guarded_torch_load
    assert not any(p.requires_grad for p in model.parameters())  # loaded for inference only


def test_grpo_checkpoints_and_resume_load_with_weights_only(tmp_path, guarded_torch_load):
    from conftest import compose_cfg

    from mogrpo.models.regressor import build_regressor
    from mogrpo.stages.grpo import run_grpo_stage
    from mogrpo.utils.checkpoint import load_state

    cfg = compose_cfg(["experiment=smoke", "logger=none", "grpo.max_steps=1", "grpo.checkpoint_every=1",
                       "grpo.generation.max_new_tokens=4"], tmp_path)  # fmt: skip
    reward_dir = build_regressor(cfg.reward_model, list(cfg.reward.aspects)).save(tmp_path / "regressor")
    run_dir = tmp_path / "run"
    run_grpo_stage(cfg, run_dir, reward_dir)
    state = load_state(run_dir / "checkpoints" / "step_1")
    assert state["global_step"] == 1 and len(guarded_torch_load) == 1
    cfg.grpo.max_steps = 2
    cfg.resume = "auto"
    out = run_grpo_stage(cfg, run_dir, reward_dir)  # Lightning's restore goes through the guard too
    assert out["steps"] == 2 and len(guarded_torch_load) >= 2
