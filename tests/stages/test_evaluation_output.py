"""The run's point on the Pareto front as W&B summary fields (mogrpo/stages/evaluation_output.py)."""

from __future__ import annotations

from helpers import offline_runs, read_wandb_run

from mogrpo.stages.evaluation_output import log_results, pareto_fields

RESULT = {
    "split": "heldout",
    "aspects": {"safety": {"base": 0.4, "aligned": 0.9}, "politeness": {"base": 0.6, "aligned": 0.5}},
    "weights": {"safety": 4.0, "politeness": 1.0},
    "alarms": [],
}


def test_pareto_fields_have_stable_names():
    assert pareto_fields(RESULT) == {
        "pareto/safety": 0.9, "pareto/base/safety": 0.4, "pareto/politeness": 0.5, "pareto/base/politeness": 0.6,
        "pareto/weight/safety": 4.0, "pareto/weight/politeness": 1.0, "pareto/split": "heldout",
    }  # fmt: skip
    base_only = pareto_fields({"aspects": {"safety": {"base": 0.4, "aligned": None}}})
    assert base_only["pareto/safety"] == 0.4 and base_only["pareto/split"] == "heldout"
    assert pareto_fields({}) == {}
    soup = pareto_fields({**RESULT, "soup": {"adapters": ["a", "b"], "coefficients": [0.75, 0.25]}})
    assert soup["pareto/soup_lambda/0"] == 0.75 and soup["pareto/soup_lambda/1"] == 0.25


def test_the_eval_run_summary_holds_the_pareto_point(offline_wandb, monkeypatch):
    import mogrpo.utils.logging as logging_utils

    save_dir = offline_wandb / "run"
    monkeypatch.setattr(logging_utils, "make_logger", lambda cfg, job_type: logging_utils.make_wandb_logger(
        project="t", save_dir=str(save_dir), job_type=job_type))  # fmt: skip
    log_results(None, RESULT, offline_wandb, [])
    (run_dir,) = offline_runs(save_dir)
    summary = read_wandb_run(run_dir)["summary"]["summary"]
    assert summary["pareto/safety"] == 0.9 and summary["pareto/politeness"] == 0.5
    assert summary["pareto/base/safety"] == 0.4 and summary["pareto/weight/safety"] == 4.0
    assert summary["pareto/split"] == "heldout"
