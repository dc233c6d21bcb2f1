"""Stage ``reward``: train, save and calibrate the multi-label reward regressor, or reuse one.

    resolve_reward_model(cfg, run_dir, force_train)
        reward_model.checkpoint set  -> use that directory (its aspects must equal reward.aspects)
        a cached regressor trained with the same encoder, data, aspects, seed and optimisation
        (and reward_model.reuse_cached, and not force_train) -> copy it into the run dir, and
        calibrate it again when its saved calibration reports another split or other weights
        otherwise                    -> train_reward_model, then keep a copy in the cache

A trained regressor lands in ``<run_dir>/reward_model/`` (loadable with
``MultiAspectRegressor.load``) with ``calibration.json`` / ``calibration.png`` beside it in the run
dir (and a copy inside, so a cached or given regressor carries its calibration along).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue
from torch import nn

from mogrpo.configs import RewardConfig, RewardDataConfig, RewardModelConfig
from mogrpo.errors import ConfigError, DataError
from mogrpo.stages.reward_ranking import log_calibration_summary, ranking_calibration
from mogrpo.utils import resolvers  # noqa: F401  (registers ${mogrpo.project_root:})
from mogrpo.utils.distributed import is_global_zero

log = logging.getLogger(__name__)

MODEL_DIR = "reward_model"
CALIBRATION_JSON = "calibration.json"
CALIBRATION_PNG = "calibration.png"
SPLITS = ("train", "validation", "test")


# --------------------------------------------------------------------------- data
def load_reward_data(cfg: DictConfig):
    """The labelled pairs of ``cfg.reward_data`` as a ``DatasetDict`` (train / validation / test)."""
    from mogrpo.data.labelled import load_labelled

    return load_labelled(cfg.reward_data, list(RewardConfig.of(cfg).aspects), int(cfg.seed))


def check_labelled(dataset, aspects: list[str], source: str) -> None:
    """Raise DataError unless ``dataset`` has the three splits, the columns, and training rows."""
    missing = [s for s in SPLITS if s not in dataset]
    if missing:
        raise DataError(f"labelled data lacks split(s) {missing}; has {list(dataset)}", source=source)
    for split in SPLITS:
        cols = set(dataset[split].column_names)
        lacking = [c for c in ("prompt", "response", *aspects) if c not in cols]
        if lacking:
            raise DataError(f"split {split!r} lacks column(s) {lacking}; has {sorted(cols)}", source=source)
    if len(dataset["train"]) == 0:
        raise DataError("no training rows (check reward_data.max_rows and the sources)", source=source)


# --------------------------------------------------------------------------- training
def freeze_unused(regressor) -> None:
    """Freeze the encoder's pooler: the regressor pools token states itself (``pooling``), so the pooler
    gets no gradient, and DDP (``find_unused_parameters: false``) would stop on a parameter without one."""
    pooler = getattr(regressor.encoder, "pooler", None)
    if isinstance(pooler, nn.Module):
        pooler.requires_grad_(False)


def freeze_embeddings(regressor) -> None:
    """Freeze the encoder's token, position and type embeddings (``reward_model.freeze_embeddings``).

    In MiniLM-L6 they are 12 of the 22 M parameters, nearly all in the 30522 x 384 token table, whose
    dense gradient and AdamW update every step cost CPU time for little gain when fine-tuning on a
    few thousand rows: the transformer layers and heads still train."""
    embeddings = getattr(regressor.encoder, "embeddings", None)
    if isinstance(embeddings, nn.Module):
        embeddings.requires_grad_(False)


def _log_image(logger, key: str, path: Path) -> None:
    """Log a PNG to W&B when the logger is a WandbLogger (never fails the run)."""
    try:
        from lightning.pytorch.loggers import WandbLogger
    except ImportError:  # pragma: no cover
        return
    if isinstance(logger, WandbLogger):
        try:
            logger.log_image(key=key, images=[str(path)])
        except Exception as err:
            log.warning("could not log %s to W&B: %s", path.name, err)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _read_calibration(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _summary(status: str, model_dir: Path, calibration: dict[str, Any] | None, **extra) -> dict[str, Any]:
    summary: dict[str, Any] = {"status": status, "path": str(model_dir)}
    if calibration is not None:
        summary["calibration_split"] = calibration.get("split")
        summary["test"] = calibration.get("aspects", {})
    summary.update(extra)
    return summary


def train_reward_model(cfg: DictConfig, run_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """Fit the regressor on ``cfg.reward_data``, test it, save it and its calibration into ``run_dir``.

    Returns ``(run_dir / "reward_model", summary)``; the summary holds per-aspect metrics on the
    split ``reward_data.eval_split`` names (``test`` by default; ``validation`` to tune settings
    without looking at the test split; the validation split if the named one is empty).
    """
    import hydra

    from mogrpo.callbacks.progress_lines import ProgressLines
    from mogrpo.models.regressor import build_regressor
    from mogrpo.modules.reward_module import RewardDataModule, RewardRegressorModule
    from mogrpo.utils.logging import finish_logger, make_logger
    from mogrpo.utils.precision import resolve_precision

    run_dir = Path(run_dir)
    reward, rm = RewardConfig.of(cfg), RewardModelConfig.of(cfg)
    aspects = list(reward.aspects)
    source = f"reward_data={OmegaConf.select(cfg, 'reward_data.name', default='?')}"
    dataset = load_reward_data(cfg)  # first: bad data fails before any model loads
    check_labelled(dataset, aspects, source)
    sizes = {split: len(dataset[split]) for split in SPLITS}
    log.info("reward data %s: %s rows", source, sizes)

    regressor = build_regressor(rm, aspects)
    freeze_unused(regressor)
    if rm.freeze_embeddings:
        freeze_embeddings(regressor)
    module = RewardRegressorModule(
        regressor,
        optim=hydra.utils.instantiate(rm.optim),
        head_lr=rm.head_lr,
        schedule=rm.schedule,
        warmup_ratio=rm.warmup_ratio,
        absolute_weight=float(rm.loss.absolute_weight),
        pair_weight=float(rm.loss.pair_weight),
    )
    datamodule = RewardDataModule(
        dataset, regressor.tokenize, aspects, batch_size=rm.batch_size, seed=int(cfg.seed),
        group_by_length=rm.group_by_length,
    )
    logger = make_logger(cfg, "reward")
    try:
        precision = rm.precision or OmegaConf.select(cfg, "trainer.precision", default="32-true")
        accelerator = str(OmegaConf.select(cfg, "trainer.accelerator", default="cpu"))
        trainer = hydra.utils.instantiate(
            cfg.trainer,
            precision=resolve_precision(str(precision), accelerator, "reward model"),
            max_epochs=rm.max_epochs,
            limit_val_batches=rm.limit_val_batches or 1.0,
            callbacks=[ProgressLines("reward model", keys=("train/loss", "val/loss"))],
            logger=logger if logger is not None else False,
            default_root_dir=str(run_dir),
        )
        trainer.fit(module, datamodule=datamodule)
        # calibration.json on the split reward_data.eval_split names (test: report; validation: tune)
        model_dir = run_dir / MODEL_DIR
        calibration: dict[str, Any] | None = None
        if trainer.is_global_zero:
            regressor.cpu().eval()
            regressor.save(model_dir)
            calibration = calibrate(cfg, regressor, dataset, sizes, run_dir, model_dir, logger)
        trainer.strategy.barrier("reward_model_saved")  # other ranks read model_dir next
    finally:
        finish_logger(logger)
    return model_dir, _summary("trained", model_dir, calibration, sizes=sizes)


def calibrate(cfg: DictConfig, regressor, dataset, sizes: dict[str, int], run_dir: Path, model_dir: Path,
              logger=None) -> dict[str, Any]:
    """Write ``calibration.json`` / ``.md`` / ``.png`` of ``regressor`` on the split
    ``reward_data.eval_split`` names (the validation split if that one is empty) with the configured
    weights' ranking checks, into ``run_dir`` and a copy into ``model_dir``; return what was written."""
    from mogrpo.metrics.calibration import calibration_for, plot_calibration, write_calibration
    from mogrpo.reports.calibration import CALIBRATION_MD, write_calibration_markdown

    reward, rm = RewardConfig.of(cfg), RewardModelConfig.of(cfg)
    aspects = list(reward.aspects)
    split = RewardDataConfig.of(cfg).eval_split
    split = split if sizes.get(split) else "validation"
    calibration, pred, target = calibration_for(regressor, dataset[split], aspects, batch_size=rm.batch_size)
    calibration["split"] = split
    calibration["sizes"] = sizes
    calibration["weights"] = dict(reward.weights)
    calibration["ranking"] = ranking_calibration(cfg, regressor, reward.weight_list, rm.batch_size)
    json_path = write_calibration(calibration, run_dir / CALIBRATION_JSON)
    md_path = write_calibration_markdown(calibration, run_dir / CALIBRATION_MD)
    png_path = plot_calibration(pred, target, aspects, run_dir / CALIBRATION_PNG)
    model_dir.mkdir(parents=True, exist_ok=True)
    for path in (json_path, png_path, md_path):
        if path.resolve() != (model_dir / path.name).resolve():
            shutil.copy2(path, model_dir / path.name)
    calibration = _read_calibration(json_path)  # NaN -> null, as written
    _log_image(logger, "reward/calibration", png_path)
    log_calibration_summary(logger, calibration)
    for aspect, m in calibration["aspects"].items():
        log.info("reward model on %s, %s: r2=%s mae=%s n=%d", split, aspect, _fmt(m["r2"]), _fmt(m["mae"]), m["n"])
    for check, r in calibration["ranking"].items():
        log.info("aggregate ranking %s: %s of %d held-out pairs", check, _fmt(r.get("aggregate")), r.get("n", 0))
    return calibration


