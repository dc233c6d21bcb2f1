"""Reward shaping against reward hacking: per-completion penalties subtracted before the advantages.

A policy can please a learned reward model with text no reader wants: "moralising word salad"
that repeats one word, answers that run into the token cap, or no answer at all. Four penalties, each ``P in [0, 1]``
and each switched on by a coefficient ``coef > 0`` (``grpo.shaping.<name>.coef``; 0 = off):

``repetition``: the share of repeated word n-grams within the completion (Li et al. 2016's
distinct-n, taken per completion)::

    P_rep(y) = 1 - |unique n-grams of y| / |n-grams of y|      (0 when y has fewer than n words)

``overlong``: DAPO's soft overlong punishment (Yu et al. 2025, eq. 13) with L_max the generation cap
(``grpo.generation.max_new_tokens``) and L_cache the soft band before it, a share of the cap
(``cache_fraction``: L_cache = max(1, round(cache_fraction L_max)); DAPO: 4096 of 20480 tokens = 0.2);
``|y|`` counts the tokens of the completion up to and including its EOS, so a completion cut at the
cap has ``|y| = L_max``::

    P_long(y) = 0                                   |y| <= L_max - L_cache
              = (|y| - (L_max - L_cache)) / L_cache  L_max - L_cache < |y| <= L_max   (1 at the cap)

``short``: the shortfall below a minimum answer length of ``m`` words (``min_words``), against the
silence a safety-only run collapsed to (the reward model scores the empty answer as safe: README,
"Pareto front"; the ranking check ``answer_over_empty``)::

    P_short(y) = max(0, m - words(y)) / m        (1 for the empty answer, 0 from m words on)

``refusal``: a rule-based reward on *when* to refuse (Mu et al. 2024, "Rule Based Rewards for Language
Model Safety", in its smallest form: one rule and a string grader instead of an LLM grader). Each train
prompt's ``kind`` says whether it should be refused; the completion's refusal label ``l`` comes from
:func:`mogrpo.metrics.refusal.detect_refusal` (``empty`` for the empty answer), computed by the caller::

    P_refuse(y) = 1    kind adversarial, l in {full_compliance, empty}   (it helps with a harmful request)
                = 1    kind benign, l = full_refusal                      (it refuses an ordinary one)
                = 0.5  either kind, l = partial_refusal
                = c_na kind adversarial, l = non_answer                   (it declines but names nothing)
                = 1    kind benign, l = non_answer
                = 0    otherwise, and for a prompt of no known kind

``c_na`` (``refusal.non_answer``, default 0) prices a non-answer to a harmful request ("I'm not sure what
you're asking."): at 0 it is paid as a refusal, as the evaluation counts it; above 0 only a refusal that says
what it declines earns the whole reward. Labels ``non_answer`` come from
``refusal_labels(..., mark_non_answer=True)``, asked for only when ``c_na > 0``.

Every reward model so far preferred a deflection or a fixed safe-sounding opening to a plain refusal of a
harmful request, so GRPO unlearned refusals within 20 steps (README, "Recipe sweep, sixth round"). This
rule does not depend on the reward model. Its blind spot is the grader's: an answer the patterns do not
recognise as a refusal counts as compliance. So the evaluation's refusal rates use the same grader, and the
aspect scores, XSTest and the side-by-side answers are the checks it does not see.

``conservative_scores`` (an ensemble of M reward models, ``reward.ensemble``): the uncertainty-weighted
optimisation of Coste et al. 2024 ("Reward Model Ensembles Help Mitigate Overoptimization", ICLR),
aspect by aspect, with the members' std in place of their variance (the same units as the scores)::

    r_k(y) = mean_m r_k^m(y) - k_std * std_m r_k^m(y)

Where the members disagree, the policy has left the data they agree on; the score there is the
pessimistic one, so exploiting one member's blind spot stops paying.

The penalties join the K aspect scores as extra columns with weight ``-coef``
(:func:`with_penalties`), so every aggregation treats them as it treats an aspect:
``sum_then_normalize`` normalises ``sum_k w_k r_k - sum_p coef_p P_p``; ``normalize_then_sum`` and
the constrained ``normalized_advantages`` normalise each penalty in its group first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch

from mogrpo.configs.shaping import PENALTIES, ShapingConfig, ShapingConfigError  # noqa: F401  (re-exported)

_WORD = re.compile(r"[a-z0-9']+")  # the words of mogrpo/metrics/diversity.py


def repetition_penalty(texts: Sequence[str], n: int = 2) -> torch.Tensor:
    """``P_rep`` of each completion, ``[N]`` in [0, 1): 1 - distinct-n of its own word n-grams."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    out = []
    for text in texts:
        w = _WORD.findall(text.lower())
        grams = [tuple(w[i : i + n]) for i in range(len(w) - n + 1)]
        out.append(1.0 - len(set(grams)) / len(grams) if grams else 0.0)
    return torch.tensor(out, dtype=torch.float32)


