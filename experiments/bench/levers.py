"""``--levers``: each speed lever timed alone, round-robin in one process."""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import PROMPTS, Settings, _setup, model_cfg, wait_for_quiet
from bench.compare import machine_info


# --------------------------------------------------------------------------- levers (one process, interleaved)
def lever_variants(s: Settings) -> dict[str, Any]:
    """Each speed lever as a callable on one loaded policy, timed round-robin in one process.

    Generation variants decode exactly ``max_new_tokens`` tokens (``min_new_tokens`` = max), so
    every variant does the same work; "before" is the plain path (adapter active, ``no_grad``,
    ``num_return_sequences=G``), "after" is ``generate_group`` as it runs in training. The update
    variants run ``token_logprobs`` forward + backward over a fixed batch of G x prompts rows of
    prompt + ``max_new_tokens`` completion tokens.
    """
    import contextlib

    import torch

    from mogrpo.models.generation import generate_group
    from mogrpo.models.logprobs import token_logprobs
    from mogrpo.models.lora_merge import lora_merged
    from mogrpo.models.policy import build_policy, chat_prompts, encode_prompts

    _setup(s)
    model, tok = build_policy(model_cfg())
    model.eval()
    batch = PROMPTS[: s.prompts_per_step]
    ids, mask, _ = encode_prompts(tok, chat_prompts(tok, batch), 256)
    gen = {"max_new_tokens": s.max_new_tokens, "min_new_tokens": s.max_new_tokens, "temperature": s.temperature,
           "top_p": 1.0, "top_k": 0}  # fmt: skip
    tokens = s.completions_per_step * s.max_new_tokens

    def plain_generate(merge: bool, grad_mode, **extra):
        def run():
            with lora_merged(model) if merge else contextlib.nullcontext(), grad_mode():
                model.generate(
                    input_ids=ids, attention_mask=mask, max_new_tokens=s.max_new_tokens,
                    min_new_tokens=s.max_new_tokens, do_sample=True, temperature=s.temperature, top_p=1.0, top_k=0,
                    num_return_sequences=s.G, use_cache=True, pad_token_id=tok.pad_token_id, **extra,
                )  # fmt: skip
            return tokens

        return run

    def group(merge: bool, share: bool, fast: bool):
        def run():
            generate_group(model, tok, ids, mask, s.G, {**gen, "fast_sampling": fast}, merge_lora=merge,
                           share_prompt=share)  # fmt: skip
            return tokens

        return run

    def without_adapter():
        with model.disable_adapter():
            generate_group(model, tok, ids, mask, s.G, gen, merge_lora=False)
        return tokens

    g = torch.Generator().manual_seed(s.seed)
    completion = torch.randint(10, 1000, (s.completions_per_step, s.max_new_tokens), generator=g)
    full_ids = torch.cat([ids.repeat_interleave(s.G, 0), completion], dim=1)
    full_mask = torch.cat([mask.repeat_interleave(s.G, 0), torch.ones_like(completion)], dim=1)
    T = s.max_new_tokens

    def logprob_pass(group_size: int, backward: bool, keep: bool = True):
        from mogrpo.models import fast_paths

        def run():
            model.train()
            off = () if keep else ("logits_to_keep",)  # the plain path: every position's logits
            try:
                with fast_paths.switched_off(*off), contextlib.nullcontext() if backward else torch.no_grad():
                    logp = token_logprobs(model, full_ids, full_mask, T, group_size=group_size)
                    if backward:
                        logp.sum().backward()
                        model.zero_grad(set_to_none=True)
            finally:
                model.eval()
            return s.completions_per_step * T

        return run

    return {
        "generate: adapter active, no_grad, G-fold prompts (before)": plain_generate(False, torch.no_grad),
        "generate: adapter active, inference_mode": plain_generate(False, torch.inference_mode),
        "generate: LoRA merged, no_grad": plain_generate(True, torch.no_grad),
        "generate: LoRA merged, inference_mode, static cache": plain_generate(
            True, torch.inference_mode, cache_implementation="static"
        ),
        "generate_group: inference_mode only": group(False, False, False),
        "generate_group: + LoRA merged": group(True, False, False),
        "generate_group: + LoRA merged + shared prompt prefill": group(True, True, False),
        "generate_group: + merged + shared + inverse-CDF sampling (after)": group(True, True, True),
        "generate_group: adapter off (no LoRA compute), shared, inverse-CDF (floor)": without_adapter,
        "update: log-probs fwd+bwd, all positions' logits": logprob_pass(1, True, keep=False),
        "update: log-probs fwd+bwd, logits_to_keep": logprob_pass(1, True),
        "update: log-probs fwd+bwd, logits_to_keep + shared prompts (after)": logprob_pass(s.G, True),
        "extra no-grad log-prob pass (old/ref; skipped when not needed)": logprob_pass(s.G, False),
    }


def lever_table(rows: dict[str, dict]) -> str:
    lines = ["| variant | median s | min | max | CPU s (median) | tokens/s (median) |", "|---|---|---|---|---|---|"]
    for k, r in rows.items():
        lines.append(f"| {k} | {r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} | {r['cpu_median_s']:.2f} "
                     f"| {r['tokens_per_s']:.0f} |")
    return "\n".join(lines)


def run_levers(s: Settings, repeats: int, out_path: Path) -> dict:
    """Time every lever variant ``repeats`` times, round-robin (so load drifts hit all alike); the
    JSON is rewritten after every round, so an interrupted run keeps what it measured."""
    variants = lever_variants(s)
    times: dict[str, list[float]] = {k: [] for k in variants}
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    loads: list[float] = []
    waits: list[dict] = []
    for fn in variants.values():  # one untimed warm-up call each
        fn()
    report: dict[str, Any] = {"settings": asdict(s)}
    for r in range(repeats):
        for k, fn in variants.items():
            waits.append(wait_for_quiet(s.quiet_wait))
            t0, c0 = time.perf_counter(), time.process_time()
            tokens = fn()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
            loads.append(os.getloadavg()[0])
            print(f"[levers {r + 1}/{repeats}] {k}: {times[k][-1]:.2f} s (load {loads[-1]:.2f})", flush=True)
        rows = {
            k: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "times": v,
                "cpu_median_s": statistics.median(cpu[k]), "cpu_times": cpu[k],
                "tokens_per_s": tokens / statistics.median(v)}
            for k, v in times.items()
        }  # fmt: skip
        report = {"machine": machine_info(), "settings": asdict(s), "repeats": r + 1, "loadavg_1min": loads,
                  "quiet_waits": waits, "levers": rows}  # fmt: skip
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(report, indent=2))
    print(lever_table(report["levers"]))
    return report
