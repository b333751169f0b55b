"""The pure half of the TensorFlow graph route: a frozen GraphDef becomes a graph model TF.js 4.22 runs.

It starts from what the TensorFlow reader returns (:class:`~hatch_tfjs.neutral.FrozenGraph`, from
``read/savedmodel.py``) and needs no TensorFlow:

1. the functions that create and fill captured resources (hash tables) are spliced into one ``modelInitializer``
   graph, each resource's handle tagged with the ``resourceId`` of the inference input it feeds;
2. the rewrites of :mod:`hatch_tfjs.translate.graph`: Erfc -> 1 - Erf, Einsum -> BatchMatMulV2, depthwise grouped
   convolutions -> DepthwiseConv2dNative, fold batch norms, Add -> BiasAdd, PReLU, kernel + BiasAdd + activation fusion
   (``_FusedConv2D``/``_FusedMatMul``/``FusedDepthwiseConv2dNative``);
3. the op check (:mod:`hatch_tfjs.translate.ops`), which names the layer or name scope of every node TF.js lacks;
4. Const values out into weights, and the signature.

The frozen graphs are rewritten in place: a :class:`FrozenGraph` is consumed by :func:`graph_model_data`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hatch_tfjs.errors import UnsupportedModelError
from hatch_tfjs.neutral import FrozenGraph, GraphModelData, TensorSpec
from hatch_tfjs.options import GraphOptions
from hatch_tfjs.translate import graph as gt
from hatch_tfjs.translate.ops import OpProblem, check_ops, op_counts, scope_origin


def graph_model_data(frozen: FrozenGraph, *, model_name: str, source_rel: str, options: GraphOptions) -> GraphModelData:
    """Everything the ``model.json`` of ``frozen`` needs, or :class:`UnsupportedModelError` naming each op TF.js
    cannot run and where it came from."""
    initializer = initializer_graph(frozen, model_name, source_rel)
    rewritten = rewrite_for_tfjs(frozen)
    origin: Callable[[str], str | None] = frozen.origins if frozen.origins is not None else scope_origin
    graphs = [rewritten.graph, *([initializer.graph] if initializer else [])]
    _refuse_unsupported_ops(graphs, rewritten.grouped_convs, origin, options, model_name, source_rel)

    seen: set[str] = set()
    weights = gt.extract_weights(rewritten.graph, seen=seen)
    extra: dict[str, Any] = {}
    resources = frozen.resources
    if initializer is not None:
        weights += gt.extract_weights(initializer.graph, seen=seen)
        extra = {"modelInitializer": initializer.graph, "initializerSignature": initializer.signature}
        resources = initializer.resources
    metadata: dict[str, Any] = {}
    if options.structured_outputs:
        metadata["structuredOutputKeys"] = [s.key for s in frozen.outputs]
    notes = list(frozen.notes)
    if rewritten.report.counts:
        notes.append("graph rewrites: " + ", ".join(f"{k} x{v}" for k, v in sorted(rewritten.report.counts.items())))
    return GraphModelData(
        topology=rewritten.graph,
        signature=gt.signature_json([*frozen.inputs, *resources], frozen.outputs),
        weights=weights,
        generated_by=frozen.generated_by,
        metadata=metadata,
        extra=extra,
        op_counts=op_counts(rewritten.graph),
        notes=notes,
    )


# --- rewrites ---------------------------------------------------------------------------------------------------------


@dataclass
class Rewritten:
    graph: dict[str, Any]
    report: gt.RewriteReport
    grouped_convs: list[str]  # grouped convolutions TF.js cannot run (not depthwise)


def rewrite_for_tfjs(frozen: FrozenGraph) -> Rewritten:
    """The rewrites that turn TensorFlow's ops into ones TF.js runs (and runs fast), in the order they build on."""
    data = frozen.graph
    keep = {s.tensor.split(":")[0] for s in [*frozen.inputs, *frozen.resources, *frozen.outputs]}
    report = gt.RewriteReport()
    view = gt.Graph(data, keep)
    gt.drop_unused_placeholders(view)
    gt.drop_switch_control_inputs(view, report)
    gt.rewrite_erfc(view, report)
    gt.rewrite_float_floor_div(view, report)
    gt.rewrite_einsum(view, report)
    grouped = gt.grouped_convs_to_depthwise(view, frozen.conv_input_channels, report)
    gt.fold_batch_norms(view, report)
    gt.fold_pads_into_convs(view, report)
    gt.fuse_prelu(view, report)
    gt.fuse_kernels(view, report)
    gt.fuse_prelu_into_kernels(view, report)
    view.remove_unreachable([s.tensor for s in frozen.outputs])
    gt.clear_devices(data)
    gt.sort_maps(data)
    gt.ensure_versions(data)
    return Rewritten(data, report, grouped)


