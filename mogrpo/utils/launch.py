"""The launch check that runs before anything heavy is imported: is this a ``--multirun`` whose jobs would
start DDP processes with Lightning's ``popen`` launcher? (torch is imported only for ``trainer.devices=auto``.)

Which process am I and the collectives live in :mod:`mogrpo.utils.distributed`.
"""

from __future__ import annotations

import os

from omegaconf import OmegaConf

from mogrpo.errors import ConfigError

# environment variables of launchers that start every rank themselves (torchrun, SLURM srun, a popen child)
EXTERNAL_LAUNCH_VARS = ("LOCAL_RANK", "RANK", "TORCHELASTIC_RUN_ID")


def launched_externally() -> bool:
    """True when this process was started by torchrun, srun (several tasks) or Lightning's popen launcher."""
    if any(v in os.environ for v in EXTERNAL_LAUNCH_VARS):
        return True
    return int(os.environ.get("SLURM_NTASKS", 1)) > 1


def processes_per_node(devices, accelerator: str) -> int:
    """How many processes Lightning starts per node for ``trainer.devices`` on ``trainer.accelerator``."""
    if isinstance(devices, (list, tuple)) or OmegaConf.is_list(devices):
        return len(devices)
    if isinstance(devices, str) and "," in devices:
        return len([d for d in devices.split(",") if d.strip()])
    if devices in ("auto", -1, "-1", None):
        import torch  # only here: the launch check runs before torch is imported

        gpu = accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available()
        return torch.cuda.device_count() if gpu else 1
    return int(devices)


def check_launch(cfg) -> None:
    """Refuse a ``--multirun`` whose jobs would start DDP processes with Lightning's ``popen`` launcher.

    Lightning re-runs the command line for ranks >= 1; in a multirun that command line is the whole
    sweep, so the children would start sweeps of their own. Start such sweeps with torchrun / srun (every
    rank runs the sweep in step) and a fixed ``hydra.sweep.dir``, or sweep one device per job.
    """
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:
        multirun = False
    trainer = cfg.get("trainer") or {}
    strategy = trainer.get("strategy")
    target = str(strategy.get("_target_", "")) if hasattr(strategy, "get") else str(strategy or "")
    distributed = "DDP" in target or "FSDP" in target or target.startswith(("ddp", "fsdp"))
    n = processes_per_node(trainer.get("devices", 1), str(trainer.get("accelerator", "cpu")))
    if multirun and distributed and n > 1 and not launched_externally():
        raise ConfigError(
            "trainer.strategy",
            f"a --multirun cannot start {n} DDP processes per job with Lightning's popen launcher (the children "
            "would re-run the whole sweep); launch with torchrun/srun and a fixed hydra.sweep.dir, or use "
            "trainer.devices=1 per job",
        )
