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
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # experiments/: the bench package beside this script

from bench.common import FRAMEWORKS, RESULTS, Settings, keyword_length_reward, trl_reward  # noqa: F401  (tests/experiments reads them here)
from bench.compare import compare, compare_frameworks, format_table, pool_rounds  # noqa: F401  (tests/experiments reads them here)
from bench.levers import run_levers
from bench.scaling import run_scaling, scaling_points  # noqa: F401  (tests/experiments reads them here)
from bench.workers import worker


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
