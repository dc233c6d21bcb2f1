"""The workers: one framework's timed steps, each in a fresh interpreter (``bench_step.py --worker``)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import (
    PROMPTS,
    ROOT,
    Settings,
    _setup,
    grpo_config,
    make_reward_adapter,
    model_cfg,
    peak_rss_mib,
    summarize,
    trl_reward,
    wait_for_quiet,
)


# --------------------------------------------------------------------------- workers (one per subprocess)
def run_mogrpo(s: Settings, rollout_dtype: str | None = None) -> dict:
    """Time ``GRPOModule.training_step`` under a Lightning Trainer, as ``mogrpo.train`` runs it; with
    ``rollout_dtype`` (``grpo.generation.dtype``, e.g. ``auto``) the rollouts run in that dtype and the
    importance-sampling ratio's statistics are reported."""
    from dataclasses import replace

    import torch
    from lightning.pytorch import Callback, Trainer

    from mogrpo.configs import RewardConfig
    from mogrpo.data.prompts import PromptDataModule
    from mogrpo.models.policy import build_policy
    from mogrpo.modules.grpo_module import GRPOModule

    _setup(s)
    if s.retain_freed_memory:  # as mogrpo.train does with its default retain_freed_memory: true
        from mogrpo.utils.allocator import retain_freed_memory

        retain_freed_memory()
    grpo = grpo_config(s)
    if rollout_dtype is not None:
        grpo = replace(grpo, generation=replace(grpo.generation, dtype=rollout_dtype))
    scorer = make_reward_adapter()
    reward = RewardConfig(aspects=tuple(scorer.aspects), weights=[1.0], aggregation="sum_then_normalize")
    policy, tokenizer = build_policy(model_cfg())
    module = GRPOModule(policy, tokenizer, scorer, grpo, reward, max_prompt_length=256)

    class StepTimer(Callback):
        def __init__(self) -> None:
            self.step_s: list[float] = []
            self.cpu_s: list[float] = []
            self.waits: list[dict] = []

        def on_train_batch_start(self, trainer, *_: Any) -> None:
            if trainer.global_step >= s.warmup:
                self.waits.append(wait_for_quiet(s.quiet_wait))
            self._t0, self._c0 = time.perf_counter(), time.process_time()

        def on_train_batch_end(self, *_: Any) -> None:
            self.step_s.append(time.perf_counter() - self._t0)
            self.cpu_s.append(time.process_time() - self._c0)

    timer = StepTimer()
    trainer = Trainer(
        accelerator="cpu", devices=1, max_steps=s.warmup + s.steps, max_epochs=-1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
    )  # fmt: skip
    data = PromptDataModule([{"id": str(i), "prompt": p} for i, p in enumerate(PROMPTS)], s.prompts_per_step, s.seed)
    trainer.fit(module, train_dataloaders=data.train_dataloader())
    timed = module.history[s.warmup :]
    N = s.completions_per_step
    tokens = [round(h["train/completion_length_mean"] * N) for h in timed]
    widths = [int(h["train/completion_length_max"]) for h in timed]  # EOS-stopped: the batch ran this many steps
    gen_s = [h["time/generate_s"] for h in timed]
    out = summarize(timer.step_s[s.warmup :], tokens, gen_s, widths, N, timer.cpu_s[s.warmup :])
    out["threads"] = torch.get_num_threads()
    out["quiet_waits"] = timer.waits
    out["phases_median_s"] = {  # where a step's time goes
        k.removeprefix("time/"): statistics.median(h[k] for h in timed) for k in timed[0] if k.startswith("time/")
    }
    out["generation_dtype"] = rollout_dtype
    out["rollout_dtype"] = str(module.rollout_dtype or next(policy.parameters()).dtype).removeprefix("torch.")
    is_keys = [k for k in timed[0] if k.startswith("train/is_ratio_") or k.startswith("train/sampling_logp_diff_")]
    if is_keys:  # rollouts in another dtype: how far the corrected ratio is from 1
        out["is_ratio"] = {k.removeprefix("train/"): {"min": min(h[k] for h in timed), "median": statistics.median(
            h[k] for h in timed), "max": max(h[k] for h in timed)} for k in is_keys}  # fmt: skip
    return out


