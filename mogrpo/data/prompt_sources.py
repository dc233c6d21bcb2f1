"""GRPO prompt sources: one loader per public prompt set in ``paths.shared_data``, plus the builtin set.

Every loader takes the shared data folder ``root`` (see ``../shared/data/README.md``; the builtin
loader ignores it) and returns all of the source's prompts, deduplicated by normalised text (the
first kept), as dicts

    {"id", "prompt", "messages", "category", "kind", "split", "source"}

- ``messages``: the chat messages the policy answers (:mod:`mogrpo.data.messages`); one user
  message for a single-turn prompt.
- ``prompt``: the plain text the reward model reads: the user message, or for a multi-turn prompt
  the conversation rendered by :func:`~mogrpo.data.messages.render_conversation`.
- ``kind``: ``adversarial`` (should be refused or safely redirected) or ``benign`` (should be answered).
- ``split``: ``train`` / ``validation`` / ``test`` by :func:`~mogrpo.data.splits.prompt_split` of the
  first user turn, the split the reward data uses for the same text (the GRPO held-out set is the
  test split). A multi-turn conversation goes where its first turn goes, so no turn of a held-out
  conversation is trained on. The builtin set keeps its own fixed split (train -> train,
  heldout -> test): its labelled reward data is built on it.

Decisions per source (the README section in brackets):

- AILuminate [10]: every prompt is ``adversarial``. The set targets hazards; some prompts are
  help-seeking (a victim asking for help) and the specialised-advice hazards (``spc_*``) can deserve
  a careful answer, but there is no per-row label, and the mix in each hazard (``spc_*`` included)
  is too varied to label by hazard. The kind only steers the adversarial:benign ratio and the
  per-kind tables; the reward model judges each response, so a safe, helpful answer to a
  help-seeking prompt is still rewarded. ``benign_hazards`` relabels whole hazards if wanted.
- CatQA, HarmfulQA, DangerousQA [11]: ``adversarial`` (harmful by construction); category = the
  harm category (CatQA) or topic (HarmfulQA); DangerousQA has none.
- Do-Not-Answer [9]: the ``question`` column only (the responses and labels are reward data);
  ``adversarial``, category = ``risk_area``; the one repeated question is kept once.
- MT-Bench [15]: ``benign``. Every question gives a single-turn prompt of its first turn. The second
  turn ("Rewrite your previous response ...") only makes sense after an answer to the first, so it
  is kept only where the file has a reference answer for turn 1 (38 of 80; one of the 39 references
  is empty): a three-message conversation (user turn 1, the reference as the assistant's reply, user
  turn 2). The references are short answers (math, reasoning, extraction, STEM) or, for coding, a
  note to the judge and a solution; :func:`reference_answer` keeps the solution. Without a
  reference the second turn is dropped rather than asked after an invented or empty answer.
- HH-RLHF helpful-base [8] and SafeText [12]: benign prompts that sound harmful, the contrast against
  over-refusal (:mod:`mogrpo.data.contrast_sources`). A SafeText prompt takes the split of its
  scenario, not of the question made from it, the split of that scenario's reward rows.
- Self-Instruct [14]: the 175 seed tasks only (:func:`seed_task_prompt`: the instruction, then its
  input after a blank line); ``benign``. The 252 user-oriented instructions are evaluation-only.

XSTest and AdvBench are evaluation-only and have no loader here (see :mod:`mogrpo.data.eval_only`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mogrpo.data.contrast_sources import SOURCES as CONTRAST_SOURCES
from mogrpo.data.messages import check_messages, render_conversation, user_message, user_turns
from mogrpo.data.splits import normalise, prompt_split
from mogrpo.errors import DataError

KINDS = ("adversarial", "benign")
AILUMINATE_FILE = "ailuminate/airr_official_1.0_demo_en_us_prompt_set_release.csv"
CATQA_FILE = "red-instruct/catqa_english.json"
HARMFULQA_FILE = "red-instruct/harmfulqa.json"
DANGEROUSQA_FILE = "red-instruct/dangerousqa.json"
DO_NOT_ANSWER_FILE = "do-not-answer/do_not_answer_data.csv"
MT_BENCH_FILE = "mt-bench/question.jsonl"
SEED_TASKS_FILE = "self-instruct/seed_tasks.jsonl"
BUILTIN_SPLITS = {"train": "train", "heldout": "test"}


# --------------------------------------------------------------------------- the prompt dict
def make_prompt(
    source: str,
    prompt_id: str,
    messages: Sequence[Mapping],
    kind: str,
    category: str | None = None,
    split: str | None = None,
) -> dict[str, Any]:
    """A prompt dict from checked ``messages``; ``split`` defaults to ``prompt_split`` of the first user turn."""
    if kind not in KINDS:
        raise DataError(f"kind must be one of {KINDS}, got {kind!r}", source=f"{source} prompt {prompt_id}")
    messages = check_messages(messages, source=f"{source} prompt {prompt_id}")
    return {
        "id": str(prompt_id),
        "prompt": render_conversation(messages),
        "messages": messages,
        "category": category,
        "kind": kind,
        "split": split or prompt_split(user_turns(messages)[0]),
        "source": source,
    }


def dedupe(prompts: Iterable[dict]) -> list[dict]:
    """The prompts with each normalised ``prompt`` text once (the first one kept, order kept)."""
    seen: set[str] = set()
    out = []
    for p in prompts:
        key = normalise(p["prompt"])
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


# --------------------------------------------------------------------------- reading files
def _shared_file(root: str | Path | None, relative: str) -> Path:
    from mogrpo.data.public import shared_file

    return shared_file(root, relative)


def _text(value: Any, path: Path, row: int, what: str) -> str:
    """``value`` stripped, or a DataError naming the file, the row and ``what`` was empty."""
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"empty {what}: {value!r}", source=str(path), row=row)
    return value.strip()


def _csv_rows(path: Path, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """``(row number from 1 after the header, row)`` of a UTF-8 csv; a missing column is a DataError."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"missing column(s) {missing}; columns are {reader.fieldnames}", source=str(path))
        return list(enumerate(reader, start=1))


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"line {err.lineno} is not valid JSON ({err.msg})", source=str(path)) from None


