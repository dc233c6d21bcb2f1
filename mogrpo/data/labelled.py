"""Aspect-labelled rows for the reward regressor, absolute or pairwise, as HF ``datasets``.

Every source (builtin file, public adapters, any file) returns a :class:`datasets.Dataset` with
``prompt``, ``response``, ``source`` and any subset of score columns. :func:`load_labelled` brings
them to one schema,

    prompt: string, response: string, rejected: string, source: string,
    <aspect_1>: float32, ..., <aspect_K>: float32

where NaN means "not labelled on this aspect" (masked out of the loss). A row is one of two kinds:

- **absolute** (``rejected`` empty): each score is the response's label in [0, 1] (masked MSE);
- **preference** (``rejected`` holds a second response to the same prompt): each score is the
  probability in [0, 1] that ``response`` is better than ``rejected`` on that aspect, usually 1
  (Bradley-Terry loss on the difference of the two responses' logits of that aspect's head).

Both kinds mix freely in one dataset and one batch (:mod:`mogrpo.reward.losses`).

Splits: a source may add a ``group`` column, and rows with the same group never span two splits
(without it, rows are grouped by prompt text; sources whose prompt is a fixed placeholder, Stanford
Politeness' "Write a message.", group by response instead). A source may also add a ``split``
column (``train`` / ``validation`` / ``test``) to pin its rows to a split: an official test split
(DiaSafety), or a split by prompt shared with the GRPO prompt sets (:mod:`mogrpo.data.splits`), so
a prompt held out here is held out there too. The other rows are split by group with the seed. A
preference row is one row, so its two responses can never land in different splits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import datasets
import numpy as np
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf

from mogrpo.errors import DataError

log = logging.getLogger(__name__)

TEXT_COLUMNS = ("prompt", "response")
REJECTED_COLUMN = "rejected"
SOURCE_COLUMN = "source"
SCHEMA_TEXT = ("prompt", "response", REJECTED_COLUMN, SOURCE_COLUMN)
BASE_COLUMNS = ("prompt", "response", SOURCE_COLUMN)  # what every source returns
GROUP_COLUMN = "group"
SPLIT_COLUMN = "split"
SPLITS = ("train", "validation", "test")
NOT_SCORES = (*SCHEMA_TEXT, GROUP_COLUMN, SPLIT_COLUMN)
ASSIGN_SPLIT_KEY = "assign_split"  # reserved key of a source node: pin all its rows to one split


def columns(aspects: Sequence[str]) -> list[str]:
    """The columns of a labelled dataset: prompt, response, rejected, source, then one per aspect."""
    return [*SCHEMA_TEXT, *aspects]


def features(aspects: Sequence[str], text: Sequence[str] = BASE_COLUMNS) -> datasets.Features:
    """The schema of a labelled dataset: ``text`` columns as strings, scores as float32."""
    feats = {c: datasets.Value("string") for c in text}
    feats.update({a: datasets.Value("float32") for a in aspects})
    return datasets.Features(feats)


def is_pair(ds: datasets.Dataset) -> np.ndarray:
    """``[N]`` bool: which rows are preferences (a non-empty ``rejected`` response)."""
    if REJECTED_COLUMN not in ds.column_names:
        return np.zeros(len(ds), dtype=bool)
    return np.fromiter((isinstance(x, str) and bool(x.strip()) for x in _texts(ds, REJECTED_COLUMN)), bool, len(ds))


def score_columns(ds: datasets.Dataset) -> list[str]:
    """The numeric columns of a source that are not prompt/response/source/group: its aspects."""
    out = []
    for name, feat in ds.features.items():
        if name in NOT_SCORES:
            continue
        if isinstance(feat, datasets.Value) and (
            feat.dtype.startswith(("float", "int", "uint")) or feat.dtype == "null"
        ):
            out.append(name)
    return out


def _arrow(ds: datasets.Dataset, column: str):
    """One column as pyarrow, honouring ``select`` / ``shuffle`` (``ds.data`` would not)."""
    return ds.with_format("arrow")[column]


def _scores(ds: datasets.Dataset, column: str) -> np.ndarray:
    """A score column as float64 numpy, nulls as NaN."""
    return _arrow(ds, column).to_numpy().astype(np.float64)


def _texts(ds: datasets.Dataset, column: str) -> list:
    return _arrow(ds, column).to_pylist()


def _is_blank(x) -> bool:
    return not isinstance(x, str) or not x.strip()


def validate_rows(ds: datasets.Dataset, aspects: Sequence[str], source: str) -> None:
    """Check a labelled dataset; raise :class:`DataError` naming ``source`` and the first bad row.

    Rows are numbered from 1 in the order of ``ds`` (the line of a jsonl file, the data row of a
    csv). A row is bad when its prompt or response is empty or whitespace, a score is outside
    [0, 1] (NaN = missing label is fine), all of ``aspects`` are missing, a preference row's two
    responses are the same text, or its ``split`` is not one of train / validation / test. Missing
    columns (``prompt``, ``response`` or an aspect) are an error too.
    """
    missing = [c for c in (*TEXT_COLUMNS, *aspects) if c not in ds.column_names]
    if missing:
        raise DataError(f"missing column(s) {missing}; columns are {ds.column_names}", source=source)
    if len(ds) == 0:
        return
    problems: list[tuple[np.ndarray, object]] = []
    for col in TEXT_COLUMNS:
        blank = np.fromiter((_is_blank(x) for x in _texts(ds, col)), dtype=bool, count=len(ds))
        problems.append((blank, lambda i, col=col: f"empty {col}"))
    if REJECTED_COLUMN in ds.column_names:
        pair = is_pair(ds)
        same = pair & np.fromiter(
            (a == b for a, b in zip(_texts(ds, "response"), _texts(ds, REJECTED_COLUMN))), bool, len(ds)
        )
        problems.append((same, lambda i: "a preference row's response and rejected are the same text"))
    if SPLIT_COLUMN in ds.column_names:
        splits = _texts(ds, SPLIT_COLUMN)
        bad_split = np.fromiter((x not in (None, "", *SPLITS) for x in splits), bool, len(ds))
        problems.append((bad_split, lambda i: f"split {splits[i]!r} is not one of {SPLITS} (or empty)"))
    if aspects:
        scores = np.stack([_scores(ds, a) for a in aspects], axis=1)  # [N, K]
        labelled = ~np.isnan(scores)
        outside = labelled & ((scores < 0) | (scores > 1))
        problems.append(
            (
                outside.any(axis=1),
                lambda i: ", ".join(
                    f"{a} = {scores[i, k]:g} is outside [0, 1]"
                    for k, a in enumerate(aspects)
                    if outside[i, k]
                ),
            )
        )
        problems.append(
            (~labelled.any(axis=1), lambda i: f"all aspects {list(aspects)} are missing (null/NaN)")
        )
    bad = np.zeros(len(ds), dtype=bool)
    for mask, _ in problems:
        bad |= mask
    if not bad.any():
        return
    i = int(np.argmax(bad))
    what = "; ".join(describe(i) for mask, describe in problems if mask[i])
    more = f" ({int(bad.sum())} bad rows in all; first shown)" if bad.sum() > 1 else ""
    raise DataError(what + more, source=source, row=i + 1)


def aspect_coverage(ds: datasets.Dataset | datasets.DatasetDict, aspects: Sequence[str]) -> dict[str, int]:
    """The number of labelled (non-NaN) rows per aspect; summed over splits for a DatasetDict."""
    if isinstance(ds, datasets.DatasetDict):
        totals = {a: 0 for a in aspects}
        for part in ds.values():
            for a, n in aspect_coverage(part, aspects).items():
                totals[a] += n
        return totals
    return {a: int((~np.isnan(_scores(ds, a))).sum()) if a in ds.column_names else 0 for a in aspects}


def _source_name(index: int, node) -> str:
    """How a source is named in errors: its config key, target and file/root."""
    if not isinstance(node, Mapping) and not hasattr(node, "get"):
        return f"reward_data.sources.{index}"
    target = node.get("_target_", "?")
    where = next((f", {k}={node.get(k)}" for k in ("path", "root") if node.get(k) is not None), "")
    return f"reward_data.sources.{index} ({target}{where})"


def _instantiate_source(index: int, node) -> tuple[str, datasets.Dataset]:
    """Build source ``index``. The reserved key ``assign_split`` (train / validation / test) is not
    passed to the target: it pins every row of the source to that split (e.g. DiaSafety's official
    test file to the test split)."""
    name = _source_name(index, node)
    node = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)
    pin = node.pop(ASSIGN_SPLIT_KEY, None)
    if pin is not None and pin not in SPLITS:
        raise DataError(f"{ASSIGN_SPLIT_KEY} must be one of {SPLITS}, got {pin!r}", source=name)
    try:
        ds = instantiate(node)
    except InstantiationException as err:
        if isinstance(err.__cause__, DataError):  # Hydra wraps errors raised by the target
            raise err.__cause__ from None
        raise DataError(f"could not build this source: {err}", source=name) from err
    if not isinstance(ds, datasets.Dataset):
        raise DataError(f"a source must return a datasets.Dataset, got {type(ds).__name__}", source=name)
    if pin is not None:
        ds = ds.remove_columns([c for c in (SPLIT_COLUMN,) if c in ds.column_names])
        ds = ds.add_column(SPLIT_COLUMN, [pin] * len(ds))
    return name, ds


def to_schema(ds: datasets.Dataset, aspects: Sequence[str], name: str) -> datasets.Dataset:
    """One source in the common schema: NaN columns for aspects it does not label, others dropped.

    Keeps the ``group`` column (the split key; the prompt when the source has none) and the
    ``split`` column (a pinned split, empty when the source pins none).
    """
    n = len(ds)
    prompts = _texts(ds, "prompt")
    has = ds.column_names
    data = {
        "prompt": prompts,
        "response": _texts(ds, "response"),
        REJECTED_COLUMN: [x or "" for x in _texts(ds, REJECTED_COLUMN)] if REJECTED_COLUMN in has else [""] * n,
        "source": _texts(ds, "source") if "source" in has else [name] * n,
    }
    for a in aspects:
        data[a] = (_scores(ds, a) if a in ds.column_names else np.full(n, np.nan)).astype(np.float32)
    if GROUP_COLUMN in has:  # a group that is the prompt text keys like a prompt: one split across sources
        data[GROUP_COLUMN] = [f"prompt:{g}" if g == p else f"group:{g}" for g, p in zip(_texts(ds, GROUP_COLUMN), prompts)]
    else:
        data[GROUP_COLUMN] = [f"prompt:{p}" for p in prompts]
    data[SPLIT_COLUMN] = [x or "" for x in _texts(ds, SPLIT_COLUMN)] if SPLIT_COLUMN in has else [""] * n
    feats = features(aspects, SCHEMA_TEXT)
    feats[GROUP_COLUMN] = datasets.Value("string")
    feats[SPLIT_COLUMN] = datasets.Value("string")
    return datasets.Dataset.from_dict(data, features=feats)


def split_by_group(
    groups: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Row indices of train / validation / test; rows of one group always share a split.

    The distinct groups are sorted, then permuted with ``numpy.random.default_rng(seed)``; walking
    that order, a group goes to test while test has fewer than ``round(test_fraction * N)`` rows,
    then to validation while it has fewer than ``round(val_fraction * N)``, then to train. So the
    split depends only on the seed and the rows, not on their order.
    """
    n = len(groups)
    keys, inverse = np.unique(np.asarray(groups, dtype=object), return_inverse=True)
    sizes = np.bincount(inverse, minlength=len(keys))
    order = np.random.default_rng(seed).permutation(len(keys))
    want = {"test": round(test_fraction * n), "validation": round(val_fraction * n)}
    have = {"test": 0, "validation": 0}
    assign = np.zeros(len(keys), dtype=np.int64)  # 0 train, 1 validation, 2 test
    for g in order:
        if have["test"] < want["test"]:
            assign[g], have["test"] = 2, have["test"] + sizes[g]
        elif have["validation"] < want["validation"]:
            assign[g], have["validation"] = 1, have["validation"] + sizes[g]
    row_split = assign[inverse]
    return {s: np.flatnonzero(row_split == k) for k, s in enumerate(SPLITS)}


