"""GraphDef (in protobuf's ``MessageToDict`` form) -> TF.js graph-model topology, signature and weights.

Pure Python + numpy: no TensorFlow. The TensorFlow side (``hatch_tfjs.read.savedmodel``) freezes and runs grappler;
everything here is plain-data rewriting that can be tested on hand-written graphs:

- decode/encode ``TensorProto`` dicts (Const values),
- fold batch norms into the preceding Conv2D / DepthwiseConv2dNative / MatMul, turn a per-channel Add after them
  into ``BiasAdd`` (so grappler's remapper can fuse it),
- fuse PReLU (``Relu(x) + c * Relu(-x)``) into ``Prelu``, ``DepthwiseConv2dNative + BiasAdd [+ Relu|Relu6]`` into
  ``FusedDepthwiseConv2dNative``, ``_FusedConv2D``/``_FusedMatMul`` + ``Prelu`` into one kernel,
- split fused kernels whose activation TF.js cannot fuse,
- move Const values out of the topology into named weights.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from hatch_tfjs.neutral import Weight
from hatch_tfjs.translate.ops import FUSED_ACTIVATIONS, fused_ops_of

# --- tensors --------------------------------------------------------------------------------------------------------

NUMPY_DTYPES: dict[str, Any] = {
    "DT_FLOAT": np.float32,
    "DT_DOUBLE": np.float64,
    "DT_HALF": np.float16,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_INT16": np.int16,
    "DT_INT8": np.int8,
    "DT_UINT8": np.uint8,
    "DT_UINT16": np.uint16,
    "DT_UINT32": np.uint32,
    "DT_UINT64": np.uint64,
    "DT_BOOL": np.bool_,
    "DT_COMPLEX64": np.complex64,
    "DT_STRING": object,
}
_VALUE_FIELDS = {
    "DT_FLOAT": "floatVal",
    "DT_DOUBLE": "doubleVal",
    "DT_HALF": "halfVal",
    "DT_INT32": "intVal",
    "DT_INT16": "intVal",
    "DT_INT8": "intVal",
    "DT_UINT8": "intVal",
    "DT_UINT16": "intVal",
    "DT_INT64": "int64Val",
    "DT_UINT32": "uint32Val",
    "DT_UINT64": "uint64Val",
    "DT_BOOL": "boolVal",
    "DT_COMPLEX64": "scomplexVal",
    "DT_STRING": "stringVal",
}
# Every field that carries a Const's value: cleared from the topology once the value is in the weights.
CLEARED_TENSOR_FIELDS = (
    "tensorContent", "halfVal", "floatVal", "doubleVal", "intVal", "stringVal", "scomplexVal", "int64Val",
    "boolVal", "resourceHandleVal", "variantVal", "uint32Val", "uint64Val", "dcomplexVal",
)


class GraphTranslationError(ValueError):
    """The graph holds something this translator cannot represent for TF.js."""


def shape_of(tensor_shape: dict[str, Any] | None) -> list[int] | None:
    """A ``TensorShapeProto`` dict as a list (-1 for unknown dims); None for unknown rank."""
    tensor_shape = tensor_shape or {}
    if tensor_shape.get("unknownRank"):
        return None
    return [int(d.get("size", 0)) for d in tensor_shape.get("dim", [])]


def shape_proto(shape: Iterable[int]) -> dict[str, Any]:
    dims = [{"size": str(int(d))} for d in shape]
    return {"dim": dims} if dims else {}


def decode_tensor(tensor: dict[str, Any]) -> np.ndarray:
    """A ``TensorProto`` dict (as ``MessageToDict`` renders it) as a numpy array."""
    dtype_name = tensor.get("dtype", "DT_FLOAT")
    if dtype_name not in NUMPY_DTYPES:
        raise GraphTranslationError(f"constant of dtype {dtype_name} cannot be stored for TF.js")
    np_dtype = NUMPY_DTYPES[dtype_name]
    shape = shape_of(tensor.get("tensorShape")) or []
    count = int(np.prod(shape)) if shape else 1
    if dtype_name == "DT_STRING":
        values = [base64.b64decode(v) for v in tensor.get("stringVal", [])]
        if len(values) < count:
            values += [values[-1] if values else b""] * (count - len(values))
        array = np.empty(count, dtype=object)
        array[:] = values[:count]
        return array.reshape(shape)
    if "tensorContent" in tensor:
        raw = base64.b64decode(tensor["tensorContent"])
        return np.frombuffer(raw, dtype=np.dtype(np_dtype).newbyteorder("<")).astype(np_dtype).reshape(shape)
    raw_values = tensor.get(_VALUE_FIELDS[dtype_name], [])
    if dtype_name == "DT_HALF":
        values = np.asarray([int(v) for v in raw_values], dtype=np.uint16).view(np.float16)
    elif dtype_name == "DT_COMPLEX64":
        pairs = np.asarray([float(v) for v in raw_values], dtype=np.float32)
        values = pairs.view(np.complex64) if pairs.size else pairs.astype(np.complex64)
    elif dtype_name in ("DT_FLOAT", "DT_DOUBLE"):
        values = np.asarray([float(v) for v in raw_values], dtype=np_dtype)
    elif dtype_name == "DT_BOOL":
        values = np.asarray([bool(v) for v in raw_values], dtype=np.bool_)
    else:
        values = np.asarray([int(v) for v in raw_values], dtype=np_dtype)
    if values.size == 0:
        return np.zeros(shape, dtype=np_dtype)
    if values.size < count:  # TensorProto convention: the last value repeats
        values = np.concatenate([values, np.full(count - values.size, values[-1], dtype=values.dtype)])
    return values[:count].reshape(shape)


def encode_tensor(array: np.ndarray, dtype_name: str) -> dict[str, Any]:
    """A numpy array as a ``TensorProto`` dict of ``dtype_name``."""
    shape = list(np.shape(array))
    tensor: dict[str, Any] = {"dtype": dtype_name, "tensorShape": shape_proto(shape)}
    if dtype_name == "DT_STRING":
        flat = np.asarray(array, dtype=object).reshape(-1)
        tensor["stringVal"] = [
            base64.b64encode(v if isinstance(v, bytes) else str(v).encode()).decode() for v in flat
        ]
        return tensor
    data = np.ascontiguousarray(np.asarray(array, dtype=NUMPY_DTYPES[dtype_name]))
    tensor["tensorContent"] = base64.b64encode(data.astype(data.dtype.newbyteorder("<")).tobytes()).decode()
    return tensor


# --- graph helpers --------------------------------------------------------------------------------------------------


def parse_input(name: str) -> tuple[str, int, bool]:
    """``"node:1"`` -> ``("node", 1, False)``; ``"^node"`` -> ``("node", -1, True)``."""
    if name.startswith("^"):
        return name[1:], -1, True
    node, _, index = name.partition(":")
    return node, int(index) if index else 0, False


def _attr_s(value: str) -> dict[str, str]:
    return {"s": base64.b64encode(value.encode()).decode()}


def _attr_b(node: dict[str, Any], key: str, default: bool = False) -> bool:
    return bool(node.get("attr", {}).get(key, {}).get("b", default))


class Graph:
    """A mutable view of a GraphDef dict's top-level nodes with name and consumer indexes."""

    def __init__(self, graph: dict[str, Any], keep: Iterable[str] = ()) -> None:
        self.graph = graph
        self.keep = set(keep)  # node names that must survive (inputs, outputs)
        self.reindex()

    @property
    def nodes(self) -> list[dict[str, Any]]:
        return self.graph.setdefault("node", [])

    def reindex(self) -> None:
        self.by_name = {n["name"]: n for n in self.nodes}
        self.consumers: dict[str, list[dict[str, Any]]] = {}
        for node in self.nodes:
            for inp in node.get("input", []):
                self.consumers.setdefault(parse_input(inp)[0], []).append(node)

    def const(self, name: str) -> np.ndarray | None:
        """The value of a Const node (looking through Identity), else None."""
        node_name, index, control = parse_input(name)
        node = self.by_name.get(node_name)
        while node is not None and node["op"] == "Identity" and index == 0:
            node = self.by_name.get(parse_input(node["input"][0])[0])
        if node is None or node["op"] != "Const" or index != 0 or control:
            return None
        return decode_tensor(node["attr"]["value"]["tensor"])

    def only_consumer_is(self, name: str, consumer: dict[str, Any]) -> bool:
        users = self.consumers.get(name, [])
        return name not in self.keep and len(users) == 1 and users[0] is consumer and all(
            parse_input(i)[0] != name or parse_input(i)[1] == 0 for i in consumer.get("input", [])
        )

    def add_const(self, name: str, array: np.ndarray, dtype_name: str = "DT_FLOAT") -> str:
        base, suffix = name, 0
        while name in self.by_name:
            suffix += 1
            name = f"{base}_{suffix}"
        node = {"name": name, "op": "Const", "attr": {"value": {"tensor": encode_tensor(array, dtype_name)}, "dtype": {"type": dtype_name}}}
        self.nodes.append(node)
        self.by_name[name] = node
        return name

    def bypass(self, node: dict[str, Any]) -> None:
        """Point the consumers of an Identity ``node`` at its input and drop it (unless it must be kept)."""
        if node["name"] in self.keep or node.get("input", [""])[0].startswith("^"):
            return
        target = node["input"][0]
        target_node = parse_input(target)[0]
        controls = [i for i in node.get("input", [])[1:] if i.startswith("^")]
        for consumer in self.consumers.get(node["name"], []):
            rewired = []
            for inp in consumer.get("input", []):
                name, index, control = parse_input(inp)
                if name != node["name"]:
                    rewired.append(inp)
                elif control:
                    rewired.append("^" + target_node)
                else:
                    rewired.append(target)
            consumer["input"] = rewired + [c for c in controls if c not in rewired]
        self.graph["node"] = [n for n in self.nodes if n is not node]
        self.reindex()

    def remove_unreachable(self, outputs: Iterable[str]) -> None:
        """Drop nodes nothing in ``outputs`` (or ``keep``) depends on."""
        wanted: set[str] = set()
        stack = [parse_input(o)[0] for o in outputs] + list(self.keep)
        while stack:
            name = stack.pop()
            if name in wanted or name not in self.by_name:
                continue
            wanted.add(name)
            stack.extend(parse_input(i)[0] for i in self.by_name[name].get("input", []))
        self.graph["node"] = [n for n in self.nodes if n["name"] in wanted]
        self.reindex()


