"""The config resolvers: the simplex grid and the weight sweep of experiment=pareto_weights."""

from __future__ import annotations

import math

import pytest

from mogrpo.utils.resolvers import simplex_grid, weight_sweep


def test_simplex_grid():
    assert simplex_grid(2, 2) == [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]
    grid = simplex_grid(4, 2)
    assert len(grid) == math.comb(2 + 3, 3) == 10
    assert all(sum(w) == pytest.approx(1.0) for w in grid)
    assert [1.0, 0.0, 0.0, 0.0] in grid and [0.0, 0.0, 0.0, 1.0] in grid  # the single-aspect runs
    assert len(simplex_grid(4, 3)) == 20
    with pytest.raises(ValueError, match="levels >= 1"):
        simplex_grid(4, 0)


def test_weight_sweep_is_one_choice_sweep_of_mappings():
    assert weight_sweep(["a", "b"], 1) == "{a:1,b:0},{a:0,b:1}"
    assert weight_sweep(["a", "b"], 2, [[1, 0.5], {"b": 2}]) == "{a:1,b:0.5},{a:0,b:2}"  # the list wins
    with pytest.raises(ValueError, match="pareto.weights.0: 3 weights for the 2 aspects"):
        weight_sweep(["a", "b"], 2, [[1, 1, 1]])
    with pytest.raises(ValueError, match=r"pareto.weights.1: aspects \['c'\]"):
        weight_sweep(["a", "b"], 2, [[1, 1], {"c": 1}])
