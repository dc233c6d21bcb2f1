"""`python -m mogrpo.evaluate` end to end on tiny models and a hand-made trained run (mogrpo/evaluate.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from mogrpo.evaluate import evaluate, main

SHARED = Path(__file__).resolve().parent / "fixtures" / "eval" / "shared_data"
TINY = ["model=tiny", "reward_model=tiny", "reward_data=builtin", "data=builtin", "logger=none"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A run dir as `train` leaves it: adapter/ (LoRA B perturbed, so aligned != base), reward_model/,
    and .hydra/config.yaml (trained on reward_data=public_mix, which this evaluation does not use)."""
    from conftest import compose_cfg

    from mogrpo.models.policy import build_policy
    from mogrpo.models.regressor import build_regressor

    run = tmp_path_factory.mktemp("trained")
    cfg = compose_cfg(TINY, run, config_name="evaluate")
    torch.manual_seed(0)
    policy, _ = build_policy(cfg.model)
    for name, p in policy.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=1.0)
    policy.save_pretrained(str(run / "adapter"))
    build_regressor(cfg.reward_model, list(cfg.reward.aspects)).save(run / "reward_model")
    (run / ".hydra").mkdir()
    (run / ".hydra" / "config.yaml").write_text("model:\n  name: tiny\nreward_data:\n  name: public_mix\nseed: 42\n")
    return run


def _args(run: Path, out: Path, *extra: str) -> list[str]:
    return [
        f"run_dir={run}",
        *TINY,
        f"paths.shared_data={SHARED}",
        "eval.xstest.enabled=true",
        "eval.advbench.enabled=true",
        "eval.max_prompts=4",
        "eval.batch_size=4",
        "eval.decoding.max_new_tokens=6",
        "eval.decoding.do_sample=true",
        "eval.decoding.temperature=0.7",
        "eval.decoding.seed=5",
        f"hydra.run.dir={out}",
        *extra,
    ]


def test_command_writes_eval_json_report_and_plots(trained_run, tmp_path, monkeypatch):
    out = tmp_path / "eval_run"
    monkeypatch.setattr(sys, "argv", ["mogrpo-evaluate", *_args(trained_run, out)])
    main()  # as under the console script: the Hydra app, run dir from hydra.run.dir
    for name in ("eval.json", "report.md", "samples.jsonl", "aspects.png", "refusal.png", "calibration.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    result = json.loads((out / "eval.json").read_text())
    assert result["adapter"] == str(trained_run / "adapter")
    assert result["reward_model"] == str(trained_run / "reward_model")
    assert result["decoding"] == {"do_sample": True, "max_new_tokens": 6, "temperature": 0.7, "top_p": 1.0, "seed": 5}
    assert result["n"] == 4 and set(result["by_kind"]) == {"adversarial", "benign"}  # stratified held-out prompts
    assert result["xstest"]["n"] == 5 and result["advbench"]["n"] == 3
    assert result["calibration"]["reward_data"]["status"] == "done"
    assert result["calibration"]["diasafety"]["status"] == "skipped"  # the fixture folder has no DiaSafety
    assert any(d.startswith("reward_data.name") for d in result["run_config_differences"])
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 + 5 + 3
    assert any(s["base_response"] != s["aligned_response"] for s in samples)  # the adapter is on for aligned
    report = (out / "report.md").read_text()
    assert f"trained run: `{trained_run}`" in report and "config differs from the trained run" in report
    assert "![aspects.png](aspects.png)" in report and "XSTest safe prompts (over-refusal)" in report

    # same seed, same sampled responses: a second evaluation, called as a function
    from conftest import compose_cfg

    args = [a for a in _args(trained_run, out) if not a.startswith("hydra.")]
    again = evaluate(compose_cfg(args, tmp_path, config_name="evaluate"))
    assert [json.loads(x)["aligned_response"] for x in Path(again["samples"]).read_text().splitlines()] == [
        s["aligned_response"] for s in samples
    ]


def test_bad_adapter_or_run_dir_is_one_clear_line(trained_run, tmp_path):
    from conftest import compose_cfg

    run = main.__wrapped__
    with pytest.raises(SystemExit, match=r"adapter: .*nowhere is not a saved peft adapter"):
        run(compose_cfg([*TINY, f"eval.adapter={tmp_path / 'nowhere'}"], tmp_path, config_name="evaluate"))
    bare = tmp_path / "stage_reward_only"
    bare.mkdir()
    with pytest.raises(SystemExit, match=r"run_dir: .*has no adapter/"):
        run(compose_cfg([*TINY, f"run_dir={bare}"], tmp_path, config_name="evaluate"))
    with pytest.raises(SystemExit, match="eval.batch_size"):
        run(compose_cfg([*TINY, "eval.batch_size=0"], tmp_path, config_name="evaluate"))
