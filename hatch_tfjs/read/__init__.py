"""Read stage: a model source becomes a neutral :class:`~hatch_tfjs.neutral.KerasModel`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy stays unimported: the hook reads configs here before numpy is installed (keras_config.py)
    from hatch_tfjs.neutral import KerasModel


def read_keras_model(source: Path, *, model_name: str, reader: str = "h5py", display: str | None = None) -> KerasModel:
    """Read a ``.keras`` / ``.h5`` file.

    ``reader="h5py"`` (the default) reads the file with h5py + numpy alone, without TensorFlow or Keras;
    ``reader="keras"`` loads it through Keras (imports TensorFlow), the oracle the h5py reader is tested against.
    """
    if reader == "keras":
        from hatch_tfjs.read.keras_tf import read_with_keras

        return read_with_keras(source, model_name=model_name, display=display)
    if reader != "h5py":
        raise ValueError(f"unknown reader {reader!r}; expected 'h5py' or 'keras'")
    from hatch_tfjs.read.h5_reader import read_with_h5py

    return read_with_h5py(source, model_name=model_name, display=display)


def check_keras_file(source: Path, *, model_name: str, display: str | None = None) -> None:
    """Refuse a ``.keras`` / ``.h5`` file that is damaged, malformed, or whose config implies variables other than the
    ones it stores (shape, dtype, byte size), without reading any weight data and without TensorFlow.

    Keras creates every variable its config describes before it loads a single value, so a file claiming a
    ``Dense(10**9)`` next to a tiny stored kernel makes Keras allocate gigabytes. Whatever hands a Keras file to Keras
    (the graph route, ``reader = "keras"``) calls this first. Raises
    :class:`~hatch_tfjs.errors.ModelReadError` naming ``display`` (default: ``source``) and ``model_name``.
    """
    from hatch_tfjs.read.h5_reader import check_keras_file as check

    check(source, model_name=model_name, display=display)
