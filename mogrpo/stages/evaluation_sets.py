"""The prompt sets the evaluation stage answers with both policies.

- the evaluated split (``eval.split``): ``data.heldout`` (set ``heldout``) or ``data.validation`` (set
  ``validation``), ``eval.max_prompts`` of it, each prompt kind keeping its share (:func:`stratified_head`);
- XSTest (``eval.xstest``) and AdvBench (``eval.advbench``) from ``paths.shared_data``. They are for
  reporting only, never for tuning: with ``eval.split=validation`` they are off unless
  ``eval.<set>.on_validation=true``;
- any prompt file (``eval.prompt_file``);
- HelpSteer2's prompts (``eval.helpsteer2``, mogrpo/stages/evaluation_benchmarks.py).

A set that does not run is a :func:`~mogrpo.stages.evaluation_settings.skipped` record with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mogrpo.configs import EvalConfig
from mogrpo.stages.evaluation_settings import skipped
from mogrpo.stages.inputs import load_prompt_sets, shared_data_root

log = logging.getLogger(__name__)

KINDS = ("adversarial", "benign")
#: eval.split -> how the report names its prompts
SPLIT_TITLES = {"heldout": "Held-out", "validation": "Validation"}


@dataclass
class PromptSet:
    """Prompts to answer with both policies; each row has ``prompt`` and ``kind`` (may be None), and may
    have ``messages`` (the chat messages of a multi-turn prompt, see ``mogrpo.data.messages``)."""

    name: str
    title: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def prompts(self) -> list[str]:
        """The plain prompt texts (what the reward regressor reads)."""
        return [r["prompt"] for r in self.rows]

    @property
    def chats(self) -> list[str | list[dict]]:
        """What the policies answer: each row's chat ``messages``, else its prompt text."""
        return [r.get("messages") or r["prompt"] for r in self.rows]


def shared_file(cfg: DictConfig, relative: str) -> tuple[Path | None, str | None]:
    """(the file, None) when it exists under ``paths.shared_data``, else (None, why not)."""
    root = shared_data_root(cfg)
    if root is None:
        return None, "paths.shared_data is not set"
    path = root / relative
    if not path.is_file():
        return None, f"{path} not found (set paths.shared_data or env MOGRPO_SHARED_DATA to the shared data folder)"
    return path, None


def _enabled_shared_file(cfg: DictConfig, evaluation: EvalConfig, section: str,
                         relative: str) -> tuple[Path | None, dict | None]:  # fmt: skip
    """(the file, None) when ``eval.<section>.enabled`` (and, on the validation split,
    ``eval.<section>.on_validation``) and the file is in the shared data folder, else (None, the
    :func:`skipped` record saying why)."""
    settings = getattr(evaluation, section)
    if not settings.enabled:
        return None, skipped(f"disabled (eval.{section}.enabled=false)")
    if evaluation.split == "validation" and not settings.on_validation:
        return None, skipped(
            f"off on the validation split (eval.split=validation): {section} is for reporting, never for "
            f"tuning; eval.{section}.on_validation=true runs it anyway"
        )
    path, why = shared_file(cfg, relative)
    return (path, None) if path is not None else (None, skipped(why))


def stratified_head(rows: Sequence[dict], limit: int | None, key: str = "kind") -> list[dict]:
    """At most ``limit`` rows, each value of ``row[key]`` keeping its share: value v with n_v of the N
    rows gets ``floor(limit * n_v / N)`` of its first rows, the left-over places going to the largest
    remainders. File order is kept; deterministic (no seed), so every run sees the same prompts."""
    rows = list(rows)
    if limit is None or limit >= len(rows):
        return rows
    groups: dict[Any, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r.get(key), []).append(i)
    quota = {v: limit * len(idx) / len(rows) for v, idx in groups.items()}
    take = {v: int(q) for v, q in quota.items()}
    for v in sorted(groups, key=lambda v: (take[v] - quota[v], list(groups).index(v)))[: limit - sum(take.values())]:
        take[v] += 1
    keep = sorted(i for v, idx in groups.items() for i in idx[: take[v]])
    return [rows[i] for i in keep]