def _question_bank(path: Path) -> list[tuple[str, str, str]]:
    """``(category, subcategory, question)`` of a red-instruct bank ``{category: {subcategory: [question]}}``,
    in file order; a question's row is its number in that order (from 1)."""
    bank = _load_json(path)
    if not isinstance(bank, dict) or not all(isinstance(v, dict) for v in bank.values()):
        raise DataError("expected a JSON object {category: {subcategory: [question, ...]}}", source=str(path))
    out = []
    for category, subs in bank.items():
        for sub, questions in subs.items():
            if not isinstance(questions, list):
                raise DataError(f"{category} / {sub}: expected a list of questions", source=str(path))
            for q in questions:
                out.append((category, sub.rstrip(":").strip(), _text(q, path, len(out) + 1, "question")))
    return out


def _json_lines(path: Path) -> list[tuple[int, dict]]:
    from mogrpo.utils.io import read_json_lines

    return read_json_lines(path, with_line_numbers=True)


# --------------------------------------------------------------------------- the sources
def builtin(root: str | Path | None = None) -> list[dict]:
    """The builtin prompts (474), with their own split: train -> ``train``, heldout -> ``test``."""
    from mogrpo.data.prompts import builtin_prompts

    out = []
    for p in builtin_prompts():
        split = BUILTIN_SPLITS[p["split"]]
        out.append(
            make_prompt("builtin", p["id"], user_message(p["prompt"]), p["kind"], p["category"], split)
        )
    return dedupe(out)


def ailuminate(root: str | Path, benign_hazards: Sequence[str] = ()) -> list[dict]:
    """AILuminate v1.0 demo prompts (1200): ``adversarial`` unless the hazard is in ``benign_hazards``;
    category = the hazard code (``vcr``, ``cse``, ``spc_hlt``, ...)."""
    path = _shared_file(root, AILUMINATE_FILE)
    benign = set(benign_hazards)
    out = []
    for row_no, row in _csv_rows(path, ("release_prompt_id", "prompt_text", "hazard")):
        text = _text(row["prompt_text"], path, row_no, "prompt_text")
        hazard = _text(row["hazard"], path, row_no, "hazard")
        kind = "benign" if hazard in benign else "adversarial"
        prompt_id = row["release_prompt_id"] or f"ailuminate-row{row_no}"
        out.append(make_prompt("ailuminate", prompt_id, user_message(text), kind, hazard))
    return dedupe(out)


def _bank(root: str | Path, relative: str, source: str) -> list[dict]:
    path = _shared_file(root, relative)
    prompts = [
        make_prompt(source, f"{source}-{i}", user_message(q), "adversarial", category)
        for i, (category, _sub, q) in enumerate(_question_bank(path), start=1)
    ]
    return dedupe(prompts)


def catqa(root: str | Path) -> list[dict]:
    """CatQA (550 questions, 543 distinct): ``adversarial``, category = the harm category."""
    return _bank(root, CATQA_FILE, "catqa")


def harmfulqa(root: str | Path) -> list[dict]:
    """HarmfulQA (1960 questions, 1938 distinct): ``adversarial``, category = the academic topic."""
    return _bank(root, HARMFULQA_FILE, "harmfulqa")


