"""The warm start's loss: completion-only negative log-likelihood (a pure tensor function, torch only)."""

from __future__ import annotations

import torch


def completion_nll(token_logp: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the response tokens of a batch, a scalar.

    With ``token_logp[i, t] = log pi(y_it | x_i, y_i,<t)`` the log-prob of response token t of
    demonstration i given its chat-templated prompt x_i and the response tokens before it
    (:func:`mogrpo.models.logprobs.token_logprobs`), and ``m_it`` = 1 on the response tokens (EOS
    included) and 0 on padding and prompt tokens::

        L = - sum_i sum_t m_it log pi(y_it | x_i, y_i,<t)  /  sum_i sum_t m_it

    The prompt is context only (completion-only loss, as TRL's SFT ``completion_only_loss``), and the
    mean is over every response token of the batch (a longer response weighs more, as in TRL), not a
    mean of per-response means. A batch without a response token gives 0 (still differentiable).
    """
    if token_logp.shape != completion_mask.shape:
        raise ValueError(f"token_logp {tuple(token_logp.shape)} and completion_mask {tuple(completion_mask.shape)} differ")
    m = completion_mask.to(token_logp.dtype)
    return -(token_logp * m).sum() / m.sum().clamp(min=1.0)
