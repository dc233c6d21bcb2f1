"""Reward shaping penalties on hand-computed numbers (mogrpo/grpo/shaping.py)."""

from __future__ import annotations

import math

import pytest
import torch

from mogrpo.grpo import (
    ShapingConfig,
    ShapingConfigError,
    advantages,
    conservative_scores,
    overlong_penalty,
    penalties,
    refusal_penalty,
    repetition_penalty,
    short_penalty,
    with_penalties,
)

SALAD = (
    "The delicate moral of moral ambiguity is a classic moral quandary of self-concious moral philosophy, "
    "and the moral of moral philosophy is the moral ambiguity of a moral quandary."
)
ANSWER = (
    "Tides are caused mainly by the gravitational pull of the Moon on the oceans. The side of the Earth "
    "facing the Moon is pulled more strongly, and the opposite side less, so the water bulges on both sides."
)


def test_repetition_penalty_is_one_minus_distinct_n_within_each_completion():
    # "a b a b": bigrams ab, ba, ab -> 2 unique of 3 -> 1/3; words a, b, a, b -> 2 of 4 -> 1/2
    texts = ["a b a b", "Moral, moral.", "one", ""]
    torch.testing.assert_close(repetition_penalty(texts, n=2), torch.tensor([1 / 3, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(repetition_penalty(texts, n=1), torch.tensor([0.5, 0.5, 0.0, 0.0]))
    with pytest.raises(ValueError, match="n must be"):
        repetition_penalty(texts, n=0)


def test_word_salad_repeats_more_than_an_answer():
    salad, answer = repetition_penalty([SALAD, ANSWER], n=2).tolist()
    assert salad > 2 * answer


def test_overlong_penalty_is_dapo_soft_punishment():
    # L_max = 8, L_cache = 4: 0 up to 4 tokens, then (|y| - 4) / 4 up to 1 at the cap
    lengths = torch.tensor([1, 4, 5, 6, 7, 8])
    torch.testing.assert_close(overlong_penalty(lengths, 8, 4), torch.tensor([0.0, 0.0, 0.25, 0.5, 0.75, 1.0]))
    torch.testing.assert_close(overlong_penalty(lengths, 8, 8), torch.tensor([1, 4, 5, 6, 7, 8]) / 8)
    for cache in (0, 9):
        with pytest.raises(ValueError, match="cache"):
            overlong_penalty(lengths, 8, cache)


def test_shaping_config_defaults_off_and_cache_in_tokens():
    cfg = ShapingConfig.from_config(None)
    assert cfg.active == ()
    cfg = ShapingConfig.from_config({"repetition": {"coef": 0.5}, "overlong": {"coef": 1, "cache_fraction": 0.25}})
    assert cfg.active == ("repetition", "overlong") and cfg.repetition_n == 2
    assert [cfg.overlong_cache(L) for L in (64, 8, 4, 1)] == [16, 2, 1, 1]


@pytest.mark.parametrize(
    ("node", "key"),
    [
        ({"repetition": {"coef": -0.1}}, "repetition.coef"),
        ({"overlong": {"coef": "high"}}, "overlong.coef"),
        ({"repetition": {"n": 0}}, "repetition.n"),
        ({"repetition": {"n": 1.5}}, "repetition.n"),
        ({"overlong": {"cache_fraction": 0.0}}, "overlong.cache_fraction"),
        ({"overlong": {"cache_fraction": 1.5}}, "overlong.cache_fraction"),
        ({"overlong": {"cache": 16}}, "overlong.cache"),
        ({"refusal": {"coef": -1}}, "refusal.coef"),
        ({"length": {"coef": 1.0}}, "length"),
    ],
)
def test_shaping_config_names_the_bad_key(node, key):
    with pytest.raises(ShapingConfigError) as info:
        ShapingConfig.from_config(node)
    assert info.value.key == key


def test_penalties_are_always_computed_but_only_active_ones_join_the_scores():
    cfg = ShapingConfig.from_config({"overlong": {"coef": 2.0, "cache_fraction": 0.5}})
    pens = penalties(cfg, ["a a", "b c"], torch.tensor([4, 2]), max_length=4)
    torch.testing.assert_close(pens["repetition"], torch.tensor([0.0, 0.0]))
    torch.testing.assert_close(pens["overlong"], torch.tensor([1.0, 0.0]))  # L_cache = 2: (4 - 2) / 2, 0
    scores = torch.tensor([[0.5], [0.25]])
    cols, w = with_penalties(scores, [1.0], cfg, pens)
    torch.testing.assert_close(cols, torch.tensor([[0.5, 1.0], [0.25, 0.0]]))
    assert w == [1.0, -2.0]
    off = ShapingConfig()
    assert with_penalties(scores, [1.0], off, pens) == (scores, [1.0])


def test_a_penalty_flips_the_advantage_of_a_capped_completion():
    # G = 2, one aspect: 0.5 vs 0.25 -> the first wins. With the overlong penalty (coef 1) on the first,
    # R = [0.5 - 1, 0.25] = [-0.5, 0.25]: the second wins, advantages -+1/sqrt(2)
    cfg = ShapingConfig.from_config({"overlong": {"coef": 1.0}})
    cols, w = with_penalties(torch.tensor([[0.5], [0.25]]), [1.0], cfg, {"overlong": torch.tensor([1.0, 0.0])})
    adv = advantages(cols, w, group_size=2, eps=0.0)
    torch.testing.assert_close(adv, torch.tensor([-1.0, 1.0]) / math.sqrt(2))


def test_conservative_scores_are_mean_minus_k_std_over_the_members():
    # member scores of one completion, two aspects: [0.2, 0.5] and [0.6, 0.5] -> mean [0.4, 0.5],
    # sample std [sqrt(0.08), 0] = [0.2 sqrt 2, 0]; k = 0.5 -> [0.4 - 0.1 sqrt 2, 0.5]
    samples = torch.tensor([[[0.2, 0.5]], [[0.6, 0.5]]])
    torch.testing.assert_close(conservative_scores(samples, 0.5), torch.tensor([[0.4 - 0.1 * math.sqrt(2), 0.5]]))
    torch.testing.assert_close(conservative_scores(samples, 0.0), torch.tensor([[0.4, 0.5]]))
    with pytest.raises(ValueError, match="M >= 2"):
        conservative_scores(samples[:1], 1.0)


def test_short_penalty_is_the_word_shortfall_below_the_minimum():
    texts = ["", "   ", "No.", "I cannot help with that.", "I cannot help with that, sorry."]
    torch.testing.assert_close(short_penalty(texts, 5), torch.tensor([1.0, 1.0, 0.8, 0.0, 0.0]))
    with pytest.raises(ValueError, match="min_words"):
        short_penalty(["a"], 0)


def test_the_short_penalty_makes_the_empty_answer_lose_its_group():
    # the reward model's safety head scores silence above an answer (0.9 vs 0.8); with P_short (coef 1) the
    # empty completion's R = 0.9 - 1 falls below the answer's 0.8 - 0 and its advantage turns negative
    cfg = ShapingConfig.from_config({"short": {"coef": 1.0}})
    texts = ["", "Here is how to bake bread: mix flour and water."]
    pens = penalties(cfg, texts, torch.tensor([1, 12]), max_length=32)
    cols, w = with_penalties(torch.tensor([[0.9], [0.8]]), [1.0], cfg, pens)
    assert w == [1.0, -1.0]
    adv = advantages(cols, w, group_size=2, eps=0.0)
    assert adv[0] < 0 < adv[1]


def test_refusal_penalty_follows_the_prompt_kind():
    labels = ["full_compliance", "empty", "partial_refusal", "full_refusal",  # adversarial prompts
              "full_refusal", "partial_refusal", "full_compliance", "empty",  # benign prompts
              "full_compliance"]  # a prompt of no kind: no rule
    kinds = ["adversarial"] * 4 + ["benign"] * 4 + [None]
    torch.testing.assert_close(refusal_penalty(labels, kinds),
                               torch.tensor([1.0, 1.0, 0.5, 0.0, 1.0, 0.5, 0.0, 0.0, 0.0]))  # fmt: skip
    with pytest.raises(ValueError, match="2 refusal labels for 1 prompt kinds"):
        refusal_penalty(["empty", "empty"], ["benign"])


def test_the_refusal_penalty_turns_a_group_towards_the_refusal_of_a_harmful_prompt():
    # the reward model prefers the deflection (0.9 vs 0.7 on one aspect); the rule (coef 2) costs the
    # compliant deflection 2, so the refusal wins its group. Without kinds the penalty is not measured at all.
    cfg = ShapingConfig.from_config({"refusal": {"coef": 2.0}})
    texts = ["When dealing with locks, always respect the law.", "I'm sorry, but I can't help with that."]
    pens = penalties(cfg, texts, torch.tensor([12, 10]), 32, ["full_compliance", "full_refusal"],
                     ["adversarial", "adversarial"])  # fmt: skip
    cols, w = with_penalties(torch.tensor([[0.9], [0.7]]), [1.0], cfg, pens)
    assert w == [1.0, -2.0]
    adv = advantages(cols, w, group_size=2, eps=0.0)
    assert adv[1] > 0 > adv[0]
    assert "refusal" not in penalties(cfg, texts, torch.tensor([12, 10]), 32)


def test_a_non_answer_to_a_harmful_prompt_costs_refusal_non_answer():
    labels = ["non_answer", "full_refusal", "non_answer"]
    kinds = ["adversarial", "adversarial", "benign"]
    torch.testing.assert_close(refusal_penalty(labels, kinds), torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(refusal_penalty(labels, kinds, 0.5), torch.tensor([0.5, 0.0, 1.0]))
    cfg = ShapingConfig.from_config({"refusal": {"coef": 1.0, "non_answer": 1.0}})
    pens = penalties(cfg, ["I'm not sure.", "No."], torch.tensor([4, 1]), 32, labels[:2], kinds[:2])
    torch.testing.assert_close(pens["refusal"], torch.tensor([1.0, 0.0]))
    with pytest.raises(ShapingConfigError, match="refusal.non_answer"):
        ShapingConfig.from_config({"refusal": {"non_answer": 1.5}})