def _data_format(node: dict[str, Any]) -> str:
    value = node.get("attr", {}).get("data_format", {}).get("s")
    return base64.b64decode(value).decode() if value else "NHWC"


def _out_channels_scale(kernel_op: str, filt: np.ndarray, scale: np.ndarray) -> np.ndarray | None:
    """``filt`` with each output channel multiplied by ``scale`` (shape [C] or scalar), or None if it cannot be."""
    scale = np.asarray(scale, dtype=np.float64)
    if kernel_op == "DepthwiseConv2dNative":
        channels = filt.shape[2] * filt.shape[3]
        if scale.size not in (1, channels):
            return None
        return (filt * scale.reshape(filt.shape[2], filt.shape[3]) if scale.size > 1 else filt * scale).astype(filt.dtype)
    channels = filt.shape[-1]
    if scale.size not in (1, channels):
        return None
    return (filt * scale.reshape(-1)).astype(filt.dtype) if scale.size > 1 else (filt * scale).astype(filt.dtype)


def _per_channel(value: np.ndarray | None, rank_hint: int | None = None) -> np.ndarray | None:
    """A constant that broadcasts as a per-last-axis vector (shape [C], [1, C], [1,1,1,C], scalar) flattened."""
    if value is None or value.dtype.kind != "f":
        return None
    if value.ndim == 0:
        return value.reshape(1)
    if all(d == 1 for d in value.shape[:-1]):
        return value.reshape(-1)
    return None


