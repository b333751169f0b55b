"""The one place the readers import TensorFlow / Keras from: quietly, with the TensorFlow backend, and with an error
that says what to install when it is missing."""

from __future__ import annotations

import importlib
import os
from typing import Any

from hatch_tfjs.errors import ModelReadError


def import_tensorflow_module(name: str, needed_for: str) -> Any:
    """``import tensorflow`` / ``import keras``, or :class:`ModelReadError` naming what needs it and the fix."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ModelReadError(
            f"{needed_for} need TensorFlow (with Keras 3), which is not installed ({exc}); "
            "install it with: pip install 'hatch-tfjs[tensorflow]'"
        ) from exc
