"""The k3 estimator of KL(pi_theta || pi_ref) (Schulman, "Approximating KL divergence", 2020).

Per token, with d = log pi_ref(o_t) - log pi_theta(o_t):

    k3 = exp(d) - d - 1      (>= 0, unbiased for KL under samples of pi_theta)
"""

from __future__ import annotations

import torch


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 KL estimate, same shape as the inputs."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1
