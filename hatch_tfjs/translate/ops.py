"""Build-time op check: every op of a graph model must be one that TF.js 4.22 executes.

Pure: reads the op list shipped in ``hatch_tfjs/data/tfjs_ops.json`` (regenerate it with
``python -m hatch_tfjs.tools.generate_op_list``) and walks a GraphDef in its ``MessageToDict`` form.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

# Ops TF.js does not implement but that only exist for debugging; stripped when strip-debug-ops is on.
DEBUG_OPS = frozenset({"Assert", "CheckNumerics", "Print", "PrintV2"})

# Activations the fused kernels of TF.js 4.22 accept (tfjs-core fused_util applyActivation), by TF name.
FUSED_ACTIVATIONS = frozenset({"Relu", "Relu6", "Elu", "LeakyRelu", "Prelu", "Sigmoid"})
FUSED_KERNELS = frozenset({"_FusedConv2D", "_FusedMatMul", "FusedDepthwiseConv2dNative"})

# What to tell a user who meets an op TF.js lacks, where a fix is known.
HINTS = {
    "Erfc": "exact GELU computes Erfc, which is rewritten as 1 - Erf in the main graph but not inside a function "
    "(a control-flow-v2 loop body): set control-flow-v2 = false, or use gelu(x, approximate=True)",
    "Softsign": "the softsign activation has no TF.js graph kernel; write it as x / (1 + abs(x)) or use another "
    "activation",
    "Erfinv": "Erfinv has no TF.js kernel; avoid tf.math.erfinv (or compute it outside the model)",
    "StatefulPartitionedCall": "a function call survived freezing; re-export the model with tf.function-traced code "
    "(e.g. keras Model.export) so calls can be inlined",
    "PartitionedCall": "a function call survived freezing; re-export the model so calls can be inlined",
    "RandomStandardNormal": "random ops in inference usually come from layers left in training mode; "
    "call the model with training=False when exporting",
    "TensorListReserve": "TensorList ops come from RNN loops; TF.js supports them only when the loop is lowered: "
    "keep control-flow-v2 = false",
    "StringFormat": "string formatting has no TF.js kernel; remove tf.print/format calls (strip-debug-ops = true)",
    "VarHandleOp": "a variable was not frozen into a constant; make sure the signature reads variables "
    "through the model object (not a tf.Variable created inside the function)",
    "ReadVariableOp": "a variable was not frozen into a constant; make sure the signature reads variables "
    "through the model object (not a tf.Variable created inside the function)",
}


@lru_cache(maxsize=1)
def op_list() -> dict[str, Any]:
    """The shipped op list document (``ops``, ``tfjs_version``, ``categories``)."""
    text = resources.files("hatch_tfjs").joinpath("data/tfjs_ops.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def supported_ops(*, strip_debug_ops: bool = True) -> frozenset[str]:
    ops = frozenset(op_list()["ops"])
    return ops | DEBUG_OPS if strip_debug_ops else ops


def tfjs_version() -> str:
    return str(op_list()["tfjs_version"])


@dataclass
class OpProblem:
    """One unsupported op (or fused activation) and every node that uses it, with where each node came from."""

    op: str
    nodes: list[str] = field(default_factory=list)
    origins: list[str] = field(
        default_factory=list
    )  # "layer 'dense' (Dense)", "keras.ops call 'erfinv'", ...: each once
    hint: str | None = None

    def add(self, node: str, origin: str | None) -> None:
        self.nodes.append(node)
        where = origin or f"node {node}"
        if where not in self.origins:
            self.origins.append(where)

    def describe(self, *, limit: int = 3) -> str:
        """One line: the op, the first few places that use it, how many more, and the hint."""
        shown = ", ".join(self.origins[:limit])
        more = f" and {len(self.origins) - limit} more" if len(self.origins) > limit else ""
        text = f"op {self.op} (not in TF.js {tfjs_version()}) in {shown}{more}"
        return f"{text}; hint: {self.hint}" if self.hint else text


def _decode_s(value: str) -> str:
    try:
        return base64.b64decode(value).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return value


def fused_ops_of(node: dict[str, Any]) -> list[str]:
    """The ``fused_ops`` attribute of a fused kernel node (decoded strings)."""
    values = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
    return [_decode_s(v) for v in values]


def tfjs_can_fuse(fused: list[str]) -> bool:
    """Whether TF.js runs a fused kernel with these ``fused_ops`` as TensorFlow does.

    TF.js reads only ``[extra op, activation]``: an activation is applied only after a ``BiasAdd`` (a lone ``Relu``
    would be read as the extra op and silently skipped), and anything past the second entry is ignored."""
    if fused in ([], ["BiasAdd"]):
        return True
    return len(fused) == 2 and fused[0] == "BiasAdd" and fused[1] in FUSED_ACTIVATIONS


def iter_nodes(graph: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """``(display name, node)`` for every node of a GraphDef dict, function-library nodes included."""
    for node in graph.get("node", []):
        yield node["name"], node
    for function in graph.get("library", {}).get("function", []):
        fname = function["signature"]["name"]
        for node in function.get("nodeDef", []):
            yield f"{fname}/{node['name']}", node


_CALL_WRAPPER = re.compile(r"^(Stateful)?PartitionedCall(_\d+)?$")


def scope_origin(node: str) -> str | None:
    """Where a SavedModel's node came from: its name scope, without the function-call wrappers freezing adds
    (``StatefulPartitionedCall/functional_1/dense_1/Softsign`` -> ``name scope 'functional_1/dense_1'``)."""
    parts = node.split("/")
    while parts and _CALL_WRAPPER.match(parts[0]):
        parts = parts[1:]
    return f"name scope '{'/'.join(parts[:-1])}'" if len(parts) > 1 else None


def check_ops(
    graphs: Iterable[dict[str, Any]], *, strip_debug_ops: bool = True, origin: Callable[[str], str | None] | None = None
) -> list[OpProblem]:
    """Every op TF.js cannot execute in ``graphs`` (GraphDef dicts), with the nodes using it, sorted by op.

    ``origin`` names where a node came from (the Keras layer or ``keras.ops`` call, a name scope), or None."""
    supported = supported_ops(strip_debug_ops=strip_debug_ops)
    problems: dict[str, OpProblem] = {}
    for graph in graphs:
        for name, node in iter_nodes(graph):
            op = node["op"]
            key, hint = op, HINTS.get(op)
            if op in supported and op in FUSED_KERNELS and not tfjs_can_fuse(fused_ops_of(node)):
                key = f"{op} with fused {'+'.join(fused_ops_of(node))}"
                hint = f"TF.js fuses only BiasAdd followed by one of {', '.join(sorted(FUSED_ACTIVATIONS))}"
            elif op in supported:
                continue
            problems.setdefault(key, OpProblem(key, hint=hint)).add(name, origin(name) if origin else None)
    return [problems[k] for k in sorted(problems)]


def op_counts(graph: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, node in iter_nodes(graph):
        counts[node["op"]] = counts.get(node["op"], 0) + 1
    return dict(sorted(counts.items()))
