#!/usr/bin/env bash
# The sweep that chose the default GRPO recipe (issue "the default run makes the model safer").
# Every arm is one run scored on the VALIDATION prompts (eval.split=validation: data.validation of
# data=real_mix, never the held-out split, never XSTest / AdvBench) with one fixed reward model, so
# the arms differ only in what their name says. Then
#   python experiments/sweep_table.py "$OUT" --out experiments/results/recipe_sweep
# ranks them. Usage:
#   RM=<run>/reward_model OUT=/tmp/recipe_sweep LANES=2 experiments/sweep_recipe.sh [arm ...]
# With no arm names every arm runs. LANES=2 runs two arms at a time with one torch thread each (on
# 2 cores that is faster in all than one arm at a time with two threads); arms keep their order.
set -euo pipefail
RM=${RM:?set RM to a trained reward_model directory}
OUT=${OUT:-logs/recipe_sweep}
LANES=${LANES:-1}
# the recipe every arm shares: G=8 with 32 new tokens (16 completions per step, 2 prompts), lr 3e-4,
# 80 steps; what the arms change is added to it
common=(
  stage=all "reward_model.checkpoint=$RM" logger=csv
  eval.split=validation eval.max_prompts=null eval.calibration.enabled=false eval.ranking.enabled=false
  eval.side_by_side=0
  grpo.G=8 grpo.batch_size=16 grpo.generation.max_new_tokens=32 grpo.optim.lr=3e-4 grpo.max_steps=80
)
declare -A arms=(
  [a_plain]=""
  [b_warm_start]="grpo.warm_start.enabled=true"
  [c_ws_constrained_adv]="grpo.warm_start.enabled=true reward=constrained_safety reward.constraint.mode=normalized_advantages"
  [d_ws_constrained_rw]="grpo.warm_start.enabled=true reward=constrained_safety reward.constraint.mode=reward_weights"
  [e_ws_shaping]="grpo.warm_start.enabled=true grpo/shaping=both"
  [f_kl]="grpo.kl.beta=0.04"
  [g_ws_paper_g4_64]="grpo.warm_start.enabled=true grpo.G=4 grpo.batch_size=8 grpo.generation.max_new_tokens=64 grpo.optim.lr=1e-4"
)
order=(a_plain b_warm_start c_ws_constrained_adv d_ws_constrained_rw e_ws_shaping f_kl g_ws_paper_g4_64)
[ "$#" -gt 0 ] && order=("$@")

run_arm() {
  local arm=$1
  [ -n "${arms[$arm]+x}" ] || { echo "unknown arm $arm" >&2; return 2; }
  mkdir -p "$OUT/$arm"
  # shellcheck disable=SC2086
  python -m mogrpo.train "${common[@]}" ${arms[$arm]} "hydra.run.dir=$OUT/$arm" > "$OUT/$arm/stdout.log" 2>&1 \
    && echo "$arm done" || echo "$arm FAILED (see $OUT/$arm/stdout.log)"
}

if [ "$LANES" -gt 1 ]; then
  export OMP_NUM_THREADS=1
  for ((lane = 0; lane < LANES; lane++)); do
    (for ((i = lane; i < ${#order[@]}; i += LANES)); do run_arm "${order[$i]}"; done) &
  done
  wait
else
  for arm in "${order[@]}"; do run_arm "$arm"; done
fi
