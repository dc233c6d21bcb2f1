"""Safe chat demonstrations for the optional supervised warm start of the LoRA policy (``grpo.warm_start``).

Every loader returns demonstrations, dicts

    {"id", "prompt", "messages", "response", "kind", "source", "split"}

- ``messages``: the chat messages the policy answers (one user message); ``prompt``: its plain text;
- ``response``: the demonstrated answer (the SFT target);
- ``kind``: ``adversarial`` (a harmful request, answered by a safe refusal or redirection) or ``benign``
  (an ordinary request, answered helpfully; these keep the warm start from teaching over-refusal);
- ``split``: :func:`~mogrpo.data.splits.prompt_split` of the prompt, the split the GRPO prompts and
  the reward data use for the same text.

Sources (``../shared/data/README.md`` section in brackets):

- ``safety_tuned_llamas`` [6]: 2483 harmful instructions with curated safe responses; ``adversarial``.
- ``self_instruct_seed`` [14]: the 175 seed tasks (:func:`~mogrpo.data.prompt_sources.seed_task_prompt`,
  the prompt the GRPO mix uses) with their reference output; ``benign``. The 252 user-oriented
  instructions are evaluation-only and never read.
- ``builtin``: the packaged aspect-labelled rows (``mogrpo/data/builtin``) of style ``helpful`` on a
  benign prompt (``benign``) and ``polite_refusal_with_alternative`` on an adversarial prompt
  (``adversarial``); a refusal of a benign prompt (10 rows, over-refusals) is never a demonstration.
  Only rows of the builtin train prompts (the builtin held-out prompts are the GRPO held-out set).

:func:`demonstrations` keeps only the ``train`` split (there is no option: a demonstration whose
prompt is in the ``validation`` or ``test`` split is never trained on), dedupes by normalised prompt
text (the first source keeps it) and drops the prompts of the evaluation-only sets (XSTest, AdvBench,
Self-Instruct user-oriented; :mod:`mogrpo.data.eval_only`) found under ``root``.
:func:`mix_demonstrations` then sets the adversarial:benign ratio as the GRPO prompt mix does
(:func:`~mogrpo.data.prompt_mix.balance_counts`: the larger side is subsampled, seeded).
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mogrpo.data.eval_only import drop_eval_only
from mogrpo.data.messages import user_message
from mogrpo.data.prompt_mix import balance_counts
from mogrpo.data.prompt_sources import KINDS, SEED_TASKS_FILE, dedupe, seed_task_prompt
from mogrpo.data.splits import normalise, prompt_split
from mogrpo.errors import DataError
from mogrpo.utils.io import read_json_lines

log = logging.getLogger(__name__)

STL_FILE = "safety-tuned-llamas/training/safety_only_data_Instructions.json"
#: builtin style -> the prompt kind it demonstrates (only rows on a prompt of that kind are kept)
BUILTIN_STYLES = {"helpful": "benign", "polite_refusal_with_alternative": "adversarial"}
#: the only split demonstrations come from
TRAIN = "train"


def make_demonstration(source: str, demo_id: str, prompt: str, response: str, kind: str) -> dict[str, Any]:
    """A demonstration dict for a single-turn ``prompt`` (split by :func:`prompt_split` of its text)."""
    if kind not in KINDS:
        raise DataError(f"kind must be one of {KINDS}, got {kind!r}", source=f"{source} demonstration {demo_id}")
    prompt, response = prompt.strip(), response.strip()
    return {
        "id": str(demo_id),
        "prompt": prompt,
        "messages": user_message(prompt),
        "response": response,
        "kind": kind,
        "source": source,
        "split": prompt_split(prompt),
    }


def _text(value: Any, path: Path | str, row: int, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"empty {what}: {value!r}", source=str(path), row=row)
    return value


# --------------------------------------------------------------------------- the sources
def safety_tuned_llamas(root: str | Path) -> list[dict]:
    """Safety-Tuned LLaMAs (Bianchi et al., 2024): instruction (+ its input) -> safe output; ``adversarial``."""
    from mogrpo.data.public import shared_file  # (imports datasets: only when the shared data is read)

    path = shared_file(root, STL_FILE)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"line {err.lineno} is not valid JSON ({err.msg})", source=str(path)) from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DataError("expected a JSON array of {instruction, input, output} objects", source=str(path))
    out = []
    for i, r in enumerate(rows, start=1):
        instruction = _text(r.get("instruction"), path, i, "instruction")
        output = _text(r.get("output"), path, i, "output")
        prompt = seed_task_prompt(instruction, r.get("input"))  # the instruction, then its input if any
        out.append(make_demonstration("safety_tuned_llamas", f"safety_tuned_llamas-{i}", prompt, output, "adversarial"))
    return dedupe(out)


def self_instruct_seed(root: str | Path) -> list[dict]:
    """The 175 Self-Instruct seed tasks with their first instance's reference output; ``benign``."""
    from mogrpo.data.public import shared_file

    path = shared_file(root, SEED_TASKS_FILE)
    out = []
    for line, row in read_json_lines(path, with_line_numbers=True):
        instances = row.get("instances") or []
        if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
            raise DataError(f"'instances' must be a non-empty list of {{input, output}} objects, got {instances!r}",
                            source=str(path), row=line)  # fmt: skip
        instruction = _text(row.get("instruction"), path, line, "instruction")
        output = _text(instances[0].get("output"), path, line, "instances[0].output")
        prompt = seed_task_prompt(instruction, instances[0].get("input"))
        out.append(make_demonstration("self_instruct_seed", str(row.get("id") or f"seed-{line}"), prompt, output, "benign"))
    return dedupe(out)


