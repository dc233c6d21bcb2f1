"""Rewarded soups of LoRA adapters (Ramé et al. 2023, "Rewarded soups", arXiv 2306.04488).

Adapters trained from one base with different rewards (for example single-aspect runs) are mixed by a
linear interpolation of their weights:

    theta_soup = sum_i lambda_i theta_i          (two adapters: theta(c) = (1 - c) theta_A + c theta_B)

applied to every tensor of the saved adapter, ``lora_A`` and ``lora_B`` alike, as Ramé et al. interpolate
the weights of the networks. For LoRA this is *not* the interpolation of the weight updates: the soup's
update is ``(sum_i lambda_i B_i)(sum_i lambda_i A_i)``, not ``sum_i lambda_i B_i A_i`` (the cross terms
``lambda_i lambda_j B_i A_j`` remain). We keep the paper's choice: the soup is again an adapter of the same
rank, evaluated by the same code, and at a coefficient vector with a single 1 it is that adapter bit for bit
(terms with a zero coefficient are left out, the sum runs in float64 and is cast back to the tensor's dtype).

The adapters must be compatible: the same tensors with the same shapes and the same LoRA settings (rank,
alpha, target modules), which adapters trained by one config with different ``reward.weights`` are.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
#: adapter_config.json keys that must agree for a soup to mean anything
MATCHING_KEYS = ("r", "lora_alpha", "target_modules", "use_rslora", "use_dora", "peft_type", "base_model_name_or_path")


def read_adapter(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(``adapter_config.json``, the state dict) of a peft adapter dir saved by ``save_pretrained``."""
    from safetensors.torch import load_file

    path = Path(path)
    weights = path / WEIGHTS_FILE
    if not weights.is_file() or not (path / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{path} is not a saved adapter (no {WEIGHTS_FILE} / {CONFIG_FILE})")
    return json.loads((path / CONFIG_FILE).read_text()), load_file(str(weights))


def check_compatible(configs: Sequence[Mapping], states: Sequence[Mapping[str, torch.Tensor]],
                     names: Sequence[str]) -> None:  # fmt: skip
    """ValueError naming the adapter and the tensor or setting where ``states`` / ``configs`` differ from the first."""
    first, first_cfg = states[0], configs[0]
    for name, cfg, state in zip(names[1:], configs[1:], states[1:]):
        for key in MATCHING_KEYS:
            a, b = first_cfg.get(key), cfg.get(key)
            if isinstance(a, list) and isinstance(b, list):
                a, b = sorted(a), sorted(b)
            if a != b:
                raise ValueError(f"{name}: adapter_config {key}={cfg.get(key)!r} differs from {names[0]}'s "
                                 f"{first_cfg.get(key)!r}; a soup needs adapters of one LoRA config")  # fmt: skip
        if set(state) != set(first):
            diff = sorted(set(state) ^ set(first))
            raise ValueError(f"{name}: holds other tensors than {names[0]} ({len(diff)} differ, e.g. {diff[:2]})")
        for key, tensor in state.items():
            if tensor.shape != first[key].shape:
                raise ValueError(f"{name}: {key} has shape {tuple(tensor.shape)}, {names[0]} "
                                 f"{tuple(first[key].shape)}")  # fmt: skip


def interpolate_state_dicts(states: Sequence[Mapping[str, torch.Tensor]],
                            coefficients: Sequence[float]) -> dict[str, torch.Tensor]:  # fmt: skip
    """``sum_i lambda_i theta_i`` per tensor (module docstring); a vector with a single 1 returns that state exactly."""
    if len(states) != len(coefficients) or not states:
        raise ValueError(f"{len(coefficients)} coefficients for {len(states)} adapters")
    if not all(math.isfinite(float(c)) for c in coefficients):
        raise ValueError(f"coefficients must be finite numbers, got {list(coefficients)}")
    terms = [(float(c), s) for c, s in zip(coefficients, states) if float(c) != 0.0]
    out = {}
    for key, ref in states[0].items():
        if not terms:
            out[key] = torch.zeros_like(ref)
            continue
        acc = sum(c * s[key].to(torch.float64) for c, s in terms)
        out[key] = acc.to(ref.dtype).contiguous()
    return out


def write_soup(adapters: Sequence[str | Path], coefficients: Sequence[float], out_dir: str | Path) -> Path:
    """Read the ``adapters``, check them, and save their soup as a peft adapter dir ``out_dir`` (the first
    adapter's config, the interpolated tensors)."""
    from safetensors.torch import save_file

    read = [read_adapter(a) for a in adapters]
    configs, states = [c for c, _ in read], [s for _, s in read]
    check_compatible(configs, states, [str(a) for a in adapters])
    soup = interpolate_state_dicts(states, coefficients)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(adapters[0]) / CONFIG_FILE, out_dir / CONFIG_FILE)
    save_file(soup, str(out_dir / WEIGHTS_FILE), metadata={"format": "pt"})
    (out_dir / "soup_recipe.json").write_text(json.dumps({"adapters": [str(a) for a in adapters],
                                                   "coefficients": [float(c) for c in coefficients]}, indent=2))
    return out_dir
