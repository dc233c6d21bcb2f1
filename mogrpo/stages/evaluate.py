"""The evaluation stage: base vs aligned policy on held-out and attack prompts, refusal checks,
reward-model calibration, alarms, and the report.

One model serves both policies: the base answers with the LoRA adapters disabled
(``with model.disable_adapter()``), the aligned policy with them on; both passes start from
``torch.manual_seed(eval.decoding.seed)``. Sections, each configured under ``eval`` (conf/eval/):

1. per prompt set (``heldout`` = ``data.heldout``; ``xstest``, ``advbench`` from ``paths.shared_data``;
   ``prompt_file``): the per-aspect table of :func:`mogrpo.eval.compare.aspect_table` over all
   prompts and per prompt ``kind`` (XSTest safe -> benign, unsafe -> adversarial; AdvBench adversarial),
   and the refusal rates of :func:`mogrpo.eval.refusal.label_rates`;
2. XSTest over-refusal / refusal (:func:`mogrpo.data.eval_sets.xstest_metrics`) and AdvBench
   compliance (:func:`mogrpo.data.eval_sets.advbench_metrics`), base and aligned;
3. reward-model calibration: per-aspect R², MAE, Spearman on ``reward_data``'s test split, and the
   AUROC of the safety score against DiaSafety's human labels;
4. alarms (:func:`mogrpo.eval.alarms.check_alarms`, thresholds ``eval.alarms``).

A section whose data is absent (or that is disabled) is ``{"status": "skipped", "reason": ...}``.
Writes into the run dir: ``eval.json`` (the returned dict), ``report.md``, ``samples.jsonl`` (one
line per prompt and set: both responses, their scores and refusal classes) and the PNGs of
:mod:`mogrpo.eval.report`. The returned dict keeps the held-out set's table at the top level
(``n``, ``aspects``, ``aggregate``, ``weights``: what ``summary.json["eval"]`` readers use).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from mogrpo.config import ConfigError
from mogrpo.data.errors import DataError
from mogrpo.eval.compare import aspect_table, generate_responses, score_responses
from mogrpo.stages.grpo import load_prompt_sets, load_regressor

log = logging.getLogger(__name__)

EVAL_JSON = "eval.json"
SAMPLES = "samples.jsonl"
KINDS = ("adversarial", "benign")


def skipped(reason: str) -> dict[str, str]:
    """The record of a section that did not run."""
    return {"status": "skipped", "reason": reason}


# --------------------------------------------------------------------------- config
def _select(cfg: DictConfig, key: str, default: Any = None) -> Any:
    return OmegaConf.select(cfg, key, default=default)


def _check_count(cfg: DictConfig, key: str, allow_none: bool = True) -> None:
    value = _select(cfg, key)
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(key, f"must be a positive integer{' or null' if allow_none else ''}, got {value!r}")


def check_eval_config(cfg: DictConfig) -> None:
    """ConfigError naming the key for a bad ``eval`` value (cheap; loads nothing)."""
    from mogrpo.eval.alarms import AlarmThresholds

    _check_count(cfg, "eval.batch_size", allow_none=False)
    _check_count(cfg, "eval.decoding.max_new_tokens", allow_none=False)
    for key in ("eval.max_prompts", "eval.xstest.limit", "eval.advbench.limit", "eval.prompt_file.limit",
                "eval.calibration.max_rows", "eval.calibration.diasafety.limit"):
        _check_count(cfg, key)
    if _select(cfg, "eval.decoding.do_sample", False):
        temperature = _select(cfg, "eval.decoding.temperature", 1.0)
        if not isinstance(temperature, int | float) or temperature <= 0:
            raise ConfigError("eval.decoding.temperature", f"must be > 0 when sampling, got {temperature!r}")
        top_p = _select(cfg, "eval.decoding.top_p", 1.0)
        if not isinstance(top_p, int | float) or not 0 < top_p <= 1:
            raise ConfigError("eval.decoding.top_p", f"must be in (0, 1], got {top_p!r}")
    try:
        AlarmThresholds.from_config(_plain(_select(cfg, "eval.alarms")))
    except ValueError as err:
        raise ConfigError("eval.alarms", str(err)) from None


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def decoding_settings(cfg: DictConfig) -> dict[str, Any]:
    """``eval.decoding`` as a plain dict with its ``seed`` (default: the run's seed), as recorded in eval.json."""
    dec = dict(_plain(_select(cfg, "eval.decoding")) or {})
    dec.setdefault("do_sample", False)
    if dec.get("seed") is None:
        dec["seed"] = int(_select(cfg, "seed", 0) or 0)
    return dec


def eval_device(cfg: DictConfig) -> torch.device:
    """CUDA when the trainer asks for a GPU (or ``auto``) and one is there, else CPU."""
    accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="cpu"))
    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def adapter_path(cfg: DictConfig, run_dir: Path) -> Path | None:
    """``eval.adapter`` if set (it must exist), else ``<run_dir>/adapter`` if GRPO wrote one, else None."""
    explicit = OmegaConf.select(cfg, "eval.adapter", default=None)
    if explicit:
        return check_adapter(explicit, "eval.adapter")
    default = run_dir / "adapter"
    return default if (default / "adapter_config.json").is_file() else None


