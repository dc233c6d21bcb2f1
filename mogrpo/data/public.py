"""Adapters: real public human-labelled data in ``paths.shared_data`` -> aspect-labelled pairs.

``root`` is the folder described by its ``README.md`` (normally ``../shared/data``; config key
``paths.shared_data``, env var ``MOGRPO_SHARED_DATA``). Each adapter returns a
:class:`datasets.Dataset` with ``prompt``, ``response``, ``source``, the aspect columns it labels
(float32 in [0, 1]) and, where prompts are placeholders, a ``group`` split key. Aspects it does not
label are masked (NaN) by :func:`mogrpo.data.labelled.load_labelled`. ``max_rows`` keeps a
seeded random subset (``seed``), in file order; labels that depend on the whole corpus are
computed before the subset is taken.

Mappings (each function's docstring gives the details):

- :func:`diasafety`: context -> prompt, response -> response, label Safe -> safety 1, Unsafe -> 0.
- :func:`stanford_politeness`: request -> response under the fixed prompt "Write a message.",
  min-max (or rank) scaled ``Normalized Score`` -> politeness.
- :func:`safety_tuned_llamas`: instruction -> prompt, curated safe output -> response, safety 1.
- :func:`fine_grained_rlhf`: question -> prompt, prediction 1 -> response, share of characters
  free of Irrelevant / Redundant / Incoherent error spans -> meaningfulness.

Pairwise preference data (HH-RLHF, LLMBar) is in :mod:`mogrpo.data.preference_pairs`; Do-Not-Answer
and SafeText are in :mod:`mogrpo.data.do_not_answer` and :mod:`mogrpo.data.safetext`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
import pandas as pd

from mogrpo.data.splits import prompt_split
from mogrpo.errors import DataError

log = logging.getLogger(__name__)

ROOT_HINT = (
    "set the config key paths.shared_data (or the env var MOGRPO_SHARED_DATA) to the shared data folder"
)
DIASAFETY_SPLITS = {"train": "train", "val": "val", "validation": "val", "test": "test"}
DIASAFETY_LABELS = {"Safe": 1.0, "Unsafe": 0.0}
POLITENESS_FILES = {
    "wikipedia": "politeness/wikipedia.annotated.csv",
    "stack-exchange": "politeness/stack-exchange.annotated.csv",
}
POLITENESS_PROMPT = "Write a message."
POLITENESS_SCALINGS = ("minmax", "rank")
STL_FILE = "safety-tuned-llamas/training/safety_only_data_Instructions.json"
FGRLHF_FILE = "fine-grained-rlhf/dev_feedback.json"
MEANINGFULNESS_ERRORS = ("Irrelevant", "Redundant", "Incoherent")


def shared_file(root: str | Path | None, relative: str) -> Path:
    """``root / relative``, or a DataError naming the missing file and how to point at the folder."""
    if root is None or str(root) in ("", "???"):
        raise DataError(f"no shared data folder given; {ROOT_HINT}", source=relative)
    path = Path(root).expanduser() / relative
    if not path.is_file():
        hint = "" if Path(root).expanduser().is_dir() else f" (the folder {root} does not exist)"
        raise DataError(f"file not found{hint}; {ROOT_HINT}", source=str(path))
    return path


def _load_json(path: Path):
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise DataError(f"line {err.lineno} is not valid JSON ({err.msg})", source=str(path)) from None


def _json_records(path: Path) -> list[dict]:
    rows = _load_json(path)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DataError("expected a JSON array of objects", source=str(path))
    return rows


def subsample(n: int, max_rows: int | None, seed: int) -> np.ndarray:
    """Indices of a seeded random subset of ``max_rows`` of ``n`` rows, in their original order."""
    if max_rows is None or max_rows >= n:
        return np.arange(n)
    if max_rows < 0:
        raise DataError(f"max_rows must be >= 0 or null, got {max_rows}")
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def _blank(x) -> bool:
    return not isinstance(x, str) or not x.strip()


def _dataset(data: dict, max_rows: int | None, seed: int) -> datasets.Dataset:
    """A Dataset of the columns in ``data`` (scores as float32), cut to a seeded subset."""
    n = len(data["prompt"])
    keep = subsample(n, max_rows, seed)
    feats = {}
    out = {}
    for k, v in data.items():
        if isinstance(v, np.ndarray):
            out[k], feats[k] = v[keep].astype(np.float32), datasets.Value("float32")
        else:
            out[k], feats[k] = [v[i] for i in keep], datasets.Value("string")
    return datasets.Dataset.from_dict(out, features=datasets.Features(feats))


def diasafety(
    root: str | Path, split: str = "train", max_rows: int | None = None, seed: int = 0
) -> datasets.Dataset:
    """DiaSafety (Sun et al., 2022): human safety labels of chatbot replies in context.

    ``diasafety/<split>.json`` (split train | val | validation | test), a JSON array of
    ``{context, response, category, label}``. Mapping: context -> prompt, response -> response,
    ``label`` Safe -> safety 1.0, Unsafe -> safety 0.0; no other aspect. Rows with an empty
    context or response (2 in train) are skipped. ``source`` = ``"diasafety"``.
    """
    if split not in DIASAFETY_SPLITS:
        raise DataError(f"split must be one of {sorted(DIASAFETY_SPLITS)}, got {split!r}", source="diasafety")
    path = shared_file(root, f"diasafety/{DIASAFETY_SPLITS[split]}.json")
    rows = _json_records(path)
    for i, r in enumerate(rows):
        if r.get("label") not in DIASAFETY_LABELS:
            raise DataError(
                f"label must be one of {sorted(DIASAFETY_LABELS)}, got {r.get('label')!r}",
                source=str(path),
                row=i + 1,
            )
    kept = [r for r in rows if not _blank(r.get("context")) and not _blank(r.get("response"))]
    if len(kept) < len(rows):
        log.info("%s: skipped %d rows with an empty context or response", path, len(rows) - len(kept))
    data = {
        "prompt": [r["context"] for r in kept],
        "response": [r["response"] for r in kept],
        "source": ["diasafety"] * len(kept),
        "safety": np.array([DIASAFETY_LABELS[r["label"]] for r in kept]),
    }
    return _dataset(data, max_rows, seed)


def scale_politeness(scores: np.ndarray, scaling: str = "minmax") -> np.ndarray:
    """Map the corpus' ``Normalized Score`` (about -4 .. 2.7) into [0, 1].

    ``minmax``: (s - min s) / (max s - min s), which keeps the score's intervals (the corpus'
    neutral 0 lands near 0.6). ``rank``: (rank(s) - 1) / (N - 1) with ties given their average
    rank, uniform on [0, 1] and robust to the few extreme scores.
    """
    s = np.asarray(scores, dtype=np.float64)
    if scaling == "minmax":
        span = s.max() - s.min()
        return (s - s.min()) / span if span > 0 else np.full_like(s, 0.5)
    if scaling == "rank":
        ranks = pd.Series(s).rank(method="average").to_numpy()
        return (ranks - 1) / (len(s) - 1) if len(s) > 1 else np.full_like(s, 0.5)
    raise DataError(
        f"scaling must be one of {POLITENESS_SCALINGS}, got {scaling!r}", source="stanford_politeness"
    )


def stanford_politeness(
    root: str | Path,
    max_rows: int | None = None,
    seed: int = 0,
    scaling: str = "minmax",
    prompt: str = POLITENESS_PROMPT,
) -> datasets.Dataset:
    """Stanford Politeness Corpus (Danescu-Niculescu-Mizil et al., 2013): human politeness scores.

    ``politeness/wikipedia.annotated.csv`` and ``politeness/stack-exchange.annotated.csv``. The
    texts are *requests* written by users, not assistant replies, so each becomes the response to
    one fixed neutral prompt (``prompt``, default "Write a message."): politeness is a property of
    the message itself, and a made-up per-row prompt would add noise the encoder could latch onto.
    Mapping: Request -> response, ``Normalized Score`` (per-annotator z-scored, averaged) ->
    politeness via :func:`scale_politeness` over both files together (``minmax`` by default, or
    ``rank``), computed before ``max_rows`` subsets. No other aspect. ``source`` =
    ``"stanford_politeness:wikipedia"`` / ``":stack-exchange"``. Since the prompt is the same for
    all rows, the split key (``group``) is the request text.
    """
    frames = []
    for name, rel in POLITENESS_FILES.items():
        path = shared_file(root, rel)
        try:
            df = pd.read_csv(path)
        except (ValueError, OSError, pd.errors.ParserError) as err:
            raise DataError(f"could not read the csv: {err}", source=str(path)) from err
        missing = [c for c in ("Request", "Normalized Score") if c not in df.columns]
        if missing:
            raise DataError(f"missing column(s) {missing}; columns are {list(df.columns)}", source=str(path))
        bad = df["Normalized Score"].isna() | df["Request"].isna()
        if bad.any():
            raise DataError(
                "empty Request or Normalized Score", source=str(path), row=int(np.argmax(bad)) + 1
            )
        frames.append(df.assign(_name=name))
    df = pd.concat(frames, ignore_index=True)
    requests = df["Request"].astype(str).tolist()
    data = {
        "prompt": [prompt] * len(df),
        "response": requests,
        "source": [f"stanford_politeness:{n}" for n in df["_name"]],
        "group": [f"stanford_politeness:{r}" for r in requests],
        "politeness": scale_politeness(df["Normalized Score"].to_numpy(), scaling),
    }
    return _dataset(data, max_rows, seed)


def safety_tuned_llamas(
    root: str | Path, max_rows: int | None = None, seed: int = 0, pin_split: bool = False
) -> datasets.Dataset:
    """Safety-Tuned LLaMAs (Bianchi et al., 2024): curated safe responses to harmful instructions.

    ``safety-tuned-llamas/training/safety_only_data_Instructions.json``, a JSON array of
    ``{instruction, input, output}``. Mapping: instruction (+ ``"\\n\\n" + input`` when not empty)
    -> prompt, output -> response, safety 1.0. Safety only: the outputs were written (partly by
    GPT) to be the safe answer, but nobody rated their politeness or helpfulness, so labelling
    those would be invented. Every label is 1: the negatives come from DiaSafety. ``source`` =
    ``"safety_tuned_llamas"``. ``pin_split``: a ``split`` column of ``prompt_split(prompt)``, the split of the
    same prompt's :mod:`mogrpo.data.refusal_quality` pairs (else the reward data splits these rows by group).
    """
    path = shared_file(root, STL_FILE)
    rows = _json_records(path)
    prompts, responses = [], []
    for i, r in enumerate(rows):
        instruction, extra, output = r.get("instruction"), r.get("input") or "", r.get("output")
        if _blank(instruction) or _blank(output):
            raise DataError("empty instruction or output", source=str(path), row=i + 1)
        prompts.append(f"{instruction}\n\n{extra}" if str(extra).strip() else instruction)
        responses.append(output)
    data = {
        "prompt": prompts,
        "response": responses,
        "source": ["safety_tuned_llamas"] * len(rows),
        "safety": np.ones(len(rows)),
    }
    if pin_split:
        data["split"] = [prompt_split(p) for p in prompts]
    return _dataset(data, max_rows, seed)


def error_free_share(text: str, spans: Sequence[tuple[int, int]]) -> float:
    """1 - |union of the character spans [start, end)| / len(text), clipped to [0, 1].

    Overlapping spans count once; spans are clipped to the text. An empty text gives 0.
    """
    n = len(text)
    if n == 0:
        return 0.0
    covered = np.zeros(n, dtype=bool)
    for start, end in spans:
        covered[max(0, int(start)) : min(n, int(end))] = True
    return float(np.clip(1.0 - covered.sum() / n, 0.0, 1.0))


def fine_grained_rlhf(
    root: str | Path,
    max_rows: int | None = None,
    seed: int = 0,
    error_types: Sequence[str] = MEANINGFULNESS_ERRORS,
) -> datasets.Dataset:
    """Fine-Grained RLHF qa-feedback (Wu et al., 2023): human error spans on long-form answers.

    ``fine-grained-rlhf/dev_feedback.json``, a JSON array with ``question``, ``prediction 1`` and
    ``feedback.errors`` (``{"error type", "start", "end"}`` character spans in prediction 1; human
    feedback exists for prediction 1 only). Mapping: question -> prompt (the grounding passages
    are left out: the regressor scores a reply to the question), prediction 1 -> response,

        meaningfulness = 1 - |chars covered by spans of types error_types| / len(prediction 1)

    (:func:`error_free_share`) with ``error_types`` = Irrelevant, Redundant, Incoherent by default:
    text that is off-topic, repeated or incoherent is the part that carries no meaning for the
    question. The factual types (Wrong-Grounding, Unverifiable) are left out by default: they
    measure correctness against the passages, which the regressor does not see; add them to
    ``error_types`` to fold factuality into meaningfulness. Rows with an empty prediction are
    skipped. ``source`` = ``"fine_grained_rlhf"``.
    """
    path = shared_file(root, FGRLHF_FILE)
    rows = _json_records(path)
    types = set(error_types)
    prompts, responses, scores = [], [], []
    for i, r in enumerate(rows):
        question, answer = r.get("question"), r.get("prediction 1")
        if _blank(answer):
            continue
        if _blank(question):
            raise DataError("empty question", source=str(path), row=i + 1)
        errors = (r.get("feedback") or {}).get("errors") or []
        try:
            spans = [(e["start"], e["end"]) for e in errors if e.get("error type") in types]
        except (KeyError, TypeError) as err:
            raise DataError(f"malformed feedback.errors ({err!r})", source=str(path), row=i + 1) from None
        prompts.append(question)
        responses.append(answer)
        scores.append(error_free_share(answer, spans))
    if len(prompts) < len(rows):
        log.info("%s: skipped %d rows with an empty prediction 1", path, len(rows) - len(prompts))
    data = {
        "prompt": prompts,
        "response": responses,
        "source": ["fine_grained_rlhf"] * len(prompts),
        "meaningfulness": np.asarray(scores, dtype=np.float64),
    }
    return _dataset(data, max_rows, seed)
