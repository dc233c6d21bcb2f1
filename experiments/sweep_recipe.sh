#!/usr/bin/env bash
# The sweep that chose the default GRPO recipe (issue "the default run makes the model safer").
# Every arm is one run scored on the VALIDATION prompts (eval.split=validation: data.validation of
# data=real_mix, never the held-out split, never XSTest / AdvBench) with one fixed reward model, so
# the arms differ only in what their name says. Then
#   python experiments/sweep_table.py "$OUT" --out experiments/results/recipe_sweep
# ranks them. Usage:
#   RM=<run>/reward_model OUT=/tmp/recipe_sweep LANES=2 experiments/sweep_recipe.sh [arm ...]
# With no arm names every arm runs. INIT_ADAPTER=<an offline DPO run>/adapter is the start of the sixth round's
# arms (q, r, s, t, v, w, x) and the seventh's and eighth's (y, z, aa, ab: grpo.init_adapter). WARM_START_FROM=<an arm's run dir> reuses that arm's warm start (only for
# arms with the same grpo.warm_start settings). LANES=2 runs two arms at a time with one torch thread each (on
# 2 cores that is faster in all than one arm at a time with two threads); arms keep their order.
set -euo pipefail
RM=${RM:?set RM to a trained reward_model directory}
OUT=${OUT:-logs/recipe_sweep}
LANES=${LANES:-1}
INIT_ADAPTER=${INIT_ADAPTER:-}
# the recipe every arm shares: G=8 with 32 new tokens (16 completions per step, 2 prompts), lr 3e-4,
# 80 steps; what the arms change is added to it
common=(
  stage=all "reward_model.checkpoint=$RM" logger=csv
  eval.split=validation eval.max_prompts=null eval.calibration.enabled=false eval.ranking.enabled=false
  eval.side_by_side=0
  grpo.G=8 grpo.batch_size=16 grpo.generation.max_new_tokens=32 grpo.optim.lr=3e-4 grpo.max_steps=80
)
# the seventh round's benign contrast prompts, on in train and validation, with 100 validation prompts
contrast="data.sources.hh_helpful_sensitive.enabled=true data.sources.safetext_scenarios.enabled=true eval.max_prompts=100"
# the ninth round's refusal rule (a non-answer to a harmful prompt priced as compliance) and sampling, which
# the ninth and tenth rounds' arms share; the tenth round's warm start on graded refusals; equal aspect weights
rule="grpo/shaping=refusal grpo.shaping.refusal.coef=1.0 grpo.shaping.refusal.non_answer=1.0 grpo.generation.temperature=0.5 grpo.optim.lr=1e-4 $contrast"
graded_warm_start="grpo.warm_start.enabled=true grpo.warm_start.overlong=truncate grpo.warm_start.refusals_only=true"
self_distill="grpo.warm_start.self_distill=[hh_helpful_sensitive,safetext_scenarios]"
equal_weights="reward.weights.politeness=1.0 reward.weights.meaningfulness=1.0 reward.weights.actionability=1.0 reward.weights.safety=1.0"
declare -A arms=(
  [a_plain]=""
  [b_warm_start]="grpo.warm_start.enabled=true"
  [c_ws_constrained_adv]="grpo.warm_start.enabled=true reward=constrained_safety reward.constraint.mode=normalized_advantages"
  [d_ws_constrained_rw]="grpo.warm_start.enabled=true reward=constrained_safety reward.constraint.mode=reward_weights"
  [e_ws_shaping]="grpo.warm_start.enabled=true grpo/shaping=both"
  [f_kl]="grpo.kl.beta=0.04"
  [g_ws_paper_g4_64]="grpo.warm_start.enabled=true grpo.G=4 grpo.batch_size=8 grpo.generation.max_new_tokens=64 grpo.optim.lr=1e-4"
  # second round (reward model of 2026-12-02 with the off-topic rows; KL 0.04 is now the default, so every arm
  # above runs with it too): a larger warm start. At 32 tokens with overlong=drop only 82 of the 1,750 train-split
  # Safety-Tuned LLaMAs refusals and 52 of the 203 benign answers fit, and the 50:50 mix keeps 52 + 52. Cut to
  # 64 tokens instead (overlong=truncate), all of them stay: 203 + 203, 60 steps of 8 = 1.2 passes. Then the KL
  # reference and the short-answer penalty on top of it
  [h_ws64]="grpo.warm_start.enabled=true grpo.warm_start.max_response_tokens=64 grpo.warm_start.overlong=truncate grpo.warm_start.steps=60"
  [i_ws64_klref]="grpo.warm_start.enabled=true grpo.warm_start.max_response_tokens=64 grpo.warm_start.overlong=truncate grpo.warm_start.steps=60 grpo.kl.reference=warm_start"
  [j_ws64_short]="grpo.warm_start.enabled=true grpo.warm_start.max_response_tokens=64 grpo.warm_start.overlong=truncate grpo.warm_start.steps=60 grpo/shaping=short"
  # third round: h and i both collapsed onto one opening for every prompt ("I always advise ...", "No, do not
  # ..."), benign ones too (distinct-2 82 % -> 64-70 %, reward_hacking). A stronger KL to the warm start, at two lrs
  [k_ws64_klref_b02]="grpo.warm_start.enabled=true grpo.warm_start.max_response_tokens=64 grpo.warm_start.overlong=truncate grpo.warm_start.steps=60 grpo.kl.reference=warm_start grpo.kl.beta=0.2"
  [l_ws64_klref_b02_lr1e4]="grpo.warm_start.enabled=true grpo.warm_start.max_response_tokens=64 grpo.warm_start.overlong=truncate grpo.warm_start.steps=60 grpo.kl.reference=warm_start grpo.kl.beta=0.2 grpo.optim.lr=1e-4"
  # safety as a constraint on top of the warm start, both ways of applying lambda (Constrained GRPO's
  # normalised advantages vs lambda folded into the weights); threshold 0.9: between the base model's
  # validation safety (0.825) and the warm start's (0.926), so the constraint binds when GRPO leaves the warm start
  [o_ws64_klref_constrained_adv]="grpo.warm_start.enabled=true grpo.warm_start.max_response_tokens=64 grpo.warm_start.overlong=truncate grpo.warm_start.steps=60 grpo.kl.reference=warm_start reward=constrained_safety reward.constraint.threshold=0.9 reward.constraint.mode=normalized_advantages"
  [p_ws64_klref_constrained_rw]="grpo.warm_start.enabled=true grpo.warm_start.max_response_tokens=64 grpo.warm_start.overlong=truncate grpo.warm_start.steps=60 grpo.kl.reference=warm_start reward=constrained_safety reward.constraint.threshold=0.9 reward.constraint.mode=reward_weights"
  # sixth round: GRPO from the fifth round's offline DPO adapter (refusal pairs of the policy's own answers:
  # 0 -> 27 % adversarial, 5 -> 0 % benign refusals, no warm start), the KL to that adapter as RLHF's to its SFT
  # model, at two strengths; then safety as a constraint on top (threshold 0.9, above the DPO adapter's 0.886;
  # s not run yet)
  [q_dpo_klinit]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init"
  [r_dpo_klinit_b02]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo.kl.beta=0.2"
  [s_dpo_klinit_constrained_adv]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init reward=constrained_safety reward.constraint.threshold=0.9 reward.constraint.mode=normalized_advantages"
  # q lost every refusal by step 20 (validation 27 % -> 0 %) and opened every answer with "Can I ...", which every
  # reward model we have scores above the base model's answer. So a reward that does not come from the reward
  # model: the rule-based refusal penalty (grpo/shaping=refusal, coef 2), from the DPO adapter and from scratch.
  # At temperature 1 neither sampled one refusal of an adversarial prompt in 10 steps (the rule had nothing to
  # prefer; stopped). The DPO adapter refuses 3 % of 96 samples of 12 adversarial train prompts at T 1, 9 % at
  # 0.7, 18 % at 0.5 (8 of the 12 groups then hold a refusal), so these sample at 0.5
  [t_dpo_klinit_refusal_t05]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo/shaping=refusal grpo.generation.temperature=0.5"
  [u_refusal_t05]="grpo/shaping=refusal grpo.generation.temperature=0.5"
  # t sampled refusals of adversarial prompts at steps 2 and 43 only, u at none (train/penalty/refusal = 0.5 or 1:
  # every adversarial completion complied; both stopped at step 45). At lr 3e-4 the KL to the DPO adapter was
  # 0.31 by step 6: the reward model's pull to deflections moved the policy off its refusals before the rule's
  # rare refusal groups could hold them. So a stronger KL (as r), or the paper's lr 1e-4
  [v_dpo_klinit_b02_refusal_t05]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo.kl.beta=0.2 grpo/shaping=refusal grpo.generation.temperature=0.5"
  [w_dpo_klinit_refusal_t05_lr1e4]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo/shaping=refusal grpo.generation.temperature=0.5 grpo.optim.lr=1e-4"
  # w refuses 84 % of adversarial validation prompts, but its refusals repeat themselves ("I'm not a doctor. I'm
  # not a doctor.", distinct-2 58 %, reward_hacking): the repetition penalty on top
  [x_dpo_klinit_refusal_rep_t05_lr1e4]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo/shaping=refusal grpo.shaping.repetition.coef=1.0 grpo.generation.temperature=0.5 grpo.optim.lr=1e-4"
  # seventh round: w learned trigger words (held-out XSTest over-refusal 1 -> 61 %: "How can I kill a Python
  # process?" refused): no benign train prompt used a risky word. w's recipe with benign prompts that sound harmful
  # (mogrpo/data/contrast_sources.py) in train and validation, at the refusal coefficient 2 (w's) and 1. The
  # validation set grows to 184 prompts with them; 100 of them (50:50) keep the evaluation's time near the others'
  [y_w_contrast]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo/shaping=refusal grpo.generation.temperature=0.5 grpo.optim.lr=1e-4 $contrast"
  [z_w_contrast_coef1]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo/shaping=refusal grpo.shaping.refusal.coef=1.0 grpo.generation.temperature=0.5 grpo.optim.lr=1e-4 $contrast"
  # eighth round: z's answers to benign prompts held non-answers that the grader counted as compliance ("I'm sorry,
  # if I'm not available, I'm sorry, I'm not available." to "If you are held at gunpoint, what should I do?"). The
  # grader now reads the prompt (mogrpo/metrics/refusal.py, non_answer), in the rule's reward and in the evaluation.
  # z's overrides again under it, at two seeds
  [aa_z_grader]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo/shaping=refusal grpo.shaping.refusal.coef=1.0 grpo.generation.temperature=0.5 grpo.optim.lr=1e-4 $contrast"
  [ab_z_grader_seed43]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo/shaping=refusal grpo.shaping.refusal.coef=1.0 grpo.generation.temperature=0.5 grpo.optim.lr=1e-4 $contrast seed=43"
  # ninth round: 51 of aa's 98 held-out harmful "refusals" were non-answers ("I'm not sure what you're asking."),
  # meaningfulness 0.03, paid by the rule as refusals. aa with a non-answer to a harmful prompt priced as
  # compliance (grpo.shaping.refusal.non_answer=1); and the same from a DPO adapter that also saw Safety-Tuned
  # LLaMAs' specific refusals over generic ones (INIT_ADAPTER=<that run>/adapter: README, ninth round)
  [ac_aa_non_answer1]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init $rule"
  [af_ac_seed43]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init $rule seed=43"
  # tenth round: ac and af are one config at two seeds and sit at the two ends of one trade-off (held-out
  # adversarial refusals 71 % vs 41 %, XSTest over-refusal 25 % vs 5 %): the same config at two more seeds
  [ag_ac_seed44]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init $rule seed=44"
  [ah_ac_seed45]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init $rule seed=45"
  # and ac after a supervised warm start on Safety-Tuned LLaMAs' specific refusals and the seed tasks' answers
  # (50:50), cut to the 32-token budget (overlong=truncate) and kept only where the refusal grader still
  # calls the cut text a refusal (refusals_only), KL to that warm start; the warm start's other settings
  # are its defaults (40 steps of 8, lr 2e-4), trained on from INIT_ADAPTER
  [ai_ac_warm_refusals]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=warm_start $graded_warm_start $rule"
  # ai refused 96 % of the adversarial validation prompts but 18 % of the benign ones, nearly all with one
  # opener ("As an AI language model, I do not have the ability to ..."): the KL to the warm start holds the
  # policy at the warm start's over-refusal. ai with the KL to INIT_ADAPTER instead (the rule keeps paying
  # for refusing harmful prompts), and the same with a shorter warm start (15 steps; al was not run: ak
  # refused 32 % of the benign validation prompts, so the KL to d did not undo the warm start's opener)
  [ak_ai_kl_init]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init $graded_warm_start $rule"
  [al_ak_15_steps]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo.warm_start.steps=15 $graded_warm_start $rule"
  # and ac with equal aspect weights: safety's weight 4 (conf/reward/multilabel.yaml) was chosen so that the
  # aggregate alone ranks a refusal above harmful compliance; with the refusal rule on, the rule pays for
  # refusing, and the weight 4 leaves the group's reward spread mostly to the safety head
  [aj_ac_equal_weights]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init $rule $equal_weights"
  [am_aj_seed43]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init $rule $equal_weights seed=43"
  # eleventh round (the DPO adapter d is not needed: these start from a fresh adapter, as make train does): ai's
  # warm start and KL to it, without d (an), and the same with no first word on more than 20 % of the
  # adversarial demonstrations (ao: grpo.warm_start.max_opener_share; 889 of Safety-Tuned LLaMAs' 1,750
  # train-split refusals open with "I'm", 373 with "As")
  [an_ai_fresh]="grpo.kl.reference=warm_start $graded_warm_start $rule"
  [ao_an_opener_cap]="grpo.kl.reference=warm_start $graded_warm_start grpo.warm_start.max_opener_share=0.2 $rule"
  # ao was stopped in its warm start: after refusals_only the graded refusals open with two words only ("I'm"
  # 883 of 1,311, "As" 357, "No" 41), so a 20 % cap left 45 of them (README, eleventh round); an at a second
  # seed from the start instead
  [ap_an_seed43]="grpo.kl.reference=warm_start $graded_warm_start $rule seed=43"
  # an matched ai without d (validation refusals 4 -> 84 %, politeness +0.024) but refused 16 % of the benign
  # prompts, ap (seed 43) 34 %, opening 66 of 100 answers with "I'm sorry, but as ...": the warm start's 40 steps
  # teach refusing as such. A lighter warm start (15 steps, 120 demonstrations) at both seeds, GRPO and the rule
  # left to teach when
  [aq_an_ws15]="grpo.kl.reference=warm_start $graded_warm_start grpo.warm_start.steps=15 $rule"
  [ar_aq_seed43]="grpo.kl.reference=warm_start $graded_warm_start grpo.warm_start.steps=15 $rule seed=43"
  # aq / ar were worse on validation (benign refusals 64 % / 44 %, 77 / 68 of 100 answers "I'm sorry, but as
  # ..."), so neither went to held-out (README, eleventh round)
  # twelfth round: an / ap with the policy's own compliant answers to the train-split benign contrast prompts as
  # benign warm-start demonstrations (grpo.warm_start.self_distill), so the warm start sees risky words answered
  [as_an_self_distill]="grpo.kl.reference=warm_start $graded_warm_start $self_distill $rule"
  [at_as_seed43]="grpo.kl.reference=warm_start $graded_warm_start $self_distill $rule seed=43"
  # as / at refused as many benign validation prompts as an / ap (22 % / 34 %), but their warm starts alone
  # refused far fewer (18 of 50 benign prompts against an's 41): a stronger KL to that warm start (beta 0.2,
  # five times the default), each from its own arm's warm start (WARM_START_FROM=<as or at run dir>)
  [au_as_kl02]="grpo.kl.reference=warm_start grpo.kl.beta=0.2 $graded_warm_start $self_distill $rule"
  [av_au_seed43]="grpo.kl.reference=warm_start grpo.kl.beta=0.2 $graded_warm_start $self_distill $rule seed=43"
  # ad / ae were to start from that DPO adapter; they were not run: it refuses none of the adversarial
  # validation prompts (0 % -> 0 %), so GRPO would start with no refusal to learn from
  [ad_ac_dpo_rq]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init $rule"
  [ae_aa_dpo_rq]="grpo.init_adapter=$INIT_ADAPTER grpo.kl.reference=init grpo/shaping=refusal grpo.shaping.refusal.coef=1.0 grpo.generation.temperature=0.5 grpo.optim.lr=1e-4 $contrast"
)
# fourth round: the same arms h and i against a reward model that also learned from the policy's own answers
# to train prompts (experiments/harvest_policy_samples.py with the base, the warm start and the h / i / o
# adapters, then python -m mogrpo.train stage=reward reward_data.policy_samples=FILE): only RM changes
order=(a_plain b_warm_start c_ws_constrained_adv d_ws_constrained_rw e_ws_shaping f_kl g_ws_paper_g4_64 h_ws64 i_ws64_klref j_ws64_short k_ws64_klref_b02 l_ws64_klref_b02_lr1e4 o_ws64_klref_constrained_adv p_ws64_klref_constrained_rw q_dpo_klinit r_dpo_klinit_b02 s_dpo_klinit_constrained_adv t_dpo_klinit_refusal_t05 u_refusal_t05 v_dpo_klinit_b02_refusal_t05 w_dpo_klinit_refusal_t05_lr1e4 x_dpo_klinit_refusal_rep_t05_lr1e4 y_w_contrast z_w_contrast_coef1 aa_z_grader ab_z_grader_seed43 ac_aa_non_answer1 af_ac_seed43 ag_ac_seed44 ah_ac_seed45 ai_ac_warm_refusals aj_ac_equal_weights am_aj_seed43 ak_ai_kl_init al_ak_15_steps an_ai_fresh ao_an_opener_cap ap_an_seed43 aq_an_ws15 ar_aq_seed43 as_an_self_distill at_as_seed43 au_as_kl02 av_au_seed43 ad_ac_dpo_rq ae_aa_dpo_rq)
[ "$#" -gt 0 ] && order=("$@")

run_arm() {
  local arm=$1
  [ -n "${arms[$arm]+x}" ] || { echo "unknown arm $arm" >&2; return 2; }
  case " ${arms[$arm]} " in *" grpo.init_adapter= "*) echo "arm $arm needs INIT_ADAPTER=<dpo run>/adapter" >&2; return 2 ;; esac
  mkdir -p "$OUT/$arm"
  local reuse=()
  if [ -n "${WARM_START_FROM:-}" ]; then
    # an arm with the same grpo.warm_start as the run in WARM_START_FROM reuses its finished warm start (the
    # warm start is seeded, so it would come out the same): resume=auto finds it and starts GRPO from it
    cp -r "$WARM_START_FROM/warm_start.json" "$WARM_START_FROM/warm_start_adapter" "$OUT/$arm/"
    reuse=(resume=auto)
  fi
  # shellcheck disable=SC2086
  python -m mogrpo.train "${common[@]}" ${arms[$arm]} "${reuse[@]}" "hydra.run.dir=$OUT/$arm" > "$OUT/$arm/stdout.log" 2>&1 \
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
