"""One GRPO step of mogrpo against TRL's ``GRPOTrainer``, side by side on the same machine.

Both frameworks train the embedded SmolLM2-135M-Instruct with the same LoRA (r=16, alpha=32,
dropout 0, all seven linear projections, from ``conf/model/smollm2_135m.yaml``), the same prompts,
the same cheap reward (a python function of the completion text: length and keywords), G=4
completions for each of 2 prompts per step (8 completions), up to 64 new tokens sampled at
temperature 1.0 (top-p 1, no top-k), beta 0, one update per sampled batch, learning rate 1e-4,
``torch.set_num_threads(2)``. TRL runs with its own defaults for everything else (float32 on
CPU, ``use_cpu=True``, no vLLM, ``report_to="none"``), once with its default gradient
checkpointing and once without; the mogrpo/TRL ratio is taken against the faster TRL run.
A third reference is raw ``model.generate`` (HF, peft adapter active, same 8 x 64 sampling).

Every framework runs in its own subprocess, so its peak RSS (``ru_maxrss``) is its own and no
framework warms a cache for another; with ``--rounds R`` the subprocesses run R times in
alternating order and the step times are pooled. Each worker times ``--steps`` steps after
``--warmup`` untimed ones: a step is generation + reward + advantages + update (+ optimiser
step), i.e. Lightning's ``on_train_batch_start`` -> ``on_train_batch_end`` for mogrpo and HF's
``on_step_begin`` -> ``on_step_end`` for TRL. Completion tokens are counted up to and including
the first EOS, the same way for all three.

    python experiments/bench_step.py --quick            # < 5 minutes
    python experiments/bench_step.py --steps 8 --warmup 2 --rounds 2 --out results.json
    python experiments/bench_step.py --scaling          # mogrpo only: G in 2,4,8 and 32/64/128 tokens
    python experiments/bench_step.py --levers           # each speed lever alone, round-robin in one process

Output: a JSON file (``--out``, default ``experiments/results/bench_step.json``) and a table on
stdout. ``--scaling`` writes ``experiments/results/scaling.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results"
MODEL_YAML = ROOT / "conf" / "model" / "smollm2_135m.yaml"
GRPO_YAML = ROOT / "conf" / "grpo" / "default.yaml"
FRAMEWORKS = ("mogrpo", "trl", "trl_no_gc", "generate")

# Benign prompts of similar length, so whichever two a step draws, the prompt width is about the same.
PROMPTS = [
    "How do I keep basil alive on a windowsill?",
    "What is a good way to start learning to run?",
    "How can I make my morning coffee taste better?",
    "What should I pack for a weekend camping trip?",
    "How do I ask my manager for a day off politely?",
    "What is the easiest way to organise my desk?",
    "How can I fall asleep faster at night?",
    "What are some tips for writing a short cover letter?",
]
KEYWORDS = ("please", "thank", "step", "first", "because", "safe")


# --------------------------------------------------------------------------- the shared reward
def keyword_length_reward(text: str) -> float:
    """``min(words, 40) / 40 + (keywords present) / 6``: longer (up to 40 words) and keyword-rich is better."""
    lower = text.lower()
    words = len(text.split())
    return min(words, 40) / 40 + sum(k in lower for k in KEYWORDS) / len(KEYWORDS)


def trl_reward(completions: list, **_: Any) -> list[float]:
    """TRL's reward signature; conversational completions are lists of messages."""
    texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
    return [keyword_length_reward(t) for t in texts]


def make_reward_adapter():
    """The reward as mogrpo's regressor interface: ``score(prompts, responses) -> [N, 1]`` and ``aspects``."""
    import torch

    class KeywordLengthScorer(torch.nn.Module):
        aspects = ["keyword_length"]

        def score(self, prompts, responses) -> torch.Tensor:
            return torch.tensor([[keyword_length_reward(r)] for r in responses], dtype=torch.float32)

    return KeywordLengthScorer()


# --------------------------------------------------------------------------- settings and summaries
@dataclass
class Settings:
    """What every framework gets; the defaults are the comparison's settings."""

    G: int = 4
    prompts_per_step: int = 2
    max_new_tokens: int = 64
    temperature: float = 1.0
    lr: float = 1e-4
    steps: int = 5
    warmup: int = 1
    threads: int = 2
    seed: int = 0
    quiet_wait: float = 0.0  # before each timed step, wait up to this many seconds for other jobs to pause
    # glibc malloc thresholds raised (mogrpo/utils/allocator.py): mogrpo's default; the peers only on request
    retain_freed_memory: bool = True
    peers_retain_freed_memory: bool = False

    @property
    def completions_per_step(self) -> int:
        return self.G * self.prompts_per_step


