"""Two GRPO steps of the tiny policy under Lightning's FSDPStrategy, gradient clipping on; prints PASS / FAIL.

    python experiments/fsdp_check.py --accelerator cpu --devices 2     # gloo, two CPU processes
    python experiments/fsdp_check.py --accelerator gpu --devices 1     # one GPU (experiments/gpu_check.sh)

Checks that a step runs (Lightning's ``clip_gradients`` raised under ``FSDPPrecision``; generation must not
replace shard views: ``lora_merged`` skips sharded models), that the LoRA weights change, and that the
frozen base does not. Lightning re-runs this script for ranks >= 1 (its popen launcher).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--accelerator", default="cpu")
    p.add_argument("--devices", type=int, default=2)
    p.add_argument("--precision", default="32-true")
    p.add_argument("--steps", type=int, default=2)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from hydra import compose, initialize_config_dir
    from lightning.pytorch import Trainer
    from lightning.pytorch.strategies import FSDPStrategy
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer

    from mogrpo.data.prompts import PromptDataModule
    from mogrpo.models.policy import build_policy
    from mogrpo.modules.grpo_module import GRPOModule

    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        cfg = compose("train", ["experiment=smoke", "logger=none", "grpo.max_grad_norm=1.0", "grpo.max_steps=2"])

    class Scorer(torch.nn.Module):
        aspects = list(cfg.reward.aspects)

        def score(self, prompts, responses):
            return torch.tensor([[min(len(r), 40) / 40.0] * len(self.aspects) for r in responses])

    torch.manual_seed(0)
    policy, tok = build_policy(cfg.model)
    module = GRPOModule(policy, tok, Scorer(), cfg.grpo, cfg.reward, cfg.model.max_prompt_length)
    before = {n: p.detach().clone() for n, p in module.policy.named_parameters()}
    strategy = FSDPStrategy(auto_wrap_policy=ModuleWrapPolicy({LlamaDecoderLayer}), use_orig_params=True,
                            state_dict_type="full", process_group_backend="gloo" if args.accelerator == "cpu" else None)
    trainer = Trainer(accelerator=args.accelerator, devices=args.devices, strategy=strategy, precision=args.precision,
                      max_steps=args.steps, max_epochs=-1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    prompts = [{"id": str(i), "prompt": q} for i, q in enumerate(["Hi!", "How do tides work?", "Say no.", "A joke?"])]
    B = module.config.batch_size // module.config.G
    trainer.fit(module, train_dataloaders=PromptDataModule(prompts, B, seed=0).train_dataloader())
    if not trainer.is_global_zero:
        return 0
    ok = len(module.history) == args.steps and all(torch.isfinite(torch.tensor(h["train/loss"])) for h in module.history)
    norms = [h["train/grad_norm"] for h in module.history]
    with torch.no_grad():  # the full (unsharded) LoRA weights on rank 0
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        with FSDP.summon_full_params(trainer.strategy.model, writeback=False, rank0_only=False):
            after = {n.replace("_fsdp_wrapped_module.", ""): p.detach().clone()
                     for n, p in module.policy.named_parameters()}  # fmt: skip
    lora_changed = any(not torch.equal(before[n], after[n]) for n in before if "lora_B" in n and n in after)
    base_kept = all(torch.equal(before[n], after[n]) for n in before if "base_layer" in n and n in after)
    ok = ok and lora_changed and base_kept
    print(f"fsdp_check: world_size={trainer.world_size} steps={len(module.history)} grad_norms={norms} "
          f"lora_changed={lora_changed} base_kept={base_kept} -> {'PASS' if ok else 'FAIL'}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
