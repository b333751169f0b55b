"""Routing: which kind of TF.js model a model becomes, and why.

``format = "layers"`` and ``"graph"`` decide themselves. ``format = "auto"`` (the default for Keras files) becomes a
layers model when the whole model translates exactly into TF.js layers, and a graph model otherwise; the reason is
shown on the build line. Deciding reads the Keras file without TensorFlow (the h5py reader, memory-mapped) and runs
the pure translation, so it is cheap enough for ``dependencies()``, which must know whether TensorFlow is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from hatch_tfjs.config import ModelSpec
from hatch_tfjs.errors import UnsupportedModelError

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
    """The route of ``spec``. For ``auto`` this reads the model file; a file that cannot be read raises the
    reader's :class:`~hatch_tfjs.errors.ModelReadError` (a damaged file is an error, not a reason to try TensorFlow)."""
    if spec.format != "auto":
        return Route(spec.format)
    from hatch_tfjs.convert import translate_and_check
    from hatch_tfjs.read import read_keras_model

    model = read_keras_model(spec.source, model_name=spec.name, reader=spec.reader, display=spec.source_rel)
    try:
        translate_and_check(spec, model)
    except UnsupportedModelError as exc:
        return Route("graph", unsupported_summary(exc.problems))
    return Route("layers", LAYERS_REASON)


def unsupported_summary(problems: list[str]) -> str:
    """One line for the build log: the first reason a model is not a layers model, and how many more there are."""
    first = problems[0].splitlines()[0] if problems else "it cannot be written as a TF.js layers model"
    more = len(problems) - 1
    return first + (f" (and {more} more)" if more > 0 else "")
