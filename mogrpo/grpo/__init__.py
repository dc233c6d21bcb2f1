"""The GRPO math as pure tensor functions (imports torch only).

Read these against the paper (Shao et al. 2024, DeepSeekMath, eq. 3 and 4):

- :func:`advantages`          group-relative advantages from K aspect scores
- :func:`policy_loss`         clipped surrogate + k3 KL, with grpo / bnpo / dr_grpo reductions
- :func:`k3_kl`               the k3 estimator of KL(pi || pi_ref), per token
- :func:`lagrangian_weights`  safety-as-constraint: the constrained aspect weighted by lambda
- :func:`constrained_advantages`  the Lagrangian as scalarised rewards or scalarised advantages
- :func:`update_lagrange_multiplier`  dual ascent on lambda
- :mod:`mogrpo.grpo.shaping`  penalties against reward hacking (repetition, DAPO overlong)
"""

from mogrpo.grpo.advantages import AGGREGATIONS, SCALES, advantages, group_stats, weighted_reward
from mogrpo.grpo.constraint import (
    CONSTRAINT_MODES,
    RESCALES,
    constrained_advantages,
    constraint_stats,
    lagrangian_weights,
    update_lagrange_multiplier,
)
from mogrpo.grpo.kl import k3_kl
from mogrpo.grpo.loss import LOSS_TYPES, policy_loss
from mogrpo.grpo.shaping import (
    PENALTIES,
    ShapingConfig,
    ShapingConfigError,
    conservative_scores,
    overlong_penalty,
    penalties,
    refusal_penalty,
    repetition_penalty,
    short_penalty,
    with_penalties,
)

__all__ = [
    "AGGREGATIONS",
    "CONSTRAINT_MODES",
    "LOSS_TYPES",
    "PENALTIES",
    "RESCALES",
    "SCALES",
    "ShapingConfig",
    "ShapingConfigError",
    "advantages",
    "conservative_scores",
    "constrained_advantages",
    "constraint_stats",
    "group_stats",
    "k3_kl",
    "lagrangian_weights",
    "overlong_penalty",
    "penalties",
    "policy_loss",
    "refusal_penalty",
    "repetition_penalty",
    "short_penalty",
    "update_lagrange_multiplier",
    "weighted_reward",
    "with_penalties",
]
