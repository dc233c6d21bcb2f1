"""The warm start's training loop: a few AdamW steps of completion-only SFT on the LoRA parameters.

Each step takes ``batch_size`` demonstrations in a seeded order (a fresh permutation of all of them
every pass, so each is seen once before any is seen twice), runs one forward pass over prompt +
response (:func:`~mogrpo.models.logprobs.token_logprobs`, the log-probs GRPO uses), and minimises
:func:`~mogrpo.warm_start.loss.completion_nll`. Only parameters with ``requires_grad`` (the LoRA
adapters of :func:`~mogrpo.models.policy.build_policy`) are in the optimiser; the base stays frozen.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch

from mogrpo.configs.warm_start import WarmStartConfig
from mogrpo.models.logprobs import token_logprobs
from mogrpo.utils.progress import progress_bar
from mogrpo.warm_start.encode import EncodedDemo, collate
from mogrpo.warm_start.loss import completion_nll


def batch_order(n_items: int, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """``steps`` batches of ``batch_size`` indices into ``n_items``: passes over a seeded permutation each,
    joined end to end (a batch may straddle two passes; no index twice in a batch when
    ``batch_size <= n_items``)."""
    if n_items < batch_size:
        raise ValueError(f"{n_items} demonstrations cannot fill a batch of {batch_size}")
    stream: list[int] = []
    epoch = 0
    while len(stream) < steps * batch_size:
        perm = list(range(n_items))
        random.Random(f"{seed}/warm_start/{epoch}").shuffle(perm)
        tail = set(stream[len(stream) - len(stream) % batch_size :])  # the open batch's indices
        perm = [i for i in perm if i not in tail] + [i for i in perm if i in tail]  # keep a batch duplicate-free
        stream += perm
        epoch += 1
    return [stream[k * batch_size : (k + 1) * batch_size] for k in range(steps)]


def run_warm_start(
    policy,
    tokenizer,
    encoded: Sequence[EncodedDemo],
    config: WarmStartConfig,
    seed: int = 0,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = True,
    forward_context: Callable[[], AbstractContextManager] | None = None,
) -> dict[str, Any]:
    """Train ``policy``'s trainable parameters for ``config.steps`` steps; returns the losses, the indices of
    the demonstrations seen (into ``encoded``'s ``index``), the response tokens trained on and the wall time.

    ``on_step`` gets each step's row ``{"warm_start/step", "warm_start/loss", "warm_start/lr",
    "warm_start/grad_norm", "warm_start/tokens"}`` (for the logger and the history); ``forward_context``
    wraps each forward pass (the Trainer's precision context: autocast under mixed precision).
    """
    params = [p for p in policy.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model.lora.target_modules: the policy has no trainable parameter to warm-start")
    device = params[0].device
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    order = batch_order(len(encoded), config.batch_size, config.steps, seed)
    was_training = policy.training
    policy.train()
    losses: list[float] = []
    seen: list[int] = []
    tokens = 0
    t0 = time.perf_counter()
    bar = progress_bar(config.steps, "warm start", enabled=progress)
    try:
        for step, idx in enumerate(order, start=1):
            batch = [encoded[i] for i in idx]
            input_ids, attention_mask, mask = (t.to(device) for t in collate(batch, pad))
            with forward_context() if forward_context is not None else nullcontext():
                logp = token_logprobs(policy, input_ids, attention_mask, mask.shape[1])
            loss = completion_nll(logp, mask)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = float(torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None]))
            if config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            n_tokens = int(mask.sum())
            losses.append(float(loss.detach()))
            seen += [d.index for d in batch]
            tokens += n_tokens
            row = {"warm_start/step": step, "warm_start/loss": losses[-1], "warm_start/lr": config.lr,
                   "warm_start/grad_norm": grad_norm, "warm_start/tokens": n_tokens}  # fmt: skip
            if on_step is not None:
                on_step(row)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
            bar.update(1)
    finally:
        bar.close()
        optimizer.zero_grad(set_to_none=True)
        policy.train(was_training)
    wall = time.perf_counter() - t0
    return {
        "steps": len(losses),
        "losses": losses,
        "seen": seen,
        "response_tokens": tokens,
        "wall_time_s": round(wall, 2),
        "s_per_step": round(wall / max(len(losses), 1), 3),
    }
