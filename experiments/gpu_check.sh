#!/usr/bin/env bash
# The checks of issue 13 that need a GPU, in < 5 minutes on one GPU, nothing from the network.
#   bash experiments/gpu_check.sh            (from the repository root; writes under ${OUT:-/tmp/gpu_check})
# 1. the smoke pipeline (reward model -> GRPO -> evaluation) on the GPU, policy in bf16
# 2. the bf16 parity check (sampler log-probs == update log-probs) on the GPU
# 3. the GRPO step time at Qwen2.5-0.5B size (random weights from its config) in bf16, exact rollouts and
#    bf16-autocast training with bf16 rollouts
# 4. DDP with one process   5. FSDP on one GPU with gradient clipping (experiments/fsdp_check.py)
# Each line ends PASS or FAIL; the exit status is the number of failures.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 WANDB_MODE=offline WANDB_SILENT=true TOKENIZERS_PARALLELISM=false
OUT=${OUT:-/tmp/gpu_check}; mkdir -p "$OUT"
fails=0
check() {  # check NAME TIMEOUT CMD...
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  if timeout "$limit" "$@" > "$OUT/$name.log" 2>&1; then echo "[$name] PASS ($((SECONDS - t0)) s)"
  else echo "[$name] FAIL ($((SECONDS - t0)) s), last lines of $OUT/$name.log:"; tail -15 "$OUT/$name.log"; fails=$((fails + 1)); fi
}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
python -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'

check smoke_bf16 150 python -m mogrpo.train experiment=smoke trainer=gpu model.spec.dtype=bfloat16 \
  logger=none "paths.log_dir=$OUT/runs" trainer.enable_progress_bar=false grpo.max_steps=2

check bf16_parity 90 python - <<'PY'
import sys, tempfile, pathlib, torch
sys.path[:0] = ["tests", "tests/models"]
import test_lora_merge as t
from mogrpo.models.logprobs import token_logprobs
model, tok = t._policy(pathlib.Path(tempfile.mkdtemp()), "bfloat16")
model = model.cuda()
from mogrpo.models.policy import chat_prompts, encode_prompts
from mogrpo.models.generation import generate_group
ids, mask, _ = encode_prompts(tok, chat_prompts(tok, t.PROMPTS), 64)
torch.manual_seed(1)
roll = generate_group(model, tok, ids.cuda(), mask.cuda(), 4, {"max_new_tokens": 16}, return_logprobs=True)
T = roll.completion_ids.shape[1]; m = roll.completion_mask.bool()
upd = token_logprobs(model, roll.input_ids, roll.attention_mask, T).detach()
with torch.no_grad(), model.disable_adapter():
    base = token_logprobs(model, roll.input_ids, roll.attention_mask, T)
gap, eff = (roll.logprobs - upd)[m].abs(), (upd - base)[m].abs()
print(f"mean |sampler - update| {gap.mean():.4f} max {gap.max():.4f}; adapter effect {eff.mean():.4f}")
sys.exit(0 if gap.mean() < 0.02 and gap.max() < 0.15 and eff.mean() > 0.02 else 1)
PY

QWEN="model.spec.tiny_config={model_type:qwen2,hidden_size:896,intermediate_size:4864,num_hidden_layers:24,num_attention_heads:14,num_key_value_heads:2,max_position_embeddings:4096,tie_word_embeddings:true}"
for arm in "exact:model.spec.dtype=bfloat16" "bf16_rollouts:grpo.generation.dtype=bfloat16 trainer.precision=bf16-mixed"; do
  name=${arm%%:*}; overrides=${arm#*:}
  # shellcheck disable=SC2086
  check "qwen05b_step_$name" 150 python -m mogrpo.train experiment=smoke trainer=gpu reward_data.max_rows=64 eval.max_prompts=2 "$QWEN" \
    model.lora.r=16 model.lora.lora_alpha=32 "model.lora.target_modules=[q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj]" \
    model.decoder_layer=transformers.models.qwen2.modeling_qwen2.Qwen2DecoderLayer \
    grpo.G=8 grpo.batch_size=16 grpo.max_steps=4 grpo.generation.max_new_tokens=64 grpo.generation.min_new_tokens=64 \
    logger=none "paths.log_dir=$OUT/runs" trainer.enable_progress_bar=false $overrides
  grep -h -o '"time/[a-z_]*": [0-9.]*\|"train/is_ratio_[a-z]*": [0-9.e-]*' "$(ls -td "$OUT"/runs/*/runs/* 2>/dev/null | head -1)/history.jsonl" 2>/dev/null | sort | uniq -c | tail -12
done

check ddp_1proc 150 python -m mogrpo.train experiment=smoke trainer=ddp trainer.devices=1 logger=none \
  "paths.log_dir=$OUT/runs" trainer.enable_progress_bar=false grpo.max_steps=2

check fsdp_1gpu 120 python experiments/fsdp_check.py --accelerator gpu --devices 1 --precision bf16-mixed
grep -h "fsdp_check" "$OUT/fsdp_1gpu.log" || true

echo "gpu_check: $fails failure(s)"
exit "$fails"
