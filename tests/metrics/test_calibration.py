import json
import math

import pytest
import torch

from mogrpo.metrics.calibration import (
    binary_auroc,
    calibration_for,
    calibration_report,
    plot_calibration,
    regression_metrics,
    to_jsonable,
    write_calibration,
)

NAN = float("nan")


def test_perfect_prediction_gives_r2_one_and_zero_error():
    y = torch.tensor([0.0, 0.25, 0.5, 1.0])
    m = regression_metrics(y.clone(), y)
    assert m["r2"] == pytest.approx(1.0)
    assert m["mse"] == pytest.approx(0.0)
    assert m["mae"] == pytest.approx(0.0)
    assert m["pearson"] == pytest.approx(1.0, abs=1e-5)
    assert m["spearman"] == pytest.approx(1.0, abs=1e-5)
    assert m["n"] == 4


def test_regression_metrics_on_hand_computed_numbers_mask_nan_labels():
    # errors on labelled rows: +0.1, -0.1, -0.5 (the 4th row is unlabelled and its 0.9 must not count)
    pred = torch.tensor([0.1, 0.4, 0.5, 0.9])
    target = torch.tensor([0.0, 0.5, 1.0, NAN])
    m = regression_metrics(pred, target)
    assert m["n"] == 3
    assert m["mse"] == pytest.approx((0.01 + 0.01 + 0.25) / 3)  # 0.09
    assert m["mae"] == pytest.approx((0.1 + 0.1 + 0.5) / 3)
    assert m["bias"] == pytest.approx((0.1 - 0.1 - 0.5) / 3)
    # SS_res = 0.27, SS_tot = 0.25 + 0 + 0.25 = 0.5 -> r2 = 1 - 0.54
    assert m["r2"] == pytest.approx(0.46)
    # ranks of pred and target agree on the labelled rows
    assert m["spearman"] == pytest.approx(1.0, abs=1e-5)


def test_undefined_metrics_are_nan_not_errors():
    one = regression_metrics(torch.tensor([0.3, 0.2]), torch.tensor([0.5, NAN]))
    assert one["n"] == 1 and one["mse"] == pytest.approx(0.04)
    assert math.isnan(one["r2"]) and math.isnan(one["pearson"])
    const = regression_metrics(torch.tensor([0.1, 0.9]), torch.tensor([1.0, 1.0]))
    assert math.isnan(const["r2"]) and math.isnan(const["spearman"])
    none = regression_metrics(torch.tensor([0.1]), torch.tensor([NAN]))
    assert none["n"] == 0 and math.isnan(none["mse"])


def test_binary_auroc_of_a_known_ranking():
    # positives 0.35, 0.8 vs negatives 0.1, 0.4: 3 of the 4 (pos, neg) pairs are ordered right
    scores = torch.tensor([0.1, 0.4, 0.35, 0.8])
    labels = torch.tensor([0, 0, 1, 1])
    assert binary_auroc(scores, labels) == pytest.approx(0.75)
    assert binary_auroc(torch.tensor([0.2, 0.9]), torch.tensor([0, 1])) == pytest.approx(1.0)
    assert math.isnan(binary_auroc(scores, torch.ones(4, dtype=torch.long)))


def test_calibration_report_per_aspect_and_shape_check():
    pred = torch.tensor([[0.0, 0.5], [1.0, 0.5]])
    target = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    report = calibration_report(pred, target, ["a", "b"])
    assert report["n"] == 2 and list(report["aspects"]) == ["a", "b"]
    assert report["aspects"]["a"]["r2"] == pytest.approx(1.0)
    assert report["aspects"]["b"]["mse"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="K=3"):
        calibration_report(pred, target, ["a", "b", "c"])


def test_write_calibration_is_strict_json(tmp_path):
    report = {"aspects": {"a": {"r2": NAN, "mse": 0.5}}}
    assert to_jsonable(report) == {"aspects": {"a": {"r2": None, "mse": 0.5}}}
    path = write_calibration(report, tmp_path / "c.json")

    def reject(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    assert json.loads(path.read_text(), parse_constant=reject)["aspects"]["a"]["r2"] is None


def test_plot_calibration_writes_a_png(tmp_path):
    pred = torch.rand(20, 3)
    target = torch.rand(20, 3)
    target[::4, 2] = NAN
    path = plot_calibration(pred, target, ["x", "y", "z"], tmp_path / "sub" / "cal.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


class _FixedRegressor:
    """Scores every pair by the length of its response (a stand-in for the encoder)."""

    aspects = ["a", "b"]

    def score(self, prompts, responses, batch_size=64):
        lengths = torch.tensor([len(r) / 10 for r in responses])
        return torch.stack([lengths, 1 - lengths], dim=1)


def test_calibration_for_scores_a_split_against_its_labels():
    from datasets import Dataset

    ds = Dataset.from_dict(
        {
            "prompt": ["p"] * 3,
            "response": ["x", "xxxxx", "xxxxxxxxx"],
            "a": [0.1, 0.5, 0.9],
            "b": [0.9, NAN, 0.0],
        }
    )
    report, pred, target = calibration_for(_FixedRegressor(), ds, ["a", "b"], batch_size=2)
    assert pred.shape == target.shape == (3, 2)
    assert report["aspects"]["a"]["r2"] == pytest.approx(1.0)
    assert report["aspects"]["b"]["n"] == 2
    assert report["aspects"]["b"]["mse"] == pytest.approx((0.0**2 + 0.1**2) / 2)
