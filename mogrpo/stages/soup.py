"""The soup stage: mix LoRA adapters at each coefficient vector and evaluate every soup on the held-out prompts.

For soup ``i`` (``soup.coefficients[i]``) it writes ``<out>/soup_<i>/adapter/`` (:func:`mogrpo.models.lora_soup.write_soup`)
and evaluates it with the evaluation stage (:func:`mogrpo.stages.evaluation.run_eval_stage`: ``eval.json``,
``report.md`` ... in ``<out>/soup_<i>/``, one W&B eval run tagged ``soup`` with the ``pareto/...`` summary
fields). ``<out>/soup.json`` lists every soup's per-aspect aligned means and the base model's means: what
``python -m mogrpo.summarize --soups <out>`` adds to the Pareto plots.

Each evaluation also answers with the base policy (the stage compares base and aligned), so a soup costs
two generation passes over the prompts.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mogrpo.configs.soup import SoupConfig
from mogrpo.errors import ConfigError
from mogrpo.utils.io import write_json

log = logging.getLogger(__name__)

SOUP_JSON = "soup.json"


def adapter_dir(path: str | Path, key: str) -> Path:
    """``path`` when it holds a saved adapter, else ``<path>/adapter`` (a run dir); ConfigError naming ``key``."""
    path = Path(path).expanduser()
    for candidate in (path, path / "adapter"):
        if (candidate / "adapter_config.json").is_file():
            return candidate
    raise ConfigError(key, f"{path} is neither an adapter dir nor a run dir with adapter/ (did its GRPO stage finish?)")


def soup_label(vector: tuple[float, ...]) -> str:
    """``soup 0.25`` (two adapters: the second's coefficient) or ``soup 0.2/0.3/0.5``."""
    return f"soup {vector[1]:g}" if len(vector) == 2 else "soup " + "/".join(f"{x:g}" for x in vector)


def run_soup_stage(cfg: DictConfig, out_dir: str | Path, reward_dir: str | Path) -> dict[str, Any]:
    """Write and evaluate every soup (see the module docstring); returns what ``soup.json`` holds."""
    from mogrpo.models.lora_soup import write_soup
    from mogrpo.stages.evaluation import run_eval_stage

    t0 = time.time()
    soup = SoupConfig.of(cfg)
    out_dir = Path(out_dir)
    adapters = [adapter_dir(a, f"soup.adapters.{i}") for i, a in enumerate(soup.adapters)]
    points, base = [], None
    for i, vector in enumerate(soup.vectors):
        job_dir = out_dir / f"soup_{i}"
        adapter = write_soup(adapters, vector, job_dir / "adapter")
        label = soup_label(vector)
        log.info("%s (%s): evaluating", label, ", ".join(f"{c:g} x {a}" for c, a in zip(vector, adapters)))
        job_cfg = cfg.copy()
        OmegaConf.update(job_cfg, "tags", [*(cfg.get("tags") or []), "soup", label.replace(" ", "=")], force_add=True)
        result = run_eval_stage(job_cfg, job_dir, reward_dir, adapter=adapter,
                                extra={"soup": {"adapters": [str(a) for a in adapters], "coefficients": vector}})  # fmt: skip
        aspects = result.get("aspects") or {}
        points.append({"label": label, "coefficients": list(vector), "dir": str(job_dir),
                       "aspects": {a: row.get("aligned") for a, row in aspects.items()}})  # fmt: skip
        base = base or {a: row.get("base") for a, row in aspects.items()}
    record = {
        "adapters": [str(a) for a in adapters],
        "aspects": list(base or {}),
        "split": OmegaConf.select(cfg, "eval.split", default="heldout"),
        "points": points,
        "base": base,
        "reward_model": str(reward_dir),
        "wall_time_s": round(time.time() - t0, 1),
    }
    write_json(out_dir / SOUP_JSON, record)
    log.info("soups written to %s", out_dir / SOUP_JSON)
    return record
