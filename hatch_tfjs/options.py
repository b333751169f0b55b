"""A model's options as typed, frozen values: one group per concern, each default written once, here.

The configuration stage (config.py) builds them once from ``pyproject.toml`` (or the command line's flags); every later
stage reads them typed. Where an option was set (which table, which flag) is not part of them: it travels beside
them in ``ModelSpec.origins``, for messages only, so moving an option between tables changes no stamp and converts
nothing again. The plain form a worker receives and a stamp records is generated from the options' declarations
(config/wire.py).

Standard library only: the hook imports this before numpy is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hatch_tfjs.tfjs_dtypes import QUANTIZATION_DTYPES

FORMATS = ("auto", "layers", "graph")  # auto: layers when the model translates exactly, else graph
READERS = ("h5py", "keras")  # how a Keras file is read: without TensorFlow, or through Keras
DEFAULT_SHARD_SIZE = 4 * 1024 * 1024  # TF.js's own default

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "FORMATS",
    "QUANTIZATION_DTYPES",
    "READERS",
    "GraphOptions",
    "LayersOptions",
    "ModelOptions",
    "QuantizationOptions",
]


@dataclass(frozen=True)
class LayersOptions:
    """How a Keras file is read: ``reader = "h5py"`` (no TensorFlow) or ``"keras"`` (through Keras and TensorFlow,
    which also sends a graph model through TensorFlow), and ``custom-modules``: the modules of the project's own
    source tree that the TensorFlow worker imports before Keras loads the file (they register the user's layers)."""

    reader: str = "h5py"
    custom_modules: tuple[str, ...] = ()


@dataclass(frozen=True)
class GraphOptions:
    """A graph model's options (``signature``, ``tags``, ``strip-debug-ops``, ``control-flow-v2``,
    ``structured-outputs``): the reader loads and freezes by some, the graph pipeline checks and writes by others."""

    signature: str = "serving_default"
    tags: tuple[str, ...] = ("serve",)
    strip_debug_ops: bool = True
    control_flow_v2: bool = False
    structured_outputs: bool = False


@dataclass(frozen=True)
class QuantizationOptions:
    """``quantize``: each weight takes the dtype of the first rule whose pattern matches its name. ``everything``:
    the option was one dtype for every weight (``quantize = "uint8"``), so no pattern has to match anything."""

    rules: tuple[tuple[str, tuple[str, ...]], ...]
    everything: bool = False

    @classmethod
    def one_dtype(cls, dtype: str) -> QuantizationOptions:
        return cls(((dtype, ("*",)),), everything=True)

    def to_toml(self) -> str | dict[str, list[str]]:
        """The value as it is written in ``pyproject.toml``."""
        if self.everything:
            return self.rules[0][0]
        return {dtype: list(patterns) for dtype, patterns in self.rules}


@dataclass(frozen=True)
class ModelOptions:
    """The per-model options besides ``format`` and ``shard-size`` (which are ``ModelSpec`` fields). ``graph`` is
    None for a layers model (graph options do not apply to it), ``quantization`` None when weights stay float32."""

    layers: LayersOptions = field(default_factory=LayersOptions)
    graph: GraphOptions | None = None
    quantization: QuantizationOptions | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # model.json's userDefinedMetadata
