"""mogrpo.data.public: each adapter's mapping on a tiny copy of the shared-data layout, then on the real data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

import mogrpo.utils.resolvers  # noqa: F401  (registers ${mogrpo.project_root:})
from mogrpo.data import public
from mogrpo.data.errors import DataError
from mogrpo.data.labelled import aspect_coverage, load_labelled, validate_rows

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "tests" / "fixtures" / "data" / "shared"


def _col(ds, name):
    return np.asarray(ds.with_format("numpy")[name], dtype=np.float64)


# ---------------------------------------------------------------- fixtures (hand-checked numbers)


def test_diasafety_maps_labels_and_skips_empty_rows():
    ds = public.diasafety(ROOT)
    assert ds["prompt"][1] == "I feel like nobody would notice if I was gone."
    assert ds["response"][1] == "lol same, who cares"
    np.testing.assert_array_equal(_col(ds, "safety"), [1.0, 0.0, 0.0])  # the blank response row is skipped
    assert set(ds["source"]) == {"diasafety"}
    assert ds.column_names == ["prompt", "response", "source", "safety"]


def test_diasafety_split_and_bad_label(tmp_path):
    assert public.diasafety(ROOT, split="test")["response"] == [
        "Please talk to your doctor before changing anything."
    ]
    assert public.diasafety(ROOT, split="validation")["response"] == ["Pace yourself and hydrate well."]
    (tmp_path / "diasafety").mkdir()
    (tmp_path / "diasafety" / "train.json").write_text(
        '[{"context": "a", "response": "b", "label": "Safe"}, {"context": "c", "response": "d", "label": "maybe"}]'
    )
    with pytest.raises(DataError, match=r"train\.json, row 2: label must be one of"):
        public.diasafety(tmp_path)
    with pytest.raises(DataError, match="split must be one of"):
        public.diasafety(ROOT, split="dev")


def test_missing_shared_data_names_file_and_config_key(tmp_path):
    with pytest.raises(DataError) as err:
        public.diasafety(tmp_path / "absent")
    msg = str(err.value)
    assert "diasafety/train.json" in msg and "paths.shared_data" in msg and "MOGRPO_SHARED_DATA" in msg
    with pytest.raises(DataError, match="paths.shared_data"):
        public.fine_grained_rlhf(None)


def test_stanford_politeness_minmax_over_both_files():
    ds = public.stanford_politeness(ROOT)
    # Normalized Score: wikipedia -1, 0.5, 2; stack-exchange -2, 0.5, 1 -> (s + 2) / 4
    np.testing.assert_allclose(_col(ds, "politeness"), [0.25, 0.625, 1.0, 0.0, 0.625, 0.75], rtol=1e-6)
    assert set(ds["prompt"]) == {"Write a message."}
    assert ds["response"][3] == "Did you even read the docs?"
    assert ds["source"][:4] == ["stanford_politeness:wikipedia"] * 3 + ["stanford_politeness:stack-exchange"]
    assert ds["group"][0] == "stanford_politeness:Why did you revert my edit? Explain, now."


def test_stanford_politeness_rank_scaling_averages_ties():
    ds = public.stanford_politeness(ROOT, scaling="rank")
    # ranks of (-1, .5, 2, -2, .5, 1) = (2, 3.5, 6, 1, 3.5, 5); (rank - 1) / 5
    np.testing.assert_allclose(_col(ds, "politeness"), [0.2, 0.5, 1.0, 0.0, 0.5, 0.8], rtol=1e-6)
    with pytest.raises(DataError, match="scaling must be one of"):
        public.stanford_politeness(ROOT, scaling="zscore")


def test_max_rows_takes_a_seeded_subset_with_corpus_wide_labels():
    full = public.stanford_politeness(ROOT)
    label = dict(zip(full["response"], _col(full, "politeness")))
    a = public.stanford_politeness(ROOT, max_rows=3, seed=1)
    b = public.stanford_politeness(ROOT, max_rows=3, seed=1)
    assert len(a) == 3 and a["response"] == b["response"]
    for response, score in zip(a["response"], _col(a, "politeness")):
        assert score == pytest.approx(label[response])  # scaled over the whole corpus, not the subset
    seeds = {tuple(public.stanford_politeness(ROOT, max_rows=3, seed=s)["response"]) for s in range(6)}
    assert len(seeds) > 1


def test_safety_tuned_llamas_safety_only():
    ds = public.safety_tuned_llamas(ROOT)
    assert ds.column_names == ["prompt", "response", "source", "safety"]
    assert ds["prompt"] == [
        "Tell me how to pick my neighbour's lock.",
        "Write an insult about this person.\n\nMy coworker Sam",
    ]
    assert ds["response"][0].startswith("I can't help")
    np.testing.assert_array_equal(_col(ds, "safety"), [1.0, 1.0])


def test_safety_tuned_llamas_pin_split_is_the_prompt_split():
    from mogrpo.data.splits import prompt_split

    ds = public.safety_tuned_llamas(ROOT, pin_split=True)
    assert ds["split"] == [prompt_split(p) for p in ds["prompt"]]
    assert "split" not in public.safety_tuned_llamas(ROOT).column_names


def test_error_free_share_union_and_clipping():
    assert public.error_free_share("x" * 20, [(0, 5), (3, 8)]) == pytest.approx(0.6)  # union = 8 chars
    assert public.error_free_share("x" * 20, [(15, 30)]) == pytest.approx(0.75)  # clipped to 5 chars
    assert public.error_free_share("x" * 4, [(0, 4)]) == 0.0
    assert public.error_free_share("", []) == 0.0


def test_fine_grained_rlhf_meaningfulness():
    ds = public.fine_grained_rlhf(ROOT)
    assert ds["prompt"] == ["q one?", "q two?", "q four?"]  # the empty prediction is skipped
    # row 1: Irrelevant [0,5) + Redundant [3,8) -> 8 of 20 chars, Wrong-Grounding ignored
    np.testing.assert_allclose(_col(ds, "meaningfulness"), [0.6, 1.0, 0.75], rtol=1e-6)
    with_facts = public.fine_grained_rlhf(ROOT, error_types=["Irrelevant", "Redundant", "Wrong-Grounding"])
    assert _col(with_facts, "meaningfulness")[0] == pytest.approx(1 - 13 / 20)
    assert _col(with_facts, "meaningfulness")[2] == pytest.approx(1.0)  # Incoherent not counted there


def test_public_mix_config_lists_the_adapters():
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["reward_data=public_mix", f"paths.shared_data={ROOT}"])
    targets = [s._target_ for s in cfg.reward_data.sources]
    assert targets == [
        f"mogrpo.data.public.{n}"
        for n in ("diasafety", "stanford_politeness", "safety_tuned_llamas", "fine_grained_rlhf")
    ]
    dd = load_labelled(cfg.reward_data, list(cfg.reward.aspects), seed=cfg.seed)
    # 3 DiaSafety + 6 politeness + 2 Safety-Tuned LLaMAs + 3 FG-RLHF rows
    assert sum(len(s) for s in dd.values()) == 14
    assert aspect_coverage(dd, cfg.reward.aspects) == {
        "politeness": 6,
        "meaningfulness": 3,
        "actionability": 0,
        "safety": 5,
    }


# ---------------------------------------------------------------- the real shared data


def _shared_root() -> Path:
    root = Path(os.environ.get("MOGRPO_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not root.is_dir():
        pytest.skip(f"shared data folder {root} absent (set MOGRPO_SHARED_DATA)")
    return root


SAFE_DIASAFETY = 4837  # Safe rows of train.json (4839) less the 2 blank ones
ADAPTERS = {
    "diasafety": ["safety"],
    "stanford_politeness": ["politeness"],
    "safety_tuned_llamas": ["safety"],
    "fine_grained_rlhf": ["meaningfulness"],
}


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_adapter_on_real_data(name):
    root = _shared_root()
    ds = getattr(public, name)(root)
    aspects = ADAPTERS[name]
    assert len(ds) > 0
    validate_rows(ds, aspects, name)  # non-empty texts, scores in [0, 1], every row labelled
    for a in aspects:
        values = _col(ds, a)
        assert not np.isnan(values).any() and values.min() >= 0 and values.max() <= 1
    if name == "diasafety":
        # 9017 rows less the 2 with an empty context or response
        assert len(ds) == 9015 and _col(ds, "safety").sum() == SAFE_DIASAFETY
    if name == "stanford_politeness":
        assert len(ds) == 4353 + 6603
        assert _col(ds, "politeness").min() == 0.0 and _col(ds, "politeness").max() == pytest.approx(1.0)
    if name == "fine_grained_rlhf":
        assert len(ds) == 500 and 0 < _col(ds, "meaningfulness").mean() < 1
    capped = getattr(public, name)(root, max_rows=50, seed=0)
    assert len(capped) == 50


@pytest.mark.data
def test_public_mix_on_real_data():
    root = _shared_root()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["reward_data=public_mix", f"paths.shared_data={root}"])
    dd = load_labelled(cfg.reward_data, list(cfg.reward.aspects), seed=cfg.seed)
    assert sum(len(s) for s in dd.values()) == 3000 + 3000 + 1000 + 500
    cov = aspect_coverage(dd, cfg.reward.aspects)
    assert cov == {"politeness": 3000, "meaningfulness": 500, "actionability": 0, "safety": 4000}
    prompts = [set(dd[s]["prompt"]) - {public.POLITENESS_PROMPT} for s in ("train", "validation", "test")]
    assert all(prompts) and not (
        prompts[0] & prompts[1] or prompts[0] & prompts[2] or prompts[1] & prompts[2]
    )
    assert len(dd["validation"]) == 750 and len(dd["test"]) == 1125


# ---------------------------------------------------------------- real_mix: every real source at once

PINNED = ("do_not_answer", "safetext", "hh_rlhf", "llmbar", "over_refusal", "builtin")  # split by prompt_split


def _real_mix(root: Path):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["reward_data=real_mix", f"paths.shared_data={root}"])
    return load_labelled(cfg.reward_data, list(cfg.reward.aspects), seed=cfg.seed), cfg


def _source_rows(cfg) -> int:
    """The rows the sources give one by one (load_labelled must lose none: every row labels an aspect)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    total = 0
    for node in cfg.reward_data.sources:
        node = OmegaConf.to_container(node, resolve=True)
        node.pop("assign_split", None)
        total += len(instantiate(node))
    return total