def others_running(window_s: float = 2.0, every_s: float = 0.1) -> float:
    """Mean number of OTHER runnable tasks on the machine over ``window_s`` (``/proc/loadavg``'s
    running count, less this sampling process)."""
    samples = []
    end = time.monotonic() + window_s
    while time.monotonic() < end:
        with open("/proc/loadavg") as fh:
            samples.append(int(fh.read().split()[3].split("/")[0]) - 1)
        time.sleep(every_s)
    return statistics.mean(samples)


def wait_for_quiet(max_wait_s: float, threshold: float = 0.25) -> dict:
    """Wait (at most ``max_wait_s``) until other jobs leave the cores alone: on a shared 2-core
    machine one busy neighbour makes a 2-thread step several times slower. Returns what happened."""
    if max_wait_s <= 0 or not os.path.exists("/proc/loadavg"):
        return {"waited_s": 0.0, "quiet": None}
    t0 = time.monotonic()
    while True:
        busy = others_running()
        waited = time.monotonic() - t0
        if busy <= threshold or waited >= max_wait_s:
            return {"waited_s": round(waited, 1), "quiet": busy <= threshold, "others_running": round(busy, 2)}


def peak_rss_mib() -> float:
    """This process's peak resident set size (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def summarize(
    step_s: list[float], tokens: list[int], gen_s: list[float], widths: list[int], N: int, cpu_s: list[float]
) -> dict:
    """Median / min / max seconds per step, tokens per second (per step and per generate call).

    ``cpu_s`` is the process CPU time of each step (all threads): on a shared machine it moves much
    less than wall time when other jobs take the cores, so it is reported beside it."""
    return {
        "steps": len(step_s),
        "step_s": step_s,
        "cpu_s": cpu_s,
        "cpu_median_s": statistics.median(cpu_s),
        "median_s": statistics.median(step_s),
        "min_s": min(step_s),
        "max_s": max(step_s),
        "tokens_per_step": statistics.mean(tokens),
        "mean_completion_length": statistics.mean(tokens) / N,
        "mean_generated_width": statistics.mean(widths),  # decode steps run: the longest row of the batch
        "tokens_per_s": sum(tokens) / sum(step_s),
        "generate_s_median": statistics.median(gen_s) if gen_s else None,
        "gen_tokens_per_s": sum(tokens) / sum(gen_s) if gen_s else None,
    }


def _omegaconf_yaml(path: Path, **overrides: Any):
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(path)
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value, force_add=True)
    return cfg


def model_cfg(cache_dir: str | None = None):
    """The shipped SmolLM2 config node (LoRA r16/alpha32 on all projections), cache dir made concrete."""
    return _omegaconf_yaml(MODEL_YAML, **{"spec.cache_dir": cache_dir, "gradient_checkpointing": False})


def _setup(s: Settings) -> None:
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(s.threads)
    torch.manual_seed(s.seed)


# --------------------------------------------------------------------------- workers (one per subprocess)
def run_mogrpo(s: Settings) -> dict:
    """Time ``GRPOModule.training_step`` under a Lightning Trainer, as ``mogrpo.train`` runs it."""
    import torch
    from lightning.pytorch import Callback, Trainer

    from mogrpo.data.prompts import PromptDataModule
    from mogrpo.models.policy import build_policy
    from mogrpo.modules.grpo_module import GRPOModule

    _setup(s)
    if s.retain_freed_memory:  # as mogrpo.train does with its default retain_freed_memory: true
        from mogrpo.utils.allocator import retain_freed_memory

        retain_freed_memory()
    grpo_cfg = _omegaconf_yaml(
        GRPO_YAML,
        **{"G": s.G, "batch_size": s.completions_per_step, "num_iterations": 1, "kl.beta": 0.0, "optim.lr": s.lr,
           "generation.max_new_tokens": s.max_new_tokens, "generation.temperature": s.temperature},
    )  # fmt: skip
    scorer = make_reward_adapter()
    reward_cfg = {"aspects": scorer.aspects, "weights": [1.0], "aggregation": "sum_then_normalize"}
    policy, tokenizer = build_policy(model_cfg())
    module = GRPOModule(policy, tokenizer, scorer, grpo_cfg, reward_cfg, max_prompt_length=256)

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
        "trl": lambda: run_trl(s, gradient_checkpointing=True),
        "trl_no_gc": lambda: run_trl(s, gradient_checkpointing=False),
        "generate": lambda: run_generate(s),
    }
    if name != "mogrpo" and s.peers_retain_freed_memory:  # the same allocator setting for TRL and generate
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
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--worker-out", str(result_path),
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


def pool_rounds(runs: list[dict], N: int) -> dict:
    """One summary from several rounds of the same worker: step times pooled, peak RSS the max."""
    if len(runs) == 1:
        return runs[0]
    step_s = [t for r in runs for t in r["step_s"]]
    cpu_s = [t for r in runs for t in r["cpu_s"]]
    tokens = [r["tokens_per_step"] * r["steps"] for r in runs]
    gen_total = [r["generate_s_median"] for r in runs]
    out = dict(runs[0])
    out.update(
        steps=len(step_s), step_s=step_s, cpu_s=cpu_s, cpu_median_s=statistics.median(cpu_s), median_s=statistics.median(step_s), min_s=min(step_s), max_s=max(step_s),
        tokens_per_step=sum(tokens) / len(step_s), mean_completion_length=sum(tokens) / len(step_s) / N,
        mean_generated_width=statistics.mean(r["mean_generated_width"] for r in runs),
        tokens_per_s=sum(tokens) / sum(step_s), generate_s_median=statistics.median(gen_total),
        gen_tokens_per_s=statistics.mean(r["gen_tokens_per_s"] for r in runs),
        peak_rss_mib=max(r["peak_rss_mib"] for r in runs), rounds=len(runs),
        quiet_waits=[w for r in runs for w in r.get("quiet_waits", [])],
    )  # fmt: skip
    if all("phases_median_s" in r for r in runs):  # the median over rounds of each phase's median
        out["phases_median_s"] = {
            k: statistics.median(r["phases_median_s"][k] for r in runs) for k in runs[0]["phases_median_s"]
        }
    return out


def compare(results: dict[str, dict]) -> dict:
    """mogrpo/TRL median step-time ratio against the faster TRL run; generation vs raw generate."""
    out: dict[str, Any] = {}
    trl_runs = {k: results[k] for k in ("trl", "trl_no_gc") if k in results}
    if "mogrpo" in results and trl_runs:
        best = min(trl_runs, key=lambda k: trl_runs[k]["median_s"])
        out["trl_reference"] = best
        out["step_ratio_mogrpo_over_trl"] = results["mogrpo"]["median_s"] / trl_runs[best]["median_s"]
        out["tokens_per_s_ratio_mogrpo_over_trl"] = results["mogrpo"]["tokens_per_s"] / trl_runs[best]["tokens_per_s"]
        out["cpu_ratio_mogrpo_over_trl"] = results["mogrpo"]["cpu_median_s"] / trl_runs[best]["cpu_median_s"]
    if "mogrpo" in results and "generate" in results:
        out["gen_throughput_ratio_mogrpo_over_raw_generate"] = (
            results["mogrpo"]["gen_tokens_per_s"] / results["generate"]["gen_tokens_per_s"]
        )
    return out


def machine_info() -> dict:
    import torch

    load = os.getloadavg()
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "loadavg_1_5_15": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": "cpu",
        **{pkg: _version(pkg) for pkg in ("transformers", "peft", "trl", "lightning")},
    }


def _version(pkg: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


LABELS = {
    "mogrpo": "mogrpo GRPOModule",
    "trl": "TRL GRPOTrainer (grad ckpt on)",
    "trl_no_gc": "TRL GRPOTrainer (grad ckpt off)",
    "generate": "raw model.generate (LoRA on)",
}


def format_table(results: dict[str, dict], ratios: dict) -> str:
    """A markdown table: one row per framework."""
    head = ("| run | median s/step | min | max | CPU s/step | completion tokens/step | mean len | decode steps "
            "| tokens/s (step) | tokens/s (generate) | peak RSS MiB |")  # fmt: skip
    lines = [head, "|" + "---|" * 11]
    for name in FRAMEWORKS:
        if name not in results:
            continue
        r = results[name]
        lines.append(
            f"| {LABELS[name]} | {r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} | {r['cpu_median_s']:.2f} | "
            f"{r['tokens_per_step']:.0f} | {r['mean_completion_length']:.1f} | {r['mean_generated_width']:.1f} | "
            f"{r['tokens_per_s']:.1f} | "
            f"{r['gen_tokens_per_s']:.1f} | {r['peak_rss_mib']:.0f} |"
        )
    if "step_ratio_mogrpo_over_trl" in ratios:
        lines.append("")
        lines.append(
            f"mogrpo / TRL ({LABELS[ratios['trl_reference']]}) median step time: "
            f"**{ratios['step_ratio_mogrpo_over_trl']:.2f}x**; CPU time per step "
            f"{ratios['cpu_ratio_mogrpo_over_trl']:.2f}x; tokens/s ratio {ratios['tokens_per_s_ratio_mogrpo_over_trl']:.2f}x"
        )
    if "gen_throughput_ratio_mogrpo_over_raw_generate" in ratios:
        lines.append(
            f"mogrpo generation throughput / raw model.generate: "
            f"**{ratios['gen_throughput_ratio_mogrpo_over_raw_generate']:.2f}x**"
        )
    return "\n".join(lines)


def compare_frameworks(s: Settings, frameworks: list[str], rounds: int, log_dir: Path) -> dict:
    """Run each framework ``rounds`` times, alternating the order each round, back to back."""
    runs: dict[str, list[dict]] = {f: [] for f in frameworks}
    for r in range(rounds):
        order = frameworks if r % 2 == 0 else list(reversed(frameworks))
        for name in order:
            print(f"[round {r + 1}/{rounds}] {name} ...", flush=True)
            res = run_in_subprocess(name, s, log_dir)
            runs[name].append(res)
            print(f"    median {res['median_s']:.2f} s/step, {res['tokens_per_step']:.0f} tokens/step, "
                  f"peak RSS {res['peak_rss_mib']:.0f} MiB ({res['wall_s']:.0f} s wall)", flush=True)  # fmt: skip
    results = {f: pool_rounds(v, s.completions_per_step) for f, v in runs.items()}
    return {"machine": machine_info(), "settings": asdict(s), "rounds": rounds, "results": results,
            "ratios": compare(results)}  # fmt: skip


# --------------------------------------------------------------------------- scaling
SCALING_G = (2, 4, 8)
SCALING_TOKENS = (32, 64, 128)


def scaling_points(base: Settings) -> list[Settings]:
    """G in 2/4/8 at the base token budget, then tokens in 32/64/128 at the base G (shared point once)."""
    points = [replace(base, G=g) for g in SCALING_G]
    points += [replace(base, max_new_tokens=t) for t in SCALING_TOKENS if t != base.max_new_tokens]
    return points


def scaling_table(rows: list[dict]) -> str:
    lines = ["| G | prompts/step | completions | max new tokens | median s/step | min | max | mean len "
             "| tokens/s | peak RSS MiB |", "|" + "---|" * 10]  # fmt: skip
    for r in rows:
        s = r["settings"]
        lines.append(
            f"| {s['G']} | {s['prompts_per_step']} | {s['G'] * s['prompts_per_step']} | {s['max_new_tokens']} | "
            f"{r['median_s']:.2f} | {r['min_s']:.2f} | {r['max_s']:.2f} | {r['mean_completion_length']:.1f} | "
            f"{r['tokens_per_s']:.1f} | {r['peak_rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def plot_scaling(rows: list[dict], base: Settings, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, values, label in (
        (axes[0], "G", SCALING_G, f"G (completions per prompt; {base.prompts_per_step} prompts/step, "
                                  f"{base.max_new_tokens} tokens)"),
        (axes[1], "max_new_tokens", SCALING_TOKENS, f"max new tokens (G={base.G}, {base.prompts_per_step} prompts)"),
    ):  # fmt: skip
        other = "max_new_tokens" if key == "G" else "G"
        pts = sorted(
            (r["settings"][key], r) for r in rows
            if r["settings"][key] in values and r["settings"][other] == asdict(base)[other]
        )  # fmt: skip
        xs = [x for x, _ in pts]
        ax.errorbar(xs, [r["median_s"] for _, r in pts],
                    yerr=[[r["median_s"] - r["min_s"] for _, r in pts], [r["max_s"] - r["median_s"] for _, r in pts]],
                    marker="o", color="tab:blue", capsize=3)  # fmt: skip
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("s / step (median, min-max)", color="tab:blue")
        ax.set_xticks(xs)
        twin = ax.twinx()
        twin.plot(xs, [r["peak_rss_mib"] for _, r in pts], marker="s", color="tab:red", linestyle="--")
        twin.set_ylabel("peak RSS (MiB)", color="tab:red")
    fig.suptitle("mogrpo GRPO step on SmolLM2-135M + LoRA r16, CPU, 2 threads")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_scaling(base: Settings, log_dir: Path, out_dir: Path) -> dict:
    rows = []
    for s in scaling_points(base):
        print(f"[scaling] G={s.G} max_new_tokens={s.max_new_tokens} ...", flush=True)
        r = run_in_subprocess("mogrpo", s, log_dir)
        print(f"    median {r['median_s']:.2f} s/step, peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)
        rows.append(r)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine_info(), "base": asdict(base), "rows": rows}
    (out_dir / "scaling.json").write_text(json.dumps(report, indent=2))
    table = scaling_table(rows)
    (out_dir / "scaling.md").write_text(
        f"mogrpo step time and peak RSS ({report['machine']['date']}, {report['machine']['cpu_count']} cores, "
        f"{base.threads} torch threads, {base.steps} timed steps after {base.warmup} warm-up)\n\n{table}\n"
    )
    plot_scaling(rows, base, out_dir / "scaling.png")
    print(table)
    return report


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


# --------------------------------------------------------------------------- command line
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="few steps, one round (< 5 minutes)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per run (default 5; --quick 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 1)")
    p.add_argument("--rounds", type=int, default=None, help="runs of each framework, alternating order (default 1)")
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS), help=f"comma list from {FRAMEWORKS}")
    p.add_argument("--G", type=int, default=4)
    p.add_argument("--prompts-per-step", type=int, default=2)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet-wait", type=float, default=0.0,
                   help="before each timed step, wait up to this many seconds until no other job is running "
                        "(shared machines; 0 = off)")
    p.add_argument("--no-retain-freed-memory", action="store_true",
                   help="mogrpo without its malloc setting (train.yaml retain_freed_memory: false)")
    p.add_argument("--peers-retain-freed-memory", action="store_true",
                   help="give TRL and raw generate mogrpo's malloc setting too (not their default)")
    p.add_argument("--scaling", action="store_true", help="mogrpo only: G in 2,4,8 and tokens in 32,64,128")
    p.add_argument("--levers", action="store_true",
                   help="time each speed lever (merged LoRA, inference mode, static cache, logits_to_keep) "
                        "in one process, round-robin, --rounds repeats (default 5); writes levers.json")
    p.add_argument("--out", type=Path, default=None, help="JSON results (default experiments/results/bench_step.json)")
    p.add_argument("--log-dir", type=Path, default=None, help="worker logs (default <out dir>/logs)")
    p.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    p.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--settings", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    unknown = set(args.frameworks.split(",")) - set(FRAMEWORKS)
    if unknown:
        p.error(f"--frameworks: unknown {sorted(unknown)}; choose from {FRAMEWORKS}")
    for name in ("steps", "rounds", "G", "prompts_per_step", "max_new_tokens", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.warmup is not None and args.warmup < 0:
        p.error(f"--warmup must be >= 0, got {args.warmup}")
    return args


def settings_from_args(args: argparse.Namespace) -> Settings:
    steps = args.steps if args.steps is not None else (3 if args.quick else 5)
    warmup = args.warmup if args.warmup is not None else 1
    return Settings(G=args.G, prompts_per_step=args.prompts_per_step, max_new_tokens=args.max_new_tokens,
                    steps=steps, warmup=warmup, threads=args.threads, seed=args.seed, quiet_wait=args.quiet_wait,
                    retain_freed_memory=not args.no_retain_freed_memory,
                    peers_retain_freed_memory=args.peers_retain_freed_memory)  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        result = worker(args.worker, Settings(**json.loads(args.settings)))
        args.worker_out.write_text(json.dumps(result))
        return
    s = settings_from_args(args)
    if args.levers:
        out = args.out or RESULTS / "levers.json"
        run_levers(s, args.rounds or (2 if args.quick else 5), out)
        print(f"\nwritten to {out}")
        return
    if args.scaling:
        out_dir = args.out.parent if args.out else RESULTS
        run_scaling(s, args.log_dir or out_dir / "logs", out_dir)
        return
    out = args.out or RESULTS / "bench_step.json"
    rounds = args.rounds or 1
    report = compare_frameworks(s, args.frameworks.split(","), rounds, args.log_dir or out.parent / "logs")
    report["quick"] = bool(args.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    m = report["machine"]
    print(f"\n{m['date']} on {m['host']} ({m['cpu_count']} cores, load {m['loadavg_1_5_15']}), "
          f"{s.threads} torch threads, {s.steps} timed steps x {rounds} round(s) after {s.warmup} warm-up, "
          f"G={s.G} x {s.prompts_per_step} prompts, {s.max_new_tokens} new tokens; malloc thresholds raised for "
          f"mogrpo: {s.retain_freed_memory}, for TRL / generate: {s.peers_retain_freed_memory}\n")  # fmt: skip
    print(format_table(report["results"], report["ratios"]))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