# --- the op check -----------------------------------------------------------------------------------------------------


def _refuse_unsupported_ops(
    graphs: list[dict[str, Any]],
    grouped_convs: list[str],
    origin: Callable[[str], str | None],
    options: GraphOptions,
    model_name: str,
    source_rel: str,
) -> None:
    problems = check_ops(graphs, strip_debug_ops=options.strip_debug_ops, origin=origin)
    if grouped_convs:
        grouped = OpProblem(
            "Conv2D with groups",
            hint="TF.js has no grouped convolution; only groups = 1 or groups = "
            "input channels (a depthwise convolution) convert",
        )
        for name in grouped_convs:
            grouped.add(name, origin(name))
        problems.append(grouped)
    if problems:
        raise UnsupportedModelError(model_name, source_rel, [p.describe() for p in problems], kind="graph")


# --- resources (hash tables) ------------------------------------------------------------------------------------------


@dataclass
class Initializer:
    graph: dict[str, Any]  # modelInitializer
    signature: dict[str, Any]  # initializerSignature
    resources: list[TensorSpec]  # the resource inputs of the inference graph, each with its resourceId


def initializer_graph(frozen: FrozenGraph, model_name: str, source_rel: str) -> Initializer | None:
    """The ``modelInitializer`` graph creating and filling every captured resource, or None when there is none."""
    parts = frozen.initializers
    if parts is None:
        return None
    graph = gt.Graph(parts.create)
    outputs_spec: dict[str, Any] = {}
    resources = list(frozen.resources)
    for index, (spec, handle_tensor, filler) in enumerate(
        zip(frozen.resources, parts.handles, parts.fillers, strict=False)
    ):
        handle_placeholders = [
            n["name"]
            for n in filler.get("node", [])
            if n["op"] == "Placeholder" and n.get("attr", {}).get("dtype", {}).get("type") == "DT_RESOURCE"
        ]
        if len(handle_placeholders) != 1:
            raise UnsupportedModelError(
                model_name,
                source_rel,
                [f"the initializer of {spec.tensor} does not take exactly one table handle"],
                kind="graph",
            )
        import_ops = _splice_initializer(graph, filler, f"init_{index}/", handle_placeholders[0], handle_tensor)
        out_name = f"initialized_resource_{index}"
        graph.nodes.append(
            {
                "name": out_name,
                "op": "Identity",
                "input": [handle_tensor, *("^" + op for op in import_ops)],
                "attr": {"T": {"type": "DT_RESOURCE"}},
            }
        )
        resource_id = index + 1
        outputs_spec[f"{out_name}:0"] = {
            "name": f"{out_name}:0",
            "dtype": "DT_RESOURCE",
            "tensorShape": {},
            "resourceId": resource_id,
        }
        resources[index] = replace(spec, resource_id=resource_id)
    graph.reindex()
    graph.remove_unreachable([f"initialized_resource_{i}" for i in range(len(parts.fillers))])
    gt.clear_devices(graph.graph)
    gt.sort_maps(graph.graph)
    gt.ensure_versions(graph.graph)
    return Initializer(graph.graph, {"outputs": outputs_spec}, resources)


def _splice_initializer(
    graph: gt.Graph, init_dict: dict[str, Any], prefix: str, handle_placeholder: str, handle_tensor: str
) -> list[str]:
    """Add a resource's initialise function to ``graph`` (its nodes under ``prefix``), fed ``handle_tensor`` instead
    of its handle placeholder; returns the names of its ops that fill the table."""
    import_ops = []
    for node in init_dict.get("node", []):
        if node["name"] == handle_placeholder:
            continue
        node["name"] = prefix + node["name"]
        new_inputs = []
        for inp in node.get("input", []):
            name, _index, control = gt.parse_input(inp)
            if name == handle_placeholder:
                new_inputs.append(handle_tensor if not control else "^" + handle_tensor.split(":", maxsplit=1)[0])
            else:
                new_inputs.append(("^" if control else "") + prefix + inp.lstrip("^"))
        if new_inputs:
            node["input"] = new_inputs
        if node["op"].startswith("LookupTableImport") or node["op"].startswith("InitializeTable"):
            import_ops.append(node["name"])
        graph.nodes.append(node)
    return import_ops
