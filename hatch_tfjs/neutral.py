"""The neutral in-memory model every reader produces and every writer consumes.

A reader turns a source file into a :class:`KerasModel`: the Keras topology as plain dicts (exactly what Keras
serialises, e.g. the ``config.json`` of a ``.keras`` file) plus named numpy weights; the TensorFlow graph reader
into a :class:`FrozenGraph`, which the graph pipeline turns into :class:`GraphModelData`. No TensorFlow objects cross
this boundary, so translation and writing are testable without TensorFlow.
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
    route in ``graph_route.py`` and the TensorFlow-free compiler in ``compile/``)."""

    topology: dict[str, Any]
    signature: dict[str, Any]
    weights: list[Weight]
    generated_by: str
    metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # modelInitializer, initializerSignature
    op_counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TensorSpec:
    """One signature entry: its key (what users call it) and the graph tensor behind it."""

    key: str
    tensor: str  # "node:0"
    dtype: str  # "DT_FLOAT"
    shape: list[int] | None  # -1 for unknown dims; None for unknown rank
    resource_id: int | None = None


@dataclass
class NodeOrigins:
    """Where the nodes of a traced Keras model came from: the node names each layer or ``keras.ops`` call created
    while it was traced, and each layer's name scope, for the nodes grappler adds or renames inside it."""

    by_node: dict[str, str] = field(
        default_factory=dict
    )  # node name -> "layer 'dense' (Dense)" | "keras.ops call 'add'"
    by_scope: dict[str, str] = field(default_factory=dict)  # "functional_1/dense_1" -> "layer 'dense' (Dense)"

    def __call__(self, node: str) -> str | None:
        if node in self.by_node:
            return self.by_node[node]
        parts = node.split("/")  # the longest recorded scope inside the name (grappler may prefix its own)
        spans = sorted(
            ((end - start, start, end) for start in range(len(parts)) for end in range(start + 1, len(parts) + 1)),
            reverse=True,
        )
        for _, start, end in spans:
            label = self.by_scope.get("/".join(parts[start:end]))
            if label:
                return label
        return None


@dataclass
@dataclass
class ResourceInitializers:
    """How a graph's captured resources (hash tables) are created and filled, as TensorFlow froze it: one function
    that creates them all, and per resource the function that fills it through its handle. The graph pipeline splices
    them into the ``modelInitializer`` graph TF.js runs once at load."""

    create: dict[str, Any]  # GraphDef dict of the function creating every resource
    handles: list[str]  # per resource, the tensor of ``create`` holding its new handle ("node:0")
    fillers: list[dict[str, Any]]  # per resource, GraphDef dict of its initialise function (one handle placeholder)


@dataclass
class FrozenGraph:
    """A model's inference function as TensorFlow leaves it: variables frozen to constants, optimised by grappler,
    still TensorFlow's own ops. What the TensorFlow reader (``read/savedmodel.py``) returns and the graph pipeline
    (``translate/graph_pipeline.py``: rewrites for TF.js, op check, weights) starts from."""

    graph: dict[str, Any]  # GraphDef in MessageToDict form
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    resources: list[TensorSpec]  # captured resources (hash tables) the graph takes as inputs, after ``inputs``
    conv_input_channels: dict[str, int]  # input channels of each NHWC Conv2D, where TensorFlow knows them
    initializers: ResourceInitializers | None  # None when the graph captures no resource
    origins: NodeOrigins | None  # who created each node, when traced from a Keras file; None: name scopes tell
    generated_by: str  # the TensorFlow version that froze it
    notes: list[str] = field(default_factory=list)
