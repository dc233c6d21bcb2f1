"""Helpers the tests share (imported as ``from helpers import ...``; tests/ is on sys.path as for conftest).

- reading W&B offline runs back with wandb's own reader (``wandb leet inspect``, wandb >= 0.31)
- the refusal class and rates of plain response strings (the package classifies with ``detect_refusal``)
- where the shared data folder is, as conf/paths/default.yaml resolves it (tests of the real data skip without it)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mogrpo.metrics.refusal import RefusalLabel, RefusalResult, detect_refusal, label_rates
from mogrpo.utils.resolvers import project_root


def offline_runs(root: str | os.PathLike) -> list[Path]:
    """The W&B offline run dirs (``wandb/offline-run-*``) under ``root``, oldest first.

    Names hold the start time to the second (``offline-run-YYYYMMDD_HHMMSS-<id>``); runs started in
    the same second are ordered by when their directory was last written.
    """
    stamp = len("offline-run-YYYYMMDD_HHMMSS")
    return sorted(Path(root).rglob("offline-run-*"), key=lambda p: (p.name[:stamp], p.stat().st_mtime_ns))


def read_wandb_run(run_dir: str | os.PathLike, timeout: float = 60) -> dict[str, Any]:
    """Read a W&B run dir back with wandb's own reader (``wandb leet inspect``, wandb >= 0.31).

    Returns ``{"run": <run record: job_type, run_group, display_name, tags, config>, "history":
    [<logged rows>], "summary": <--summary object: state, exit_code, name, config, summary>}``.
    """
    import json
    import subprocess

    def inspect(*flags: str) -> str:
        cmd = [sys.executable, "-m", "wandb", "leet", "inspect", *flags, "--json", str(run_dir)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"`{' '.join(cmd)}` failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    records = [json.loads(line) for line in inspect().splitlines() if line.strip().startswith("{")]
    run = next((r["run"] for r in records if r.get("type") == "run"), {})
    history = [r["history"]["item"] for r in records if r.get("type") == "history"]
    return {"run": run, "history": history, "summary": json.loads(inspect("--summary"))}


def classify_refusal(response: str) -> RefusalLabel:
    """``full_compliance`` / ``full_refusal`` / ``partial_refusal`` of one response (empty = refusal)."""
    return detect_refusal(response).label


def refusal_rates(responses: Iterable[str | RefusalResult]) -> dict:
    """Counts and rates of each class over ``responses`` (strings, or results already computed).

    Keys: ``n``, ``counts`` (class -> count), ``empty``, ``compliance_rate``,
    ``full_refusal_rate``, ``partial_refusal_rate``, ``refusal_rate`` (= full + partial) and
    ``empty_rate``; see :func:`label_rates`.
    """
    results = [r if isinstance(r, RefusalResult) else detect_refusal(r) for r in responses]
    return label_rates((r.label for r in results), empty=sum(r.is_empty for r in results))


#: the small copies of the shared data files that tests read (tests/fixtures/data/shared)
FIXTURE_SHARED_DATA = Path(__file__).resolve().parent / "fixtures" / "data" / "shared"


def default_shared_data() -> Path:
    """The shared data folder as ``conf/paths/default.yaml`` resolves it: ``$MOGRPO_SHARED_DATA``,
    else ``<project root>/../shared/data``."""
    if os.environ.get("MOGRPO_SHARED_DATA"):
        return Path(os.environ["MOGRPO_SHARED_DATA"])
    return Path(project_root()).parent / "shared" / "data"


def load_experiment(name: str):
    """``experiments/<name>.py`` imported as the module ``name`` (scripts, not a package; registered in
    ``sys.modules`` so that its dataclasses resolve)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, Path(project_root()) / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
