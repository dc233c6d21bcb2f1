"""`python -m mogrpo.soup`: the config checks (fast) and a soup run on two tiny adapters, end to end (slow)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import compose_cfg

from mogrpo.errors import ConfigError
from mogrpo.soup import soup

TINY = ["model=tiny", "reward_model=tiny", "reward_data=builtin", "data=builtin", "logger=none",
        "eval.max_prompts=4", "eval.batch_size=4", "eval.decoding.max_new_tokens=6", "eval.side_by_side=0"]  # fmt: skip


def _adapter(tmp_path, name: str, seed: int):
    from mogrpo.models.policy import build_policy

    cfg = compose_cfg(["experiment=smoke", "logger=none"], tmp_path)
    torch.manual_seed(seed)
    policy, _ = build_policy(cfg.model)
    with torch.no_grad():
        for p in policy.parameters():
            if p.requires_grad:
                p.normal_(0, 0.5)
    run_dir = tmp_path / name
    policy.save_pretrained(str(run_dir / "adapter"))  # laid out as a run dir of mogrpo.train
    return run_dir


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        (["soup.adapters=[a]"], "soup.adapters", "needs two or more adapters"),
        (["soup.adapters=[a,b]", "soup.coefficients=[[0.5,0.5,0]]"], "soup.coefficients.0", "a list of 2 numbers"),
        (["soup.adapters=[a,b]", "soup.coefficients=[x]"], "soup.coefficients.0", "must be a number"),
    ],
)
def test_bad_soup_settings_are_config_errors(tmp_path, overrides, key, message):
    with pytest.raises(ConfigError) as info:
        soup(compose_cfg([*TINY, *overrides], tmp_path, config_name="soup"))
    assert info.value.key == key and message in info.value.message


def test_a_missing_adapter_fails_before_any_model_loads(tmp_path):
    run = _adapter(tmp_path, "run_a", 1)
    cfg = compose_cfg([*TINY, f"soup.adapters=[{run},{tmp_path / 'nope'}]"], tmp_path, config_name="soup")
    with pytest.raises(ConfigError) as info:
        soup(cfg)
    assert info.value.key == "soup.adapters.1" and "neither an adapter dir nor a run dir" in info.value.message


@pytest.mark.slow
def test_a_soup_run_on_two_tiny_adapters_and_its_pareto_plot(tmp_path, reward_dir):
    from mogrpo.stages.evaluation import run_eval_stage
    from mogrpo.sweeps.pareto import pareto_report

    a, b = _adapter(tmp_path, "run_a", 1), _adapter(tmp_path, "run_b", 2)
    out = tmp_path / "soups"
    cfg = compose_cfg([*TINY, f"soup.adapters=[{a},{b}]", "soup.coefficients=[0,0.5,1]",
                       f"reward_model.checkpoint={reward_dir}", f"paths.output_dir={out}"], tmp_path, "soup")  # fmt: skip
    record = soup(cfg)
    assert [p["label"] for p in record["points"]] == ["soup 0", "soup 0.5", "soup 1"]
    assert json.loads((out / "soup.json").read_text())["points"] == record["points"]
    assert (out / "soup_1" / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "soup_1" / "eval.json").is_file() and record["base"]
    # the soup at 0 is adapter A: its evaluation is A's own
    direct = run_eval_stage(cfg, tmp_path / "direct_a", reward_dir, adapter=a / "adapter")
    assert record["points"][0]["aspects"] == {k: v["aligned"] for k, v in direct["aspects"].items()}
    report = pareto_report([], tmp_path / "pareto", ref="0", soups=[out])
    assert report["fronts"]["soup"]["front"] and (tmp_path / "pareto" / "pareto.png").stat().st_size > 1000