def calibration_is_current(cfg: DictConfig, calibration: dict[str, Any] | None) -> bool:
    """Whether a saved ``calibration`` reports what this config asks for: the split
    ``reward_data.eval_split`` and the configured aspect weights. A cached regressor trained while
    tuning on validation must not hand its validation figures to a run that reports on test."""
    if not calibration:
        return False
    weights = {k: float(v) for k, v in dict(RewardConfig.of(cfg).weights).items()}
    saved = {k: float(v) for k, v in (calibration.get("weights") or {}).items()}
    return calibration.get("split") == RewardDataConfig.of(cfg).eval_split and saved == weights


def recalibrate(cfg: DictConfig, model_dir: Path, run_dir: Path) -> dict[str, Any]:
    """Calibrate a saved regressor again on this config's eval split and weights (no training)."""
    from mogrpo.models.regressor import MultiAspectRegressor
    from mogrpo.utils.logging import finish_logger, make_logger

    aspects = list(RewardConfig.of(cfg).aspects)
    source = f"reward_data={OmegaConf.select(cfg, 'reward_data.name', default='?')}"
    dataset = load_reward_data(cfg)
    check_labelled(dataset, aspects, source)
    sizes = {split: len(dataset[split]) for split in SPLITS}
    regressor = MultiAspectRegressor.load(model_dir).eval()
    log.info("calibrating the reused reward model on %s (its saved calibration reports another split or weights)",
             RewardDataConfig.of(cfg).eval_split)
    logger = make_logger(cfg, "reward")
    try:
        return calibrate(cfg, regressor, dataset, sizes, Path(run_dir), Path(model_dir), logger)
    finally:
        finish_logger(logger)


