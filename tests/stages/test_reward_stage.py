import json

import pytest
import torch

import mogrpo.stages.reward as stage
from mogrpo.config import ConfigError
from mogrpo.data.errors import DataError
from mogrpo.models.regressor import MultiAspectRegressor, build_regressor

ASPECTS = ["politeness", "meaningfulness", "actionability", "safety"]


@pytest.fixture
def fake_data(monkeypatch, fake_labelled):
    monkeypatch.setattr(stage, "load_reward_data", lambda cfg: fake_labelled)
    return fake_labelled


def test_train_reward_model_end_to_end(tiny_cfg, fake_data, tmp_path):
    run_dir = tmp_path / "run"
    model_dir, summary = stage.train_reward_model(tiny_cfg, run_dir)
    assert model_dir == run_dir / "reward_model"
    regressor = MultiAspectRegressor.load(model_dir)
    assert regressor.aspects == ASPECTS
    calibration = json.loads((run_dir / "calibration.json").read_text())
    assert calibration["split"] == "test" and calibration["n"] == len(fake_data["test"])
    assert list(calibration["aspects"]) == ASPECTS
    # every 3rd row has no safety label: 8 test rows at offsets 32..39 -> 32, 35, 38 unlabelled
    assert calibration["aspects"]["safety"]["n"] == 5
    assert calibration["aspects"]["politeness"]["n"] == 8
    assert (run_dir / "calibration.png").read_bytes()[:4] == b"\x89PNG"
    assert summary["status"] == "trained" and set(summary["test"]) == set(ASPECTS)
    assert summary["test"]["politeness"]["mae"] == calibration["aspects"]["politeness"]["mae"]


def test_data_loads_before_any_model(tiny_cfg, monkeypatch, tmp_path):
    def bad_data(cfg):
        raise DataError("broken row", source="fake.jsonl", row=3)

    def no_model(*args, **kwargs):
        raise AssertionError("a model was built before the data was checked")

    monkeypatch.setattr(stage, "load_reward_data", bad_data)
    monkeypatch.setattr("mogrpo.models.regressor.build_regressor", no_model)
    with pytest.raises(DataError, match="fake.jsonl, row 3"):
        stage.train_reward_model(tiny_cfg, tmp_path)


def test_missing_aspect_column_is_a_data_error(tiny_cfg, monkeypatch, fake_labelled, tmp_path):
    monkeypatch.setattr(stage, "load_reward_data", lambda cfg: fake_labelled.remove_columns("safety"))
    monkeypatch.setattr("mogrpo.models.regressor.build_regressor", None)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['safety'\]"):
        stage.train_reward_model(tiny_cfg, tmp_path)


@pytest.fixture
def cached_cfg(tmp_path):
    from conftest import compose_cfg

    return compose_cfg(
        ["experiment=smoke", "logger=none", f"paths.cache_dir={tmp_path / 'cache'}", "reward_model.reuse_cached=true"],
        tmp_path,
    )


def test_resolve_reuses_the_cached_regressor(cached_cfg, fake_data, monkeypatch, tmp_path):
    calls = []
    real_train = stage.train_reward_model

    def counting_train(cfg, run_dir):
        calls.append(run_dir)
        return real_train(cfg, run_dir)

    monkeypatch.setattr(stage, "train_reward_model", counting_train)
    first_dir, first = stage.resolve_reward_model(cached_cfg, tmp_path / "run1", force_train=False)
    assert first["status"] == "trained" and len(calls) == 1
    entry = tmp_path / "cache" / "reward_models" / first["cache_key"]
    assert (entry / "regressor_config.json").is_file()
    assert not [p for p in entry.parent.iterdir() if ".tmp" in p.name]  # the temp dir was renamed away

    second_dir, second = stage.resolve_reward_model(cached_cfg, tmp_path / "run2", force_train=False)
    assert len(calls) == 1, "the cached regressor should have been reused"
    assert second["status"] == "cached" and second_dir == tmp_path / "run2" / "reward_model"
    assert (tmp_path / "run2" / "calibration.json").is_file() and (tmp_path / "run2" / "calibration.png").is_file()
    assert second["test"] == first["test"]
    pairs = (["Hi there"], ["Hello! How can I help?"])
    assert torch.equal(MultiAspectRegressor.load(second_dir).score(*pairs), MultiAspectRegressor.load(first_dir).score(*pairs))

    stage.resolve_reward_model(cached_cfg, tmp_path / "run3", force_train=True)
    assert len(calls) == 2  # stage=reward always trains


