"""Routing: which kind of TF.js model a model becomes, why, and whether converting it needs TensorFlow.

``format = "layers"`` and ``"graph"`` decide the format themselves. ``format = "auto"`` (the default for Keras files)
makes the fastest exact form (our graph model of a network takes 0.24-1.07x the time of our layers model on TF.js's
wasm backend: benchmarks/results/backends.md): a graph model compiled without TensorFlow when the compiler covers the
whole model; else a layers model when the whole model translates exactly into TF.js layers; else a graph model
through TensorFlow. The reason is shown on the build line. Deciding reads the Keras config without TensorFlow (and,
when the compiler does not cover the model, the file with the h5py reader, memory-mapped, for the pure layers
translation), so it is cheap enough for the build process. A build works a route out once: ``dependencies()``,
``initialize()`` and the worker run in separate processes, and the route of a source (by its content hash and the
options it depends on) is kept in the per-user cache (hashing.py) for the processes after the first.

A graph model from a Keras file is compiled without TensorFlow (``hatch_tfjs.compile``) unless the config holds what
only TensorFlow converts (see coverage.py); ``reader = "keras"`` forces the TensorFlow route, and SavedModel
directories always take it. :func:`route_hint` answers the same with the standard library alone, for
``dependencies()``, which runs before numpy and h5py are installed.

Whether converting a model needs TensorFlow is decided here, once: a route carries the reason
(``Route.tensorflow``), and every stage that must know (the build's requirements, ``hatch clean``, the orchestrator,
the workers' batches, the conversion) asks :func:`needs_tensorflow`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hatch_tfjs.config import ModelSpec
from hatch_tfjs.env import converter_importable
from hatch_tfjs.errors import HatchTfjsError
from hatch_tfjs.keras_names import is_keras_file

FAST_REASON = "the faster form in TF.js, compiled exactly"
LAYERS_REASON = "every layer has an exact TF.js layers equivalent"
NOT_COMPILED = "a graph model would need TensorFlow"
GRAPH_REASON = "it cannot be written as a TF.js layers model"
KERAS_READER_REASON = 'reader = "keras"'
SAVED_MODEL_REASON = "a SavedModel directory"


@dataclass(frozen=True)
class Route:
    format: str  # "layers" or "graph": what the output is
    reason: str = ""  # why, for format = "auto" (empty when the format was set explicitly)
    tensorflow: str = ""  # why converting it needs TensorFlow; empty when it does not (see needs_tensorflow)

    def to_json(self) -> dict[str, str]:
        return {"format": self.format, "reason": self.reason, "tensorflow": self.tensorflow}


def route_model(spec: ModelSpec, source_hash: str | None = None) -> Route:
    """The route of ``spec``. A Keras file is read without TensorFlow (also when ``reader = "keras"``, unless only
    Keras can read it); a file that cannot be read raises the reader's :class:`~hatch_tfjs.errors.ModelReadError`
    (a damaged file is an error, not a reason to try TensorFlow). Worked out once per source content and options
    (``source_hash``: the plan stage's, else hashed here), then taken from the cache."""
    fixed = _fixed_route(spec)
    if fixed is not None:
        return fixed
    from hatch_tfjs.hashing import cached_by_content, hash_source

    key = f"{source_hash or hash_source(spec.source)}:{spec.format}:{spec.reader}"
    kept = cached_by_content("route", key, lambda: _worked_out_route(spec).to_json())
    return Route(str(kept["format"]), str(kept.get("reason", "")), str(kept.get("tensorflow", "")))


def _worked_out_route(spec: ModelSpec) -> Route:
    from hatch_tfjs.read.keras_config import read_keras_config

    config = read_keras_config(spec.source)
    if spec.format == "graph":
        return _graph_route(spec, config or _read(spec).config)
    if config is not None and _compiled(spec, config):
        return Route("graph", FAST_REASON)
    model = _read(spec)
    if config is None and _compiled(spec, model.config):
        return Route("graph", FAST_REASON)
    return layers_or_graph(spec, model)


def layers_or_graph(spec: ModelSpec, model: Any) -> Route:
    """``format = "auto"`` when the compiler does not cover ``model`` (as the h5py reader returns it): a layers model
    when it translates exactly, else a graph model through TensorFlow."""
    from hatch_tfjs.translate import translate_model_config

    translation = translate_model_config(model.config, model.weights, keras_version=model.keras_version)
    if translation.problems:
        return _graph_route(spec, model.config, translation.reason or GRAPH_REASON)
    return Route("layers", _layers_reason(spec), _keras_reader(spec))


def route_hint(spec: ModelSpec) -> Route | None:
    """The route of ``spec`` worked out with the standard library alone; None when it cannot tell. The config
    decides; weights are not read."""
    fixed = _fixed_route(spec)
    if fixed is not None:
        return fixed
    from hatch_tfjs.read.keras_config import read_keras_config

    config = read_keras_config(spec.source)
    if config is None:
        return None
    if spec.format == "graph":
        return _graph_route(spec, config)
    if _compiled(spec, config):
        return Route("graph", FAST_REASON)
    from hatch_tfjs.translate import translate_model_config

    translation = translate_model_config(config)
    if translation.problems and not translation.needs_only_weights:
        return _graph_route(spec, config, translation.reason or GRAPH_REASON)
    # Rewrites that take their values from the weights (Normalization, LayerScale, grouped convolutions) are judged
    # at conversion; the config says they apply, so the model is expected to be a layers model.
    return Route("layers", _layers_reason(spec), _keras_reader(spec))


def needs_tensorflow(spec: ModelSpec, route: Route | None = None) -> bool:
    """Whether converting ``spec`` needs TensorFlow: the one answer, which every stage asks. ``route`` is the
    model's route when the caller has it; else it is worked out here (with the standard library alone while numpy
    and h5py are not installed, and then True when that cannot tell: the safe answer for the build's requirements).
    ``reader = "keras"`` always needs it; a source that cannot be read does not (converting it fails first, with the
    reader's error)."""
    if spec.reader == "keras":
        return True
    if route is None:
        if not converter_importable():
            route = route_hint(spec)
            return route is None or bool(route.tensorflow)
        try:
            route = route_model(spec)
        except HatchTfjsError:
            return False
    return bool(route.tensorflow)


def _fixed_route(spec: ModelSpec) -> Route | None:
    """The route when the configuration alone decides it: SavedModel directories, ``reader = "keras"``, layers."""
    if not is_keras_file(spec.source):
        return Route("graph", tensorflow=SAVED_MODEL_REASON)
    if spec.reader == "keras" and spec.format == "graph":
        return Route("graph", tensorflow=KERAS_READER_REASON)
    if spec.format == "layers":
        return Route("layers", tensorflow=_keras_reader(spec))
    return None


def _compiled(spec: ModelSpec, config: dict[str, Any]) -> bool:
    """Whether ``format = "auto"`` makes a graph model compiled without TensorFlow: the compiler covers every layer
    and op of ``config`` (and ``reader = "keras"`` does not ask for TensorFlow)."""
    if spec.reader == "keras":
        return False
    from hatch_tfjs.coverage import tensorflow_reasons

    return not tensorflow_reasons(config)


def _layers_reason(spec: ModelSpec) -> str:
    why = KERAS_READER_REASON if spec.reader == "keras" else "the compiler does not cover it"
    return f"{LAYERS_REASON}; {NOT_COMPILED} ({why})"


def _keras_reader(spec: ModelSpec) -> str:
    return KERAS_READER_REASON if spec.reader == "keras" else ""


def _graph_route(spec: ModelSpec, config: dict[str, Any], reason: str = "") -> Route:
    """A graph route: through TensorFlow when ``reader = "keras"`` or the compiler cannot translate the config."""
    if spec.reader == "keras":
        return Route("graph", reason, KERAS_READER_REASON)
    from hatch_tfjs.coverage import tensorflow_reasons

    return Route("graph", reason, "; ".join(tensorflow_reasons(config)))


def _read(spec: ModelSpec) -> Any:
    """The model as the h5py reader sees it (Keras, when ``reader = "keras"`` and only Keras can read the file)."""
    from hatch_tfjs.errors import ModelReadError
    from hatch_tfjs.read import read_keras_model

    try:
        return read_keras_model(spec.source, model_name=spec.name, display=spec.source_rel)
    except ModelReadError:
        if spec.reader != "keras":
            raise
        return read_keras_model(spec.source, model_name=spec.name, reader="keras", display=spec.source_rel)
