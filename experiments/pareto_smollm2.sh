#!/usr/bin/env bash
# The documented Pareto run on SmolLM2-135M-Instruct (issue "Pareto fronts, adapter soups"): one
# GRPO run per aspect-weight vector (politeness, meaningfulness, actionability, safety), one fixed
# reward model, every run scored on the HELD-OUT prompts of data=real_mix (never trained on, never
# used to choose anything here: the weight vectors are fixed in advance, not tuned). Then
#   python -m mogrpo.summarize "$OUT"/* --out experiments/results/pareto
# draws the front. The two single-aspect runs (p_politeness, p_safety) are the ingredients of the
# rewarded soups. Usage:
#   RM=<run>/reward_model OUT=/work/runs/pareto STEPS=24 LANES=2 experiments/pareto_smollm2.sh [vec ...]
set -euo pipefail
RM=${RM:?set RM to a trained reward_model directory}
OUT=${OUT:-logs/pareto_smollm2}
LANES=${LANES:-2}
STEPS=${STEPS:-24}
common=(
  stage=all "reward_model.checkpoint=$RM" eval=default eval.max_prompts=60
  eval.calibration.enabled=false eval.ranking.enabled=false eval.side_by_side=0
  grpo.max_steps="$STEPS" grpo.checkpoint_every=1000
)
w() { echo "reward.weights.politeness=$1 reward.weights.meaningfulness=$2 reward.weights.actionability=$3 reward.weights.safety=$4"; }
declare -A vecs=(
  [p_politeness]="$(w 1 0 0 0)"
  [p_safety]="$(w 0 0 0 1)"
  [p_helpful]="$(w 0 1 1 0)"
  [p_equal]="$(w 1 1 1 1)"
  [p_default]="$(w 1 0.5 1 4)"
)
order=(p_politeness p_safety p_helpful p_equal p_default)
[ "$#" -gt 0 ] && order=("$@")

run_vec() {
  local name=$1
  [ -n "${vecs[$name]+x}" ] || { echo "unknown vector $name" >&2; return 2; }
  mkdir -p "$OUT/$name"
  # shellcheck disable=SC2086
  python -m mogrpo.train "${common[@]}" ${vecs[$name]} "hydra.run.dir=$OUT/$name" > "$OUT/$name/stdout.log" 2>&1 \
    && echo "$name done" || echo "$name FAILED (see $OUT/$name/stdout.log)"
}

export OMP_NUM_THREADS=$(( LANES > 1 ? 1 : 2 ))
for ((lane = 0; lane < LANES; lane++)); do
  (for ((i = lane; i < ${#order[@]}; i += LANES)); do run_vec "${order[$i]}"; done) &
done
wait
