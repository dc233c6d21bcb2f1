"""The GRPO prompt mix: one split of the chosen sources, deduplicated, with a set adversarial:benign ratio.

:func:`prompt_mix` (``conf/data/real_mix.yaml`` instantiates it for ``data.train`` / ``data.validation``
/ ``data.heldout``) does, in this order:

1. each enabled source of :data:`~mogrpo.data.prompt_sources.SOURCES` (loader options from its config
   entry), keeping the prompts of ``split``; ``max_prompts`` of a source caps its prompts in that
   split (a seeded random subset);
2. dedupe across sources by normalised text (the first source in ``sources`` order keeps it; the same
   text is in the same split everywhere, so this never moves a prompt across splits);
3. drops the prompts of the evaluation-only sets found under ``root`` (:mod:`mogrpo.data.eval_only`);
4. the ratio: with A adversarial and B benign prompts and f = ``adversarial_fraction``, the larger
   side is subsampled (seeded) so that a / (a + b) = f:

       A (1 - f) > B f:   a = round(B f / (1 - f)),  b = B       (f = 1: b = 0)
       otherwise:         a = A,  b = round(A (1 - f) / f)       (f = 0: a = 0)

   ``adversarial_fraction=None`` keeps every prompt (the sources' own ratio);
5. ``max_prompts`` = M caps the whole mix, each kind keeping its share: a' = round(M a / (a + b)),
   b' = M - a';
6. a seeded shuffle, so the first prompts of the held-out set (``eval.max_prompts``) come from every
   source, not only the first.

Every random step draws from ``random.Random`` seeded by ``seed`` and the step's name, so the same
config gives the same prompts (the config's ``data.mix_seed`` is fixed, not the run's seed, so runs
with different seeds train and are evaluated on the same prompts).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mogrpo.data.eval_only import drop_eval_only
from mogrpo.data.prompt_sources import KINDS, SOURCES, dedupe
from mogrpo.data.splits import SPLITS
from mogrpo.errors import DataError

log = logging.getLogger(__name__)

#: keys of a source's config entry that the mix reads; the others are passed to the loader
MIX_KEYS = ("enabled", "max_prompts")


def _subsample(prompts: Sequence[dict], k: int | None, rng: random.Random) -> list[dict]:
    """``k`` of ``prompts`` drawn by ``rng``, in their order (all of them when ``k`` is None or >= len)."""
    if k is None or k >= len(prompts):
        return list(prompts)
    keep = sorted(rng.sample(range(len(prompts)), int(k)))
    return [prompts[i] for i in keep]


def _check_count(value: Any, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise DataError(f"{what} must be an integer >= 0 or null, got {value!r}", source="prompt_mix")


def source_settings(sources: Mapping | Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """``{name: settings}`` of the enabled sources. ``sources``: None (every source, defaults), a list of
    names, or a mapping name -> true / false / null (off) / ``{enabled, max_prompts, <loader options>}``."""
    if sources is None:
        sources = list(SOURCES)
    if not isinstance(sources, Mapping):
        sources = {name: {} for name in sources}
    unknown = [name for name in sources if name not in SOURCES]
    if unknown:
        raise DataError(f"unknown prompt source(s) {unknown}; known: {list(SOURCES)}", source="prompt_mix")
    out = {}
    for name, entry in sources.items():
        if entry is None or entry is False:
            continue
        entry = {} if entry is True else dict(entry)
        if entry.get("enabled", True):
            _check_count(entry.get("max_prompts"), f"sources.{name}.max_prompts")
            out[name] = entry
    return out


def _load_source(name: str, root: str | Path | None, split: str, settings: Mapping, seed: int) -> list[dict]:
    options = {k: v for k, v in settings.items() if k not in MIX_KEYS}
    try:
        prompts = SOURCES[name](root, **options)
    except TypeError as err:  # an option the loader does not take
        raise DataError(f"bad options {options} for source {name!r}: {err}", source="prompt_mix") from None
    prompts = [p for p in prompts if p["split"] == split]
    return _subsample(prompts, settings.get("max_prompts"), random.Random(f"{seed}/{name}"))


def balance_counts(n_adversarial: int, n_benign: int, fraction: float | None) -> tuple[int, int]:
    """How many adversarial and benign prompts to keep for ``fraction`` (see the module docstring, step 4)."""
    if fraction is None:
        return n_adversarial, n_benign
    if fraction >= 1:
        return n_adversarial, 0
    if fraction <= 0:
        return 0, n_benign
    if n_adversarial * (1 - fraction) > n_benign * fraction:
        return min(n_adversarial, round(n_benign * fraction / (1 - fraction))), n_benign
    return n_adversarial, min(n_benign, round(n_adversarial * (1 - fraction) / fraction))


def cap_counts(n_adversarial: int, n_benign: int, max_prompts: int | None) -> tuple[int, int]:
    """At most ``max_prompts`` in all, each kind keeping its share (see the module docstring, step 5)."""
    total = n_adversarial + n_benign
    if max_prompts is None or total <= max_prompts:
        return n_adversarial, n_benign
    a = min(n_adversarial, round(max_prompts * n_adversarial / total))
    return a, min(n_benign, max_prompts - a)


def prompt_mix(
    root: str | Path | None,
    split: str,
    sources: Mapping | Sequence[str] | None = None,
    adversarial_fraction: float | None = 0.5,
    max_prompts: int | None = None,
    seed: int = 0,
    shuffle: bool = True,
) -> list[dict]:
    """The prompts of ``split`` (train / validation / test) from ``sources`` (see the module docstring).

    ``root``: the shared data folder (``paths.shared_data``; only the builtin source works without it).
    Raises DataError for an unknown source or split, a bad fraction or count, a missing file (naming it
    and ``paths.shared_data``) and an empty result.
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {SPLITS}, got {split!r}", source="prompt_mix")
    if adversarial_fraction is not None and (
        isinstance(adversarial_fraction, bool)
        or not isinstance(adversarial_fraction, int | float)
        or not 0 <= adversarial_fraction <= 1
    ):
        raise DataError(
            f"adversarial_fraction must be in [0, 1] or null, got {adversarial_fraction!r}",
            source="prompt_mix",
        )
    _check_count(max_prompts, "max_prompts")
    settings = source_settings(sources)
    if not settings:
        raise DataError("no prompt source is enabled", source="prompt_mix")
    prompts = dedupe(p for name, s in settings.items() for p in _load_source(name, root, split, s, seed))
    kept = drop_eval_only(prompts, root)
    if len(kept) < len(prompts):
        log.info("prompt mix (%s): dropped %d evaluation-only prompts", split, len(prompts) - len(kept))
    by_kind = {kind: [p for p in kept if p["kind"] == kind] for kind in KINDS}
    counts = balance_counts(len(by_kind["adversarial"]), len(by_kind["benign"]), adversarial_fraction)
    counts = cap_counts(*counts, max_prompts)
    mixed = [
        p
        for kind, k in zip(KINDS, counts)
        for p in _subsample(by_kind[kind], k, random.Random(f"{seed}/{split}/{kind}"))
    ]
    if shuffle:
        random.Random(f"{seed}/{split}/order").shuffle(mixed)
    if not mixed:
        raise DataError(f"no prompts in split {split!r} from sources {list(settings)}", source="prompt_mix")
    log.info("prompt mix (%s): %d prompts, %s", split, len(mixed), dict(mix_counts(mixed)))
    return mixed


def mix_counts(prompts: Sequence[Mapping]) -> Counter:
    """``(source, kind) -> count`` of a prompt list."""
    return Counter((p.get("source"), p.get("kind")) for p in prompts)
