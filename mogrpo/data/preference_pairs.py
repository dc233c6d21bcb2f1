"""Pairwise human preferences as preference rows: HH-RLHF (harmless / helpful) and LLMBar.

A preference row (:mod:`mogrpo.data.labelled`) holds ``response`` (the preferred reply),
``rejected`` (the other reply to the same prompt) and, per aspect the preference speaks to, the
label P(response better than rejected) = 1.0; the other aspects stay unlabelled (NaN). The
regressor learns them with Bradley-Terry on that aspect's logit (:mod:`mogrpo.reward.losses`),
which is what a pairwise judgement supports: "chosen was less harmful" says nothing about either
reply's absolute safety (in HH-RLHF red-teaming both replies are often harmful, or both fine).

Every row gets ``group`` = the prompt and ``split`` = :func:`~mogrpo.data.splits.prompt_split` of
the prompt, like the GRPO prompt sets. Pairs whose two replies are identical or empty are
skipped (logged).

Mappings (each function's docstring gives the details):

- :func:`hh_rlhf_pairs` ``harmless-base``: chosen (judged less harmful) over rejected -> safety.
- :func:`hh_rlhf_pairs` ``helpful-base``: chosen (judged more helpful) over rejected ->
  meaningfulness. Not actionability, by judgement: the crowdworkers picked the more helpful reply
  overall, and to a factual or chatty request the more helpful reply is the more relevant and
  informative one, not one with more steps to follow; a label there would teach the actionability
  head "helpful", and the two heads would stop coming apart. ``aspects`` can add it.
- :func:`llmbar_pairs`: the output that follows the instruction (gold label) over the other ->
  meaningfulness, the rubric's "directly addresses what was asked". Not actionability, for the
  same reason: following an instruction (write a poem, classify a sentence) is rarely about steps.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np

from mogrpo.data.public import _dataset, _json_records, shared_file
from mogrpo.data.splits import prompt_split
from mogrpo.errors import DataError
from mogrpo.utils.io import read_json_lines

log = logging.getLogger(__name__)

HH_SUBSETS = {"harmless-base": ("safety",), "helpful-base": ("meaningfulness",)}
ASSISTANT_TURN = "\n\nAssistant:"
_TURN = re.compile(r"\n\n(Human|Assistant):")
LLMBAR_SUBSETS = (
    "LLMBar/Natural",
    "LLMBar/Adversarial/Neighbor",
    "LLMBar/Adversarial/GPTInst",
    "LLMBar/Adversarial/GPTOut",
    "LLMBar/Adversarial/Manual",
    "Processed/FairEval",
    "Processed/LLMEval^2",
    "Processed/MT-Bench",
)


def split_last_turn(transcript: str) -> tuple[str, str]:
    """``"...\\n\\nAssistant: reply"`` -> (everything before the last ``"\\n\\nAssistant:"``, the
    reply stripped); no Assistant turn -> (transcript, "")."""
    cut = transcript.rfind(ASSISTANT_TURN)
    if cut < 0:
        return transcript, ""
    return transcript[:cut], transcript[cut + len(ASSISTANT_TURN) :].strip()


def turns(history: str) -> list[tuple[str, str]]:
    """``"\\n\\nHuman: a\\n\\nAssistant: b..."`` -> ``[("Human", "a"), ("Assistant", "b"), ...]``.

    Text before the first marker (none in the shared files) is kept as a turn with speaker "".
    """
    parts = _TURN.split(history)  # [text before the first marker, speaker, text, speaker, text, ...]
    head = [("", parts[0].strip())] if parts[0].strip() else []
    return head + [(parts[i], parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)]


def hh_prompt(history: str, raw_transcript: bool = False) -> str:
    """The prompt the regressor reads before ``[SEP] reply``, from the turns before the last reply.

    Default: a single Human turn -> its text alone, exactly like a GRPO prompt (the regressor
    scores ``(user prompt, completion)`` during GRPO, with no speaker markers); several turns ->
    ``"Human: ...\\n\\nAssistant: ...\\n\\nHuman: ..."``, the markers kept because without them
    the speakers of the history run together, and the trailing ``"Assistant:"`` dropped (the
    separator already marks where the reply starts). ``raw_transcript``: the file's text up to and
    including the last ``"Assistant:"``, stripped.
    """
    if raw_transcript:
        return (history + ASSISTANT_TURN).strip()
    ts = turns(history)
    if len(ts) == 1 and ts[0][0] == "Human":
        return ts[0][1]
    return "\n\n".join(f"{speaker}: {text}" if speaker else text for speaker, text in ts)


def _pair_rows(rows: list[tuple[str, str, str, str]], aspects: Sequence[str], what: str) -> dict:
    """``(prompt, chosen, rejected, source)`` tuples -> the columns of preference rows, label 1.0.

    Pairs with an empty prompt or reply, or two identical replies, are dropped (logged).
    """
    kept = [r for r in rows if r[0].strip() and r[1].strip() and r[2].strip() and r[1] != r[2]]
    if len(kept) < len(rows):
        log.info(
            "%s: skipped %d pairs with an empty prompt or reply, or identical replies",
            what,
            len(rows) - len(kept),
        )
    data = {
        "prompt": [r[0] for r in kept],
        "response": [r[1] for r in kept],
        "rejected": [r[2] for r in kept],
        "source": [r[3] for r in kept],
        "group": [r[0] for r in kept],
        "split": [prompt_split(r[0]) for r in kept],
    }
    for a in aspects:
        data[a] = np.ones(len(kept))
    return data


def _check_aspects(aspects: Sequence[str], source: str) -> list[str]:
    aspects = list(aspects)
    if not aspects or not all(isinstance(a, str) and a for a in aspects):
        raise DataError(f"aspects must be a non-empty list of aspect names, got {aspects}", source=source)
    return aspects


def hh_rlhf_pairs(
    root: str | Path,
    subset: str = "harmless-base",
    aspects: Sequence[str] | None = None,
    raw_transcript: bool = False,
    max_rows: int | None = None,
    seed: int = 0,
) -> datasets.Dataset:
    """HH-RLHF (Bai et al., 2022) test pairs as preference rows.

    ``hh-rlhf/<subset>/test.jsonl.gz`` (``subset`` = ``harmless-base`` or ``helpful-base``),
    lines ``{chosen, rejected}``: two full transcripts that share the dialogue and differ in the
    last Assistant turn. Mapping: the shared dialogue -> prompt via :func:`hh_prompt`, chosen's
    last reply -> response, rejected's -> rejected, label 1.0 on ``aspects`` (default: safety for
    harmless-base, meaningfulness for helpful-base; see the module docstring). Pairs whose
    transcripts differ before the last ``"\\n\\nAssistant:"`` (a reply that itself holds turn
    markers: 5 harmless, 9 helpful) are skipped, as are empty and identical replies. ``source``
    = ``"hh_rlhf:<subset>"``. ``max_rows`` keeps a seeded random subset (``seed``).
    """
    if subset not in HH_SUBSETS:
        raise DataError(f"subset must be one of {sorted(HH_SUBSETS)}, got {subset!r}", source="hh_rlhf")
    aspects = _check_aspects(HH_SUBSETS[subset] if aspects is None else aspects, f"hh_rlhf:{subset}")
    path = shared_file(root, f"hh-rlhf/{subset}/test.jsonl.gz")
    rows, mismatched = [], 0
    for lineno, obj in read_json_lines(path, with_line_numbers=True):
        chosen, rejected = obj.get("chosen"), obj.get("rejected")
        if not isinstance(chosen, str) or not isinstance(rejected, str):
            raise DataError("'chosen' and 'rejected' must be strings", source=str(path), row=lineno)
        (h_c, r_c), (h_r, r_r) = split_last_turn(chosen), split_last_turn(rejected)
        if h_c != h_r:
            mismatched += 1
            continue
        rows.append((hh_prompt(h_c, raw_transcript), r_c, r_r, f"hh_rlhf:{subset}"))
    if mismatched:
        log.info("%s: skipped %d pairs whose transcripts differ before the last reply", path, mismatched)
    return _dataset(_pair_rows(rows, aspects, str(path)), max_rows, seed)


def _llmbar_rows(path: Path, subset: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for i, r in enumerate(_json_records(path), start=1):
        label = r.get("label")
        if label not in (1, 2) or isinstance(label, bool):
            raise DataError(f"label must be 1 or 2, got {label!r}", source=str(path), row=i)
        texts = [r.get("input"), r.get("output_1"), r.get("output_2")]
        if not all(isinstance(t, str) for t in texts):
            raise DataError("'input', 'output_1' and 'output_2' must be strings", source=str(path), row=i)
        better, worse = (texts[1], texts[2]) if label == 1 else (texts[2], texts[1])
        rows.append((texts[0], better, worse, f"llmbar:{subset}"))
    return rows


def llmbar_pairs(
    root: str | Path,
    subsets: Sequence[str] | None = None,
    aspects: Sequence[str] = ("meaningfulness",),
    max_rows: int | None = None,
    seed: int = 0,
) -> datasets.Dataset:
    """LLMBar (Zeng et al., 2024) instruction-following pairs as preference rows.

    ``llmbar/<subset>/dataset.json`` for each of ``subsets`` (default all of
    :data:`LLMBAR_SUBSETS`: the curated LLMBar Natural and Adversarial sets, and the processed
    human-labelled FairEval, LLMEval^2 and MT-Bench sets), JSON arrays of ``{input, output_1,
    output_2, label}``. Mapping: input -> prompt, ``output_<label>`` -> response, the other output
    -> rejected, label 1.0 on ``aspects`` (default meaningfulness; see the module docstring). A
    label other than 1 or 2 is a DataError naming the file and row; empty or identical outputs
    (2 pairs in LLMEval^2) are skipped. ``source`` = ``"llmbar:<subset>"``. ``max_rows`` keeps a
    seeded random subset (``seed``) of all subsets together.
    """
    subsets = list(LLMBAR_SUBSETS if subsets is None else subsets)
    unknown = [s for s in subsets if s not in LLMBAR_SUBSETS]
    if unknown or not subsets:
        raise DataError(
            f"subsets must be a non-empty subset of {list(LLMBAR_SUBSETS)}, got {subsets}", source="llmbar"
        )
    aspects = _check_aspects(aspects, "llmbar")
    rows = []
    for subset in subsets:
        rows += _llmbar_rows(shared_file(root, f"llmbar/{subset}/dataset.json"), subset)
    return _dataset(_pair_rows(rows, aspects, "llmbar"), max_rows, seed)
