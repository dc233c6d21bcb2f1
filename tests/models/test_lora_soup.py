"""Rewarded soups of LoRA adapters: the interpolation, its end points bit for bit, and the checks."""

from __future__ import annotations

import json

import pytest
import torch

from mogrpo.models.lora_soup import interpolate_state_dicts, read_adapter, write_soup


def _adapter(cfg, path, seed: int, **lora):
    """A saved tiny-policy adapter with random (non-zero) LoRA weights."""
    from omegaconf import OmegaConf

    from mogrpo.models.policy import build_policy

    model = cfg.model.copy()
    for k, v in lora.items():
        OmegaConf.update(model, f"lora.{k}", v)
    torch.manual_seed(seed)
    policy, _ = build_policy(model)
    with torch.no_grad():
        for p in policy.parameters():
            if p.requires_grad:
                p.normal_(0, 0.5)
    policy.save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    from conftest import compose_cfg

    tmp = tmp_path_factory.mktemp("soup")
    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp)
    return cfg, _adapter(cfg, tmp / "a", 1), _adapter(cfg, tmp / "b", 2), tmp


def _bits(state):
    return {k: v.contiguous().view(torch.uint8) for k, v in state.items()}


def test_interpolation_at_0_and_1_reproduces_each_adapter_bit_for_bit(adapters):
    _, a, b, tmp = adapters
    sa, sb = read_adapter(a)[1], read_adapter(b)[1]
    for c, expected in ((0.0, sa), (1.0, sb)):
        soup = read_adapter(write_soup([a, b], [1 - c, c], tmp / f"soup_{c}"))[1]
        assert soup.keys() == expected.keys()
        got, want = _bits(soup), _bits(expected)
        assert all(torch.equal(got[k], want[k]) for k in want), f"c={c}: not bit-for-bit"
    assert json.loads((tmp / "soup_1.0" / "adapter_config.json").read_text()) == json.loads(
        (a / "adapter_config.json").read_text())


def test_the_soup_is_the_weighted_mean_of_lora_a_and_b_separately(adapters):
    _, a, b, tmp = adapters
    sa, sb = read_adapter(a)[1], read_adapter(b)[1]
    soup = interpolate_state_dicts([sa, sb], [0.75, 0.25])
    for k in sa:
        assert torch.allclose(soup[k], 0.75 * sa[k] + 0.25 * sb[k], atol=1e-7)
    # the soup's update B A is not the mean of the updates (documented: the cross terms remain)
    ka = next(k for k in sa if "lora_A" in k)
    kb = ka.replace("lora_A", "lora_B")
    mixed = soup[kb] @ soup[ka]
    mean = 0.75 * sa[kb] @ sa[ka] + 0.25 * sb[kb] @ sb[ka]
    assert not torch.allclose(mixed, mean, atol=1e-4)


def test_the_soup_loads_and_runs_as_the_adapter_at_the_end_points(adapters):
    from peft import PeftModel

    from mogrpo.models.loading import load_causal_lm

    cfg, a, b, tmp = adapters
    soup = write_soup([a, b], [1.0, 0.0], tmp / "loadable")
    ids = torch.tensor([[1, 2, 3, 4]])
    outs = []
    for path in (a, soup):
        torch.manual_seed(0)
        base, _ = load_causal_lm(_spec(cfg))
        outs.append(PeftModel.from_pretrained(base, str(path)).eval()(ids).logits)
    assert torch.equal(outs[0], outs[1])


def _spec(cfg):
    from hydra.utils import instantiate

    return instantiate(cfg.model.spec)


def test_incompatible_adapters_are_refused(adapters):
    cfg, a, _, tmp = adapters
    other = _adapter(cfg, tmp / "r8", 3, r=8)
    with pytest.raises(ValueError, match="adapter_config r=8 differs"):
        write_soup([a, other], [0.5, 0.5], tmp / "bad")
    with pytest.raises(ValueError, match="2 coefficients for 3 adapters"):
        interpolate_state_dicts([{}, {}, {}], [0.5, 0.5])
    with pytest.raises(FileNotFoundError, match="not a saved adapter"):
        read_adapter(tmp)
