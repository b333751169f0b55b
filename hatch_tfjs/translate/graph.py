"""GraphDef (in protobuf's ``MessageToDict`` form) -> TF.js graph-model topology, signature and weights.

Pure Python + numpy: no TensorFlow. The TensorFlow side (``hatch_tfjs.read.savedmodel``) freezes and runs grappler,
``hatch_tfjs.translate.graph_pipeline`` applies these in order; everything here is plain-data rewriting that can be
tested on hand-written graphs:

- decode/encode ``TensorProto`` dicts (Const values),
- fold batch norms into the preceding Conv2D / DepthwiseConv2dNative / MatMul, turn a per-channel Add after them
  into ``BiasAdd`` (so the kernel fusion below takes it),
- rewrite ``Erfc(x)`` (exact GELU) as ``1 - Erf(x)``,
- rewrite ``Einsum`` of one or two tensors (the attention and the EinsumDense projections of Keras and keras-hub
  traced by TensorFlow) as ``Sum``/``Transpose``/``Reshape``/``BatchMatMulV2``, which every TF.js backend runs (WASM
  has no Einsum kernel),
- fold a zero ``Pad`` of height and width into the ``VALID`` convolution after it (explicit padding),
- fuse PReLU (``Relu(x) + c * Relu(-x)``) into ``Prelu``, ``Conv2D``/``DepthwiseConv2dNative``/``MatMul + BiasAdd
  [+ activation]`` into ``_FusedConv2D``/``FusedDepthwiseConv2dNative``/``_FusedMatMul``, those + ``Prelu`` into one
  kernel,
- move Const values out of the topology into named weights.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hatch_tfjs.einsum_plan import EinsumRefusedError, Known, finish_einsum, lower_einsum, prepare_operand
from hatch_tfjs.errors import InternalError
from hatch_tfjs.neutral import TensorSpec, Weight
from hatch_tfjs.translate.ops import fused_ops_of

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
    "tensorContent",
    "halfVal",
    "floatVal",
    "doubleVal",
    "intVal",
    "stringVal",
    "scomplexVal",
    "int64Val",
    "boolVal",
    "resourceHandleVal",
    "variantVal",
    "uint32Val",
    "uint64Val",
    "dcomplexVal",
)


class GraphTranslationError(InternalError):
    """The graph holds something this translator cannot represent for TF.js (a gap here, not the user's doing)."""


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
        strings = [base64.b64decode(v) for v in tensor.get("stringVal", [])]
        if len(strings) < count:
            strings += [strings[-1] if strings else b""] * (count - len(strings))
        array = np.empty(count, dtype=object)
        array[:] = strings[:count]
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
        tensor["stringVal"] = [base64.b64encode(v if isinstance(v, bytes) else str(v).encode()).decode() for v in flat]
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


def data_inputs(node: dict[str, Any]) -> list[str]:
    """A node's data inputs (GraphDef lists them before its control inputs)."""
    return [i for i in node.get("input", []) if not i.startswith("^")]


def control_inputs(*nodes: dict[str, Any]) -> list[str]:
    """The control inputs of ``nodes``, each once, in order: what a node replacing them all must keep."""
    return list(dict.fromkeys(i for node in nodes for i in node.get("input", []) if i.startswith("^")))


def _attr_s(value: str) -> dict[str, str]:
    return {"s": base64.b64encode(value.encode()).decode()}


def _attr_b(node: dict[str, Any], key: str, default: bool = False) -> bool:
    return bool(node.get("attr", {}).get(key, {}).get("b", default))


def _fused_ops_attr(ops: Iterable[str]) -> dict[str, Any]:
    return {"list": {"s": [base64.b64encode(op.encode()).decode() for op in ops]}}


def _input_node(name: str) -> str:
    """The node an input string refers to (``"^n"``, ``"n:1"`` -> ``"n"``); the hot path of the indexes."""
    return name[1:] if name.startswith("^") else name.partition(":")[0]


class Graph:
    """A mutable view of a GraphDef dict's top-level nodes with name and consumer indexes.

    Rewrites keep three rules: a node is rewritten in place (keeping its name) only after everything it needs was
    read from the nodes it absorbs; a node is absorbed only when its single consumer is the node absorbing it and it
    is not in ``keep`` (graph inputs and outputs); a constant is never changed in place (it may feed other nodes),
    a new one is added instead."""

    def __init__(self, graph: dict[str, Any], keep: Iterable[str] = ()) -> None:
        self.graph = graph
        self.keep = set(keep)  # node names that must survive (inputs, outputs)
        self.reindex()

    @property
    def nodes(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = self.graph.setdefault("node", [])
        return nodes

    def reindex(self) -> None:
        self.by_name = {n["name"]: n for n in self.nodes}
        self.consumers: dict[str, list[dict[str, Any]]] = {}
        for node in self.nodes:
            self._link(node)

    # The rewrites change the graph only through the methods below, which keep both indexes up to date: a full
    # reindex after every rewrite made large models (thousands of nodes, hundreds of rewrites) slow.

    def _link(self, node: dict[str, Any]) -> None:
        for inp in node.get("input", []):
            self.consumers.setdefault(_input_node(inp), []).append(node)

    def _unlink(self, node: dict[str, Any]) -> None:
        for inp in node.get("input", []):
            users = self.consumers.get(_input_node(inp), [])
            for index, user in enumerate(users):
                if user is node:
                    del users[index]
                    break

    def set_inputs(self, node: dict[str, Any], inputs: list[str]) -> None:
        self._unlink(node)
        node["input"] = inputs
        self._link(node)

    def become(self, node: dict[str, Any], op: str, inputs: list[str], attr: dict[str, Any]) -> None:
        """Turn ``node`` into another op in place, keeping its name (so its consumers still read it).

        Every argument must be computed before the call: the node's old fields are gone afterwards."""
        self._unlink(node)
        name = node["name"]
        node.clear()
        node.update({"name": name, "op": op, "input": inputs, "attr": attr})
        self._link(node)

    def remove(self, nodes: Iterable[dict[str, Any]]) -> None:
        doomed = {id(n): n for n in nodes if self.is_live(n)}
        if not doomed:
            return
        self.graph["node"] = [n for n in self.nodes if id(n) not in doomed]
        for node in doomed.values():
            self._unlink(node)
            del self.by_name[node["name"]]

    def is_live(self, node: dict[str, Any]) -> bool:
        """Whether ``node`` is still in the graph (a rewrite earlier in the same pass may have removed it)."""
        return self.by_name.get(node["name"]) is node

    def producer(self, name: str) -> dict[str, Any] | None:
        """The node whose first output the data input ``name`` reads, else None."""
        node_name, index, control = parse_input(name)
        return None if control or index != 0 else self.by_name.get(node_name)

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
        """``consumer`` is the one reader of node ``name``, reading its first output once: ``name`` may be absorbed."""
        users = self.consumers.get(name, [])
        return (
            name not in self.keep
            and len(users) == 1
            and users[0] is consumer
            and all(parse_input(i)[0] != name or parse_input(i)[1] == 0 for i in consumer.get("input", []))
        )

    def sole_consumer(self, name: str) -> dict[str, Any] | None:
        """The consumer of node ``name`` if it has exactly one and may absorb it, else None."""
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and self.only_consumer_is(name, users[0]) else None

    def unique_name(self, name: str) -> str:
        base, suffix = name, 0
        while name in self.by_name:
            suffix += 1
            name = f"{base}_{suffix}"
        return name

    def add_node(self, node: dict[str, Any]) -> str:
        """Append ``node`` under a name not taken yet; returns that name."""
        name = node["name"] = self.unique_name(node["name"])
        self.nodes.append(node)
        self.by_name[name] = node
        self._link(node)
        return name

    def add_const(self, name: str, array: np.ndarray, dtype_name: str = "DT_FLOAT") -> str:
        return self.add_node(
            {
                "name": name,
                "op": "Const",
                "attr": {"value": {"tensor": encode_tensor(array, dtype_name)}, "dtype": {"type": dtype_name}},
            }
        )

    def drop_absorbed(self, nodes: Iterable[dict[str, Any]]) -> None:
        """Remove those of ``nodes`` nothing reads any more (what a rewrite absorbed; one may read another), so
        later rewrites see true consumer counts."""
        pending = [n for n in nodes if n["name"] not in self.keep]
        while True:
            orphans = [n for n in pending if self.is_live(n) and not self.consumers.get(n["name"])]
            if not orphans:
                return
            self.remove(orphans)
            pending = [n for n in pending if self.is_live(n)]

    def bypass(self, node: dict[str, Any]) -> None:
        """Point the consumers of an Identity ``node`` at its input and drop it (unless it must be kept)."""
        if node["name"] in self.keep or node.get("input", [""])[0].startswith("^"):
            return
        target = node["input"][0]
        target_node = parse_input(target)[0]
        controls = control_inputs(node)
        for consumer in list({id(c): c for c in self.consumers.get(node["name"], [])}.values()):
            rewired = []
            for inp in consumer.get("input", []):
                name, _index, control = parse_input(inp)
                if name != node["name"]:
                    rewired.append(inp)
                elif control:
                    rewired.append("^" + target_node)
                else:
                    rewired.append(target)
            self.set_inputs(consumer, rewired + [c for c in controls if c not in rewired])
        self.remove([node])

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
    depthwise = kernel_op == "DepthwiseConv2dNative"
    channels = filt.shape[2] * filt.shape[3] if depthwise else filt.shape[-1]
    if scale.size not in (1, channels):
        return None
    if scale.size > 1:
        scale = scale.reshape(filt.shape[2], filt.shape[3]) if depthwise else scale.reshape(-1)
    scaled: np.ndarray = (filt * scale).astype(filt.dtype)
    return scaled


def _per_channel(value: np.ndarray | None, max_rank: int) -> np.ndarray | None:
    """A float constant that broadcasts along the last axis of a rank-``max_rank`` tensor without changing its shape
    (shape [C], [1, C], [1,1,1,C], scalar), flattened; else None."""
    if value is None or value.dtype.kind != "f" or value.ndim > max_rank:
        return None
    if value.ndim == 0:
        return value.reshape(1)
    if all(d == 1 for d in value.shape[:-1]):
        return value.reshape(-1)
    return None


LINEAR_KERNELS = ("Conv2D", "DepthwiseConv2dNative", "MatMul")
FUSED_BATCH_NORMS = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")


def _kernel_rank(kernel: dict[str, Any]) -> int:
    return 2 if kernel["op"] == "MatMul" else 4


def _out_channels(kernel: dict[str, Any], filt: np.ndarray) -> int:
    return int(filt.shape[2] * filt.shape[3] if kernel["op"] == "DepthwiseConv2dNative" else filt.shape[-1])


def _kernel_filter(graph: Graph, node: dict[str, Any] | None) -> np.ndarray | None:
    """The constant filter of a Conv2D / DepthwiseConv2dNative (NHWC) / plain MatMul, else None."""
    if node is None or node["op"] not in LINEAR_KERNELS or len(data_inputs(node)) < 2:
        return None
    if node["op"] == "MatMul" and (_attr_b(node, "transpose_b") or _attr_b(node, "transpose_a")):
        return None
    if node["op"] != "MatMul" and _data_format(node) != "NHWC":
        return None
    value = graph.const(node["input"][1])
    return value if value is not None and value.dtype.kind == "f" else None


def _replace_filter(graph: Graph, kernel: dict[str, Any], new_filter: np.ndarray) -> None:
    """Point ``kernel`` at a new constant: the old filter may feed other kernels too."""
    new = graph.add_const(f"{kernel['name']}/folded_filter", new_filter, "DT_FLOAT")
    graph.set_inputs(kernel, [kernel["input"][0], new, *kernel["input"][2:]])


def _bias_add(
    graph: Graph,
    node: dict[str, Any],
    value_input: str,
    bias_input: str,
    dtype: dict[str, Any] | None,
    absorbed: Iterable[dict[str, Any]] = (),
) -> None:
    """Turn ``node`` (keeping its name, so consumers still find it) into BiasAdd(value, bias), keeping the control
    inputs of ``node`` and of the nodes it absorbs."""
    graph.become(
        node,
        "BiasAdd",
        [value_input, bias_input, *control_inputs(node, *absorbed)],
        {"T": dtype or {"type": "DT_FLOAT"}, "data_format": _attr_s("NHWC")},
    )


def _biased_kernel(graph: Graph, bias_add: dict[str, Any]) -> dict[str, Any] | None:
    """The linear kernel an NHWC BiasAdd reads, if the BiasAdd is its only consumer (so the kernel may change)."""
    if bias_add["op"] != "BiasAdd" or _data_format(bias_add) != "NHWC":
        return None
    kernel = graph.producer(data_inputs(bias_add)[0])
    if kernel is None or _kernel_filter(graph, kernel) is None or not graph.only_consumer_is(kernel["name"], bias_add):
        return None
    return kernel


@dataclass
class RewriteReport:
    """What the rewrites did: counts by kind, for notes and tests."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n


def _fold_fused_batch_norm(graph: Graph, node: dict[str, Any]) -> str | None:
    """Inference FusedBatchNorm* after a linear kernel -> scaled filter + BiasAdd."""
    inputs = data_inputs(node)
    if node["op"] not in FUSED_BATCH_NORMS or len(inputs) < 5:
        return None
    if _attr_b(node, "is_training", True) or _data_format(node) != "NHWC":
        return None
    if any(
        parse_input(i)[1] != 0
        for c in graph.consumers.get(node["name"], [])
        for i in c.get("input", [])
        if parse_input(i)[0] == node["name"]
    ):
        return None  # its batch statistics outputs (or a control edge) are used
    kernel = graph.producer(inputs[0])
    filt = _kernel_filter(graph, kernel)
    stats = [graph.const(i) for i in inputs[1:5]]
    if (
        kernel is None
        or filt is None
        or any(s is None for s in stats)
        or not graph.only_consumer_is(kernel["name"], node)
    ):
        return None
    gamma, beta, mean, var = (np.asarray(s, np.float64) for s in stats)
    eps = float(node.get("attr", {}).get("epsilon", {}).get("f", 1e-3))
    scale = gamma / np.sqrt(var + eps)
    new_filter = _out_channels_scale(kernel["op"], filt, scale)
    if new_filter is None:
        return None
    _replace_filter(graph, kernel, new_filter)
    bias = graph.add_const(f"{node['name']}/folded_bias", (beta - mean * scale).astype(np.float32))
    _bias_add(graph, node, inputs[0], bias, {"type": "DT_FLOAT"})
    return "batch_norm_folded"


def _fold_scale(graph: Graph, node: dict[str, Any]) -> str | None:
    """``Mul(kernel [+ BiasAdd], per-channel constant)`` -> the kernel's filter (and bias) scaled; the Mul goes."""
    inputs = data_inputs(node)
    if node["op"] != "Mul" or len(inputs) != 2:
        return None
    for value_index in (0, 1):
        producer = graph.producer(inputs[value_index])
        if producer is None or not graph.only_consumer_is(producer["name"], node):
            continue
        bias_add = producer if producer["op"] == "BiasAdd" else None
        kernel = _biased_kernel(graph, producer) if bias_add else producer
        filt = _kernel_filter(graph, kernel)
        if kernel is None or filt is None:
            continue
        scale = _per_channel(graph.const(inputs[1 - value_index]), _kernel_rank(kernel))
        bias = graph.const(bias_add["input"][1]) if bias_add else None
        if scale is None or (bias_add and (bias is None or scale.size not in (1, bias.size))):
            continue
        new_filter = _out_channels_scale(kernel["op"], filt, scale)
        if new_filter is None:
            continue
        _replace_filter(graph, kernel, new_filter)
        if bias_add:
            folded = graph.add_const(f"{bias_add['name']}/folded_bias", (bias * scale).astype(np.float32))
            graph.set_inputs(bias_add, [bias_add["input"][0], folded, *bias_add["input"][2:]])
        # The Mul becomes a pass-through that consumers skip (or that stays, named, when it is a graph output).
        graph.become(node, "Identity", [inputs[value_index], *control_inputs(node)], {"T": {"type": "DT_FLOAT"}})
        graph.bypass(node)
        return "scale_folded"
    return None


def _fold_offset(graph: Graph, node: dict[str, Any]) -> str | None:
    """``Add(kernel, per-channel constant)`` -> ``BiasAdd``; ``Add(BiasAdd, per-channel constant)`` -> one BiasAdd."""
    inputs = data_inputs(node)
    if node["op"] not in ("Add", "AddV2", "BiasAdd") or len(inputs) != 2:
        return None
    if node["op"] == "BiasAdd" and _data_format(node) != "NHWC":
        return None
    for value_index in (0, 1) if node["op"] != "BiasAdd" else (0,):
        producer = graph.producer(inputs[value_index])
        if producer is None or not graph.only_consumer_is(producer["name"], node):
            continue
        dtype = node.get("attr", {}).get("T")
        if producer["op"] == "BiasAdd" and _data_format(producer) == "NHWC":
            kernel = graph.producer(data_inputs(producer)[0])
            rank = _kernel_rank(kernel) if kernel is not None and _kernel_filter(graph, kernel) is not None else 1
            offset = _per_channel(graph.const(inputs[1 - value_index]), rank)
            bias = graph.const(producer["input"][1])
            if offset is None or bias is None or offset.size not in (1, bias.size):
                continue
            merged = graph.add_const(f"{node['name']}/merged_bias", (bias + offset).astype(np.float32))
            _bias_add(graph, node, data_inputs(producer)[0], merged, dtype, absorbed=[producer])
            graph.drop_absorbed([producer])
            return "bias_merged"
        filt = _kernel_filter(graph, producer)
        if node["op"] == "BiasAdd" or filt is None:
            continue
        offset = _per_channel(graph.const(inputs[1 - value_index]), _kernel_rank(producer))
        channels = _out_channels(producer, filt)
        if offset is None or offset.size not in (1, channels):
            continue
        bias_name = graph.add_const(f"{node['name']}/bias", np.broadcast_to(offset, (channels,)).astype(np.float32))
        _bias_add(graph, node, inputs[value_index], bias_name, dtype)
        return "add_to_bias_add"
    return None


def fold_batch_norms(graph: Graph, report: RewriteReport) -> None:
    """Fold inference batch norms (FusedBatchNorm*, or the Mul/Add pairs a frozen Keras BatchNormalization
    leaves) into the preceding Conv2D / DepthwiseConv2dNative / MatMul filter and a BiasAdd."""
    folds = (_fold_fused_batch_norm, _fold_scale, _fold_offset)
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            if not graph.is_live(node):
                continue
            for fold in folds:
                kind = fold(graph, node)
                if kind:
                    report.add(kind)
                    changed = True
                    break


def _prelu_parts(graph: Graph, add: dict[str, Any]) -> tuple[str, np.ndarray, list[dict[str, Any]]] | None:
    """``(x, c, absorbed nodes)`` when ``add`` is ``Relu(x) + c * Relu(Neg(x))`` and it may absorb the others."""
    inputs = data_inputs(add)
    if add["op"] not in ("Add", "AddV2") or len(inputs) != 2:
        return None
    for relu_index in (0, 1):
        relu, mul = graph.producer(inputs[relu_index]), graph.producer(inputs[1 - relu_index])
        if relu is None or mul is None or relu["op"] != "Relu" or mul["op"] != "Mul" or len(data_inputs(mul)) != 2:
            continue
        x = parse_input(data_inputs(relu)[0])
        for neg_index in (0, 1):
            c = graph.const(mul["input"][1 - neg_index])
            neg_relu = graph.producer(mul["input"][neg_index])
            if c is None or c.dtype.kind != "f" or neg_relu is None or neg_relu["op"] != "Relu":
                continue
            neg = graph.producer(data_inputs(neg_relu)[0])
            if neg is None or neg["op"] != "Neg" or parse_input(data_inputs(neg)[0]) != x:
                continue
            chain = ((relu, add), (mul, add), (neg_relu, mul), (neg, neg_relu))
            if all(graph.only_consumer_is(n["name"], consumer) for n, consumer in chain):
                return data_inputs(relu)[0], c, [relu, mul, neg_relu, neg]
    return None


def fuse_prelu(graph: Graph, report: RewriteReport) -> None:
    """``Relu(x) + c * Relu(Neg(x))`` (what PReLU becomes once frozen; c = -alpha) -> ``Prelu(x, alpha)``."""
    for node in list(graph.nodes):
        if not graph.is_live(node):
            continue
        parts = _prelu_parts(graph, node)
        if parts is None:
            continue
        x, c, absorbed = parts
        alpha = graph.add_const(f"{node['name']}/alpha", (-c).astype(np.float32))
        graph.become(node, "Prelu", [x, alpha, *control_inputs(node, *absorbed)], {"T": {"type": "DT_FLOAT"}})
        graph.drop_absorbed(absorbed)
        report.add("prelu_fused")


# The fused kernel TF.js has for each linear kernel, and the attributes it reads from the plain one.
FUSED_KERNEL_OF = {
    "Conv2D": "_FusedConv2D",
    "DepthwiseConv2dNative": "FusedDepthwiseConv2dNative",
    "MatMul": "_FusedMatMul",
}
_CONV_ATTRS = ("T", "strides", "padding", "data_format", "dilations", "explicit_paddings")
_KERNEL_ATTRS = {
    "Conv2D": _CONV_ATTRS,
    "DepthwiseConv2dNative": _CONV_ATTRS,
    "MatMul": ("T", "transpose_a", "transpose_b"),
}
# Activations a fused kernel applies after its bias (Prelu is fused separately: it takes a second argument).
FUSABLE_ACTIVATIONS = ("Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid")


def _zero_pad_of(graph: Graph, node: dict[str, Any] | None) -> list[int] | None:
    """The spatial padding of a ``Pad`` (or ``PadV2`` with 0) of an NHWC tensor, as ``explicit_paddings`` reads it
    (before and after, per axis; none on the batch and channel axes), else None."""
    if node is None or node["op"] not in ("Pad", "PadV2"):
        return None
    inputs = data_inputs(node)
    paddings = graph.const(inputs[1]) if len(inputs) > 1 else None
    if node["op"] == "PadV2":
        value = graph.const(inputs[2]) if len(inputs) > 2 else None
        if value is None or value.size != 1 or float(value.reshape(-1)[0]) != 0.0:
            return None
    if paddings is None or paddings.shape != (4, 2) or (paddings < 0).any() or paddings[[0, 3]].any():
        return None
    return [int(v) for v in paddings.reshape(-1)]


def fold_pads_into_convs(graph: Graph, report: RewriteReport) -> None:
    """``Pad`` (zeros, height and width only) -> ``Conv2D``/``DepthwiseConv2dNative`` with ``VALID`` padding (Keras's
    ``ZeroPadding2D`` before a strided convolution) -> the convolution with ``EXPLICIT`` padding: the same sums of
    the same products (the padded zeros add nothing), without copying the activation into a padded tensor. Every
    TF.js backend's convolution kernels take explicit padding; the official converter keeps the ``Pad``."""
    for conv in list(graph.nodes):
        if conv["op"] not in ("Conv2D", "DepthwiseConv2dNative") or not graph.is_live(conv):
            continue
        attr = conv.get("attr", {})
        padding = base64.b64decode(attr.get("padding", {}).get("s", "")).decode("utf-8", "replace")
        if padding != "VALID" or _data_format(conv) != "NHWC":
            continue
        pad = graph.producer(data_inputs(conv)[0])
        explicit = _zero_pad_of(graph, pad)
        if pad is None or explicit is None or not graph.only_consumer_is(pad["name"], conv):
            continue
        explicit_attr = {"list": {"i": [str(v) for v in explicit]}}
        attrs = {**attr, "padding": _attr_s("EXPLICIT"), "explicit_paddings": explicit_attr}
        inputs = [data_inputs(pad)[0], *data_inputs(conv)[1:], *control_inputs(conv, pad)]
        graph.become(conv, conv["op"], inputs, attrs)
        graph.drop_absorbed([pad])
        report.add("pad_folded_into_conv")


def fuse_kernels(graph: Graph, report: RewriteReport) -> None:
    """``Conv2D | DepthwiseConv2dNative | MatMul + BiasAdd [+ activation]`` -> the fused kernel TF.js runs in one step.

    Done here rather than by grappler's remapper, whose fusions depend on how TensorFlow was built (with oneDNN it
    also fuses HardSwish, Swish, GELU, ... which TF.js lacks): the same model gives the same graph everywhere."""
    for bias_add in list(graph.nodes):
        if bias_add["op"] != "BiasAdd" or not graph.is_live(bias_add) or _data_format(bias_add) != "NHWC":
            continue
        kernel = graph.producer(data_inputs(bias_add)[0])
        if (
            kernel is None
            or kernel["op"] not in FUSED_KERNEL_OF
            or not graph.only_consumer_is(kernel["name"], bias_add)
        ):
            continue
        if kernel["op"] != "MatMul" and _data_format(kernel) != "NHWC":
            continue
        activation = graph.sole_consumer(bias_add["name"])
        if activation is not None and activation["op"] not in FUSABLE_ACTIVATIONS:
            activation = None
        last = activation or bias_add  # the node that keeps its name: what the rest of the graph reads
        attrs = {k: v for k, v in kernel.get("attr", {}).items() if k in _KERNEL_ATTRS[kernel["op"]]}
        attrs.update(
            fused_ops=_fused_ops_attr(["BiasAdd", *([activation["op"]] if activation else [])]), num_args={"i": "1"}
        )
        if activation is not None and activation["op"] == "LeakyRelu":
            attrs["leakyrelu_alpha"] = {"f": activation.get("attr", {}).get("alpha", {}).get("f", 0.2)}
        inputs = [*data_inputs(kernel)[:2], data_inputs(bias_add)[1], *control_inputs(kernel, bias_add, last)]
        absorbed = [n for n in (kernel, bias_add) if n is not last]
        graph.become(last, FUSED_KERNEL_OF[kernel["op"]], inputs, attrs)
        graph.drop_absorbed(absorbed)
        report.add(f"{kernel['op']}_fused")


def grouped_convs_to_depthwise(graph: Graph, in_channels: dict[str, int], report: RewriteReport) -> list[str]:
    """A grouped ``Conv2D`` with one input channel per group (Keras ``Conv2D(groups=channels)``, ConvNeXt's
    depthwise convolution) -> ``DepthwiseConv2dNative``: TF.js runs no grouped convolution, but this one is exactly
    a depthwise convolution (filter ``[h, w, 1, C*m]`` read as ``[h, w, C, m]``).

    ``in_channels`` gives each Conv2D's input channel count (shapes come from TensorFlow). Returns the grouped
    convolutions that are not depthwise, which TF.js cannot run."""
    left: list[str] = []
    for node in list(graph.nodes):
        filt = _kernel_filter(graph, node) if node["op"] == "Conv2D" else None
        channels = in_channels.get(node["name"])
        if filt is None or channels is None or filt.shape[2] == channels:
            continue
        if filt.shape[2] != 1 or filt.shape[3] % channels:
            left.append(node["name"])
            continue
        depthwise = filt.reshape(filt.shape[0], filt.shape[1], channels, filt.shape[3] // channels)
        attrs = {k: v for k, v in node.get("attr", {}).items() if k in _CONV_ATTRS}
        graph.become(
            node, "DepthwiseConv2dNative", [data_inputs(node)[0], data_inputs(node)[1], *control_inputs(node)], attrs
        )
        _replace_filter(graph, node, depthwise)
        report.add("grouped_conv_to_depthwise")
    return left


def fuse_prelu_into_kernels(graph: Graph, report: RewriteReport) -> None:
    """``_FusedConv2D``/``_FusedMatMul``/``FusedDepthwiseConv2dNative`` [BiasAdd] then ``Prelu`` -> one kernel."""
    for node in list(graph.nodes):
        if node["op"] != "Prelu" or not graph.is_live(node):
            continue
        kernel = graph.producer(data_inputs(node)[0])
        if kernel is None or kernel["op"] not in ("_FusedConv2D", "_FusedMatMul", "FusedDepthwiseConv2dNative"):
            continue
        if fused_ops_of(kernel) != ["BiasAdd"] or not graph.only_consumer_is(kernel["name"], node):
            continue
        attrs = copy.deepcopy(kernel["attr"])
        attrs.update(fused_ops=_fused_ops_attr(["BiasAdd", "Prelu"]), num_args={"i": "2"})
        inputs = [*data_inputs(kernel), data_inputs(node)[1], *control_inputs(kernel, node)]
        graph.become(node, kernel["op"], inputs, attrs)
        graph.drop_absorbed([kernel])
        report.add("prelu_fused_into_kernel")


def rewrite_erfc(graph: Graph, report: RewriteReport) -> None:
    """``Erfc(x)`` (exact GELU computes it) -> ``1 - Erf(x)``: the same function, with ops TF.js has."""
    for node in list(graph.nodes):
        dtype = node.get("attr", {}).get("T", {}).get("type", "DT_FLOAT")
        if node["op"] != "Erfc" or dtype not in ("DT_FLOAT", "DT_DOUBLE", "DT_HALF"):
            continue
        x = data_inputs(node)[0]
        erf = graph.add_node({"name": f"{node['name']}/erf", "op": "Erf", "input": [x], "attr": {"T": {"type": dtype}}})
        one = graph.add_const(f"{node['name']}/one", np.ones((), NUMPY_DTYPES[dtype]), dtype)
        graph.become(node, "Sub", [one, erf, *control_inputs(node)], {"T": {"type": dtype}})
        report.add("erfc_rewritten")


def rewrite_float_floor_div(graph: Graph, report: RewriteReport) -> None:
    """``FloorDiv`` of floats -> ``Floor(RealDiv)``: what TensorFlow computes for floats, in a form every TF.js
    backend runs (TF.js 4.22's WebGL FloorDiv rounds its operands to ints)."""
    for node in list(graph.nodes):
        dtype = node.get("attr", {}).get("T", {}).get("type", "DT_FLOAT")
        if node["op"] != "FloorDiv" or dtype not in ("DT_FLOAT", "DT_DOUBLE", "DT_HALF"):
            continue
        quotient = graph.add_node({"name": f"{node['name']}/quotient", "op": "RealDiv", "input": data_inputs(node),
                                   "attr": {"T": {"type": dtype}}})
        graph.become(node, "Floor", [quotient, *control_inputs(node)], {"T": {"type": dtype}})
        report.add("float_floor_div_rewritten")


class _GraphEinsumOps:
    """:class:`~hatch_tfjs.einsum_plan.EinsumOps` adding nodes under ``name`` to ``graph`` (node names are the values);
    constant operands are rearranged here, in numpy, instead."""

    def __init__(self, graph: Graph, name: str, operands: list[str], dtype: str) -> None:
        self.graph, self.name, self.operands, self.dtype = graph, name, operands, dtype
        self.shapes: dict[int, str] = {}

    def _node(self, suffix: str, op: str, inputs: list[str], attr: dict[str, Any]) -> str:
        return self.graph.add_node({"name": f"{self.name}/{suffix}", "op": op, "input": inputs, "attr": attr})

    def _ints(self, suffix: str, values: Sequence[int]) -> str:
        return self.graph.add_const(f"{self.name}/{suffix}", np.array(list(values), np.int32), "DT_INT32")

    def reduce_sum(self, x: str, axes: Sequence[int], known: Known) -> str:
        attr = {"T": {"type": self.dtype}, "Tidx": {"type": "DT_INT32"}, "keep_dims": {"b": False}}
        return self._node("sum", "Sum", [x, self._ints("sum/axes", axes)], attr)

    def transpose(self, x: str, perm: Sequence[int], known: Known) -> str:
        return _transpose(self.graph, f"{self.name}/transpose", x, list(perm), self.dtype)

    def reshape(self, x: str, target: Sequence[int], known: Known) -> str:
        return self.dynamic_reshape(x, [self._ints("shape", target)], known)

    def shape_slice(self, operand: int, begin: int, size: int) -> str:
        if operand not in self.shapes:
            attr = {"T": {"type": self.dtype}, "out_type": {"type": "DT_INT32"}}
            self.shapes[operand] = self._node(f"shape_{operand}", "Shape", [self.operands[operand]], attr)
        begin_const, size_const = self._ints("slice/begin", [begin]), self._ints("slice/size", [size])
        attr = {"T": {"type": "DT_INT32"}, "Index": {"type": "DT_INT32"}}
        return self._node("slice", "Slice", [self.shapes[operand], begin_const, size_const], attr)

    def int_vector(self, values: Sequence[int]) -> str:
        return self._ints("sizes", values)

    def dynamic_reshape(self, x: str, pieces: Sequence[str], known: Known) -> str:
        shape = pieces[0]
        if len(pieces) > 1:
            axis = self.graph.add_const(f"{self.name}/concat/axis", np.array(0, np.int32), "DT_INT32")
            attr = {"N": {"i": str(len(pieces))}, "T": {"type": "DT_INT32"}, "Tidx": {"type": "DT_INT32"}}
            shape = self._node("concat", "ConcatV2", [*pieces, axis], attr)
        return self._node("reshape", "Reshape", [x, shape], {"T": {"type": self.dtype}, "Tshape": {"type": "DT_INT32"}})

    def batch_matmul(self, a: str, b: str, adj_a: bool, adj_b: bool, known: Known) -> str:
        attr = {"T": {"type": self.dtype}, "adj_x": {"b": adj_a}, "adj_y": {"b": adj_b}}
        return self._node("matmul", "BatchMatMulV2", [a, b], attr)


class _NumpyEinsumOps:
    """The operand steps applied to a constant (its sizes are all known, so no run-time shape is read)."""

    def reduce_sum(self, x: np.ndarray, axes: Sequence[int], known: Known) -> np.ndarray:
        return np.asarray(x.sum(axis=tuple(axes), dtype=x.dtype))

    def transpose(self, x: np.ndarray, perm: Sequence[int], known: Known) -> np.ndarray:
        return np.ascontiguousarray(x.transpose(list(perm)))

    def reshape(self, x: np.ndarray, target: Sequence[int], known: Known) -> np.ndarray:
        return x.reshape(list(target))

    def shape_slice(self, operand: int, begin: int, size: int) -> np.ndarray:
        raise InternalError("a constant einsum operand has no size known only at run time")

    def int_vector(self, values: Sequence[int]) -> np.ndarray:
        return np.array(list(values))

    def dynamic_reshape(self, x: np.ndarray, pieces: Sequence[np.ndarray], known: Known) -> np.ndarray:
        return x.reshape(np.concatenate(list(pieces)))

    def batch_matmul(self, a: np.ndarray, b: np.ndarray, adj_a: bool, adj_b: bool, known: Known) -> np.ndarray:
        raise InternalError("a constant einsum is folded by grappler")


def _transpose(graph: Graph, name: str, x: str, perm: list[int], dtype: str) -> str:
    """A Transpose of ``x`` by ``perm`` added to ``graph``; returns its name."""
    perm_const = graph.add_const(f"{name}/perm", np.array(perm, np.int32), "DT_INT32")
    attr = {"T": {"type": dtype}, "Tperm": {"type": "DT_INT32"}}
    return graph.add_node({"name": name, "op": "Transpose", "input": [x, perm_const], "attr": attr})


def rewrite_einsum(graph: Graph, report: RewriteReport) -> None:
    """``Einsum`` of one or two tensors -> ``Sum``/``Transpose``/``Reshape``/``BatchMatMulV2``
    (:mod:`hatch_tfjs.einsum_plan`, shared with the compiler): the same sums as TensorFlow's Einsum, with ops every
    TF.js backend has (the WASM backend has no Einsum kernel). A constant operand (an EinsumDense kernel) is
    rearranged here, once; an equation the plan does not cover keeps its Einsum node."""
    for node in list(graph.nodes):
        inputs = data_inputs(node)
        if node["op"] != "Einsum" or len(inputs) not in (1, 2):
            continue
        equation = base64.b64decode(node.get("attr", {}).get("equation", {}).get("s", "")).decode("utf-8", "replace")
        dtype = node.get("attr", {}).get("T", {}).get("type", "DT_FLOAT")
        consts = [graph.const(i) for i in inputs]
        try:
            steps = lower_einsum(equation, [None if c is None else c.shape for c in consts])
        except EinsumRefusedError:
            continue
        name = node["name"]
        ops = _GraphEinsumOps(graph, name, inputs, dtype)
        prepared = [
            prepare_operand(step, x, ops)
            if c is None
            else graph.add_const(f"{name}/operand_{i}", prepare_operand(step, c, _NumpyEinsumOps()), dtype)
            for i, (x, c, step) in enumerate(zip(inputs, consts, steps.operands, strict=True))
        ]
        result = finish_einsum(steps, prepared, ops)
        graph.become(node, "Identity", [result, *control_inputs(node)], {"T": {"type": dtype}})
        graph.bypass(node)
        report.add("einsum_rewritten")


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
        n
        for n in graph.nodes
        if not (n["op"] == "Placeholder" and n["name"] not in graph.keep and not graph.consumers.get(n["name"]))
    ]
    graph.reindex()


def _sort_attr(attr: dict[str, Any]) -> dict[str, Any]:
    """``attr`` with its keys sorted, and so the maps nested in function-valued attributes."""
    for value in attr.values():
        for func in [value.get("func"), *value.get("list", {}).get("func", [])]:
            if func and "attr" in func:
                func["attr"] = _sort_attr(func["attr"])
    return dict(sorted(attr.items()))


def sort_maps(graph: dict[str, Any]) -> None:
    """Sort the protobuf map fields (node and function attributes, function returns) of a GraphDef dict.

    ``MessageToDict`` renders maps in no fixed order, so without this the same model would give a different
    model.json from one run to the next."""
    functions = graph.get("library", {}).get("function", [])
    for node in [*graph.get("node", []), *(n for f in functions for n in f.get("nodeDef", []))]:
        if "attr" in node:
            node["attr"] = _sort_attr(node["attr"])
    for function in functions:
        for key in ("attr", "ret", "controlRet", "argAttr", "resourceArgUniqueId"):
            if key in function:
                function[key] = dict(sorted(function[key].items()))


def clear_devices(graph: dict[str, Any]) -> None:
    for node in graph.get("node", []):
        node.pop("device", None)
    for function in graph.get("library", {}).get("function", []):
        for node in function.get("nodeDef", []):
            node.pop("device", None)


# --- weights --------------------------------------------------------------------------------------------------------


def _extract_consts(
    nodes: list[dict[str, Any]], rename: Callable[[str], str], weights: list[Weight], seen: set[str]
) -> None:
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
                new_inputs.append(("^" if control else "") + renamed[base] + sep + rest if base in renamed else inp)
            if "input" in node:
                node["input"] = new_inputs
        for key, value in list(function.get("ret", {}).items()):
            base, sep, rest = value.partition(":")
            if base in renamed:
                function["ret"][key] = renamed[base] + sep + rest
        _extract_consts(function.get("nodeDef", []), lambda n: n, weights, seen)
    return weights


# --- signature ------------------------------------------------------------------------------------------------------


def _signature_entry(spec: TensorSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": spec.tensor, "dtype": spec.dtype}
    entry["tensorShape"] = {"unknownRank": True} if spec.shape is None else shape_proto(spec.shape)
    if spec.resource_id is not None:
        entry["resourceId"] = spec.resource_id
    return entry


def signature_json(inputs: list[TensorSpec], outputs: list[TensorSpec]) -> dict[str, Any]:
    return {
        "inputs": {s.key: _signature_entry(s) for s in inputs},
        "outputs": {s.key: _signature_entry(s) for s in outputs},
    }


def ensure_versions(graph: dict[str, Any]) -> None:
    """TF.js reads ``versions.producer``; a GraphDef without versions would crash its loader."""
    graph.setdefault("versions", {}).setdefault("producer", 1)