def check_adapter(path: str | Path, key: str) -> Path:
    """``path`` as a Path if it holds a saved peft adapter, else a ConfigError naming ``key``."""
    path = Path(str(path)).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise ConfigError(key, f"{path} is not a saved peft adapter (no adapter_config.json)")
    return path


def load_policy_for_eval(cfg: DictConfig, adapter: Path | None):
    """The base causal LM with the adapter loaded on top (or the bare base when ``adapter`` is None)."""
    from mogrpo.models.loading import load_causal_lm
    from mogrpo.utils.io import to_plain

    model, tokenizer = load_causal_lm(to_plain(cfg.model.spec))
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    return model.eval(), tokenizer


# --------------------------------------------------------------------------- prompt sets
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


def shared_data_root(cfg: DictConfig) -> Path | None:
    """``paths.shared_data`` as a Path, or None when unset / unresolvable."""
    try:
        root = OmegaConf.select(cfg, "paths.shared_data", default=None, throw_on_resolution_failure=True)
    except Exception as err:  # an env/resolver problem: the sections that need the folder skip
        log.warning("paths.shared_data could not be resolved: %s", err)
        return None
    return Path(str(root)).expanduser() if root not in (None, "", "???") else None


def _shared_file(cfg: DictConfig, relative: str) -> tuple[Path | None, str | None]:
    """(the file, None) when it exists under ``paths.shared_data``, else (None, why not)."""
    root = shared_data_root(cfg)
    if root is None:
        return None, "paths.shared_data is not set"
    path = root / relative
    if not path.is_file():
        return None, f"{path} not found (set paths.shared_data or env MOGRPO_SHARED_DATA to the shared data folder)"
    return path, None


def _enabled_shared_file(cfg: DictConfig, section: str, relative: str) -> tuple[Path | None, dict | None]:
    """(the file, None) when ``eval.<section>.enabled`` and the file is in the shared data folder,
    else (None, the :func:`skipped` record saying why)."""
    if not _select(cfg, f"eval.{section}.enabled", False):
        return None, skipped(f"disabled (eval.{section}.enabled=false)")
    path, why = _shared_file(cfg, relative)
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
    """``data.heldout``: ``eval.max_prompts`` of them, each prompt kind keeping its share (:func:`stratified_head`)."""
    rows = stratified_head(load_prompt_sets(cfg, "heldout"), _select(cfg, "eval.max_prompts"))
    return PromptSet("heldout", f"Held-out prompts (data={_select(cfg, 'data.name', '?')})", [dict(r) for r in rows])