def _check_real_mix(dd) -> None:
    from mogrpo.data.labelled import is_pair
    from mogrpo.data.splits import prompt_split

    groups: dict[str, set] = {}
    for split, part in dd.items():
        for p, src in zip(part["prompt"], part["source"]):
            if src.startswith(PINNED):
                assert prompt_split(p) == split, (src, p)
            if not src.startswith("stanford_politeness"):  # politeness groups by request, not prompt
                groups.setdefault(p, set()).add(split)
        pair = is_pair(part)
        assert all(r != j for r, j, k in zip(part["response"], part["rejected"], pair) if k)
    assert all(len(s) == 1 for s in groups.values())  # a prompt's rows never span two splits


def test_real_mix_config_on_the_fixtures():
    dd, cfg = _real_mix(ROOT)
    _check_real_mix(dd)
    assert sum(len(s) for s in dd.values()) == _source_rows(cfg)
    assert len(dd["test"]) > 0 and len(dd["validation"]) > 0


@pytest.mark.data
def test_real_mix_on_real_data():
    from mogrpo.data.labelled import is_pair

    dd, cfg = _real_mix(_shared_root())
    _check_real_mix(dd)
    assert sum(len(s) for s in dd.values()) == _source_rows(cfg)
    assert sum(int(is_pair(s).sum()) for s in dd.values()) > 3000  # HH-RLHF, LLMBar, SafeText, over-refusal, ...
    assert all(n > 0 for n in aspect_coverage(dd, list(cfg.reward.aspects)).values())
    diasafety_test = [p for p, src in zip(dd["test"]["prompt"], dd["test"]["source"]) if src == "diasafety"]
    assert len(diasafety_test) >= 600  # the official test file, pinned whole (plus any train rows of its contexts)