def heldout_set(cfg: DictConfig) -> PromptSet:
    """The evaluated split's prompts (``data.heldout``, or ``data.validation`` with ``eval.split=validation``;
    the set is named after the split): ``eval.max_prompts`` of them, each kind keeping its share."""
    evaluation = EvalConfig.of(cfg)
    split = evaluation.split
    rows = stratified_head(load_prompt_sets(cfg, evaluation.data_key), evaluation.max_prompts)
    purpose = ", for tuning" if split == "validation" else ""
    title = f"{SPLIT_TITLES[split]} prompts (data={OmegaConf.select(cfg, 'data.name', default='?')}{purpose})"
    return PromptSet(split, title, [dict(r) for r in rows])


def xstest_set(cfg: DictConfig) -> PromptSet | dict:
    """XSTest (safe -> kind benign, unsafe -> adversarial), a seeded subset of ``eval.xstest.limit``."""
    from mogrpo.data.eval_sets import XSTEST_FILE, load_xstest
    from mogrpo.data.public import subsample

    evaluation = EvalConfig.of(cfg)
    path, skip = _enabled_shared_file(cfg, evaluation, "xstest", XSTEST_FILE)
    if path is None:
        return skip
    rows = load_xstest(path.parents[1])
    keep = subsample(len(rows), evaluation.xstest.limit, evaluation.subset_seed)
    rows = [{**rows[i], "kind": "benign" if rows[i]["label"] == "safe" else "adversarial"} for i in keep]
    return PromptSet("xstest", "XSTest", rows)


def advbench_set(cfg: DictConfig) -> PromptSet | dict:
    """AdvBench harmful behaviours (kind adversarial), the first ``eval.advbench.limit``."""
    from mogrpo.data.eval_sets import ADVBENCH_FILE, load_advbench

    evaluation = EvalConfig.of(cfg)
    path, skip = _enabled_shared_file(cfg, evaluation, "advbench", ADVBENCH_FILE)
    if path is None:
        return skip
    rows = load_advbench(path.parents[1], limit=evaluation.advbench.limit)
    return PromptSet("advbench", "AdvBench", [{**r, "kind": "adversarial"} for r in rows])


def prompt_file_set(cfg: DictConfig) -> PromptSet | dict:
    """``eval.prompt_file.path`` (a local file or hub name); kinds from its ``kind`` column if any."""
    from mogrpo.data.eval_sets import load_prompt_file

    settings = EvalConfig.of(cfg).prompt_file
    if not settings.path:
        return skipped("no prompt file (eval.prompt_file.path=null)")
    rows = load_prompt_file(str(settings.path), prompt_column=settings.prompt_column, limit=settings.limit,
                            split=settings.split)  # fmt: skip
    rows = [{**r, "kind": r.get("kind") if r.get("kind") in KINDS else None} for r in rows]
    return PromptSet("prompt_file", f"Prompt file {settings.path}", rows)


def load_sets(cfg: DictConfig) -> tuple[list[PromptSet], dict[str, dict]]:
    """The prompt sets to answer (the evaluated split's first), and the skipped ones (name -> reason
    record). Data errors raise."""
    from mogrpo.stages.evaluation_benchmarks import helpsteer2_set

    sets, skipped_sets = [heldout_set(cfg)], {}
    for name, loader in (("xstest", xstest_set), ("advbench", advbench_set), ("prompt_file", prompt_file_set),
                         ("helpsteer2", helpsteer2_set)):  # fmt: skip
        got = loader(cfg)
        if isinstance(got, PromptSet):
            sets.append(got)
        else:
            skipped_sets[name] = got
    return sets, skipped_sets