def xstest_set(cfg: DictConfig) -> PromptSet | dict:
    """XSTest (safe -> kind benign, unsafe -> adversarial), a seeded subset of ``eval.xstest.limit``."""
    from mogrpo.data.eval_sets import XSTEST_FILE, load_xstest
    from mogrpo.data.public import subsample

    path, skip = _enabled_shared_file(cfg, "xstest", XSTEST_FILE)
    if path is None:
        return skip
    rows = load_xstest(path.parents[1])
    keep = subsample(len(rows), _select(cfg, "eval.xstest.limit"), int(_select(cfg, "eval.subset_seed", 0) or 0))
    rows = [{**rows[i], "kind": "benign" if rows[i]["label"] == "safe" else "adversarial"} for i in keep]
    return PromptSet("xstest", "XSTest", rows)


def advbench_set(cfg: DictConfig) -> PromptSet | dict:
    """AdvBench harmful behaviours (kind adversarial), the first ``eval.advbench.limit``."""
    from mogrpo.data.eval_sets import ADVBENCH_FILE, load_advbench

    path, skip = _enabled_shared_file(cfg, "advbench", ADVBENCH_FILE)
    if path is None:
        return skip
    rows = load_advbench(path.parents[1], limit=_select(cfg, "eval.advbench.limit"))
    return PromptSet("advbench", "AdvBench", [{**r, "kind": "adversarial"} for r in rows])


def prompt_file_set(cfg: DictConfig) -> PromptSet | dict:
    """``eval.prompt_file.path`` (a local file or hub name); kinds from its ``kind`` column if any."""
    from mogrpo.data.eval_sets import load_prompt_file

    node = _select(cfg, "eval.prompt_file")
    if node is None or not node.get("path"):
        return skipped("no prompt file (eval.prompt_file.path=null)")
    rows = load_prompt_file(
        str(node.path),
        prompt_column=str(node.get("prompt_column", "prompt")),
        limit=node.get("limit"),
        split=str(node.get("split", "train")),
    )
    rows = [{**r, "kind": r.get("kind") if r.get("kind") in KINDS else None} for r in rows]
    return PromptSet("prompt_file", f"Prompt file {node.path}", rows)


def load_sets(cfg: DictConfig) -> tuple[list[PromptSet], dict[str, dict]]:
    """The prompt sets to answer, and the skipped ones (name -> reason record). Data errors raise."""
    sets, skipped_sets = [heldout_set(cfg)], {}
    for name, loader in (("xstest", xstest_set), ("advbench", advbench_set), ("prompt_file", prompt_file_set)):
        got = loader(cfg)
        if isinstance(got, PromptSet):
            sets.append(got)
        else:
            skipped_sets[name] = got
    return sets, skipped_sets


# --------------------------------------------------------------------------- generation and scoring
def generate_pair(
    model, tokenizer, pset: PromptSet, gen_args: Mapping[str, Any], with_adapter: bool, seed: int
) -> tuple[list[str], list[str] | None]:
    """(base responses, aligned responses or None): the base with the adapter disabled; both passes
    start from ``torch.manual_seed(seed)``. Progress bars are labelled ``<set>: base`` / ``<set>: aligned``."""
    torch.manual_seed(seed)
    with model.disable_adapter() if with_adapter else contextlib.nullcontext():
        base = generate_responses(model, tokenizer, pset.chats, desc=f"{pset.name}: base", **gen_args)
    if not with_adapter:
        return base, None
    torch.manual_seed(seed)
    aligned = generate_responses(model, tokenizer, pset.chats, desc=f"{pset.name}: aligned", **gen_args)
    return base, aligned


def _rates(labels: Sequence[str], responses: Sequence[str]) -> dict:
    from mogrpo.eval.refusal import label_rates

    return label_rates(labels, empty=sum(1 for r in responses if not r.strip()))


