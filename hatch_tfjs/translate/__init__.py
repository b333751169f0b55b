"""Translate stage: pure functions from Keras configs to TF.js topologies (no TensorFlow needed)."""

from hatch_tfjs.translate.layers import Translation, translate_model_config

__all__ = ["Translation", "translate_model_config"]
