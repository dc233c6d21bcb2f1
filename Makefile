# mogrpo — common tasks. Every target installs what it needs first (idempotent).
PY ?= python
# The CPU wheel of torch is what this project is developed and tested with; override on a GPU box,
# e.g. `make install TORCH=torch` to keep whatever CUDA build pip picks.
TORCH ?= torch==2.13.0
ARGS ?=

.PHONY: install train test test-fast lint format bench clean

install: .install-stamp

.install-stamp: pyproject.toml
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	@touch .install-stamp

train: install  ## the main job: reward model -> GRPO -> evaluation on the embedded SmolLM2 (ARGS=... for overrides)
	$(PY) -m mogrpo.train $(ARGS)

test: install  ## the whole suite, slow end-to-end tests included (what CI runs)
	$(PY) -m pytest -q $(ARGS)

test-fast: install  ## unit tests only
	$(PY) -m pytest -q -m "not slow" $(ARGS)

lint: install
	$(PY) -m ruff check mogrpo tests experiments

format: install
	$(PY) -m ruff format mogrpo tests experiments
	$(PY) -m ruff check --fix mogrpo tests experiments

bench: install  ## GRPO step vs TRL's GRPOTrainer, side by side (see experiments/bench_step.py)
	$(PY) -m pip install -q -e ".[dev,bench]"
	$(PY) experiments/bench_step.py $(ARGS)

clean:
	rm -rf logs outputs multirun wandb .pytest_cache .ruff_cache .install-stamp
