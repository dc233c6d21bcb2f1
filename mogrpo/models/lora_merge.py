"""LoRA folded into the base weights for fast generation, with the frozen base left bit-exact.

- :func:`plain_lora_layers`  the LoRA layers of a peft model when every one can be folded
- :func:`fold_problem`       why they cannot (for the fast-path warning)
- :func:`lora_merged`        a context in which each adapted layer runs as one ``W + s B A`` matmul,
                             optionally with the whole model in another (rollout) dtype

The merge is computed in float32. A bfloat16 base cannot hold ``W + s B A``: W is exactly
representable and every entry of ``s B A`` below half a bf16 ulp of W rounds back to W (at
``|dW| / |W|`` = 1e-3 most of the adapter's effect is lost), so the sampler would be close to the
base model while the update trains the adapter. So a low-precision base is NOT folded (by default):
generation runs the adapter path, the very computation the update differentiates. Chosen by
measurement (tests/models/test_lora_merge.py's model: bf16, d=128, |dW|/|W| = 2e-3, 8 x 16
sampled tokens): mean |log pi_sampler - log pi_update| 0.042 with the bf16 merge, 0.042 with a
float32 merged copy run as one float32 matmul per layer (exact W + dW, but the update itself
computes bf16 W x + dW x, whose rounding is as large as the adapter's effect here), 0.008 with the
adapter path. Speed on a 4-layer d=512 bf16 model, 2-core EPYC (avx512_bf16), 8 rows x 32 tokens:
adapter path 1.45 s per generate, bf16 merge 1.31 s, float32 copy 1.19 s (a shared, busy machine:
rough numbers); the parity is worth the ~10 %.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def sharded(model) -> bool:
    """Whether ``model``'s weights are sharded (FSDP units or DTensor parameters): outside a unit's
    forward its parameters are views of a local shard, which must not be replaced."""
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel
    except ImportError:  # pragma: no cover - torch without distributed
        return False
    if any(isinstance(m, FullyShardedDataParallel) for m in model.modules()):
        return True
    return any(type(p).__name__ == "DTensor" for p in model.parameters())


def plain_lora_layers(model, any_dtype: bool = False) -> list | None:
    """The LoRA layers of ``model`` if every one is a plain LoRA ``Linear`` whose active adapters
    fold into the base weight as ``W + s B A``; None when some layer cannot be folded (DoRA or
    another variant, LoRA biases, embeddings, already merged, FSDP-sharded weights, or, unless
    ``any_dtype``, a bf16 / fp16 base), so the caller keeps the adapter path."""
    try:
        from peft.tuners.lora import Linear, LoraLayer
    except ImportError:  # pragma: no cover - peft is a dependency
        return None
    if sharded(model):
        return None
    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    if not any_dtype and any(layer.get_base_layer().weight.dtype != torch.float32 for layer in layers):
        return None  # a low-precision base: W + s B A would round (module docstring)
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
    low = sorted({str(m.get_base_layer().weight.dtype) for m in layers} - {"torch.float32"})
    if low:
        return (f"the base weights are {', '.join(low)}: W + s B A would round the adapter's small entries away, "
                "so generation runs the adapter path (what the update computes)")
    if sharded(model):
        return "the weights are FSDP-sharded (a merged copy would replace shard views); the adapter path runs"
    return "some LoRA layers cannot be folded into W + s B A (DoRA or another variant, a LoRA bias, a non-Linear layer, or already merged)"


def _swap_dtype(model, dtype: torch.dtype, skip: set[int]) -> list[tuple[torch.nn.Module, str, torch.nn.Parameter]]:
    """Replace every floating parameter of ``model`` (but those in ``skip``, by id) by a ``dtype`` copy; the
    originals are returned for :func:`lora_merged` to put back (they are never written)."""
    swapped = []
    for module in model.modules():
        for name, p in list(module._parameters.items()):
            if p is None or id(p) in skip or not p.is_floating_point() or p.dtype == dtype:
                continue
            swapped.append((module, name, p))
            module._parameters[name] = torch.nn.Parameter(p.detach().to(dtype), requires_grad=False)
    return swapped


@contextlib.contextmanager
def lora_merged(model, dtype: torch.dtype | None = None) -> Iterator[bool]:
    """Run the peft ``model`` with each LoRA layer folded into its base weight; yields whether it did.

        W' = W + (alpha / r) B A        (peft's ``get_delta_weight``, summed in float32)

    Inside, every adapted base layer holds a NEW tensor W' and its adapter path is switched off, so
    a forward pass costs what the base model's does (no 2 x 7 extra low-rank matmuls per block).
    ``dtype`` None: the policy exactly as the update computes it: a float32 base holds W' as is; a
    bf16 / fp16 base is not folded (W' rounded to bf16 loses the small entries of B A: module
    docstring) and yields False. ``dtype`` given (e.g. bfloat16 rollouts of a float32 policy): W' and every other
    parameter of the model as ``dtype`` copies, on purpose lower precision (the caller corrects for
    it with importance sampling, mogrpo/grpo/importance.py).
    On exit the original tensors, the adapter switches and the adapters' ``requires_grad`` flags
    are put back. W is never written, so the frozen base stays bit-exact (peft's ``merge_adapter`` /
    ``unmerge_adapter`` add and subtract B A in place: the rounding error would accumulate in W over
    thousands of steps). Transient memory: one copy of the adapted weights (with ``dtype``, of the
    whole model in that dtype). Not for training: W' has no gradient path
    to A and B. Models without LoRA layers, with DoRA / LoRA biases, or FSDP-sharded, run as they are
    (yields False; with ``dtype`` the other parameters are still cast).
    """
    if sharded(model):  # shard views are never replaced
        yield False
        return
    layers = plain_lora_layers(model, any_dtype=dtype is not None) or []
    saved = []  # (layer, base layer, original weight, adapter params' requires_grad)
    swapped: list = []
    try:
        with torch.no_grad():
            for layer in layers:
                base = layer.get_base_layer()
                weight = base.weight
                grads = [(p, p.requires_grad) for n, p in layer.named_parameters() if "lora_" in n]
                merged = weight.detach().float().clone()
                for name in layer.active_adapters:
                    if name in layer.lora_A:
                        merged += layer.get_delta_weight(name).float()
                saved.append((layer, base, weight, grads))
                base.weight = torch.nn.Parameter(merged.to(dtype or weight.dtype), requires_grad=False)
                layer.enable_adapters(False)
            if dtype is not None:
                lora = {id(p) for layer in layers for n, p in layer.named_parameters() if "lora_" in n}
                swapped = _swap_dtype(model, dtype, skip=lora)
        yield bool(layers)
    finally:
        for module, name, p in swapped:
            module._parameters[name] = p
        for layer, base, weight, grads in saved:
            base.weight = weight
            layer.enable_adapters(True)
            for p, flag in grads:
                p.requires_grad_(flag)
