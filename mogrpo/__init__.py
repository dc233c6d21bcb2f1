"""mogrpo: multi-objective alignment of language models with GRPO.

Layers (data flows one way: config -> entry point -> module -> data / models / math):

- ``mogrpo.grpo``     the GRPO math as pure tensor functions (advantages, losses, KL)
- ``mogrpo.data``     aspect-labelled pairs and prompt sets (no models, no trainer)
- ``mogrpo.models``   config entry -> HF model / tokenizer / LoRA policy / reward regressor
- ``mogrpo.modules``  Lightning modules: reward regressor training, GRPO policy training
- ``mogrpo.eval``     metrics, refusal detection, reports
- entry points        ``mogrpo.train``, ``mogrpo.score``, ``mogrpo.evaluate``, ``mogrpo.summarize``
"""

__version__ = "0.1.0"
