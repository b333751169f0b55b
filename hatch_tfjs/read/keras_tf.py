"""Reader that loads a Keras file through Keras itself (TensorFlow backend).

This is the only module of the layers pipeline that imports TensorFlow/Keras, and it does so when called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hatch_tfjs.errors import ModelReadError
from hatch_tfjs.keras_names import WEIGHT_RENAMES
from hatch_tfjs.neutral import KerasModel, Weight
from hatch_tfjs.read._tensorflow import import_tensorflow_module


def _import_keras() -> Any:
    return import_tensorflow_module("keras", "layers models read with reader = \"keras\"")


def _is_model(layer: Any, keras: Any) -> bool:
    return isinstance(layer, keras.Model)


def _own_variables(layer: Any) -> list[Any]:
    """Variables a layer holds itself (not through sublayers), in creation order."""
    return list(getattr(layer, "_trainable_variables", [])) + list(getattr(layer, "_non_trainable_variables", []))


def _sublayers(layer: Any) -> list[Any]:
    return list(getattr(layer, "_layers", []))


def _layer_weights(layer: Any, keras: Any) -> list[tuple[str, Any]]:
    """``(name, variable)`` for every weight of a (non-model) layer, named structurally as TF.js names them:
    ``<layer>/<weight>``, with sublayers (RNN cells, wrapped layers) as middle components."""
    found: list[tuple[str, Any]] = []

    def visit(current: Any, prefix: str) -> None:
        renames = WEIGHT_RENAMES.get(type(current).__name__, {})
        for variable in _own_variables(current):
            short = variable.name.split("/")[-1].split(":")[0]
            found.append((f"{prefix}/{renames.get(short, short)}", variable))
        for sub in _sublayers(current):
            visit(sub, f"{prefix}/{sub.name}")

    visit(layer, layer.name)
    return found


def collect_weights(model: Any, keras: Any) -> list[Weight]:
    """Weights named as TF.js looks them up; nested models contribute their inner layers' names."""
    weights: list[Weight] = []
    seen: set[int] = set()

    def visit(container: Any) -> None:
        for layer in container.layers:
            if _is_model(layer, keras):
                visit(layer)
                continue
            for name, variable in _layer_weights(layer, keras):
                if id(variable) in seen:
                    continue
                seen.add(id(variable))
                weights.append(Weight(name, np.asarray(keras.ops.convert_to_numpy(variable))))

    visit(model)
    return weights


def read_with_keras(source: Path, *, model_name: str, display: str | None = None) -> KerasModel:
    """Load the file through Keras, after :func:`~hatch_tfjs.read.check_keras_file` has checked (without TensorFlow)
    that its config implies no variable the file does not store: Keras allocates them all before loading."""
    from hatch_tfjs.read import check_keras_file

    display = display or str(source)
    check_keras_file(source, model_name=model_name, display=display)
    keras = _import_keras()
    try:
        model = keras.saving.load_model(str(source), compile=False, safe_mode=True)
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = ""
        if "Could not locate" in str(exc) or "Unknown layer" in str(exc):
            hint = (
                "; the model uses a custom class that is not registered. Custom layers cannot be TF.js layers models: "
                "rewrite them with built-in layers"
            )
        raise ModelReadError(f"{display}: Keras could not load model '{model_name}': {message}{hint}") from exc
    if not isinstance(model, keras.Model):
        raise ModelReadError(f"{display}: model '{model_name}' is a {type(model).__name__}, not a Keras model")
    config = keras.saving.serialize_keras_object(model)
    return KerasModel(
        config=config,
        weights=collect_weights(model, keras),
        keras_version=keras.__version__,
        source=str(source),
    )