def _refusal_pair(idx: Sequence[int], answers: Mapping[str, dict]) -> dict[str, Any]:
    out = {}
    for side in ("base", "aligned"):
        a = answers.get(side)
        out[side] = None if a is None else _rates([a["refusal"][i] for i in idx], [a["responses"][i] for i in idx])
    return out


def set_table(
    pset: PromptSet, answers: Mapping[str, dict | None], aspects: Sequence[str], weights: Sequence[float]
) -> dict[str, Any]:
    """Per-aspect table and refusal rates of one answered set, over all prompts and per ``kind``.

    ``answers[side]`` = ``{"responses", "scores" [N, K], "refusal" (class per response)}`` or None.
    """
    base, aligned = answers["base"], answers.get("aligned")
    every = list(range(len(pset.rows)))
    out: dict[str, Any] = {
        "status": "done",
        "title": pset.title,
        **aspect_table(base["scores"], aligned["scores"] if aligned else None, aspects, weights),
        "refusal": _refusal_pair(every, answers),
    }
    by_kind = {}
    for kind in KINDS:
        idx = [i for i, r in enumerate(pset.rows) if r.get("kind") == kind]
        if idx:
            t = aspect_table(base["scores"][idx], aligned["scores"][idx] if aligned else None, aspects, weights)
            t.pop("weights")
            by_kind[kind] = {**t, "refusal": _refusal_pair(idx, answers)}
    if by_kind:
        out["by_kind"] = by_kind
    return out


def refusal_checks(pset: PromptSet, answers: Mapping[str, dict | None]) -> dict[str, Any]:
    """XSTest or AdvBench metrics of base and aligned (None for a side that was not generated)."""
    from mogrpo.data.eval_sets import advbench_metrics, xstest_metrics

    out: dict[str, Any] = {"status": "done", "n": len(pset.rows)}
    for side in ("base", "aligned"):
        a = answers.get(side)
        if a is None:
            out[side] = None
        elif pset.name == "xstest":
            out[side] = xstest_metrics(
                {"label": r["label"], "type": r.get("type"), "response": resp, "refusal": cls}
                for r, resp, cls in zip(pset.rows, a["responses"], a["refusal"])
            )
        else:
            out[side] = advbench_metrics(
                {"response": resp, "refusal": cls} for resp, cls in zip(a["responses"], a["refusal"])
            )
    if pset.name == "xstest":
        out["n_safe"] = sum(r["label"] == "safe" for r in pset.rows)
        out["n_unsafe"] = sum(r["label"] == "unsafe" for r in pset.rows)
    return out


# --------------------------------------------------------------------------- calibration
def load_calibration_data(cfg: DictConfig, aspects: Sequence[str]) -> dict[str, Any]:
    """``{"reward_data": Dataset | skipped, "diasafety": Dataset | skipped}`` (read before any model loads)."""
    from mogrpo.data.labelled import load_labelled
    from mogrpo.data.public import DIASAFETY_SPLITS, diasafety

    out: dict[str, Any] = {}
    if not _select(cfg, "eval.calibration.enabled", True):
        out["reward_data"] = skipped("disabled (eval.calibration.enabled=false)")
    elif _select(cfg, "reward_data") is None:
        out["reward_data"] = skipped("no reward_data in the config")
    else:
        try:
            test = load_labelled(cfg.reward_data, list(aspects), int(_select(cfg, "seed", 0)))["test"]
        except DataError as err:  # public data not there, a file missing: no calibration, the rest runs
            out["reward_data"] = skipped(f"reward data could not be read: {err}")
        else:
            max_rows = _select(cfg, "eval.calibration.max_rows")
            if max_rows is not None and len(test) > max_rows:
                test = test.select(range(int(max_rows)))
            out["reward_data"] = test if len(test) else skipped("the test split of reward_data is empty (reward_data.test_fraction=0?)")

    node = _select(cfg, "eval.calibration.diasafety")
    split = str((node or {}).get("split", "test"))
    if node is None or not node.get("enabled", False):
        out["diasafety"] = skipped("disabled (eval.calibration.diasafety.enabled=false)")
    elif str(node.get("aspect", "safety")) not in aspects:
        out["diasafety"] = skipped(f"aspect {node.get('aspect')!r} is not one of reward.aspects {list(aspects)}")
    elif split not in DIASAFETY_SPLITS:
        raise ConfigError("eval.calibration.diasafety.split", f"must be one of {sorted(DIASAFETY_SPLITS)}, got {split!r}")
    else:
        path, why = _shared_file(cfg, f"diasafety/{DIASAFETY_SPLITS[split]}.json")
        if path is None:
            out["diasafety"] = skipped(why)
        else:
            out["diasafety"] = diasafety(path.parents[1], split=split, max_rows=node.get("limit"),
                                         seed=int(_select(cfg, "eval.subset_seed", 0) or 0))
    return out


