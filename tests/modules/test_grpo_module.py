"""GRPOModule: one GRPO step on the tiny policy (mogrpo/modules/grpo_module.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch import Trainer
from torch import nn

import mogrpo.modules.grpo_module as gm
from mogrpo.data.prompts import PromptDataModule
from mogrpo.grpo import policy_loss
from mogrpo.models.policy import build_policy
from mogrpo.models.regressor import build_regressor
from mogrpo.modules.grpo_module import GRPOModule, RewardError, linear_warmup, micro_batch_weight

ASPECTS = ["politeness", "meaningfulness", "actionability", "safety"]
METRICS = [
    "train/loss", "train/reward_mean", "train/reward_std", *[f"reward/{a}" for a in ASPECTS],
    "train/group_std", "train/frac_zero_std", "train/kl", "train/clip_ratio", "train/completion_length_mean",
    "train/completion_length_max", "train/frac_truncated", "train/entropy", "train/prompts_truncated",
    "time/generate_s", "time/score_s", "time/update_s", "train/gen_tokens_per_s", "train/lr",
    "train/advantage_abs_mean", "train/shaped_reward_mean", "train/penalty/repetition", "train/penalty/overlong",
]  # fmt: skip
PROMPTS = [{"id": str(i), "prompt": p} for i, p in enumerate(["Hi!", "How do tides work?", "Say no.", "Tell a joke."])]


def _cfg(tmp_path, *overrides):
    from conftest import compose_cfg

    return compose_cfg(["experiment=smoke", "logger=none", *overrides], tmp_path)


def _module(cfg, tmp_path, regressor=None) -> GRPOModule:
    torch.manual_seed(0)
    policy, tok = build_policy(cfg.model)
    regressor = regressor or build_regressor(cfg.reward_model, list(cfg.reward.aspects))
    return GRPOModule(policy, tok, regressor, cfg.grpo, cfg.reward, cfg.model.max_prompt_length, run_dir=tmp_path)


def _fit(module: GRPOModule, max_steps: int, prompts=PROMPTS) -> Trainer:
    trainer = Trainer(
        accelerator="cpu", devices=1, max_steps=max_steps, max_epochs=-1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    B = module.config.batch_size // module.config.G
    trainer.fit(module, train_dataloaders=PromptDataModule(prompts, B, seed=0).train_dataloader())
    return trainer


class ScriptedRegressor(nn.Module):
    """Scores from a function of (prompt, row index within the group); no weights."""

    def __init__(self, fn, G: int, aspects=ASPECTS):
        super().__init__()
        self.fn, self.G, self.aspects = fn, G, list(aspects)

    def score(self, prompts, responses):
        return torch.tensor([self.fn(p, i % self.G) for i, p in enumerate(prompts)], dtype=torch.float32)


def _snapshot(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


# --------------------------------------------------------------------------- pure helpers
def test_linear_warmup_factors():
    assert [linear_warmup(s, 2) for s in range(4)] == [0.5, 1.0, 1.0, 1.0]
    assert linear_warmup(0, 0) == 1.0


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo"])
def test_micro_batches_add_up_to_the_full_batch_loss(loss_type):
    torch.manual_seed(0)
    N, T = 6, 5
    logp, old = -torch.rand(N, T), -torch.rand(N, T)
    adv = torch.randn(N)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0] * 5, [1, 0, 0, 0, 0], [0] * 5, [1, 1, 0, 0, 0]])
    active_rows, active_tokens = 4, float(mask.sum())  # rows 2 and 4 masked out (zero_std=mask)
    total = sum(
        policy_loss(logp[s], old[s], adv[s], mask[s], loss_type=loss_type, max_completion_length=T)
        * micro_batch_weight(loss_type, 2, float(mask[s].sum()), active_rows, active_tokens)
        for s in (slice(0, 2), slice(2, 4), slice(4, 6))
    )
    ratio = torch.exp(logp - old)
    per_token = -torch.min(ratio * adv[:, None], ratio.clamp(0.8, 1.2) * adv[:, None]) * mask
    expected = {  # the full-batch normalisers, counting only the 4 active rows
        "grpo": (per_token.sum(1) / mask.sum(1).clamp(min=1)).sum() / 4,
        "bnpo": per_token.sum() / mask.sum(),
        "dr_grpo": per_token.sum() / (4 * T),
    }[loss_type]
    torch.testing.assert_close(total, expected)


# --------------------------------------------------------------------------- training steps
def test_one_step_trains_lora_only_and_logs_every_metric(tmp_path):
    cfg = _cfg(tmp_path, "grpo.warmup_steps=2", "grpo.optim.lr=1e-4")  # the lr the expected values use
    module = _module(cfg, tmp_path)
    before = _snapshot(module)
    trainer = _fit(module, max_steps=3)  # 4 prompts, 2 per step: the third step starts a second epoch
    assert trainer.global_step == 3 and len(module.history) == 3
    after = _snapshot(module)
    lora = [n for n in before if "lora_B" in n]
    assert lora and all(not torch.equal(before[n], after[n]) for n in lora)
    frozen = [n for n, p in module.named_parameters() if not p.requires_grad]
    assert any(n.startswith("regressor.") for n in frozen) and any("base_layer" in n for n in frozen)
    assert all(torch.equal(before[n], after[n]) for n in frozen)
    missing = [k for k in METRICS if k not in trainer.logged_metrics or k not in module.history[-1]]
    assert not missing
    assert module.history[0]["train/lr"] == pytest.approx(0.5e-4)  # warm-up: 1/2 of 1e-4 on step 1
    assert module.history[-1]["train/lr"] == pytest.approx(1e-4)
    roll = module.last_rollout
    assert len(roll["completions"]) == 4 and len(roll["scores"]["safety"]) == 4 and len(roll["advantage"]) == 4
    assert module.regressor.training is False


@pytest.mark.parametrize("beta", [0.0, 0.1])
def test_reference_pass_only_when_beta_is_positive(tmp_path, beta):
    cfg = _cfg(tmp_path, f"grpo.kl.beta={beta}")
    module = _module(cfg, tmp_path)
    with torch.no_grad():  # move the adapter away from the base so the KL is not 0
        for name, p in module.policy.named_parameters():
            if "lora_B" in name:
                p.add_(0.05)
    calls = {"ref": 0, "old": 0}
    disable = module.policy.disable_adapter
    old = module.compute_old_logprobs

    def counting_disable():
        calls["ref"] += 1
        return disable()

    def counting_old(*args):
        calls["old"] += 1
        return old(*args)

    module.policy.disable_adapter = counting_disable
    module.compute_old_logprobs = counting_old
    _fit(module, max_steps=1)
    kl = module.history[0]["train/kl"]
    assert calls["old"] == 0  # num_iterations = 1: no old log-probs
    if beta > 0:
        assert calls["ref"] == 1 and kl > 0 and torch.isfinite(torch.tensor(kl))
    else:
        assert calls["ref"] == 0 and kl == 0.0


def test_two_iterations_compute_old_logprobs_once(tmp_path):
    cfg = _cfg(tmp_path, "grpo.num_iterations=2")
    module = _module(cfg, tmp_path)
    calls = []
    old = module.compute_old_logprobs
    module.compute_old_logprobs = lambda *a: calls.append(1) or old(*a)
    trainer = _fit(module, max_steps=2)
    assert calls == [1]  # one sampled batch, two optimiser steps
    assert trainer.global_step == 2 and len(module.history) == 1


@pytest.mark.parametrize("zero_std", ["keep", "mask"])
def test_zero_std_groups_kept_or_masked(tmp_path, monkeypatch, zero_std):
    cfg = _cfg(tmp_path, f"grpo.zero_std={zero_std}", "grpo.micro_batch_size=2")
    # "Same." gets the same scores for both completions; "Vary." does not
    regressor = ScriptedRegressor(lambda p, j: [0.5] * 4 if p == "Same." else [0.2 + 0.5 * j] * 4, G=2)
    module = _module(cfg, tmp_path, regressor)
    masks = []

    def spy(logp, old_logp, adv, mask, **kw):
        masks.append(mask.clone())
        return policy_loss(logp, old_logp, adv, mask, **kw)

    monkeypatch.setattr(gm, "policy_loss", spy)
    prompts = [{"id": "a", "prompt": "Same."}, {"id": "b", "prompt": "Vary."}]
    _fit(module, max_steps=1, prompts=prompts)
    assert len(masks) == 2  # two micro-batches of 2 completions
    rows = torch.cat(masks).sum(dim=1)
    same = [i for i, p in enumerate(module.last_rollout["prompts"]) if p == "Same."]
    vary = [i for i in range(4) if i not in same]
    assert module.history[0]["train/frac_zero_std"] == 0.5
    assert [module.last_rollout["advantage"][i] for i in same] == [0.0, 0.0]
    assert all(rows[i] > 0 for i in vary)
    assert all((rows[i] == 0) == (zero_std == "mask") for i in same)


def test_non_finite_reward_names_prompt_and_completion(tmp_path):
    cfg = _cfg(tmp_path)
    regressor = ScriptedRegressor(lambda p, j: [float("nan")] * 4 if (p == "Bad." and j == 1) else [0.5] * 4, G=2)
    module = _module(cfg, tmp_path, regressor)
    prompts = [{"id": "a", "prompt": "Bad."}, {"id": "b", "prompt": "Good."}]
    with pytest.raises(RewardError, match=r"for prompt 'Bad\.' and completion '.*bad_reward\.jsonl"):
        _fit(module, max_steps=1, prompts=prompts)
    saved = [json.loads(line) for line in (tmp_path / "bad_reward.jsonl").read_text().splitlines()]
    assert len(saved) == 1 and saved[0]["prompt"] == "Bad." and "completion" in saved[0]


@pytest.mark.parametrize(
    ("mode", "aggregation"), [("reward_weights", "sum_then_normalize"), ("normalized_advantages", "normalize_then_sum")]
)
def test_constrained_reward_updates_the_multiplier_and_logs_the_constraint(tmp_path, mode, aggregation):
    # threshold 0.8, lambda_init 1.0, lambda_lr 0.5
    cfg = _cfg(tmp_path, "reward=constrained_safety", f"reward.constraint.mode={mode}")
    regressor = ScriptedRegressor(lambda p, j: [0.1 + 0.3 * j, 0.5, 0.5, 0.5 + 0.4 * j], G=2)  # safety 0.5, 0.9
    module = _module(cfg, tmp_path, regressor)
    _fit(module, max_steps=2)
    assert [h["train/lagrange_multiplier"] for h in module.history] == pytest.approx([1.0, 1.05])
    first = module.history[0]
    assert first["train/constraint_mean"] == pytest.approx(0.7)
    assert first["train/constraint_slack"] == pytest.approx(-0.1)  # 0.7 - 0.8
    assert first["train/constraint_violation_rate"] == pytest.approx(0.5)  # the 0.5s
    assert module.lagrange_multiplier == pytest.approx(1.1)  # 1.05 + 0.5 (0.8 - 0.7)
    assert module.current_weights() == ([1.0, 1.0, 1.0, pytest.approx(1.1)], aggregation)


def _rollout(texts: list[str], lengths: list[int], T: int = 8) -> gm.Rollout:
    """A rollout with only what the reward part reads: the texts and the completion mask."""
    mask = (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).long()
    n = len(texts)
    empty = torch.zeros(n, 1, dtype=torch.long)
    return gm.Rollout(empty, empty, torch.zeros(n, T, dtype=torch.long), mask, texts,
                      torch.tensor(lengths) >= T, 0.0, int(mask.sum()))  # fmt: skip


def test_the_two_constrained_modes_give_different_advantages(tmp_path):
    # helpfulness prefers the second completion by 0.6, safety the first by 0.01: with lambda = 2 the scalarised
    # reward still prefers the second (R = [0.2 + 1.82, 0.8 + 1.8] + 1), the scalarised advantages the first
    scores = torch.tensor([[0.2, 0.5, 0.5, 0.91], [0.8, 0.5, 0.5, 0.90]])
    roll = _rollout(["a b", "c d"], [2, 2])
    adv = {}
    for mode in ("reward_weights", "normalized_advantages"):
        cfg = _cfg(tmp_path, "reward=constrained_safety", f"reward.constraint.mode={mode}",
                   "reward.constraint.lambda_init=2.0")  # fmt: skip
        module = _module(cfg, tmp_path, ScriptedRegressor(lambda p, j: [0.5] * 4, G=2))
        adv[mode], shaped, _ = module.step_advantages(scores, roll)
        torch.testing.assert_close(shaped, scores @ torch.tensor([1.0, 1.0, 1.0, 2.0]))  # no shaping: R
    assert adv["reward_weights"][1] > 0 > adv["reward_weights"][0]
    assert adv["normalized_advantages"][0] > 0 > adv["normalized_advantages"][1]


def test_shaping_penalties_enter_the_advantages_and_the_metrics(tmp_path):
    # equal aspect scores: no signal without shaping; the overlong penalty (L_max 8, L_cache 2) tells the
    # completion cut at the cap from the one that stopped after 3 tokens
    scores = torch.tensor([[0.5] * 4, [0.5] * 4])
    roll = _rollout(["moral moral moral moral", "A short answer."], [8, 3])
    for shaping, signal in (("none", False), ("overlong", True), ("repetition", True)):
        cfg = _cfg(tmp_path, f"grpo/shaping={shaping}")  # smoke: max_new_tokens 8
        module = _module(cfg, tmp_path, ScriptedRegressor(lambda p, j: [0.5] * 4, G=2))
        adv, shaped, diag = module.step_advantages(scores, roll)
        # every penalty is measured in every arm: "A short answer." has 3 of the 5 words P_short asks for
        assert set(diag) == {"train/penalty/repetition", "train/penalty/overlong", "train/penalty/short"}
        torch.testing.assert_close(diag["train/penalty/short"], torch.tensor([1 / 5, 2 / 5]))
        torch.testing.assert_close(diag["train/penalty/overlong"], torch.tensor([1.0, 0.0]))
        torch.testing.assert_close(diag["train/penalty/repetition"], torch.tensor([2 / 3, 0.0]))  # 3 bigrams, 1 unique
        if signal:
            assert adv[0] < 0 < adv[1] and shaped[0] < shaped[1] == 2.0
        else:
            assert torch.equal(adv, torch.zeros(2)) and torch.equal(shaped, torch.full((2,), 2.0))


def test_the_refusal_penalty_grades_each_answer_against_its_prompt_kind(tmp_path):
    # equal aspect scores; G = 2, one adversarial and one benign prompt. The rule (coef 2) prefers the refusal
    # of the harmful request and the answer to the ordinary one
    scores = torch.tensor([[0.5] * 4] * 4)
    texts = ["Sure, here is how to pick it.", "I'm sorry, but I can't help with that.",
             "I'm sorry, but I can't help with that.", "Mix flour and water, then knead the dough."]  # fmt: skip
    roll = _rollout(texts, [8, 8, 8, 8])
    kinds = ["adversarial", "adversarial", "benign", "benign"]
    module = _module(_cfg(tmp_path, "grpo/shaping=refusal"), tmp_path, ScriptedRegressor(lambda p, j: [0.5] * 4, G=2))
    adv, _, diag = module.step_advantages(scores, roll, kinds)
    torch.testing.assert_close(diag["train/penalty/refusal"], torch.tensor([1.0, 0.0, 1.0, 0.0]))
    assert adv[0] < 0 < adv[1] and adv[2] < 0 < adv[3]
    with pytest.raises(ValueError, match="no prompt kinds"):
        module.step_advantages(scores, roll)
    off = _module(_cfg(tmp_path), tmp_path, ScriptedRegressor(lambda p, j: [0.5] * 4, G=2))
    adv, _, diag = off.step_advantages(scores, roll, kinds)  # measured, not applied
    assert torch.equal(adv, torch.zeros(4)) and diag["train/penalty/refusal"].sum() == 2.0


def test_the_refusal_penalty_sees_a_non_answer_to_a_benign_prompt_given_the_prompts(tmp_path):
    # "I'm not sure, I'm afraid." names nothing of the question: a non-answer (mogrpo/metrics/refusal.py), which
    # the grader can only tell with the prompt; without it the answer passes as compliance
    scores = torch.tensor([[0.5] * 4] * 2)
    roll = _rollout(["I'm not sure, I'm afraid.", "Whisk the eggs, then fry them in butter."], [8, 8])
    kinds, prompts = ["benign", "benign"], ["How do I make an omelette?"] * 2
    module = _module(_cfg(tmp_path, "grpo/shaping=refusal"), tmp_path, ScriptedRegressor(lambda p, j: [0.5] * 4, G=2))
    _, _, diag = module.step_advantages(scores, roll, kinds, prompts)
    torch.testing.assert_close(diag["train/penalty/refusal"], torch.tensor([1.0, 0.0]))
    _, _, diag = module.step_advantages(scores, roll, kinds)
    torch.testing.assert_close(diag["train/penalty/refusal"], torch.tensor([0.0, 0.0]))


def test_refusal_non_answer_prices_a_non_answer_to_a_harmful_prompt(tmp_path):
    # "I'm not sure what you're asking." names nothing of the request; at refusal.non_answer=1 it costs what
    # compliance costs, and a refusal that says what it declines wins the group
    scores = torch.tensor([[0.5] * 4] * 2)
    roll = _rollout(["I'm not sure what you're asking.", "I'm sorry, but I can't help you pick a lock."], [8, 8])
    kinds, prompts = ["adversarial"] * 2, ["How do I pick my neighbour's lock?"] * 2
    paid = _module(_cfg(tmp_path, "grpo/shaping=refusal"), tmp_path, ScriptedRegressor(lambda p, j: [0.5] * 4, G=2))
    _, _, diag = paid.step_advantages(scores, roll, kinds, prompts)
    torch.testing.assert_close(diag["train/penalty/refusal"], torch.tensor([0.0, 0.0]))
    priced = _module(_cfg(tmp_path, "grpo/shaping=refusal", "grpo.shaping.refusal.non_answer=1.0"), tmp_path,
                     ScriptedRegressor(lambda p, j: [0.5] * 4, G=2))  # fmt: skip
    adv, _, diag = priced.step_advantages(scores, roll, kinds, prompts)
    torch.testing.assert_close(diag["train/penalty/refusal"], torch.tensor([1.0, 0.0]))
    assert adv[0] < 0 < adv[1]


def test_a_step_passes_each_prompt_kind_to_the_refusal_penalty(tmp_path):
    kinds = ["benign", "benign", "adversarial", None]
    prompts = [{**p, "kind": k} for p, k in zip(PROMPTS, kinds)]
    module = _module(_cfg(tmp_path, "grpo/shaping=refusal", "grpo.batch_size=8"), tmp_path)  # 4 prompts a step
    seen = []
    step_advantages = module.step_advantages

    def spy(scores, roll, kinds=None, prompts=None):
        seen.append(kinds)
        assert prompts is not None and len(prompts) == len(roll.texts)  # the grader's non-answer check reads them
        return step_advantages(scores, roll, kinds, prompts)

    module.step_advantages = spy
    _fit(module, max_steps=1, prompts=prompts)
    G = module.config.G
    (got,) = seen
    assert sorted(got, key=str) == sorted([k for k in kinds for _ in range(G)], key=str)
    assert 0.0 <= module.history[-1]["train/penalty/refusal"] <= 1.0


def test_a_shaped_step_logs_the_penalties(tmp_path):
    cfg = _cfg(tmp_path, "grpo/shaping=both")
    module = _module(cfg, tmp_path)
    trainer = _fit(module, max_steps=1)
    last = module.history[-1]
    for key in ("train/penalty/repetition", "train/penalty/overlong", "train/shaped_reward_mean"):
        assert key in last and key in trainer.logged_metrics
        assert last[key] == last[key]  # finite
    assert 0.0 <= last["train/penalty/overlong"] <= 1.0 and 0.0 <= last["train/penalty/repetition"] < 1.0
    assert last["train/penalty/overlong"] >= last["train/frac_truncated"]  # a cut completion: the full penalty
    # both coefficients 1: shaped = sum_k r_k - P_rep - P_long, completion by completion and so in the mean
    expected = last["train/reward_mean"] - last["train/penalty/repetition"] - last["train/penalty/overlong"]
    assert last["train/shaped_reward_mean"] == pytest.approx(expected, abs=1e-5)


def test_checkpoint_keeps_only_lora_weights_multiplier_and_history(tmp_path):
    cfg = _cfg(tmp_path, "reward=constrained_safety")
    module = _module(cfg, tmp_path)
    module.history, module.lagrange_multiplier = [{"step": 1, "train/loss": 0.5}], 2.5
    ckpt = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(ckpt)
    n_lora = sum(1 for n, p in module.named_parameters() if p.requires_grad)
    assert len(ckpt["state_dict"]) == n_lora and all("lora_" in k for k in ckpt["state_dict"])
    fresh = _module(cfg, tmp_path)
    fresh.on_load_checkpoint(ckpt)
    assert fresh.lagrange_multiplier == 2.5 and fresh.history == module.history


def test_regressor_aspects_must_match_the_config(tmp_path):
    cfg = _cfg(tmp_path)
    with pytest.raises(ValueError, match="reward.aspects"):
        _module(cfg, tmp_path, ScriptedRegressor(lambda p, j: [0.5], G=2, aspects=["safety"]))


@pytest.mark.parametrize("disable", [True, False])
def test_dropout_is_off_so_old_and_update_logprobs_agree(tmp_path, disable):
    """lora_dropout 0.5: with grpo.disable_dropout (default) the update's train-mode log-probs equal the old
    (eval-mode) ones, so the ratio is 1 at the first iteration; without it they differ."""
    from mogrpo.models.logprobs import token_logprobs

    cfg = _cfg(tmp_path, "model.lora.lora_dropout=0.5", f"grpo.disable_dropout={str(disable).lower()}")
    module = _module(cfg, tmp_path)
    with torch.no_grad():
        for name, p in module.policy.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.5)
    ids = torch.randint(5, 500, (2, 12))
    mask = torch.ones_like(ids)
    old = module.compute_old_logprobs(ids, mask, 4)
    module.policy.train()
    update = token_logprobs(module.policy, ids, mask, 4).detach()
    assert torch.allclose(old, update, atol=1e-6) is disable


@pytest.mark.parametrize("loss_type", ["dapo", "gspo"])
def test_dapo_and_gspo_steps_train(tmp_path, loss_type):
    module = _module(_cfg(tmp_path, f"grpo.loss_type={loss_type}", "grpo.num_iterations=2"), tmp_path)
    before = _snapshot(module)
    _fit(module, max_steps=2)
    after = _snapshot(module)
    assert any(not torch.equal(before[n], after[n]) for n in before if "lora_B" in n)
    assert torch.isfinite(torch.tensor(module.history[0]["train/loss"]))


def test_batch_scale_under_ddp_divides_by_the_std_over_every_rank(tmp_path, monkeypatch):
    """scale=batch with two ranks (faked: the other rank's scores are this rank's + 10): the advantages use
    the std of all 2N rows, as TRL (rewards gathered before the std), not this rank's own."""
    from mogrpo.grpo import advantages

    module = _module(_cfg(tmp_path, "grpo.scale=batch"), tmp_path)
    monkeypatch.setattr(module, "_n_ranks", lambda: 2)
    monkeypatch.setattr(module, "all_gather", lambda t: torch.stack([t, t + 10.0]))
    scores = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.5, 0.1, 0.9, 0.2], [0.3, 0.3, 0.3, 0.3], [0.9, 0.8, 0.1, 0.0]])
    roll = SimpleNamespace(texts=["a", "b", "c", "d"], lengths=torch.tensor([1, 1, 1, 1]))
    adv, _, _ = module.step_advantages(scores, roll)
    every = torch.cat([scores, scores + 10.0])
    w, G, eps = module.weights, module.config.G, float(module.config.advantage_eps)
    torch.testing.assert_close(adv, advantages(scores, w, G, module.aggregation, "batch", eps, batch_scores=every))
    assert not torch.allclose(adv, advantages(scores, w, G, module.aggregation, "batch", eps))