# --------------------------------------------------------------------------- reuse
def cache_key(cfg: DictConfig) -> str:
    """A short hash of what determines a trained regressor: encoder spec and training settings
    (the ``reward_model`` node less checkpoint / reuse_cached / cache_dir), ``reward_data``,
    the aspects, the seed and the trainer precision; ``reward_data.policy_samples`` by the file's content,
    not its path. Prefixed by the encoder entry's name."""
    try:
        rm = OmegaConf.to_container(cfg.reward_model, resolve=True, throw_on_missing=True)
        data = OmegaConf.to_container(cfg.reward_data, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        raise ConfigError(str(err.full_key), "is required (???) but was not given") from err
    for key in ("checkpoint", "reuse_cached"):
        rm.pop(key, None)
    for key in ("eval_split", "ranking", "name"):  # what is reported on, not what is trained on
        data.pop(key, None)
    if data.get("policy_samples"):  # a file the user may rewrite in place: key on what it holds
        data["policy_samples"] = hashlib.sha256(Path(data["policy_samples"]).read_bytes()).hexdigest()
    else:  # none: the same key as before the option existed
        data.pop("policy_samples", None)
        data.pop("policy_sample_kinds", None)
    if isinstance(rm.get("spec"), dict):
        rm["spec"].pop("cache_dir", None)
    payload = {
        "reward_model": rm,
        "reward_data": data,
        "aspects": list(cfg.reward.aspects),
        "seed": int(cfg.seed),
        "precision": str(OmegaConf.select(cfg, "trainer.precision", default="")),
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{rm.get('name', 'regressor')}-{digest}"


def _store_in_cache(model_dir: Path, entry: Path) -> None:
    """Copy ``model_dir`` to ``entry`` atomically (temp dir beside it, then rename); warn on failure."""
    if entry.exists():
        return
    tmp: Path | None = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=entry.name + ".tmp", dir=entry.parent))
        shutil.copytree(model_dir, tmp, dirs_exist_ok=True)
        os.rename(tmp, entry)
        log.info("reward model cached in %s", entry)
    except OSError as err:
        if not entry.exists():  # a concurrent job winning the rename is fine
            log.warning("could not cache the reward model in %s: %s", entry, err)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _given_checkpoint(cfg: DictConfig) -> tuple[Path, dict[str, Any]]:
    from mogrpo.models.regressor import CONFIG_NAME

    path = Path(str(cfg.reward_model.checkpoint)).expanduser()
    config_file = path / CONFIG_NAME
    if not config_file.is_file():
        raise ConfigError(
            "reward_model.checkpoint", f"{str(path)!r} is not a saved reward regressor (no {CONFIG_NAME})"
        )
    saved = list(json.loads(config_file.read_text())["aspects"])
    aspects = list(cfg.reward.aspects)
    if saved != aspects:
        raise ConfigError(
            "reward_model.checkpoint",
            f"{str(path)!r} scores aspects {saved} but reward.aspects is {aspects}; "
            "use a regressor trained for these aspects (in this order) or set reward.aspects to match",
        )
    calibration = _read_calibration(path / CALIBRATION_JSON) or _read_calibration(path.parent / CALIBRATION_JSON)
    return path, _summary("given", path, calibration)


