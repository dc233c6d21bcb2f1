"""OmegaConf resolvers used by the config tree (registered on import of mogrpo.train)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf


def project_root() -> str:
    """The repository root when running from a checkout (where pyproject.toml is), else the cwd."""
    here = Path(__file__).resolve().parents[2]
    return str(here if (here / "pyproject.toml").is_file() else Path.cwd())


def register() -> None:
    if not OmegaConf.has_resolver("mogrpo.project_root"):
        OmegaConf.register_new_resolver("mogrpo.project_root", project_root)


register()
