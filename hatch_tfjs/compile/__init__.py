"""Keras file -> TF.js graph model, without TensorFlow: the model's config and weights compiled into a GraphDef.

A Keras 3 (or Keras 2 ``.h5``) config describes a Sequential or functional model completely: built-in layers with
their arguments, wired by their inbound nodes. Each layer call is emitted as the ops Keras's own definition computes
(see the per-family modules), then the graph gets the rewrites the TensorFlow route applies (batch norms folded into
kernels, kernel + bias + activation fused), is checked against TF.js's op list and its constants become weights.

Only numpy is needed. A model with a layer this compiler does not translate yet comes back as :class:`Uncovered`,
listing every such layer, never as a partial graph: the caller then takes the TensorFlow route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hatch_tfjs.compile import (  # noqa: F401 - they register
    array_ops,
    attention,
    conv,
    core,
    core_ops,
    einsum,
    image_ops,
    keras_ops,
    loss_ops,
    math_ops,
    merge,
    nn_ops,
    normalization,
    numpy_array_ops,
    numpy_creation,
    numpy_ops,
    numpy_stats,
    rnn,
)
from hatch_tfjs.compile.builder import GraphBuilder, NotCoveredError, Tensor, const_attr
from hatch_tfjs.compile.model import ModelWalker, UncoveredLayer
from hatch_tfjs.keras_names import looped_note
from hatch_tfjs.neutral import GraphModelData, KerasModel, TensorSpec, Weight
from hatch_tfjs.translate import graph as gt
from hatch_tfjs.translate.ops import check_ops, op_counts

__all__ = ["CompiledGraph", "Uncovered", "UncoveredLayer", "compile_keras_model"]


# A compiled graph model is the same plain data the TensorFlow route produces.
CompiledGraph = GraphModelData


@dataclass
class Uncovered:
    """The model uses layers the compiler does not translate (each named, with the reason)."""

    model_name: str
    source_rel: str
    layers: list[UncoveredLayer]

    def describe(self) -> str:
        return "; ".join(layer.describe() for layer in self.layers)


def compile_keras_model(
    model: KerasModel, *, model_name: str, source_rel: str, structured_outputs: bool = False
) -> CompiledGraph | Uncovered:
    """Compile ``model`` (as :func:`hatch_tfjs.read.read_keras_model` reads it) into a TF.js graph model.

    Signature names follow the TensorFlow route: inputs by the Keras input names, a functional model's outputs by the
    names of the layers producing them (``output_<i>`` for a Sequential, or when those names repeat), read from
    ``Identity``, ``Identity_1``, ... in order.
    ``structured_outputs`` adds ``userDefinedMetadata.structuredOutputKeys`` as that route does."""
    builder = GraphBuilder()
    walker = ModelWalker(builder, {w.name: w.array for w in model.weights})
    try:
        inputs, outputs = walker.top_level(model.config)
    except NotCoveredError as reason:
        name = str((model.config.get("config") or {}).get("name", model_name))
        return Uncovered(
            model_name, source_rel, [UncoveredLayer(name, str(model.config.get("class_name")), str(reason))]
        )
    produced = [(name, t) for name, t in outputs if t is not None]
    if walker.uncovered or len(produced) != len(outputs):
        return Uncovered(model_name, source_rel, walker.uncovered)
    keys = _output_keys(produced, by_layer=model.config.get("class_name") != "Sequential")
    graph, output_specs = _finish(builder, inputs, produced, keys)
    problems = check_ops([graph])
    if problems:  # a translation emitted an op TF.js lacks: a bug here, reported rather than shipped
        return Uncovered(model_name, source_rel, [UncoveredLayer(model_name, "graph", p.describe()) for p in problems])
    weights = [
        Weight(node["name"], builder.values[node["name"]]) for node in _all_nodes(graph) if node["op"] == "Const"
    ]
    input_specs = [
        TensorSpec(name, f"{t.ref}:0", t.dtype, [-1 if d is None else d for d in t.shape]) for name, t in inputs
    ]
    metadata = {"structuredOutputKeys": [s.key for s in output_specs]} if structured_outputs else {}
    return CompiledGraph(
        topology=graph,
        signature=gt.signature_json(input_specs, output_specs),
        weights=weights,
        generated_by=f"keras v{model.keras_version}",
        metadata=metadata,
        op_counts=op_counts(graph),
        notes=[
            "compiled from the Keras config without TensorFlow",
            *_unrolled_note(builder.unrolled),
            *_looped_note(builder.looped),
        ],
    )


def _unrolled_note(unrolled: dict[str, int]) -> list[str]:
    """The note the build prints when RNN layers were unrolled (their fixed length made a loop unnecessary)."""
    if not unrolled:
        return []
    layers = ", ".join(f"{name} ({steps} steps)" for name, steps in unrolled.items())
    return [f"unrolled RNN layer(s) {layers} over their fixed sequence length (no While loop in TF.js)"]


def _looped_note(looped: dict[str, int]) -> list[str]:
    return [looped_note([f"{name} ({steps} steps)" for name, steps in looped.items()])] if looped else []


def _all_nodes(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """The graph's nodes and its functions' (whose constants TF.js also reads from the weights, by node name)."""
    functions = graph.get("library", {}).get("function", [])
    return [*graph["node"], *(node for function in functions for node in function["nodeDef"])]


def _output_keys(outputs: list[tuple[str, Tensor]], *, by_layer: bool) -> list[str]:
    """Keras's ``output_names`` (a functional model's output layers) when they are distinct, else ``output_<i>``."""
    names = [name for name, _ in outputs]
    return names if by_layer and len(set(names)) == len(names) else [f"output_{i}" for i in range(len(names))]


def _finish(
    builder: GraphBuilder, inputs: list[tuple[str, Tensor]], outputs: list[tuple[str, Tensor]], keys: list[str]
) -> tuple[dict[str, Any], list[TensorSpec]]:
    """Output Identity nodes, the fusion rewrites, unreachable nodes dropped; returns the graph and output specs."""
    specs = []
    for index, (key, (_, tensor)) in enumerate(zip(keys, outputs, strict=True)):
        name = builder.node(
            "Identity" if index == 0 else f"Identity_{index}", "Identity", [tensor], {"T": {"type": tensor.dtype}}
        )
        specs.append(TensorSpec(key, f"{name}:0", tensor.dtype, [-1 if d is None else d for d in tensor.shape]))
    graph: dict[str, Any] = {"node": builder.nodes}
    if builder.functions:  # loop bodies and conditions (recurrent layers over a run-time length)
        graph["library"] = {"function": builder.functions}
    view = _ValueGraph(graph, {t.ref for _, t in inputs} | {s.tensor.split(":")[0] for s in specs}, builder.values)
    report = gt.RewriteReport()
    gt.fold_batch_norms(view, report)
    gt.fold_pads_into_convs(view, report)
    gt.fuse_kernels(view, report)
    gt.fuse_prelu_into_kernels(view, report)
    view.remove_unreachable([s.tensor for s in specs])
    gt.sort_maps(graph)
    gt.ensure_versions(graph)
    return graph, specs


class _ValueGraph(gt.Graph):
    """The graph rewrites' view, reading and adding constants through the builder's values (no encoding round trip:
    it made folding the batch norms of a ResNet-50 take a second)."""

    def __init__(self, graph: dict[str, Any], keep: set[str], values: dict[str, np.ndarray]) -> None:
        self.values = values
        super().__init__(graph, keep)

    def const(self, name: str) -> np.ndarray | None:
        node_name, index, control = gt.parse_input(name)
        node = self.by_name.get(node_name)
        if node is None or node["op"] != "Const" or index != 0 or control:
            return None
        return self.values[node_name]

    def add_const(self, name: str, array: np.ndarray, dtype_name: str = "DT_FLOAT") -> str:
        value = np.ascontiguousarray(array, dtype=np.float32 if dtype_name == "DT_FLOAT" else np.int32)
        added = self.add_node({"name": name, "op": "Const", "attr": const_attr(value, dtype_name)})
        self.values[added] = value
        return added