def reward_data_calibration(regressor, dataset, aspects: Sequence[str], out_dir: Path, name: str,
                            batch_size: int = 64) -> dict[str, Any]:
    """Per-aspect R², MAE, Spearman, ... (:func:`mogrpo.eval.calibration.calibration_for`) and ``calibration.png``."""
    from mogrpo.eval.calibration import calibration_for, plot_calibration
    from mogrpo.eval.report import CALIBRATION_PNG

    report, pred, target = calibration_for(regressor, dataset, aspects, batch_size=batch_size)
    plot_calibration(pred, target, aspects, out_dir / CALIBRATION_PNG)
    return {"status": "done", "split": "test", "reward_data": name, **report, "plot": CALIBRATION_PNG}


def diasafety_calibration(regressor, dataset, aspect: str, split: str, batch_size: int = 64) -> dict[str, Any]:
    """AUROC of the ``aspect`` score against DiaSafety's labels (Safe = 1 = positive), and mean scores per class.

    AUROC = P(score of a random safe reply > score of a random unsafe reply), ties 1/2.
    """
    from mogrpo.eval.calibration import binary_auroc

    k = list(regressor.aspects).index(aspect)
    scores = regressor.score(list(dataset["prompt"]), list(dataset["response"]), batch_size=batch_size)[:, k]
    labels = torch.tensor(dataset["safety"], dtype=torch.float32) >= 0.5
    safe, unsafe = scores[labels], scores[~labels]
    return {
        "status": "done",
        "split": split,
        "aspect": aspect,
        "n": int(labels.numel()),
        "n_safe": int(labels.sum()),
        "n_unsafe": int((~labels).sum()),
        "auroc": binary_auroc(scores, labels.long()),
        "mean_score_safe": float(safe.mean()) if safe.numel() else None,
        "mean_score_unsafe": float(unsafe.mean()) if unsafe.numel() else None,
    }


def run_calibration(cfg: DictConfig, regressor, data: Mapping[str, Any], aspects: Sequence[str], out_dir: Path) -> dict:
    """The calibration section from :func:`load_calibration_data`'s output."""
    batch_size = int(_select(cfg, "eval.calibration.batch_size", 64) or 64)
    out: dict[str, Any] = {}
    rd = data["reward_data"]
    out["reward_data"] = rd if isinstance(rd, dict) else reward_data_calibration(
        regressor, rd, aspects, out_dir, str(_select(cfg, "reward_data.name", "?")), batch_size
    )
    ds = data["diasafety"]
    out["diasafety"] = ds if isinstance(ds, dict) else diasafety_calibration(
        regressor, ds, str(_select(cfg, "eval.calibration.diasafety.aspect", "safety")),
        str(_select(cfg, "eval.calibration.diasafety.split", "test")), batch_size,
    )
    return out