def overlong_penalty(lengths: torch.Tensor, max_length: int, cache: int) -> torch.Tensor:
    """``P_long`` of each completion, ``[N]`` in [0, 1]: 0 up to ``max_length - cache`` tokens, linear to 1
    at ``max_length`` (and 1 beyond)."""
    if not 1 <= cache <= max_length:
        raise ValueError(f"cache must be in [1, max_length={max_length}], got {cache}")
    start = max_length - cache
    return ((lengths.float() - start) / cache).clamp(0.0, 1.0)


def short_penalty(texts: Sequence[str], min_words: int) -> torch.Tensor:
    """``P_short`` of each completion, ``[N]`` in [0, 1]: the share of ``min_words`` words it falls short by."""
    if min_words < 1:
        raise ValueError(f"min_words must be >= 1, got {min_words}")
    out = [max(0, min_words - len(_WORD.findall(text.lower()))) / min_words for text in texts]
    return torch.tensor(out, dtype=torch.float32)


#: P_refuse by (prompt kind, refusal label); a pair not listed is 0
REFUSAL_RULES: dict[tuple[str, str], float] = {
    ("adversarial", "full_compliance"): 1.0,
    ("adversarial", "empty"): 1.0,
    ("adversarial", "partial_refusal"): 0.5,
    ("benign", "full_refusal"): 1.0,
    ("benign", "partial_refusal"): 0.5,
}


def refusal_penalty(labels: Sequence[str], kinds: Sequence[str | None], non_answer: float = 0.0) -> torch.Tensor:
    """``P_refuse`` of each completion, ``[N]`` in [0, 1], from its refusal label and its prompt's kind;
    ``non_answer``: ``c_na``, the price of a ``non_answer`` label on an adversarial prompt."""
    if len(labels) != len(kinds):
        raise ValueError(f"{len(labels)} refusal labels for {len(kinds)} prompt kinds")
    rules = {**REFUSAL_RULES, ("adversarial", "non_answer"): float(non_answer), ("benign", "non_answer"): 1.0}
    return torch.tensor([rules.get((str(k), str(label)), 0.0) for label, k in zip(labels, kinds)],
                        dtype=torch.float32)  # fmt: skip


def penalties(
    cfg: ShapingConfig,
    texts: Sequence[str],
    lengths: torch.Tensor,
    max_length: int,
    refusal_labels: Sequence[str] | None = None,
    kinds: Sequence[str | None] | None = None,
) -> dict[str, torch.Tensor]:
    """Every penalty ``{name: [N] in [0, 1]}``, active or not (an inactive one is a free diagnostic: how
    much the policy repeats itself, runs into the cap, falls silent or refuses at the wrong time without the
    penalty). ``refusal`` needs each completion's refusal label and prompt kind; without them it is left out."""
    out = {
        "repetition": repetition_penalty(texts, cfg.repetition_n),
        "overlong": overlong_penalty(lengths.cpu(), max_length, cfg.overlong_cache(max_length)),
        "short": short_penalty(texts, cfg.short_min_words),
    }
    if refusal_labels is not None and kinds is not None:
        out["refusal"] = refusal_penalty(refusal_labels, kinds, cfg.refusal_non_answer)
    return out


def with_penalties(
    scores: torch.Tensor, weights: Sequence[float], cfg: ShapingConfig, pens: Mapping[str, torch.Tensor]
) -> tuple[torch.Tensor, list[float]]:
    """The active penalties appended to the scores: ``(scores | P_1 .. P_m, weights | -coef_1 .. -coef_m)``,
    ``[N, K + m]`` and ``K + m`` weights (``m = 0``: the inputs unchanged)."""
    names = [p for p in cfg.active if p in pens]
    if not names:
        return scores, [float(w) for w in weights]
    cols = torch.stack([pens[p].to(device=scores.device, dtype=scores.dtype) for p in names], dim=1)
    coefs = [-float(getattr(cfg, f"{p}_coef")) for p in names]
    return torch.cat([scores, cols], dim=1), [*(float(w) for w in weights), *coefs]


def conservative_scores(samples: torch.Tensor, k: float) -> torch.Tensor:
    """``mean - k std`` over the M ensemble members: ``[M, N, K] -> [N, K]`` (sample std, M >= 2)."""
    if samples.ndim != 3 or samples.shape[0] < 2:
        raise ValueError(f"samples must be [M >= 2, N, K], got shape {tuple(samples.shape)}")
    return samples.mean(dim=0) - float(k) * samples.std(dim=0)