def assign_splits(
    groups: Sequence[str], pinned: Sequence[str], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Row indices of train / validation / test honouring pinned splits.

    A group with a pinned row goes whole to that split (two different pins in one group are a
    DataError: the group's rows would land in two splits); the other rows are split by
    :func:`split_by_group` with ``val_fraction`` / ``test_fraction`` of *their* number.
    """
    groups, pinned = list(groups), [p or "" for p in pinned]
    pin_of: dict[str, str] = {}
    for g, p in zip(groups, pinned):
        if not p:
            continue
        if pin_of.setdefault(g, p) != p:
            raise DataError(f"group {g!r} is pinned to both {pin_of[g]!r} and {p!r}", source="reward_data")
    row_pin = np.asarray([pin_of.get(g, "") for g in groups], dtype=object)
    free = np.flatnonzero(row_pin == "")
    rest = split_by_group([groups[i] for i in free], val_fraction, test_fraction, seed)
    return {s: np.sort(np.concatenate([np.flatnonzero(row_pin == s), free[rest[s]]])) for s in SPLITS}


def _check_fraction(cfg, key: str) -> float:
    value = float(cfg.get(key, 0.0) or 0.0)
    if not 0 <= value < 1:
        raise DataError(f"must be in [0, 1), got {value}", source=f"reward_data.{key}")
    return value


def load_labelled(reward_data_cfg, aspects: Sequence[str], seed: int) -> datasets.DatasetDict:
    """Build every source of ``reward_data_cfg.sources`` and return train / validation / test.

    Per source: ``hydra.utils.instantiate`` the node; :func:`validate_rows` on the scores it has
    (bad data is an error, naming the file or ``reward_data.sources.<i>``); :func:`to_schema` for
    ``aspects``; rows that label none of ``aspects`` are dropped (they carry no training signal;
    logged). Then concatenate, shuffle with ``seed``, keep the first ``max_rows`` rows, and split
    with :func:`assign_splits` (pinned rows to their split; the others ``val_fraction`` /
    ``test_fraction`` by group: the prompt, or the source's ``group`` column). An aspect labelled
    by no row gets a warning, not an error; no rows at all is a :class:`DataError`. Columns:
    :func:`columns` (``aspects``); preference rows have a non-empty ``rejected``.
    """
    aspects = list(aspects)
    if not aspects:
        raise DataError("no aspects given", source="reward.aspects")
    nodes = list(reward_data_cfg.get("sources") or [])
    if reward_data_cfg.get("policy_samples"):  # the policy's own answers (mogrpo/data/policy_samples.py)
        node = {"_target_": "mogrpo.data.policy_samples.policy_samples",
                "path": str(reward_data_cfg.get("policy_samples")), "seed": seed}
        if reward_data_cfg.get("policy_sample_kinds"):
            node["kinds"] = list(reward_data_cfg.get("policy_sample_kinds"))
        nodes.append(node)
    if not nodes:
        raise DataError("no sources configured", source="reward_data.sources")
    val_fraction = _check_fraction(reward_data_cfg, "val_fraction")
    test_fraction = _check_fraction(reward_data_cfg, "test_fraction")
    if val_fraction + test_fraction >= 1:
        raise DataError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no training rows",
            source="reward_data",
        )
    max_rows = reward_data_cfg.get("max_rows")
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1):
        raise DataError(
            f"must be a positive integer or null, got {max_rows!r}", source="reward_data.max_rows"
        )

    parts = []
    for i, node in enumerate(nodes):
        name, raw = _instantiate_source(i, node)
        scored = score_columns(raw)
        not_numeric = [a for a in aspects if a in raw.column_names and a not in scored]
        if not_numeric:
            raise DataError(f"aspect column(s) {not_numeric} are not numeric: {raw.features}", source=name)
        validate_rows(raw, scored, name)
        ds = to_schema(raw, aspects, name)
        dropped = [c for c in scored if c not in aspects]
        keep = np.flatnonzero(~np.isnan(np.stack([_scores(ds, a) for a in aspects], axis=1)).all(axis=1))
        if len(keep) < len(ds):
            log.info(
                "%s: %d of %d rows label none of %s; dropped", name, len(ds) - len(keep), len(ds), aspects
            )
            ds = ds.select(keep)
        log.info(
            "%s: %d rows, labels %s%s",
            name,
            len(ds),
            aspect_coverage(ds, aspects),
            f" (columns {dropped} not in the aspects; dropped)" if dropped else "",
        )
        if len(ds):
            parts.append(ds)
    if not parts:
        raise DataError(f"no rows label any of the aspects {aspects}", source="reward_data.sources")

    full = datasets.concatenate_datasets(parts).shuffle(seed=seed)
    if max_rows is not None and max_rows < len(full):
        full = full.select(range(max_rows))
    idx = assign_splits(_texts(full, GROUP_COLUMN), _texts(full, SPLIT_COLUMN), val_fraction, test_fraction, seed)
    if len(idx["train"]) == 0:
        raise DataError(
            f"{len(full)} rows in {len(set(_texts(full, GROUP_COLUMN)))} prompt groups leave no training rows",
            source="reward_data",
        )
    full = full.remove_columns([GROUP_COLUMN, SPLIT_COLUMN])
    out = datasets.DatasetDict({s: full.select(idx[s]) for s in SPLITS})
    coverage = aspect_coverage(out, aspects)
    for a, count in coverage.items():
        if count == 0:
            log.warning("no row labels aspect %r: its head gets no training signal from reward_data", a)
    log.info("reward data: %s rows, coverage %s", {s: len(d) for s, d in out.items()}, coverage)
    return out
