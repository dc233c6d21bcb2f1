"""The pieces of ``experiments/bench_step.py`` (one GRPO step of mogrpo vs TRL vs raw generate)."""
