"""The jobs of a sweep: which dirs under a multirun dir hold a job, and what each one left.

A Hydra multirun leaves ``<dir>/<num>/`` per job with ``.hydra/overrides.yaml`` and ``.hydra/config.yaml``
and, once the job finished, ``summary.json`` (:func:`mogrpo.train.train`) beside ``history.jsonl``. A job
that died has no (readable) ``summary.json``: it is read as failed, never as an exception.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mogrpo.metrics.results import eval_means
from mogrpo.utils.io import read_json_lines

log = logging.getLogger(__name__)

SUMMARY_JSON = "summary.json"


@dataclass
class Job:
    """One job dir of a multirun, as far as it could be read."""

    dir: Path
    overrides: list[str]
    seed: Any = None
    summary: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def means(self) -> dict[str, tuple[float | None, float | None]]:
        """aspect (and ``reward``) -> (base mean, aligned mean) of this job's evaluation."""
        return eval_means((self.summary or {}).get("eval") or {})

    @property
    def group_size(self) -> Any:
        """G of this job: from the summary's choices, the overrides, or the saved config."""
        choices = (self.summary or {}).get("choices") or {}
        if choices.get("G") is not None:
            return choices["G"]
        value = override_value(self.overrides, "grpo.G")
        return parse_scalar(value) if value is not None else (self.config.get("grpo") or {}).get("G")


# ---------------------------------------------------------------- overrides and values
def override_pairs(overrides: Iterable[str]) -> list[tuple[str, str]]:
    """``['+grpo.G=4', '~x']`` -> ``[('grpo.G', '4')]``."""
    out = []
    for o in overrides:
        o = str(o).strip()
        if "=" in o and not o.startswith("~"):
            key, value = o.split("=", 1)
            out.append((key.lstrip("+"), value))
    return out


def override_value(overrides: Iterable[str], key: str) -> str | None:
    """The value the last ``key=...`` override gives (None when none does, or it is empty)."""
    values = [v for k, v in override_pairs(overrides) if k == key and v]
    return values[-1] if values else None


def parse_scalar(text: Any) -> Any:
    """``"4"`` -> 4, ``"0.5"`` -> 0.5, any other text (or a non-string) as it is."""
    if not isinstance(text, str):
        return text
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def natural_key(rel: Path) -> list:
    """Sort ``2`` before ``10`` (job numbers), names after numbers."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in rel.parts]


def _read_yaml(path: Path) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(path), resolve=False)


def read_overrides(job_dir: Path) -> list[str]:
    """The job's ``.hydra/overrides.yaml`` (``[]`` when absent)."""
    path = Path(job_dir) / ".hydra" / "overrides.yaml"
    return [str(o) for o in (_read_yaml(path) or [])] if path.is_file() else []


# ---------------------------------------------------------------- discovery and reading
def find_job_dirs(root: Path, finished_only: bool = False) -> list[Path]:
    """Dirs under ``root`` that hold a job: a ``summary.json`` or a ``.hydra/`` folder, outermost only
    (``root`` itself only when it is a single job's dir), W&B dirs ignored; with ``finished_only``, only
    those holding a ``summary.json``."""
    root = Path(root)
    found = {p.parent for p in root.rglob(SUMMARY_JSON)}
    found |= {p.parent for p in root.rglob(".hydra") if p.is_dir()}
    found = {d for d in found if "wandb" not in d.parts[len(root.parts) :]}
    if len(found) > 1:
        found.discard(root)
    outermost: list[Path] = []
    for d in sorted(found, key=lambda d: len(d.parts)):
        if not any(k in d.parents for k in outermost):
            outermost.append(d)
    dirs = sorted(outermost, key=lambda d: natural_key(d.relative_to(root)))
    return [d for d in dirs if (d / SUMMARY_JSON).is_file()] if finished_only else dirs


def load_job(job_dir: Path) -> Job:
    """Read one job dir; a missing or broken ``summary.json`` makes the job failed, not an exception."""
    overrides: list[str] = []
    config: dict[str, Any] = {}
    hydra_dir = job_dir / ".hydra"
    try:
        overrides = read_overrides(job_dir)
        if (hydra_dir / "config.yaml").is_file():
            config = _read_yaml(hydra_dir / "config.yaml") or {}
    except Exception as err:  # a truncated yaml: keep going with what there is
        log.warning("%s: could not read .hydra (%s)", job_dir, err)
    job = Job(dir=job_dir, overrides=overrides, config=config if isinstance(config, dict) else {})
    if (job_dir / "history.jsonl").is_file():
        job.history = read_json_lines(job_dir / "history.jsonl", skip_bad=True)  # a killed job's last line
    path = job_dir / SUMMARY_JSON
    if not path.is_file():
        job.error = "no summary.json (the job did not finish)"
    else:
        try:
            job.summary = json.loads(path.read_text())
            if not isinstance(job.summary, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as err:
            job.summary = None
            job.error = f"unreadable summary.json: {err}"
    if job.ok and not job.means:
        job.error = "summary.json has no evaluation (eval) results"
    seed = override_value(overrides, "seed")
    job.seed = parse_scalar(seed) if seed is not None else (job.summary or {}).get("seed", job.config.get("seed"))
    if not overrides and job.summary:  # no .hydra: describe the job by its choices
        choices = job.summary.get("choices") or {}
        job.overrides = [f"{k}={v}" for k, v in sorted(choices.items()) if v is not None]
    return job


def load_jobs(roots: Sequence[Path]) -> list[Job]:
    jobs = []
    for root in roots:
        jobs += [load_job(d) for d in find_job_dirs(Path(root))]
    return jobs
