"""Seeding (python, numpy, torch) in one call."""

from __future__ import annotations


def seed_everything(seed: int) -> None:
    from lightning.pytorch import seed_everything as _seed

    _seed(int(seed), workers=True, verbose=False)