def resolve_reward_model(cfg: DictConfig, run_dir: str | Path, force_train: bool) -> tuple[Path, dict[str, Any]]:
    """The reward regressor directory for this run: given, cached, or freshly trained (see module doc)."""
    if cfg.reward_model.get("checkpoint"):
        return _given_checkpoint(cfg)
    run_dir = Path(run_dir)
    reuse = bool(cfg.reward_model.get("reuse_cached", False))
    key = cache_key(cfg)
    entry = Path(str(cfg.paths.cache_dir)) / "reward_models" / key
    if reuse and not force_train and entry.is_dir():
        if not is_global_zero():  # under DDP only rank 0 copies; the others read the cache entry itself
            return entry, _summary("cached", entry, None, cache_key=key, cached_from=str(entry))
        model_dir = run_dir / MODEL_DIR
        shutil.copytree(entry, model_dir, dirs_exist_ok=True)
        for name in (CALIBRATION_JSON, CALIBRATION_PNG):
            if (model_dir / name).is_file():
                shutil.copy2(model_dir / name, run_dir / name)
        log.info("reusing the reward model cached in %s", entry)
        calibration = _read_calibration(model_dir / CALIBRATION_JSON)
        if not calibration_is_current(cfg, calibration):
            calibration = recalibrate(cfg, model_dir, run_dir)
        summary = _summary("cached", model_dir, calibration)
        summary.update(cache_key=key, cached_from=str(entry))
        return model_dir, summary
    model_dir, summary = train_reward_model(cfg, run_dir)
    summary["cache_key"] = key
    if reuse and is_global_zero() and (model_dir / CALIBRATION_JSON).is_file():
        _store_in_cache(model_dir, entry)
    return model_dir, summary
