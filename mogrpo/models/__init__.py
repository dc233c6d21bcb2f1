"""Turning a config entry into HF objects: policies, encoders, the reward regressor."""

from mogrpo.models.loading import ModelLoadError, ModelSpec, load_causal_lm, load_encoder, load_tokenizer

__all__ = ["ModelLoadError", "ModelSpec", "load_causal_lm", "load_encoder", "load_tokenizer"]
