"""The method group in the policy stage: modules, offline DPO's pairs and their encoding (mogrpo/stages/methods.py)."""

from __future__ import annotations

import torch
from conftest import compose_cfg

from mogrpo.models.policy import build_policy
from mogrpo.models.regressor import build_regressor
from mogrpo.stages import methods


def test_each_method_builds_its_module(tmp_path):
    names = {}
    for method in ("grpo", "ppo", "dpo"):
        cfg = compose_cfg(["experiment=smoke", "logger=none", f"method={method}"], tmp_path)
        policy, tok = build_policy(cfg.model)
        regressor = build_regressor(cfg.reward_model, list(cfg.reward.aspects))
        module = methods.build_module(cfg, policy, tok, regressor, tmp_path)
        names[method] = (type(module).__name__, methods.optimizer_steps_per_batch(module))
    assert names == {"grpo": ("GRPOModule", 1), "ppo": ("PPOModule", 4), "dpo": ("DPOModule", 1)}


def test_offline_pairs_come_from_the_train_split_and_encode_chosen_first(tmp_path):
    cfg = compose_cfg(["experiment=smoke", "logger=none", "method=dpo", "method.dpo.mode=offline",
                       "method.dpo.max_pairs=5"], tmp_path)  # fmt: skip
    data = methods.build_datamodule(cfg, prompts=[])
    assert len(data.prompts) == 5 and set(data.prompts[0]) == {"prompt", "chosen", "rejected"}
    _, tok = build_policy(cfg.model)
    encode = methods.pair_encoder(tok, 64, 8, None)
    rows = [{"prompt": "Hi", "chosen": "Hello there, friend.", "rejected": "Go away"}]
    ids, attention, mask = encode(rows)
    assert ids.shape[0] == 2 and mask.shape[1] <= 8
    for row, key in ((0, "chosen"), (1, "rejected")):  # each answer + EOS (cut at 8 tokens) ends its row
        answer = tok(rows[0][key], add_special_tokens=False)["input_ids"]
        target = [*answer, tok.eos_token_id] if len(answer) < 8 else answer[:8]
        assert int(mask[row].sum()) == len(target) and ids[row, -len(target) :].tolist() == target
    assert torch.equal(attention[:, -1], torch.ones(2, dtype=attention.dtype))  # left padding: answers end at the edge