def test_reuse_recalibrates_when_the_split_or_weights_differ(cached_cfg, fake_data, monkeypatch, tmp_path):
    from omegaconf import OmegaConf

    _, first = stage.resolve_reward_model(cached_cfg, tmp_path / "run1", force_train=False)
    assert first["calibration_split"] == "test"
    calls = []
    monkeypatch.setattr(stage, "train_reward_model", lambda cfg, run_dir: calls.append(run_dir))
    tuning = OmegaConf.merge(cached_cfg, {"reward_data": {"eval_split": "validation"}})
    assert stage.cache_key(tuning) == first["cache_key"]  # the same trained model...
    _, second = stage.resolve_reward_model(tuning, tmp_path / "run2", force_train=False)
    assert not calls and second["status"] == "cached"
    saved = json.loads((tmp_path / "run2" / "calibration.json").read_text())
    assert saved["split"] == "validation" and saved["n"] == len(fake_data["validation"])  # ...reported on its split
    assert json.loads((tmp_path / "run2" / "reward_model" / "calibration.json").read_text())["split"] == "validation"

    weighted = OmegaConf.merge(cached_cfg, {"reward": {"weights": {"safety": 4.0}}})
    _, third = stage.resolve_reward_model(weighted, tmp_path / "run3", force_train=False)
    assert json.loads((tmp_path / "run3" / "calibration.json").read_text())["weights"]["safety"] == 4.0
    assert not calls and third["calibration_split"] == "test"
    # unchanged split and weights: the saved calibration is kept as it is (no recalibration)
    monkeypatch.setattr(stage, "recalibrate", lambda *a: pytest.fail("recalibrated a current calibration"))
    stage.resolve_reward_model(cached_cfg, tmp_path / "run4", force_train=False)


def test_cache_key_depends_on_what_shapes_the_model(cached_cfg):
    from omegaconf import OmegaConf

    key = stage.cache_key(cached_cfg)
    assert key.startswith("tiny-") and key == stage.cache_key(cached_cfg.copy())
    for override in ({"seed": 7}, {"reward_model": {"max_epochs": 3}}, {"reward": {"aspects": ["safety"]}}):
        assert stage.cache_key(OmegaConf.merge(cached_cfg, override)) != key
    assert stage.cache_key(OmegaConf.merge(cached_cfg, {"paths": {"cache_dir": "/elsewhere"}})) == key


def test_cache_key_follows_the_policy_samples_file_content_not_its_path(cached_cfg, tmp_path):
    from omegaconf import OmegaConf, open_dict

    key = stage.cache_key(cached_cfg)
    with open_dict(cached_cfg):  # the builtin reward data has no policy_samples key
        cached_cfg.reward_data.policy_samples = None
    assert stage.cache_key(cached_cfg) == key  # null: the key of a config without the option
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"x": 1}\n')
    b.write_text('{"x": 1}\n')
    key_a = stage.cache_key(OmegaConf.merge(cached_cfg, {"reward_data": {"policy_samples": str(a)}}))
    assert key_a == stage.cache_key(OmegaConf.merge(cached_cfg, {"reward_data": {"policy_samples": str(b)}}))
    assert key_a != stage.cache_key(cached_cfg)
    a.write_text('{"x": 2}\n')  # rewritten in place: another model
    assert stage.cache_key(OmegaConf.merge(cached_cfg, {"reward_data": {"policy_samples": str(a)}})) != key_a


def test_given_checkpoint_with_other_aspects_is_refused(tiny_cfg, tmp_path):
    saved = build_regressor(tiny_cfg.reward_model, ["politeness", "safety"]).save(tmp_path / "rm")
    tiny_cfg.reward_model.checkpoint = str(saved)
    with pytest.raises(ConfigError, match=r"reward_model.checkpoint.*\['politeness', 'safety'\]"):
        stage.resolve_reward_model(tiny_cfg, tmp_path / "run", force_train=False)
    tiny_cfg.reward_model.checkpoint = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="reward_model.checkpoint"):
        stage.resolve_reward_model(tiny_cfg, tmp_path / "run", force_train=False)


def test_given_checkpoint_with_matching_aspects_is_used(tiny_cfg, tmp_path):
    saved = build_regressor(tiny_cfg.reward_model, ASPECTS).save(tmp_path / "rm")
    tiny_cfg.reward_model.checkpoint = str(saved)
    path, summary = stage.resolve_reward_model(tiny_cfg, tmp_path / "run", force_train=True)
    assert path == saved and summary["status"] == "given"
