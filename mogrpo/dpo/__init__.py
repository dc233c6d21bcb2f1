"""The DPO math as pure tensor functions (imports torch only), beside the GRPO ones (:mod:`mogrpo.grpo`).

- :func:`dpo_loss`          DPO (sigmoid, with cDPO label smoothing) and IPO on sequence log-probs
- :func:`sequence_logps`    summed (DPO) or averaged (IPO) token log-probs of an answer
- :func:`best_worst_pairs`  online DPO: the aggregate reward picks chosen / rejected in each group
"""

from mogrpo.dpo.losses import DPO_LOSS_TYPES, dpo_loss, sequence_logps
from mogrpo.dpo.pairs import best_worst_pairs

__all__ = ["DPO_LOSS_TYPES", "best_worst_pairs", "dpo_loss", "sequence_logps"]
