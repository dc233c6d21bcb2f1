"""The reward model's math as pure tensor functions (imports torch only).

- :func:`masked_mse`            absolute labels: squared error over the labelled entries
- :func:`masked_bradley_terry`  preference labels: -log sigma(z_chosen - z_rejected) per labelled aspect
- :func:`reward_loss`           both in one batch, each with its weight
- :func:`pairwise_accuracy`     how often the chosen response scores higher, per aspect
"""

from mogrpo.reward.losses import masked_bradley_terry, masked_mse, pairwise_accuracy, reward_loss

__all__ = ["masked_bradley_terry", "masked_mse", "pairwise_accuracy", "reward_loss"]