def builtin(root: str | Path | None = None) -> list[dict]:
    """The packaged rows of :data:`BUILTIN_STYLES` on a builtin train prompt of the matching kind."""
    from mogrpo.data.builtin import builtin_path

    path = builtin_path()
    prompts = {p["id"]: p for p in read_json_lines(path.with_name("prompts.jsonl"))}
    out = []
    for r in read_json_lines(path):
        kind = BUILTIN_STYLES.get(r.get("style"))
        prompt = prompts.get(r.get("prompt_id"), {})
        if kind is None or prompt.get("kind") != kind or prompt.get("split") != TRAIN:
            continue
        out.append(make_demonstration("builtin", f"builtin-{r['id']}", r["prompt"], r["response"], kind))
    return out  # several responses per prompt: all kept (dedupe by prompt would keep one)


#: every source by name
SOURCES: dict[str, Callable[..., list[dict]]] = {
    "safety_tuned_llamas": safety_tuned_llamas,
    "self_instruct_seed": self_instruct_seed,
    "builtin": builtin,
}


def check_sources(sources: Sequence[str]) -> list[str]:
    """``sources`` as a list of known names (a DataError for an unknown one or none)."""
    if isinstance(sources, str) or not sources:
        raise DataError(f"sources must be a non-empty list of names from {list(SOURCES)}, got {sources!r}",
                        source="demonstrations")  # fmt: skip
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise DataError(f"unknown demonstration source(s) {unknown}; known: {list(SOURCES)}", source="demonstrations")
    return list(dict.fromkeys(str(s) for s in sources))


def _dedupe_across_sources(demos: Sequence[dict]) -> list[dict]:
    """Each normalised prompt from one source only (the first source in order keeps all its rows of it)."""
    owner: dict[str, str] = {}
    out = []
    for d in demos:
        key = normalise(d["prompt"])
        if owner.setdefault(key, d["source"]) == d["source"]:
            out.append(d)
    return out


def demonstrations(root: str | Path | None, sources: Sequence[str] = tuple(SOURCES)) -> list[dict]:
    """The train-split demonstrations of ``sources`` (see the module docstring), evaluation-only prompts dropped.

    ``root``: the shared data folder (``paths.shared_data``; only ``builtin`` works without it). Raises
    DataError for an unknown source, a missing file (naming it and ``paths.shared_data``) or no result.
    """
    names = check_sources(sources)
    loaded = [d for name in names for d in SOURCES[name](root)]
    train = [d for d in _dedupe_across_sources(loaded) if d["split"] == TRAIN]
    kept = drop_eval_only(train, root)
    if len(kept) < len(train):
        log.info("demonstrations: dropped %d evaluation-only prompts", len(train) - len(kept))
    if not kept:
        raise DataError(f"no train-split demonstrations from sources {names}", source="demonstrations")
    return kept


def mix_demonstrations(demos: Sequence[dict], adversarial_fraction: float | None, seed: int = 0) -> list[dict]:
    """``demos`` with ``adversarial_fraction`` of adversarial ones (the larger kind subsampled, seeded; None:
    all of them), in their order. DataError when the fraction asks for a kind there is none of."""
    by_kind = {kind: [d for d in demos if d["kind"] == kind] for kind in KINDS}
    counts = balance_counts(len(by_kind["adversarial"]), len(by_kind["benign"]), adversarial_fraction)
    if adversarial_fraction is not None and 0 < adversarial_fraction < 1 and not all(counts):
        raise DataError(f"adversarial_fraction={adversarial_fraction} needs both kinds, got "
                        f"{dict(demo_counts(demos, by='kind'))}", source="demonstrations")  # fmt: skip
    keep: set[int] = set()
    for kind, k in zip(KINDS, counts):
        pool = by_kind[kind]
        keep |= {id(pool[i]) for i in random.Random(f"{seed}/{kind}").sample(range(len(pool)), k)}
    mixed = [d for d in demos if id(d) in keep]
    if not mixed:
        raise DataError(f"adversarial_fraction={adversarial_fraction} leaves no demonstration", source="demonstrations")
    return mixed


def demo_counts(demos: Sequence[Mapping], by: str = "kind/source") -> Counter:
    """Counts of ``demos`` by ``kind``, ``source`` or ``kind/source`` (keys ``"adversarial/builtin"``)."""
    keys = {"kind": lambda d: d["kind"], "source": lambda d: d["source"],
            "kind/source": lambda d: f"{d['kind']}/{d['source']}"}[by]  # fmt: skip
    return Counter(keys(d) for d in demos)