LINEAR_KERNELS = ("Conv2D", "DepthwiseConv2dNative", "MatMul")


def _kernel_filter(graph: Graph, node: dict[str, Any]) -> tuple[str, np.ndarray] | None:
    """``(filter input name, filter value)`` of a Conv2D / DepthwiseConv2dNative / MatMul in NHWC with a const filter."""
    if node["op"] not in LINEAR_KERNELS or len(node.get("input", [])) < 2:
        return None
    if node["op"] == "MatMul" and (_attr_b(node, "transpose_b") or _attr_b(node, "transpose_a")):
        return None
    if node["op"] != "MatMul" and _data_format(node) != "NHWC":
        return None
    value = graph.const(node["input"][1])
    if value is None or value.dtype.kind != "f":
        return None
    return node["input"][1], value


def _replace_filter(graph: Graph, kernel: dict[str, Any], new_filter: np.ndarray) -> None:
    kernel["input"][1] = graph.add_const(f"{kernel['name']}/folded_filter", new_filter, "DT_FLOAT")


def _bias_add(node: dict[str, Any], value_input: str, bias_input: str, dtype: dict[str, Any] | None) -> None:
    """Turn ``node`` (keeping its name, so consumers still find it) into BiasAdd(value, bias)."""
    controls = [i for i in node.get("input", []) if i.startswith("^")]
    node["op"] = "BiasAdd"
    node["input"] = [value_input, bias_input, *controls]
    node["attr"] = {"T": dtype or {"type": "DT_FLOAT"}, "data_format": _attr_s("NHWC")}