def run_trl(s: Settings, gradient_checkpointing: bool) -> dict:
    """Time ``GRPOTrainer`` steps (generation happens inside each step: ``steps_per_generation=1``)."""
    import torch
    from datasets import Dataset
    from hydra.utils import instantiate
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from mogrpo.models.loading import packaged_dir

    _setup(s)
    lora = instantiate(model_cfg().lora, _convert_="all")

    class TimedGRPOTrainer(GRPOTrainer):
        """Records each generate call's wall time, completion lengths and decode width."""

        gen_log: list[tuple[float, int, int]] = []

        def _generate_single_turn(self, prompt_ids, *args, **kwargs):
            t0 = time.perf_counter()
            completion_ids, logprobs = super()._generate_single_turn(prompt_ids, *args, **kwargs)
            lengths = [len(c) for c in completion_ids]
            self.gen_log.append((time.perf_counter() - t0, sum(lengths), max(lengths)))
            return completion_ids, logprobs

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.step_s: list[float] = []
            self.cpu_s: list[float] = []
            self.waits: list[dict] = []

        def on_step_begin(self, args, state, control, **_: Any):
            if state.global_step >= s.warmup:
                self.waits.append(wait_for_quiet(s.quiet_wait))
            self._t0, self._c0 = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **_: Any):
            self.step_s.append(time.perf_counter() - self._t0)
            self.cpu_s.append(time.process_time() - self._c0)

    with tempfile.TemporaryDirectory(prefix="bench_trl_") as out_dir:
        args = GRPOConfig(
            output_dir=out_dir,
            per_device_train_batch_size=s.completions_per_step,  # TRL counts completions: 8 / G=4 = 2 prompts
            num_generations=s.G,
            max_completion_length=s.max_new_tokens,
            temperature=s.temperature,
            beta=0.0,
            num_iterations=1,
            learning_rate=s.lr,
            max_steps=s.warmup + s.steps,
            gradient_checkpointing=gradient_checkpointing,
            bf16=False,
            fp16=False,
            use_cpu=True,
            report_to="none",
            seed=s.seed,
        )
        dataset = Dataset.from_dict({"prompt": [[{"role": "user", "content": p}] for p in PROMPTS]})
        timer = StepTimer()
        trainer = TimedGRPOTrainer(
            model=str(packaged_dir("smollm2_135m_instruct")),
            reward_funcs=trl_reward,
            args=args,
            train_dataset=dataset,
            peft_config=lora,
            callbacks=[timer],
        )
        torch.set_num_threads(s.threads)  # in case the trainer's setup changed it
        trainer.train()
    gen = TimedGRPOTrainer.gen_log[s.warmup :]
    out = summarize(timer.step_s[s.warmup :], [g[1] for g in gen], [g[0] for g in gen], [g[2] for g in gen],
                    s.completions_per_step, timer.cpu_s[s.warmup :])  # fmt: skip
    out["threads"] = torch.get_num_threads()
    out["gradient_checkpointing"] = gradient_checkpointing
    out["quiet_waits"] = timer.waits
    return out


def run_generate(s: Settings) -> dict:
    """Raw ``model.generate`` on the peft model (adapter active), the same prompts and sampling."""
    import torch
    from peft import get_peft_model

    from mogrpo.models.generation import completion_mask, eos_token_ids
    from mogrpo.models.loading import load_causal_lm
    from mogrpo.models.policy import chat_prompts, encode_prompts

    _setup(s)
    from hydra.utils import instantiate

    cfg = model_cfg()
    model, tokenizer = load_causal_lm(cfg.spec)
    model = get_peft_model(model, instantiate(cfg.lora, _convert_="all")).eval()
    eos = eos_token_ids(model, tokenizer)
    gen_s, cpu_s, tokens, widths, waits = [], [], [], [], []
    for i in range(s.warmup + s.steps):
        if i >= s.warmup:
            waits.append(wait_for_quiet(s.quiet_wait))
        batch = [PROMPTS[(i * s.prompts_per_step + j) % len(PROMPTS)] for j in range(s.prompts_per_step)]
        ids, mask, _ = encode_prompts(tokenizer, chat_prompts(tokenizer, batch), 256)
        t0, c0 = time.perf_counter(), time.process_time()
        out = model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=s.max_new_tokens, do_sample=True,
            temperature=s.temperature, top_p=1.0, top_k=0, num_return_sequences=s.G, eos_token_id=eos,
            pad_token_id=tokenizer.pad_token_id,
        )  # fmt: skip
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        completion = out[:, ids.shape[1] :]
        if i >= s.warmup:
            gen_s.append(elapsed)
            cpu_s.append(cpu)
            tokens.append(int(completion_mask(completion, eos)[0].sum()))
            widths.append(completion.shape[1])
    result = summarize(gen_s, tokens, gen_s, widths, s.completions_per_step, cpu_s)
    result["threads"] = torch.get_num_threads()
    result["quiet_waits"] = waits
    return result


def worker(name: str, s: Settings) -> dict:
    runners = {
        "mogrpo": lambda: run_mogrpo(s),
        "mogrpo_fast": lambda: run_mogrpo(s, rollout_dtype="auto"),
        "trl": lambda: run_trl(s, gradient_checkpointing=True),
        "trl_no_gc": lambda: run_trl(s, gradient_checkpointing=False),
        "generate": lambda: run_generate(s),
    }
    if not name.startswith("mogrpo") and s.peers_retain_freed_memory:  # the same allocator setting for TRL and generate
        from mogrpo.utils.allocator import retain_freed_memory

        retain_freed_memory()
    result = runners[name]()
    result["peak_rss_mib"] = peak_rss_mib()
    result["settings"] = asdict(s)
    return result


# --------------------------------------------------------------------------- the harness
def run_in_subprocess(name: str, s: Settings, log_dir: Path) -> dict:
    """Run one worker in a fresh interpreter; its stdout/stderr go to ``<log_dir>/<name>.log``."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        result_path = Path(fh.name)
    cmd = [sys.executable, str(ROOT / "experiments" / "bench_step.py"), "--worker", name, "--worker-out", str(result_path),
           "--settings", json.dumps(asdict(s))]  # fmt: skip
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    t0 = time.perf_counter()
    with log_path.open("a", encoding="utf-8") as log:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env, check=False)
    if proc.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
        raise RuntimeError(f"worker {name!r} failed (exit {proc.returncode}); log {log_path}:\n" + "\n".join(tail))
    result = json.loads(result_path.read_text())
    result_path.unlink()
    result["wall_s"] = time.perf_counter() - t0
    return result
