"""The neutral in-memory model every reader produces and every writer consumes.

A reader turns a source file into a :class:`KerasModel`: the Keras topology as plain dicts (exactly what Keras
serialises, e.g. the ``config.json`` of a ``.keras`` file) plus named numpy weights. No TensorFlow objects cross this
boundary, so translation and writing are testable without TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Weight:
    """One weight tensor, named the way TF.js looks it up: ``<layer name>/<weight name>``."""

    name: str
    array: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


@dataclass
class KerasModel:
    """A Keras model as plain data: its serialised config and its weights in a stable order."""

    config: dict[str, Any]
    weights: list[Weight]
    keras_version: str
    source: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def weight_bytes(self) -> int:
        return sum(w.nbytes for w in self.weights)


@dataclass
class GraphModelData:
    """Everything a graph-model ``model.json`` needs, as plain data: what both graph routes produce (the TensorFlow
    route in ``read/savedmodel.py`` and the TensorFlow-free compiler in ``compile/``)."""

    topology: dict[str, Any]
    signature: dict[str, Any]
    weights: list[Weight]
    generated_by: str
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # modelInitializer, initializerSignature
    op_counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
