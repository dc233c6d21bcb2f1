"""Non-dominated filtering and the exact hypervolume on hand-computed 2-D and 3-D sets."""

from __future__ import annotations

import itertools
import random

import pytest

from mogrpo.metrics.pareto import dominates, hypervolume, non_dominated, non_dominated_mask, parse_reference


def test_dominates_is_strict_somewhere():
    assert dominates((2, 2), (1, 2))
    assert not dominates((1, 2), (1, 2))  # equal: neither dominates
    assert not dominates((3, 1), (1, 3))


def test_front_2d():
    points = [(1, 3), (2, 2), (3, 1), (1, 1), (2, 2), (0.5, 3)]
    # (1, 1) is dominated by (2, 2); (0.5, 3) by (1, 3); the two equal (2, 2) both stay
    assert non_dominated(points) == [0, 1, 2, 4]
    assert non_dominated_mask(points) == [True, True, True, False, True, False]


def test_front_3d():
    points = [(2, 1, 1), (1, 2, 1), (1, 1, 2), (1, 1, 1), (0, 0, 3)]
    assert non_dominated(points) == [0, 1, 2, 4]


def test_hypervolume_2d_staircase():
    # slices of y: (3 -> 2) x 1 + (2 -> 1) x 2 + (1 -> 0) x 3 = 6; the dominated (1, 1) changes nothing
    assert hypervolume([(1, 3), (2, 2), (3, 1), (1, 1)], (0, 0)) == pytest.approx(6.0)
    # ref (1, 1): only (2, 2) adds a box (1 x 1); (1, 3) and (3, 1) are not above the ref in one aspect
    assert hypervolume([(1, 3), (2, 2), (3, 1)], (1, 1)) == pytest.approx(1.0)
    assert hypervolume([(0.5, 0.5)], (0.2, 0.1)) == pytest.approx(0.3 * 0.4)


def test_hypervolume_3d_inclusion_exclusion():
    # three boxes of volume 2, each pair and all three meet in the unit cube: 3 * 2 - 3 * 1 + 1 = 4
    assert hypervolume([(2, 1, 1), (1, 2, 1), (1, 1, 2), (1, 1, 1)], (0, 0, 0)) == pytest.approx(4.0)
    assert hypervolume([(1, 2, 3)], (0.5, 0.5, 0.5)) == pytest.approx(0.5 * 1.5 * 2.5)
    assert hypervolume([], (0, 0, 0)) == 0.0
    assert hypervolume([(1, 1, 1)], (1, 0, 0)) == 0.0  # on the reference in one aspect: nothing


def _inclusion_exclusion(points, ref):
    total = 0.0
    for n in range(1, len(points) + 1):
        for subset in itertools.combinations(points, n):
            corner = [min(c) for c in zip(*subset)]
            vol = 1.0
            for c, r in zip(corner, ref):
                vol *= max(0.0, c - r)
            total += (-1) ** (n + 1) * vol
    return total


@pytest.mark.parametrize("k", [2, 3, 4])
def test_hypervolume_matches_inclusion_exclusion(k):
    rng = random.Random(k)
    for _ in range(20):
        points = [tuple(rng.random() for _ in range(k)) for _ in range(rng.randint(1, 7))]
        ref = tuple(rng.random() * 0.3 for _ in range(k))
        assert hypervolume(points, ref) == pytest.approx(_inclusion_exclusion(points, ref))


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="one length"):
        hypervolume([(1, 2), (1, 2, 3)], (0, 0))
    with pytest.raises(ValueError, match="one length"):
        hypervolume([(1, 2)], (0, 0, 0))


def test_parse_reference():
    assert parse_reference("0,0.5,0,1", 4) == [0.0, 0.5, 0.0, 1.0]
    assert parse_reference("0.2", 3) == [0.2, 0.2, 0.2]
    assert parse_reference(None, 2) == [0.0, 0.0]
    with pytest.raises(ValueError, match="3 coordinates for 4 aspects"):
        parse_reference("0,0,0", 4)
    with pytest.raises(ValueError, match="numbers"):
        parse_reference("a,b", 2)
