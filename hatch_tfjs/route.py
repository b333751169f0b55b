"""Routing: which kind of TF.js model a model becomes, and why.

``format = "layers"`` and ``"graph"`` decide themselves. ``format = "auto"`` (the default for Keras files) becomes a
layers model when the whole model translates exactly into TF.js layers, and a graph model otherwise; the reason is
shown on the build line. Deciding reads the Keras file without TensorFlow (the h5py reader, memory-mapped) and runs
the pure translation, so it is cheap enough for ``dependencies()``, which must know whether TensorFlow is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from hatch_tfjs.config import ModelSpec

LAYERS_REASON = "every layer has an exact TF.js layers equivalent"


@dataclass(frozen=True)
class Route:
    format: str  # "layers" or "graph": what the output is
    reason: str = ""  # why, for format = "auto" (empty when the format was set explicitly)

    @property
    def needs_tensorflow(self) -> bool:
        return self.format == "graph"

    def to_json(self) -> dict[str, str]:
        return {"format": self.format, "reason": self.reason}


def route_model(spec: ModelSpec) -> Route:
    """The route of ``spec``. For ``auto`` this reads the model file without TensorFlow (also when ``reader =
    "keras"``, unless only Keras can read it); a file that cannot be read raises the reader's
    :class:`~hatch_tfjs.errors.ModelReadError` (a damaged file is an error, not a reason to try TensorFlow)."""
    if spec.format != "auto":
        return Route(spec.format)
    from hatch_tfjs.errors import ModelReadError
    from hatch_tfjs.read import read_keras_model
    from hatch_tfjs.translate import translate_model_config

    try:
        model = read_keras_model(spec.source, model_name=spec.name, display=spec.source_rel)
    except ModelReadError:
        if spec.reader != "keras":
            raise
        model = read_keras_model(spec.source, model_name=spec.name, reader="keras", display=spec.source_rel)
    translation = translate_model_config(model.config, model.weights, keras_version=model.keras_version)
    if translation.problems:
        return Route("graph", translation.reason or "it cannot be written as a TF.js layers model")
    return Route("layers", LAYERS_REASON)


def needs_tensorflow(spec: ModelSpec, route: Route | None = None) -> bool:
    """Whether converting ``spec`` imports TensorFlow: graph models, and any model read through Keras."""
    if spec.reader == "keras":
        return True
    return (route or route_model(spec)).needs_tensorflow


def route_hint(spec: ModelSpec) -> Route | None:
    """The route of ``spec`` worked out with the standard library alone (for ``dependencies()``, which runs before
    numpy and h5py are installed); None when it cannot tell. The config decides; weights are not read."""
    if spec.format != "auto":
        return Route(spec.format)
    from hatch_tfjs.read.keras_config import read_keras_config
    from hatch_tfjs.translate import translate_model_config

    config = read_keras_config(spec.source)
    if config is None:
        return None
    translation = translate_model_config(config)
    if translation.problems and not translation.needs_only_weights:
        return Route("graph", translation.reason or "it cannot be written as a TF.js layers model")
    # Rewrites that take their values from the weights (Normalization, LayerScale, grouped convolutions) are judged
    # at conversion; the config says they apply, so the model is expected to be a layers model.
    return Route("layers", LAYERS_REASON)
