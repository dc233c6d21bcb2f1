"""LoRA folded into the base weights for fast generation, with the frozen base left bit-exact.

- :func:`plain_lora_layers`  the LoRA layers of a peft model when every one can be folded
- :func:`fold_problem`       why they cannot (for the fast-path warning)
- :func:`lora_merged`        a context in which each adapted layer runs as one ``W + s B A`` matmul
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def plain_lora_layers(model) -> list | None:
    """The LoRA layers of ``model`` if every one is a plain LoRA ``Linear`` whose active adapters
    fold into the base weight as ``W + s B A``; None when some layer cannot be folded (DoRA or
    another variant, LoRA biases, embeddings, already merged), so the caller keeps the adapter path."""
    try:
        from peft.tuners.lora import Linear, LoraLayer
    except ImportError:  # pragma: no cover - peft is a dependency
        return None
    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    for layer in layers:
        if not isinstance(layer, Linear) or layer.merged or layer.disable_adapters:
            return None
        for name in layer.active_adapters:
            if name not in layer.lora_A:
                continue
            if layer.lora_variant.get(name) is not None or layer.lora_bias.get(name, False):
                return None
    return layers


def fold_problem(model) -> str | None:
    """Why the active LoRA adapters of ``model`` cannot be folded for generation; None when they can,
    or when there is nothing to fold (no LoRA layer, or the adapters are switched off)."""
    try:
        from peft.tuners.lora import LoraLayer
    except ImportError:  # pragma: no cover - peft is a dependency
        return None
    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    if not layers or any(layer.disable_adapters for layer in layers) or plain_lora_layers(model):
        return None
    return "some LoRA layers cannot be folded into W + s B A (DoRA or another variant, a LoRA bias, a non-Linear layer, or already merged)"


@contextlib.contextmanager
def lora_merged(model) -> Iterator[bool]:
    """Run the peft ``model`` with each LoRA layer folded into its base weight; yields whether it did.

        W' = W + (alpha / r) B A        (peft's ``get_delta_weight``)

    Inside, every adapted base layer holds a NEW tensor W' and its adapter path is switched off, so
    a forward pass costs what the base model's does (no 2 x 7 extra low-rank matmuls per block).
    On exit the original W tensors, the adapter switches and the adapters' ``requires_grad`` flags
    are put back. W is never written, so the frozen base stays bit-exact (peft's ``merge_adapter`` /
    ``unmerge_adapter`` add and subtract B A in place: the rounding error would accumulate in W over
    thousands of steps). Transient memory: one copy of the adapted weights. Outputs equal the
    adapter-active ones up to float rounding. Not for training: W' has no gradient path to A and B.
    Models without LoRA layers, or with DoRA / LoRA biases, run as they are (yields False).
    """
    layers = plain_lora_layers(model)
    if not layers:
        yield False
        return
    saved = []  # (layer, base layer, original weight, adapter params' requires_grad)
    try:
        with torch.no_grad():
            for layer in layers:
                base = layer.get_base_layer()
                weight = base.weight
                grads = [(p, p.requires_grad) for n, p in layer.named_parameters() if "lora_" in n]
                merged = weight.detach().clone()
                for name in layer.active_adapters:
                    if name in layer.lora_A:
                        merged += layer.get_delta_weight(name).to(merged.dtype)
                saved.append((layer, base, weight, grads))
                base.weight = torch.nn.Parameter(merged, requires_grad=False)
                layer.enable_adapters(False)
        yield True
    finally:
        for layer, base, weight, grads in saved:
            base.weight = weight
            layer.enable_adapters(True)
            for p, flag in grads:
                p.requires_grad_(flag)

