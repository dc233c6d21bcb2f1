"""Weight and threshold schedules on known steps, and their config checks."""

from __future__ import annotations

import math

import pytest

from mogrpo.configs import RewardConfig
from mogrpo.errors import ConfigError
from mogrpo.grpo.schedules import interpolate, schedule_progress, scheduled


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        # steps 0, 2 (start), 4, 6 (half), 8, 10 (end), 12 over start_step=2, end_step=10
        ("constant", [0, 0, 0, 0, 0, 0, 0]),
        ("linear", [0, 0, 0.25, 0.5, 0.75, 1, 1]),
        ("cosine", [0, 0, (1 - math.cos(math.pi / 4)) / 2, 0.5, (1 - math.cos(3 * math.pi / 4)) / 2, 1, 1]),
        ("step", [0, 0, 0, 0, 0, 1, 1]),
    ],
)
def test_progress_on_known_steps(kind, expected):
    got = [schedule_progress(s, kind, start_step=2, end_step=10) for s in (0, 2, 4, 6, 8, 10, 12)]
    assert got == pytest.approx(expected)


def test_step_with_stages():
    # 4 stages over [0, 8]: jumps of 1/4 at steps 2, 4, 6, 8
    got = [schedule_progress(s, "step", 0, 8, stages=4) for s in range(10)]
    assert got == pytest.approx([0, 0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1, 1])
    assert schedule_progress(3, "step", 0, 10, stages=10) == pytest.approx(0.3)  # no float flooring to 0.2


def test_interpolate():
    assert interpolate([1, 0, 4], [1, 2, 0], 0.25) == pytest.approx([1, 0.5, 3])
    with pytest.raises(ValueError, match="one length"):
        interpolate([1], [1, 2], 0.5)
    with pytest.raises(ValueError, match="kind"):
        schedule_progress(0, "exponential", 0, 1)


def _reward(**schedule):
    return RewardConfig.from_node({"weights": {"politeness": 1, "meaningfulness": 1, "actionability": 1,
                                               "safety": 2}, "schedule": schedule})  # fmt: skip


def test_scheduled_weights_left_out_aspects_keep_theirs():
    reward = _reward(kind="linear", final_weights={"safety": 6})  # end_step null -> max_steps
    assert scheduled(reward, 0, max_steps=8) == ([1, 1, 1, 2], None)
    assert scheduled(reward, 4, max_steps=8)[0] == pytest.approx([1, 1, 1, 4])
    assert scheduled(reward, 8, max_steps=8)[0] == pytest.approx([1, 1, 1, 6])
    assert scheduled(_reward(), 5, max_steps=8) == ([1, 1, 1, 2], None)  # constant


def test_scheduled_threshold_of_the_constraint():
    reward = RewardConfig.from_node({"aggregation": "constrained", "constraint": {"threshold": 0.6},
                                     "schedule": {"kind": "cosine", "final_threshold": 0.9, "end_step": 4}})
    weights, tau = scheduled(reward, 2, max_steps=100)
    assert tau == pytest.approx(0.75) and weights == reward.weight_list
    assert scheduled(reward, 4, max_steps=100)[1] == pytest.approx(0.9)
    assert scheduled(reward, 50, max_steps=100)[1] == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("node", "key", "message"),
    [
        ({"schedule": {"kind": "warm"}}, "reward.schedule.kind", "must be one of"),
        ({"schedule": {"kind": "linear"}}, "reward.schedule.final_weights", "needs final_weights or final_threshold"),
        ({"schedule": {"final_weights": {"safety": 2}}}, "reward.schedule.kind", "is constant but"),
        ({"schedule": {"kind": "linear", "final_weights": {"fluency": 2}}}, "reward.schedule.final_weights",
         "do not exist"),
        ({"schedule": {"kind": "linear", "final_weights": [0, 0, 0, 0]}}, "reward.schedule.final_weights",
         "all final weights are 0"),
        ({"schedule": {"kind": "linear", "final_threshold": 0.9}}, "reward.schedule.final_threshold",
         "only applies with aggregation=constrained"),
        ({"aggregation": "constrained", "schedule": {"kind": "linear", "final_threshold": 1.5}},
         "reward.schedule.final_threshold", "must be a number in [0, 1]"),
        ({"schedule": {"kind": "step", "final_weights": [1, 1, 1, 1], "start_step": 5, "end_step": 5}},
         "reward.schedule.end_step", "must be > start_step=5"),
        ({"schedule": {"kind": "step", "final_weights": [1, 1, 1, 1], "stages": 0}}, "reward.schedule.stages",
         "must be an integer >= 1"),
    ],
)
def test_bad_schedules_are_config_errors(node, key, message):
    with pytest.raises(ConfigError) as info:
        RewardConfig.from_node(node, "reward")
    assert info.value.key == key and message in info.value.message


def test_a_schedule_that_ends_before_it_starts_fails_before_loading(tmp_path):
    from conftest import compose_cfg

    from mogrpo.config import check_config

    cfg = compose_cfg(["experiment=smoke", "reward.schedule.kind=linear", "reward.schedule.final_weights={safety: 2}",
                       "reward.schedule.start_step=10"], tmp_path)  # fmt: skip  (smoke: max_steps=4)
    with pytest.raises(ConfigError) as info:
        check_config(cfg)
    assert info.value.key == "reward.schedule.start_step" and "grpo.max_steps" in info.value.message
