"""The GRPO math as pure tensor functions (imports torch only).

Read these against the paper (Shao et al. 2024, DeepSeekMath, eq. 3 and 4):

- :func:`advantages`          group-relative advantages from K aspect scores
- :func:`policy_loss`         clipped surrogate + k3 KL, with grpo / bnpo / dr_grpo reductions
- :func:`k3_kl`               the k3 estimator of KL(pi || pi_ref), per token
- :func:`lagrangian_weights`  safety-as-constraint: the constrained aspect weighted by lambda
- :func:`update_lagrange_multiplier`  dual ascent on lambda
"""

from mogrpo.grpo.advantages import AGGREGATIONS, SCALES, advantages, group_stats, weighted_reward
from mogrpo.grpo.constraint import lagrangian_weights, update_lagrange_multiplier
from mogrpo.grpo.kl import k3_kl
from mogrpo.grpo.loss import LOSS_TYPES, policy_loss

__all__ = [
    "AGGREGATIONS",
    "LOSS_TYPES",
    "SCALES",
    "advantages",
    "group_stats",
    "k3_kl",
    "lagrangian_weights",
    "policy_loss",
    "update_lagrange_multiplier",
    "weighted_reward",
]
