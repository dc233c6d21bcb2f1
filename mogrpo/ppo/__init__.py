"""The PPO-RLHF math as pure tensor functions (imports torch only), beside the GRPO ones (:mod:`mogrpo.grpo`).

- :func:`gae`                GAE(gamma, lambda) over a completion's tokens, with a mask
- :func:`masked_whiten`      the advantages normalised over the completion tokens
- :func:`kl_shaped_rewards`  the per-token reward: -beta KL to the reference, the score at the last token
- :func:`ppo_policy_loss`    the clipped surrogate on per-token advantages
- :func:`value_loss`         the clipped value loss
"""

from mogrpo.ppo.gae import gae, masked_whiten
from mogrpo.ppo.losses import (
    explained_variance,
    kl_shaped_rewards,
    last_token_index,
    masked_mean,
    ppo_policy_loss,
    value_loss,
)

__all__ = [
    "explained_variance", "gae", "kl_shaped_rewards", "last_token_index", "masked_mean", "masked_whiten",
    "ppo_policy_loss", "value_loss",
]  # fmt: skip
