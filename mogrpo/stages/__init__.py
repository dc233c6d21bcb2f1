"""The stages of `python -m mogrpo.train`: reward model, GRPO, evaluation. Each reads the config
and wires data, models and Lightning modules; the entry points call them."""
