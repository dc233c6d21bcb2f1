"""Which speed paths of the policy can run on the installed libraries, and a record of the ones that ran.

The policy's fast paths (``mogrpo/models/policy.py``) lean on details of the transformers API that
move between releases; transformers 5.24 renamed the forward's ``past_key_values`` to ``cache``, and
a check for the old name switched two paths off without a word. So capabilities are detected here,
by inspection, in one place:

==========================  ==============================================================
path                        needs
==========================  ==============================================================
``fast_sampling``           an HF model whose forward takes a KV cache (``cache`` or
                            ``past_key_values``): generation then repeats the rows itself
``shared_prompt_prefill``   that, and ``DynamicCache(config=...)`` with
                            ``batch_repeat_interleave``
``grouped_logprobs``        the same as ``shared_prompt_prefill``
``logits_to_keep``          a forward that takes ``logits_to_keep``
``merged_lora``             plain LoRA ``Linear`` layers (no DoRA, no LoRA bias) on a float32,
                            unsharded base (bf16: the fold would round; FSDP: shard views)
==========================  ==============================================================

A path that cannot run logs ONE warning per process naming the path, the reason and the library
versions (:func:`warn_unavailable`); it never turns itself off silently. Every use of a path is
counted (:func:`record`, :func:`counts`), so a test, or a user, can see which paths really ran.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

PATHS = ("fast_sampling", "shared_prompt_prefill", "grouped_logprobs", "logits_to_keep", "merged_lora")
CACHE_KWARGS = ("cache", "past_key_values")  # the new name first

_used: Counter[str] = Counter()
_warned: set[tuple[str, str]] = set()
_switched_off: set[str] = set()


def versions() -> str:
    """``transformers X, peft Y, torch Z`` for messages."""
    out = []
    for name in ("transformers", "peft", "torch"):
        try:
            out.append(f"{name} {__import__(name).__version__}")
        except ImportError:  # pragma: no cover - all three are dependencies
            out.append(f"{name} missing")
    return ", ".join(out)


def base_model(model):
    """The HF model under a peft wrapper (the model itself when it is not wrapped)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@functools.lru_cache(maxsize=64)
def _forward_parameters(cls: type) -> frozenset[str]:
    return frozenset(inspect.signature(cls.forward).parameters)


def forward_parameters(model) -> frozenset[str]:
    """The parameter names of the (base) model's ``forward``."""
    return _forward_parameters(type(base_model(model)))


def cache_kwarg(model) -> str | None:
    """The keyword under which the model's forward (and ``generate``) takes a KV cache, or None.

    ``cache`` from transformers 5.24 on, ``past_key_values`` before; None for a model that is not an
    HF model or takes no cache.
    """
    base = base_model(model)
    if not hasattr(base, "config"):
        return None
    params = forward_parameters(model)
    return next((name for name in CACHE_KWARGS if name in params), None)


def takes_logits_to_keep(model) -> bool:
    return "logits_to_keep" in forward_parameters(model)


@functools.lru_cache(maxsize=1)
def _dynamic_cache_problem() -> str | None:
    try:
        from transformers import DynamicCache
    except ImportError as err:  # pragma: no cover
        return f"transformers has no DynamicCache ({err})"
    if "config" not in inspect.signature(DynamicCache.__init__).parameters:
        return "DynamicCache takes no config="
    if not hasattr(DynamicCache, "batch_repeat_interleave"):
        return "DynamicCache has no batch_repeat_interleave"
    return None


def unavailable(model, path: str) -> str | None:
    """Why ``path`` cannot run for ``model`` on the installed libraries; None when it can."""
    if path not in PATHS:
        raise ValueError(f"unknown fast path {path!r}; paths are {PATHS}")
    if path == "merged_lora":
        from mogrpo.models.lora_merge import fold_problem

        return fold_problem(model)
    if path == "logits_to_keep":
        return None if takes_logits_to_keep(model) else f"{type(base_model(model)).__name__}.forward takes no logits_to_keep"
    if cache_kwarg(model) is None:
        names = " or ".join(repr(n) for n in CACHE_KWARGS)
        return f"{type(base_model(model)).__name__}.forward takes no KV cache argument ({names})"
    if path in ("shared_prompt_prefill", "grouped_logprobs"):
        return _dynamic_cache_problem()
    return None


def report(model) -> dict[str, str | None]:
    """``{path: None if it can run else the reason}`` for every path."""
    return {path: unavailable(model, path) for path in PATHS}


def warn_unavailable(path: str, reason: str) -> None:
    """Log once per process and reason that ``path`` is off, naming the library versions."""
    key = (path, reason)
    if key in _warned:
        return
    _warned.add(key)
    log.warning("fast path %r is off: %s (%s); that part runs at the plain path's speed", path, reason, versions())


def available(model, path: str, wanted: bool = True) -> bool:
    """Whether ``path`` runs for ``model``: False without a word when not ``wanted`` (switched off
    in config) or inside :func:`switched_off`, else False with :func:`warn_unavailable` when the
    libraries cannot do it."""
    if not wanted or path in _switched_off:
        return False
    reason = unavailable(model, path)
    if reason is not None:
        warn_unavailable(path, reason)
        return False
    return True


@contextlib.contextmanager
def switched_off(*paths: str) -> Iterator[None]:
    """Run the plain path instead of ``paths`` inside the block (benchmarks and equivalence tests)."""
    unknown = [p for p in paths if p not in PATHS]
    if unknown:
        raise ValueError(f"unknown fast path(s) {unknown}; paths are {PATHS}")
    before = set(_switched_off)
    _switched_off.update(paths)
    try:
        yield
    finally:
        _switched_off.clear()
        _switched_off.update(before)


def record(path: str) -> None:
    """Count one use of ``path``."""
    _used[path] += 1


def counts() -> dict[str, int]:
    """How often each path ran in this process (paths that never ran: 0)."""
    return {path: _used.get(path, 0) for path in PATHS}


def reset_counts() -> None:
    _used.clear()


def cache_kwargs(model, cache: Any) -> dict[str, Any]:
    """``{<the model's cache keyword>: cache}`` for a forward or ``generate`` call."""
    name = cache_kwarg(model)
    if name is None:
        raise TypeError(f"{type(base_model(model)).__name__} takes no KV cache")
    return {name: cache}