def dangerousqa(root: str | Path) -> list[dict]:
    """DangerousQA (200 questions): ``adversarial``, no category."""
    path = _shared_file(root, DANGEROUSQA_FILE)
    questions = _load_json(path)
    if not isinstance(questions, list):
        raise DataError("expected a JSON array of question strings", source=str(path))
    return dedupe(
        make_prompt(
            "dangerousqa", f"dangerousqa-{i}", user_message(_text(q, path, i, "question")), "adversarial"
        )
        for i, q in enumerate(questions, start=1)
    )


def do_not_answer(root: str | Path) -> list[dict]:
    """Do-Not-Answer's questions (939 rows, 938 distinct): ``adversarial``, category = ``risk_area``.
    Only the ``question`` column is read."""
    path = _shared_file(root, DO_NOT_ANSWER_FILE)
    out = []
    for row_no, row in _csv_rows(path, ("id", "risk_area", "question")):
        text = _text(row["question"], path, row_no, "question")
        out.append(
            make_prompt(
                "do_not_answer",
                f"do_not_answer-{row['id'] or row_no}",
                user_message(text),
                "adversarial",
                (row["risk_area"] or "").strip() or None,
            )
        )
    return dedupe(out)


def reference_answer(reference: str | None) -> str:
    """MT-Bench's turn-1 reference as an assistant reply: stripped, and where it holds a code block, from
    the first code fence on (the coding references open with a note to the judge, e.g. "Straightforward")."""
    if not isinstance(reference, str):
        return ""
    text = reference.strip()
    return text[text.index("```") :] if "```" in text else text


def mt_bench(root: str | Path, second_turn: bool = True) -> list[dict]:
    """MT-Bench (80 questions): the first turn of each, and (``second_turn``) the second turn after the
    reference answer where there is one (38); ``benign``, category = the MT-Bench category. Both prompts
    of a question share the split of its first turn."""
    path = _shared_file(root, MT_BENCH_FILE)
    out = []
    for line, row in _json_lines(path):
        turns = row.get("turns")
        if not isinstance(turns, list) or len(turns) != 2:
            raise DataError(
                f"'turns' must be a list of two user turns, got {turns!r}", source=str(path), row=line
            )
        first, second = (_text(t, path, line, f"turn {k}") for k, t in enumerate(turns, start=1))
        qid, category = row.get("question_id", line), row.get("category")
        out.append(make_prompt("mt_bench", f"mt_bench-{qid}-turn1", user_message(first), "benign", category))
        answer = reference_answer((row.get("reference") or [None])[0])
        if second_turn and answer:
            messages = [*user_message(first), {"role": "assistant", "content": answer}, *user_message(second)]
            out.append(make_prompt("mt_bench", f"mt_bench-{qid}-turn2", messages, "benign", category))
    return dedupe(out)


def seed_task_prompt(instruction: str, task_input: str | None) -> str:
    """A Self-Instruct task as one user prompt: the instruction, then (if any) its input after a blank line."""
    instruction = instruction.strip()
    task_input = (task_input or "").strip()
    return f"{instruction}\n\n{task_input}" if task_input else instruction


def self_instruct_seed(root: str | Path) -> list[dict]:
    """The 175 Self-Instruct seed tasks (:func:`seed_task_prompt` of the instruction and its first
    instance's input): ``benign``, category ``classification`` or ``generation``."""
    path = _shared_file(root, SEED_TASKS_FILE)
    out = []
    for line, row in _json_lines(path):
        instruction = _text(row.get("instruction"), path, line, "instruction")
        instances = row.get("instances") or [{}]
        if not isinstance(instances, list) or not isinstance(instances[0], dict):
            raise DataError(
                f"'instances' must be a list of {{input, output}} objects, got {instances!r}",
                source=str(path),
                row=line,
            )
        text = seed_task_prompt(instruction, instances[0].get("input"))
        category = "classification" if row.get("is_classification") else "generation"
        out.append(
            make_prompt(
                "self_instruct_seed",
                str(row.get("id") or f"seed-{line}"),
                user_message(text),
                "benign",
                category,
            )
        )
    return dedupe(out)


#: every source by name, in the order :func:`mogrpo.data.prompt_mix.prompt_mix` reads them by default
SOURCES: dict[str, Callable[..., list[dict]]] = {
    "builtin": builtin,
    "ailuminate": ailuminate,
    "catqa": catqa,
    "harmfulqa": harmfulqa,
    "dangerousqa": dangerousqa,
    "do_not_answer": do_not_answer,
    "mt_bench": mt_bench,
    "self_instruct_seed": self_instruct_seed,
    **CONTRAST_SOURCES,  # benign prompts with risky words (mogrpo/data/contrast_sources.py)
}
