#!/usr/bin/env bash
# The sweep that chose the default GRPO recipe (issue "the default run makes the model safer").
# Every job is scored on the VALIDATION prompts (eval.split=validation: data.validation of
# data=real_mix, never the held-out set, never XSTest / AdvBench), with one fixed reward model, then
#   python experiments/sweep_table.py logs/recipe_sweep/multiruns/<timestamp>
# ranks the jobs. Usage: RM=<run>/reward_model experiments/sweep_recipe.sh <round> [extra overrides]
set -euo pipefail
RM=${RM:?set RM to a trained reward_model directory}
ROUND=${1:?round: a | b | c}
shift
common=(
  task_name=recipe_sweep "reward_model.checkpoint=$RM" stage=all
  eval.split=validation eval.max_prompts=null eval.calibration.enabled=false eval.ranking.enabled=false
  eval.side_by_side=0 logger=csv
)
case "$ROUND" in
  a)  # warm start and KL, at the weights chosen on the reward model's validation ranking checks
    sweep=(grpo.warm_start.enabled=false,true grpo.kl.beta=0.0,0.04) ;;
  b)  # aggregation: weighted sum vs safety as a constraint (both constrained modes)
    sweep=("reward=multilabel,constrained_safety") ;;
  c)  # exploration: group size and completion length at a fixed sampling budget
    sweep=(grpo.G=4,8 grpo.generation.max_new_tokens=32,48) ;;
  *) echo "unknown round $ROUND" >&2; exit 2 ;;
esac
python -m mogrpo.train --multirun "${common[@]}" "${sweep[@]}" "$@"
