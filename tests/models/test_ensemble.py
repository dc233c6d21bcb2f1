"""The conservative reward ensemble (mogrpo/models/ensemble.py) with tiny regressors, and in the GRPO stage."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import compose_cfg

from mogrpo.grpo import conservative_scores
from mogrpo.models.ensemble import EnsembleRegressor
from mogrpo.models.regressor import build_regressor

PAIRS = (["How do tides work?", "Say no."], ["The Moon pulls the oceans.", "No."])


@pytest.fixture(scope="module")
def tiny_regressors(tmp_path_factory):
    """Two untrained tiny regressors from two seeds (they disagree), saved."""
    tmp = tmp_path_factory.mktemp("ensemble")
    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp)
    out = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        out.append(build_regressor(cfg.reward_model, list(cfg.reward.aspects)).save(tmp / f"regressor_{seed}"))
    return out


def test_ensemble_scores_are_the_members_mean_minus_k_std(tiny_regressors):
    from mogrpo.models.regressor import MultiAspectRegressor

    members = [MultiAspectRegressor.load(d) for d in tiny_regressors]
    ensemble = EnsembleRegressor(members, k=2.0)
    samples = torch.stack([m.score(*PAIRS) for m in members])
    assert ensemble.aspects == members[0].aspects
    torch.testing.assert_close(ensemble.score(*PAIRS), conservative_scores(samples, 2.0))
    torch.testing.assert_close(ensemble.last_std, samples.std(dim=0))
    assert float(ensemble.last_std.max()) > 0  # two seeds disagree


def test_ensemble_needs_two_members_over_the_same_aspects(tiny_regressors):
    from mogrpo.models.regressor import MultiAspectRegressor

    member = MultiAspectRegressor.load(tiny_regressors[0])
    with pytest.raises(ValueError, match="at least 2"):
        EnsembleRegressor([member])
    other = build_regressor(compose_cfg(["experiment=smoke"], tiny_regressors[0].parent).reward_model, ["safety"])
    with pytest.raises(ValueError, match="different aspects"):
        EnsembleRegressor([member, other])


def test_grpo_stage_rewards_with_the_ensemble_and_logs_its_spread(tmp_path, reward_dir, tiny_regressors):
    from mogrpo.stages.grpo import run_grpo_stage

    dirs = ",".join(str(d) for d in tiny_regressors)
    cfg = compose_cfg(["experiment=smoke", "logger=none", "grpo.max_steps=1", f"reward.ensemble.checkpoints=[{dirs}]",
                       "reward.ensemble.k=0.5"], tmp_path)  # fmt: skip
    out = run_grpo_stage(cfg, tmp_path / "run", reward_dir)
    (row,) = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert out["steps"] == 1 and row["train/reward_ensemble_std"] > 0
