"""Read stage: a model source becomes a neutral :class:`~hatch_tfjs.neutral.KerasModel`."""

from __future__ import annotations

from pathlib import Path

from hatch_tfjs.neutral import KerasModel


def read_keras_model(source: Path, *, model_name: str) -> KerasModel:
    """Read a ``.keras`` / ``.h5`` file through Keras (imports TensorFlow)."""
    from hatch_tfjs.read.keras_tf import read_with_keras

    return read_with_keras(source, model_name=model_name)