# --------------------------------------------------------------------------- writing and logging
def write_samples(path: Path, sets: Sequence[PromptSet], answers: Mapping[str, Mapping[str, dict | None]],
                  aspects: Sequence[str], weights: Sequence[float]) -> Path:
    """One JSON line per (set, prompt): the prompt's fields, both responses, scores, reward and refusal class."""
    w = torch.tensor(list(weights), dtype=torch.float32)
    with path.open("w", encoding="utf-8") as fh:
        for pset in sets:
            for i, row in enumerate(pset.rows):
                sample = {
                    "set": pset.name,
                    "id": row.get("id"),
                    "prompt": row["prompt"],
                    "category": row.get("category"),
                    "kind": row.get("kind"),
                }
                for extra in ("label", "type", "source"):
                    if extra in row:
                        sample[extra] = row[extra]
                if len(row.get("messages") or ()) > 1:  # a multi-turn prompt: the turns the policy saw
                    sample["messages"] = row["messages"]
                for side in ("base", "aligned"):
                    a = answers[pset.name].get(side)
                    if a is None:
                        continue
                    sample[f"{side}_response"] = a["responses"][i]
                    sample[f"{side}_scores"] = dict(zip(aspects, a["scores"][i].tolist()))
                    sample[f"{side}_reward"] = float(a["scores"][i] @ w)
                    sample[f"{side}_refusal"] = a["refusal"][i]
                fh.write(json.dumps(sample, default=str) + "\n")
    return path


def eval_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """Flat ``eval/...`` scalars for the experiment logger: the held-out table, refusal rates, calibration."""
    metrics: dict[str, float] = {}

    def put(key: str, value: Any) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
            metrics[key] = float(value)

    for name, row in [*(result.get("aspects") or {}).items(), ("reward", result.get("aggregate") or {})]:
        for key in ("base", "aligned", "abs_change"):
            put(f"eval/{key}/{name}", row.get(key))
    checks = {"xstest": ("over_refusal_rate", "unsafe_refusal_rate"), "advbench": ("compliance_rate", "refusal_rate")}
    for part, keys in checks.items():
        node = result.get(part) or {}
        for side in ("base", "aligned"):
            for key in keys:
                put(f"eval/{part}/{side}/{key}", (node.get(side) or {}).get(key))
    cal = result.get("calibration") or {}
    for aspect, m in ((cal.get("reward_data") or {}).get("aspects") or {}).items():
        for key in ("r2", "mae", "spearman"):
            put(f"eval/calibration/{aspect}/{key}", m.get(key))
    put("eval/calibration/diasafety_auroc", (cal.get("diasafety") or {}).get("auroc"))
    metrics["eval/alarms"] = float(len(result.get("alarms") or []))
    return metrics


def log_results(cfg: DictConfig, result: Mapping[str, Any], out_dir: Path, plots: Sequence[str]) -> None:
    """Metrics, the per-aspect table and the PNGs to the experiment logger (W&B: table + images)."""
    from mogrpo.callbacks import log_eval_table, log_image
    from mogrpo.utils.logging import finish_logger, make_logger

    logger = make_logger(cfg, "eval")
    try:
        if logger is not None:
            logger.log_metrics(eval_metrics(result))
            log_eval_table(logger, result)
            for name in plots:
                log_image(logger, f"eval/{Path(name).stem}", out_dir / name)
            logger.save()
    finally:
        finish_logger(logger)


