"""Progress lines for output that goes to a file (mogrpo/callbacks/progress_lines.py)."""

from __future__ import annotations

from mogrpo.callbacks.progress_lines import format_duration, progress_line


def test_progress_line_extrapolates_the_time_left():
    line = progress_line("reward model", 30, 120, elapsed=60.0, epoch=0, epochs=2, metrics={"train/loss": 0.21349})
    assert line == "reward model: epoch 1/2, step 30/120 (25%), 2.00 s/step, 3m00s left, train/loss 0.2135"
    assert progress_line("grpo", 5, None, elapsed=10.0) == "grpo: step 5, 2.00 s/step"


def test_format_duration():
    assert format_duration(59.6) == "1m00s" and format_duration(3725) == "1h02m05s"


def test_a_run_logs_progress_lines_when_output_is_not_a_terminal(tmp_path, caplog):
    from conftest import compose_cfg

    from mogrpo.stages.reward import train_reward_model

    cfg = compose_cfg(["experiment=smoke", "logger=none", "reward_data.max_rows=64"], tmp_path)
    with caplog.at_level("INFO", logger="mogrpo.progress"):
        train_reward_model(cfg, tmp_path / "run")  # pytest captures stderr: not a terminal
    lines = [r.getMessage() for r in caplog.records if r.name == "mogrpo.progress"]
    assert lines and lines[-1].startswith("reward model: epoch 1/1, step ") and "(100%)" in lines[-1]
