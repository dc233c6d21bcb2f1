"""The optional supervised warm start of the LoRA policy before GRPO (``grpo.warm_start``, off by default).

- :class:`WarmStartConfig`         the checked ``grpo.warm_start`` node (:mod:`mogrpo.configs.warm_start`)
- :mod:`mogrpo.warm_start.loss`    :func:`completion_nll`, the completion-only NLL (pure math)
- :mod:`mogrpo.warm_start.encode`  demonstrations -> prompt / response ids, left-padded batches
- :mod:`mogrpo.warm_start.loop`    :func:`run_warm_start`, the SFT steps on the LoRA parameters
- :mod:`mogrpo.warm_start.openers` the cap on how many adversarial demonstrations open alike
- :mod:`mogrpo.warm_start.self_distill` the policy's own answers to benign risky-word prompts, as demonstrations

The demonstrations come from :mod:`mogrpo.data.demonstrations`; the GRPO stage runs the warm start on
its policy right before the first GRPO step (:mod:`mogrpo.stages.warm_start`).
"""

from mogrpo.configs.warm_start import DEFAULT_SOURCES, OVERLONG, WarmStartConfig
from mogrpo.warm_start.loss import completion_nll

__all__ = ["DEFAULT_SOURCES", "OVERLONG", "WarmStartConfig", "completion_nll"]
