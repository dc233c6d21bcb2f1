"""mogrpo: multi-objective alignment of language models with GRPO.

Layers (imports point down only; tests/test_layers.py checks it, docs/ARCHITECTURE.md draws it):

- entry points   ``mogrpo.train``, ``mogrpo.evaluate``, ``mogrpo.score``, ``mogrpo.summarize``
- stages         ``mogrpo.stages`` (reward model, GRPO, warm start, evaluation), ``mogrpo.sweeps``
- checks         ``mogrpo.config``: the config checks that span several groups
- modules        ``mogrpo.modules`` (Lightning), ``mogrpo.callbacks``, ``mogrpo.warm_start``, ``mogrpo.reports``
- models, metrics  ``mogrpo.models`` (config entry -> HF objects), ``mogrpo.metrics`` (numbers of an evaluation)
- data           ``mogrpo.data``: aspect-labelled pairs and prompt sets (no models, no trainer)
- math           ``mogrpo.grpo`` (advantages, losses, KL), ``mogrpo.reward`` (the regressor's losses)
- base           ``mogrpo.configs`` (one typed config per group), ``mogrpo.errors``, ``mogrpo.utils``
"""

__version__ = "0.1.0"