@dataclass
class RewriteReport:
    """What the rewrites did: counts by kind, for notes and tests."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n


def fold_batch_norms(graph: Graph, report: RewriteReport) -> None:
    """Fold inference batch norms (FusedBatchNorm*, or the Mul/Add pairs a frozen Keras BatchNormalization
    leaves) into the preceding Conv2D / DepthwiseConv2dNative / MatMul filter and a BiasAdd."""
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            op = node["op"]
            inputs = [i for i in node.get("input", []) if not i.startswith("^")]
            if op in ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"):
                if _attr_b(node, "is_training", True) or _data_format(node) != "NHWC" or len(inputs) < 5:
                    continue
                if any(parse_input(i)[1] > 0 for c in graph.consumers.get(node["name"], []) for i in c.get("input", []) if parse_input(i)[0] == node["name"]):
                    continue  # batch statistics outputs are used
                kernel = graph.by_name.get(parse_input(inputs[0])[0])
                if kernel is None or not graph.only_consumer_is(kernel["name"], node):
                    continue
                found = _kernel_filter(graph, kernel)
                gamma, beta, mean, var = (graph.const(i) for i in inputs[1:5])
                if found is None or any(v is None for v in (gamma, beta, mean, var)):
                    continue
                eps = float(node.get("attr", {}).get("epsilon", {}).get("f", 1e-3))
                scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + eps)
                new_filter = _out_channels_scale(kernel["op"], found[1], scale)
                if new_filter is None:
                    continue
                offset = (np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * scale).astype(np.float32)
                _replace_filter(graph, kernel, new_filter)
                bias = graph.add_const(f"{node['name']}/folded_bias", offset)
                _bias_add(node, inputs[0], bias, {"type": "DT_FLOAT"})
                report.add("batch_norm_folded")
                changed = True
            elif op == "Mul" and len(inputs) == 2:
                for value_index in (0, 1):
                    producer = graph.by_name.get(parse_input(inputs[value_index])[0])
                    scale = _per_channel(graph.const(inputs[1 - value_index]))
                    if producer is None or scale is None or not graph.only_consumer_is(producer["name"], node):
                        continue
                    if producer["op"] in LINEAR_KERNELS:
                        found = _kernel_filter(graph, producer)
                        new_filter = None if found is None else _out_channels_scale(producer["op"], found[1], scale)
                        if new_filter is None:
                            continue
                        _replace_filter(graph, producer, new_filter)
                    elif producer["op"] == "BiasAdd":
                        kernel = graph.by_name.get(parse_input(producer["input"][0])[0])
                        bias = graph.const(producer["input"][1])
                        if kernel is None or bias is None or not graph.only_consumer_is(kernel["name"], producer):
                            continue
                        found = _kernel_filter(graph, kernel)
                        new_filter = None if found is None else _out_channels_scale(kernel["op"], found[1], scale)
                        if new_filter is None or scale.size not in (1, bias.size):
                            continue
                        _replace_filter(graph, kernel, new_filter)
                        producer["input"][1] = graph.add_const(f"{producer['name']}/folded_bias", (bias * scale).astype(np.float32))
                    else:
                        continue
                    # The Mul becomes a pass-through: consumers read the producer directly.
                    node["op"] = "Identity"
                    node["input"] = [inputs[value_index], *[i for i in node.get("input", []) if i.startswith("^")]]
                    node["attr"] = {"T": {"type": "DT_FLOAT"}}
                    graph.bypass(node)
                    report.add("scale_folded")
                    changed = True
                    break
            elif op in ("Add", "AddV2", "BiasAdd") and len(inputs) == 2:
                for value_index in ((0, 1) if op != "BiasAdd" else (0,)):
                    producer = graph.by_name.get(parse_input(inputs[value_index])[0])
                    offset = _per_channel(graph.const(inputs[1 - value_index]))
                    if producer is None or offset is None or not graph.only_consumer_is(producer["name"], node):
                        continue
                    if producer["op"] == "BiasAdd":
                        bias = graph.const(producer["input"][1])
                        if bias is None or offset.size not in (1, bias.size):
                            continue
                        merged = graph.add_const(f"{node['name']}/merged_bias", (bias + offset).astype(np.float32))
                        _bias_add(node, producer["input"][0], merged, producer.get("attr", {}).get("T"))
                        report.add("bias_merged")
                    elif producer["op"] in LINEAR_KERNELS and op != "BiasAdd" and _kernel_filter(graph, producer):
                        channels = _kernel_filter(graph, producer)[1]  # type: ignore[index]
                        out = channels.shape[2] * channels.shape[3] if producer["op"] == "DepthwiseConv2dNative" else channels.shape[-1]
                        if offset.size != out:
                            continue
                        bias = graph.add_const(f"{node['name']}/bias", offset.astype(np.float32))
                        _bias_add(node, inputs[value_index], bias, {"type": "DT_FLOAT"})
                        report.add("add_to_bias_add")
                    else:
                        continue
                    changed = True
                    break
            if changed:
                graph.reindex()
                break


def fuse_prelu(graph: Graph, report: RewriteReport) -> None:
    """``Relu(x) + c * Relu(Neg(x))`` (what PReLU becomes once frozen; c = -alpha) -> ``Prelu(x, alpha)``."""
    for node in list(graph.nodes):
        if node["op"] not in ("Add", "AddV2"):
            continue
        inputs = [i for i in node.get("input", []) if not i.startswith("^")]
        if len(inputs) != 2:
            continue
        for relu_index in (0, 1):
            relu = graph.by_name.get(parse_input(inputs[relu_index])[0])
            mul = graph.by_name.get(parse_input(inputs[1 - relu_index])[0])
            if relu is None or mul is None or relu["op"] != "Relu" or mul["op"] != "Mul":
                continue
            x = relu["input"][0]
            match = None
            for neg_index in (0, 1):
                alpha = graph.const(mul["input"][1 - neg_index])
                neg_relu = graph.by_name.get(parse_input(mul["input"][neg_index])[0])
                if alpha is None or neg_relu is None or neg_relu["op"] != "Relu":
                    continue
                neg = graph.by_name.get(parse_input(neg_relu["input"][0])[0])
                if neg is not None and neg["op"] == "Neg" and neg["input"][0] == x:
                    match = (alpha, neg_relu, neg)
            if match is None:
                continue
            alpha, neg_relu, neg = match
            if not all(graph.only_consumer_is(n["name"], c) for n, c in ((relu, node), (mul, node), (neg_relu, mul), (neg, neg_relu))):
                continue
            alpha_name = graph.add_const(f"{node['name']}/alpha", (-alpha).astype(np.float32))
            node["op"] = "Prelu"
            node["input"] = [x, alpha_name]
            node["attr"] = {"T": {"type": "DT_FLOAT"}}
            report.add("prelu_fused")
            graph.reindex()
            break
    graph.remove_unreachable(graph.keep)


def fuse_depthwise(graph: Graph, report: RewriteReport) -> None:
    """``DepthwiseConv2dNative + BiasAdd [+ Relu|Relu6]`` -> ``FusedDepthwiseConv2dNative`` (TF.js has the kernel)."""
    for node in list(graph.nodes):
        if node["op"] != "BiasAdd":
            continue
        conv = graph.by_name.get(parse_input(node["input"][0])[0])
        if conv is None or conv["op"] != "DepthwiseConv2dNative" or not graph.only_consumer_is(conv["name"], node):
            continue
        last, fused = node, ["BiasAdd"]
        users = graph.consumers.get(node["name"], [])
        if len(users) == 1 and users[0]["op"] in ("Relu", "Relu6") and graph.only_consumer_is(node["name"], users[0]):
            last = users[0]
            fused.append(users[0]["op"])
        attrs = {k: v for k, v in conv.get("attr", {}).items() if k in ("T", "strides", "padding", "data_format", "dilations", "explicit_paddings")}
        attrs["fused_ops"] = {"list": {"s": [base64.b64encode(f.encode()).decode() for f in fused]}}
        attrs["num_args"] = {"i": "1"}
        controls = [i for n in (conv, node, last) for i in n.get("input", []) if i.startswith("^")]
        last_name = last["name"]
        last.clear()
        last.update({"name": last_name, "op": "FusedDepthwiseConv2dNative",
                     "input": [conv["input"][0], conv["input"][1], node["input"][1], *dict.fromkeys(controls)], "attr": attrs})
        report.add("depthwise_fused")
        graph.reindex()
    graph.remove_unreachable(graph.keep)


def fuse_prelu_into_kernels(graph: Graph, report: RewriteReport) -> None:
    """``_FusedConv2D``/``_FusedMatMul``/``FusedDepthwiseConv2dNative`` [BiasAdd] followed by ``Prelu`` -> one kernel."""
    for node in list(graph.nodes):
        if node["op"] != "Prelu":
            continue
        kernel = graph.by_name.get(parse_input(node["input"][0])[0])
        if kernel is None or kernel["op"] not in ("_FusedConv2D", "_FusedMatMul", "FusedDepthwiseConv2dNative"):
            continue
        if fused_ops_of(kernel) != ["BiasAdd"] or not graph.only_consumer_is(kernel["name"], node):
            continue
        attrs = copy.deepcopy(kernel["attr"])
        attrs["fused_ops"] = {"list": {"s": [base64.b64encode(f.encode()).decode() for f in ("BiasAdd", "Prelu")]}}
        attrs["num_args"] = {"i": "2"}
        data = [i for i in kernel["input"] if not i.startswith("^")]
        controls = [i for i in kernel["input"] + node["input"] if i.startswith("^")]
        alpha = node["input"][1]
        name = node["name"]
        node.clear()
        node.update({"name": name, "op": kernel["op"], "input": [*data, alpha, *dict.fromkeys(controls)], "attr": attrs})
        report.add("prelu_fused_into_kernel")
        graph.reindex()
    graph.remove_unreachable(graph.keep)


_UNARY_ACTIVATIONS = {"Relu", "Relu6", "Elu", "Sigmoid", "Tanh", "LeakyRelu", "Selu", "Softplus", "Softsign", "Mish"}


def unfuse_unsupported(graph: Graph, report: RewriteReport) -> None:
    """Split a fused kernel grappler built with something TF.js cannot fuse (``Tanh``, ``Add``, a GELU, ...)
    back into the plain kernel followed by the separate ops, which TF.js runs one by one."""
    for node in list(graph.nodes):
        if node["op"] not in ("_FusedConv2D", "_FusedMatMul"):
            continue
        fused = fused_ops_of(node)
        tail = fused[1:] if fused[:1] == ["BiasAdd"] else fused
        if all(f in FUSED_ACTIVATIONS for f in tail) and len(tail) <= 1 and (not fused or fused[0] in ("BiasAdd", *FUSED_ACTIVATIONS)):
            continue
        if not all(f in ("BiasAdd", "Add") or f in _UNARY_ACTIVATIONS for f in fused):
            continue  # leave it to the op check, which names it
        data = [i for i in node["input"] if not i.startswith("^")]
        controls = [i for i in node["input"] if i.startswith("^")]
        args = data[2:]
        dtype = node.get("attr", {}).get("T", {"type": "DT_FLOAT"})
        base_attrs = {k: v for k, v in node["attr"].items() if k not in ("fused_ops", "num_args", "epsilon", "leakyrelu_alpha", "TArgs")}
        base_name = f"{node['name']}/unfused_{'Conv2D' if node['op'] == '_FusedConv2D' else 'MatMul'}"
        base = {"name": base_name, "op": "Conv2D" if node["op"] == "_FusedConv2D" else "MatMul", "input": [data[0], data[1], *controls], "attr": base_attrs}
        chain = [base]
        previous = base_name
        for step, fused_op in enumerate(fused):
            is_last = step == len(fused) - 1
            name = node["name"] if is_last else f"{node['name']}/unfused_{step}_{fused_op}"
            if fused_op in ("BiasAdd", "Add"):
                arg = args.pop(0)
                op_node = {"name": name, "op": "BiasAdd" if fused_op == "BiasAdd" else "AddV2", "input": [previous, arg], "attr": {"T": dtype}}
            else:
                attrs: dict[str, Any] = {"T": dtype}
                if fused_op == "LeakyRelu":
                    attrs["alpha"] = {"f": node["attr"].get("leakyrelu_alpha", {}).get("f", 0.2)}
                op_node = {"name": name, "op": fused_op, "input": [previous], "attr": attrs}
            chain.append(op_node)
            previous = name
        index = graph.nodes.index(node)
        graph.nodes[index:index + 1] = chain
        report.add("unfused")
        graph.reindex()


def drop_switch_control_inputs(graph: Graph, report: RewriteReport) -> None:
    """Remove control inputs that come from ``Switch`` nodes.

    Lowering a While loop (``lower_control_flow``) gives the loop body an ``input_control_node`` NoOp with control
    inputs from every loop variable's Switch. TF.js reads a control input as the producer's first output, and a
    Switch's first output is the *exit* branch, which is dead on every iteration: the body never becomes ready and
    TF.js fails with "Cannot compute the outputs [Identity] from the provided inputs". The body's data inputs
    (``Switch:1``) already order it after the Switch, so these control edges carry nothing TF.js needs.
    """
    switches = {n["name"] for n in graph.nodes if n["op"] in ("Switch", "RefSwitch")}
    removed = 0
    for node in graph.nodes:
        inputs = node.get("input", [])
        kept = [i for i in inputs if not (i.startswith("^") and i[1:] in switches)]
        if len(kept) != len(inputs):
            removed += len(inputs) - len(kept)
            node["input"] = kept
    if removed:
        report.add("switch_control_inputs_dropped", removed)
        graph.reindex()


def drop_unused_placeholders(graph: Graph) -> None:
    """Remove Placeholders nothing reads (``unused_control_flow_input*`` that freezing leaves behind)."""
    graph.graph["node"] = [
        n for n in graph.nodes if not (n["op"] == "Placeholder" and n["name"] not in graph.keep and not graph.consumers.get(n["name"]))
    ]
    graph.reindex()


def clear_devices(graph: dict[str, Any]) -> None:
    for node in graph.get("node", []):
        node.pop("device", None)
    for function in graph.get("library", {}).get("function", []):
        for node in function.get("nodeDef", []):
            node.pop("device", None)


# --- weights --------------------------------------------------------------------------------------------------------


def _extract_consts(nodes: list[dict[str, Any]], rename: Callable[[str], str], weights: list[Weight], seen: set[str]) -> None:
    for node in nodes:
        if node["op"] != "Const":
            continue
        tensor = node.get("attr", {}).get("value", {}).get("tensor", {})
        value = decode_tensor(tensor)
        name = rename(node["name"])
        if name in seen:
            raise GraphTranslationError(f"two constants are named {name!r}")
        seen.add(name)
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        weights.append(Weight(name, value))
        for key in CLEARED_TENSOR_FIELDS:
            tensor.pop(key, None)


def extract_weights(graph: dict[str, Any], *, seen: set[str] | None = None) -> list[Weight]:
    """Move every Const value of ``graph`` (top level and function library) into weights, in graph order.

    Constants inside functions are renamed ``<function>/<node>`` (and their uses inside the function with them) so
    names stay unique across the manifest, as TF.js looks function constants up by their node name.
    """
    weights: list[Weight] = []
    seen = set() if seen is None else seen
    _extract_consts(graph.get("node", []), lambda n: n, weights, seen)
    for function in graph.get("library", {}).get("function", []):
        fname = function["signature"]["name"]
        consts = {n["name"] for n in function.get("nodeDef", []) if n["op"] == "Const"}
        if not consts:
            continue
        renamed = {c: f"{fname}/{c}" for c in consts}
        for node in function.get("nodeDef", []):
            if node["name"] in renamed:
                node["name"] = renamed[node["name"]]
            new_inputs = []
            for inp in node.get("input", []):
                control = inp.startswith("^")
                base, sep, rest = inp.lstrip("^").partition(":")
                if base in renamed:
                    inp = ("^" if control else "") + renamed[base] + sep + rest
                new_inputs.append(inp)
            if "input" in node:
                node["input"] = new_inputs
        for key, value in list(function.get("ret", {}).items()):
            base, sep, rest = value.partition(":")
            if base in renamed:
                function["ret"][key] = renamed[base] + sep + rest
        _extract_consts(function.get("nodeDef", []), lambda n: n, weights, seen)
    return weights


# --- signature ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """One signature entry: its key (what users call it) and the graph tensor behind it."""

    key: str
    tensor: str  # "node:0"
    dtype: str  # "DT_FLOAT"
    shape: list[int] | None  # -1 for unknown dims; None for unknown rank
    resource_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.tensor, "dtype": self.dtype}
        entry["tensorShape"] = {"unknownRank": True} if self.shape is None else shape_proto(self.shape)
        if self.resource_id is not None:
            entry["resourceId"] = self.resource_id
        return entry


def signature_json(inputs: list[TensorSpec], outputs: list[TensorSpec]) -> dict[str, Any]:
    return {"inputs": {s.key: s.to_json() for s in inputs}, "outputs": {s.key: s.to_json() for s in outputs}}


def ensure_versions(graph: dict[str, Any]) -> None:
    """TF.js reads ``versions.producer``; a GraphDef without versions would crash its loader."""
    graph.setdefault("versions", {}).setdefault("producer", 1)
