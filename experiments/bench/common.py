"""What every run of the benchmark shares: the settings, the prompts, the cheap reward, the configs, timing helpers."""

from __future__ import annotations

import os
import resource
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


RESULTS = ROOT / "experiments" / "results"


MODEL_YAML = ROOT / "conf" / "model" / "smollm2_135m.yaml"


# mogrpo_fast: mogrpo with the fastest rollout setting this machine supports (grpo.generation.dtype=auto:
# bf16 rollouts where the hardware runs bf16 natively, corrected by importance sampling; else as mogrpo)
FRAMEWORKS = ("mogrpo", "mogrpo_fast", "trl", "trl_no_gc", "generate")


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


def grpo_config(s: Settings):
    """The shipped GRPO defaults (``mogrpo.configs.GRPOConfig``, the same as conf/grpo/default.yaml) with this
    benchmark's group, batch, learning rate and sampling; one update per batch, no KL."""
    from mogrpo.configs import GRPOConfig
    from mogrpo.configs.grpo import KLConfig

    base = GRPOConfig()
    return replace(base, G=s.G, batch_size=s.completions_per_step, num_iterations=1, kl=KLConfig(beta=0.0),
                   optim={**base.optim, "lr": s.lr},
                   generation=replace(base.generation, max_new_tokens=s.max_new_tokens, temperature=s.temperature))  # fmt: skip


def _setup(s: Settings) -> None:
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(s.threads)
    torch.manual_seed(s.seed)