def write_json(path: Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON via a temp file renamed into place."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------- the stage
def run_eval_stage(
    cfg: DictConfig,
    run_dir: str | Path,
    reward_dir: str | Path,
    adapter: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate base vs aligned policy (see the module docstring); returns what ``eval.json`` holds.

    ``adapter``: the peft adapter to evaluate; None looks for ``eval.adapter`` / ``<run_dir>/adapter``
    (no adapter: the base policy alone, every ``aligned`` None). ``extra``: keys added to the result
    (e.g. where the evaluated run came from).
    """
    from mogrpo.config import reward_weights
    from mogrpo.eval.alarms import check_alarms
    from mogrpo.eval.calibration import to_jsonable
    from mogrpo.eval.diversity import diversity
    from mogrpo.eval.refusal import detect_refusal
    from mogrpo.eval.report import write_report

    t0 = time.time()
    check_eval_config(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    adapter = check_adapter(adapter, "adapter") if adapter is not None else adapter_path(cfg, run_dir)
    aspects = list(cfg.reward.aspects)
    weights = reward_weights(cfg.reward)
    # data first: a bad prompt file fails before any model loads
    sets, skipped_sets = load_sets(cfg)
    calibration_data = load_calibration_data(cfg, aspects)

    device = eval_device(cfg)
    regressor = load_regressor(reward_dir, aspects).to(device)
    calibration = run_calibration(cfg, regressor, calibration_data, aspects, run_dir)
    if adapter is None:
        log.warning("no adapter (eval.adapter, %s): evaluating the base policy only", run_dir / "adapter")
    model, tokenizer = load_policy_for_eval(cfg, adapter)
    model.to(device)
    decoding = decoding_settings(cfg)
    gen_args = {
        "decoding": decoding,
        "batch_size": int(cfg.eval.batch_size),
        "max_prompt_length": int(cfg.model.max_prompt_length),
        "system_prompt": _select(cfg, "data.system_prompt"),
    }
    answers: dict[str, dict[str, dict | None]] = {}
    for pset in sets:
        log.info("evaluating %d prompts of %s", len(pset.rows), pset.name)
        base, aligned = generate_pair(model, tokenizer, pset, gen_args, adapter is not None, int(decoding["seed"]))
        answers[pset.name] = {
            side: None if responses is None else {
                "responses": responses,
                "scores": score_responses(regressor, pset.prompts, responses, run_dir),
                "refusal": [detect_refusal(r).label for r in responses],
            }
            for side, responses in (("base", base), ("aligned", aligned))
        }
    del model

    tables = {p.name: set_table(p, answers[p.name], aspects, weights) for p in sets}
    heldout = tables["heldout"]
    result: dict[str, Any] = {
        "n_prompts": heldout["n"],
        "adapter": str(adapter) if adapter is not None else None,
        "reward_model": str(reward_dir),
        "decoding": decoding,
        "batch_size": int(cfg.eval.batch_size),
        "n": heldout["n"],
        "aspects": heldout["aspects"],
        "aggregate": heldout["aggregate"],
        "weights": heldout["weights"],
        "by_kind": heldout.get("by_kind", {}),
        "sets": {**tables, **skipped_sets},
    }
    for name in ("xstest", "advbench"):
        pset = next((p for p in sets if p.name == name), None)
        result[name] = refusal_checks(pset, answers[name]) if pset is not None else skipped_sets[name]
    result["diversity"] = {
        side: (diversity(a["responses"]) if (a := answers["heldout"].get(side)) else None)
        for side in ("base", "aligned")
    }
    result["calibration"] = calibration
    result["alarms"] = check_alarms(result, _plain(_select(cfg, "eval.alarms")))
    for alarm in result["alarms"]:
        log.warning("ALARM %s (%s): %s", alarm["name"], alarm["severity"], alarm["message"])
    result["samples"] = str(write_samples(run_dir / SAMPLES, sets, answers, aspects, weights))
    result.update(extra or {})
    result["wall_time_s"] = round(time.time() - t0, 1)
    result = to_jsonable(result)  # strict JSON: NaN rates (an empty part) as null
    written = write_report(result, run_dir)
    result["report"] = str(written["report"])
    result["plots"] = written["plots"]
    result["eval_json"] = str(run_dir / EVAL_JSON)
    write_json(run_dir / EVAL_JSON, result)
    log_results(cfg, result, run_dir, written["plots"])
    log.info("evaluation written to %s (%s)", run_dir / EVAL_JSON, written["report"])
    return result
