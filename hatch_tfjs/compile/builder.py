"""The graph a compiled Keras model becomes: nodes in ``MessageToDict`` form, built one op at a time.

Every op a layer emits goes through :class:`GraphBuilder`, which names nodes uniquely under the layer's name (as
TensorFlow's name scopes do), records each tensor's static shape (layers need it for reshapes and broadcasting)
and writes attributes in the forms TF.js's op mappers read.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hatch_tfjs.translate.graph import shape_proto

Shape = tuple[int | None, ...]  # None: unknown (the batch dimension, a variable sequence length)

# numpy dtype name -> TensorFlow DataType name, for the dtypes a TF.js graph carries.
DTYPES = {
    "float32": "DT_FLOAT",
    "float16": "DT_FLOAT",
    "float64": "DT_FLOAT",
    "int32": "DT_INT32",
    "int64": "DT_INT32",
    "int16": "DT_INT32",
    "int8": "DT_INT32",
    "uint8": "DT_INT32",
    "bool": "DT_BOOL",
}


class NotCoveredError(Exception):
    """A layer (or one of its settings) the compiler has no exact translation for; the message says which."""


@dataclass(frozen=True)
class Tensor:
    """One graph tensor: the input string that reads it (``"node"`` / ``"node:1"``), its static shape and dtype."""

    ref: str
    shape: Shape
    dtype: str = "DT_FLOAT"

    @property
    def rank(self) -> int:
        return len(self.shape)


def known(dim: int | None, what: str = "a dimension") -> int:
    """A static dimension, or NotCoveredError: the translation needs it before run time."""
    if dim is None:
        raise NotCoveredError(f"{what} is unknown before run time")
    return int(dim)


def attr_type(dtype: str) -> dict[str, Any]:
    return {"type": dtype}


def attr_int(value: int) -> dict[str, Any]:
    return {"i": str(int(value))}


def attr_ints(values: Iterable[int]) -> dict[str, Any]:
    return {"list": {"i": [str(int(v)) for v in values]}}


def attr_float(value: float) -> dict[str, Any]:
    return {"f": float(value)}


def attr_bool(value: bool) -> dict[str, Any]:
    return {"b": bool(value)}


def attr_str(value: str) -> dict[str, Any]:
    return {"s": base64.b64encode(value.encode()).decode()}


def attr_shape(shape: Shape) -> dict[str, Any]:
    return {"shape": shape_proto(-1 if d is None else d for d in shape)}


def const_attr(array: np.ndarray, dtype: str) -> dict[str, Any]:
    """A Const node's attributes as a graph model carries them: dtype and shape, the value living in the weights."""
    return {"dtype": attr_type(dtype), "value": {"tensor": {"dtype": dtype, "tensorShape": shape_proto(array.shape)}}}


class GraphBuilder:
    """Appends nodes to a GraphDef dict; node names are unique, consts are float32/int32 ``Const`` nodes whose
    values are kept in :attr:`values` (by node name) rather than encoded into the graph."""

    def __init__(self, names: set[str] | None = None, values: dict[str, np.ndarray] | None = None) -> None:
        self.nodes: list[dict[str, Any]] = []
        self._names: set[str] = set() if names is None else names
        self._consts: dict[tuple[str, tuple[int, ...], str], Tensor] = {}
        # each Const node's value: they become the weights, never encoded
        self.values: dict[str, np.ndarray] = {} if values is None else values
        self.functions: list[dict[str, Any]] = []  # the graph's function library (loop bodies and conditions)
        self.unrolled: dict[str, int] = {}  # RNN layers unrolled over a fixed length: layer name -> steps (a note)
        self.looped: dict[str, int] = {}  # fixed-length RNN layers too long to unroll: layer name -> steps (a note)

    def function_builder(self) -> GraphBuilder:
        """A builder for a function body: its own nodes and constants, but node names unique across the whole graph
        (TF.js looks a function's constants up among the weights by node name) and values kept with the graph's."""
        return GraphBuilder(self._names, self.values)

    def add_function(
        self,
        name: str,
        body: GraphBuilder,
        inputs: Sequence[tuple[str, str]],
        outputs: Sequence[tuple[str, Tensor]],
    ) -> str:
        """Add ``body`` to the library as a function of the named, typed ``inputs`` (which its nodes read by those
        bare names) returning the named ``outputs`` (node outputs); returns the function's unique name."""
        name = self.unique(name)
        self.functions.append(
            {
                "signature": {
                    "name": name,
                    "inputArg": [{"name": arg, "type": dtype} for arg, dtype in inputs],
                    "outputArg": [{"name": out, "type": t.dtype} for out, t in outputs],
                },
                "nodeDef": body.nodes,
                "ret": {out: _function_ref(t.ref) for out, t in outputs},
            }
        )
        return name

    def unique(self, name: str) -> str:
        candidate, suffix = name, 0
        while candidate in self._names:
            suffix += 1
            candidate = f"{name}_{suffix}"
        self._names.add(candidate)
        return candidate

    def node(self, name: str, op: str, inputs: Sequence[Tensor | str], attr: dict[str, Any] | None = None) -> str:
        """Append one node; returns its (unique) name."""
        name = self.unique(name)
        node: dict[str, Any] = {"name": name, "op": op}
        refs = [i.ref if isinstance(i, Tensor) else i for i in inputs]
        if refs:
            node["input"] = refs
        node["attr"] = dict(sorted((attr or {}).items()))
        self.nodes.append(node)
        return name

    def op(
        self,
        name: str,
        op: str,
        inputs: Sequence[Tensor | str],
        shape: Shape,
        *,
        dtype: str = "DT_FLOAT",
        attr: dict[str, Any] | None = None,
        typed: bool = True,
    ) -> Tensor:
        """A one-output op; ``typed`` adds the ``T`` attribute most ops carry."""
        attrs = {"T": attr_type(dtype), **(attr or {})} if typed else dict(attr or {})
        return Tensor(self.node(name, op, inputs, attrs), tuple(shape), dtype)

    def const(self, name: str, value: Any, dtype: str = "DT_FLOAT") -> Tensor:
        """A Const node, or the one already holding the same value: a shared layer called twice, or an RNN's
        recurrent kernel read at every step, ships its weights once."""
        # np.array, not ascontiguousarray: that would make a scalar (a loop counter, a dimension to Pack) 1-D
        array = np.array(value, dtype=np.float32 if dtype == "DT_FLOAT" else np.int32, order="C")
        key = (dtype, array.shape, hashlib.sha256(array.tobytes()).hexdigest())
        if key not in self._consts:
            node = self.node(name, "Const", [], const_attr(array, dtype))
            self.values[node] = array
            self._consts[key] = Tensor(node, tuple(array.shape), dtype)
        return self._consts[key]

    def placeholder(self, name: str, shape: Shape, dtype: str) -> Tensor:
        attr = {"dtype": attr_type(dtype), "shape": attr_shape(shape)}
        return Tensor(self.node(name, "Placeholder", [], attr), tuple(shape), dtype)

    # --- ops many layers share ----------------------------------------------------------------------------------

    def binary(self, scope: str, op: str, a: Tensor, b: Tensor) -> Tensor:
        return self.op(f"{scope}/{op}", op, [a, b], broadcast_shape(a.shape, b.shape), dtype=a.dtype)

    def unary(self, scope: str, op: str, x: Tensor) -> Tensor:
        return self.op(f"{scope}/{op}", op, [x], x.shape, dtype=x.dtype)

    def scalar(self, scope: str, value: float) -> Tensor:
        return self.const(f"{scope}/const", np.float32(value))

    def reshape(self, scope: str, x: Tensor, shape: Shape) -> Tensor:
        if sum(d is None for d in shape) > 1:
            raise NotCoveredError("a reshape to more than one dimension known only at run time is not translated yet")
        target = self.const(f"{scope}/shape", [-1 if d is None else d for d in shape], "DT_INT32")
        return self.op(
            f"{scope}/Reshape", "Reshape", [x, target], shape, dtype=x.dtype, attr={"Tshape": attr_type("DT_INT32")}
        )

    def shape_of(self, scope: str, x: Tensor) -> Tensor:
        """``x``'s shape at run time (int32)."""
        attr = {"T": attr_type(x.dtype), "out_type": attr_type("DT_INT32")}
        return self.op(f"{scope}/Shape", "Shape", [x], (x.rank,), dtype="DT_INT32", typed=False, attr=attr)

    def reshape_leading(
        self, scope: str, x: Tensor, like: Tensor, tail: Sequence[int], count: int | None = None
    ) -> Tensor:
        """``x`` reshaped to ``like``'s first ``count`` dimensions (all but its last by default), then ``tail``:
        dimensions read at run time."""
        count = like.rank - 1 if count is None else count
        leading = self.slice(f"{scope}/leading", self.shape_of(scope, like), [0], [count])
        target = self.concat(f"{scope}/target", [leading, self.const(f"{scope}/tail", list(tail), "DT_INT32")], 0)
        return self.op(
            f"{scope}/Reshape",
            "Reshape",
            [x, target],
            (*like.shape[:count], *tail),
            dtype=x.dtype,
            attr={"Tshape": attr_type("DT_INT32")},
        )

    def transpose(self, scope: str, x: Tensor, perm: Sequence[int]) -> Tensor:
        axes = self.const(f"{scope}/perm", list(perm), "DT_INT32")
        return self.op(
            f"{scope}/transpose",
            "Transpose",
            [x, axes],
            tuple(x.shape[p] for p in perm),
            dtype=x.dtype,
            attr={"Tperm": attr_type("DT_INT32")},
        )

    def reduce(self, scope: str, op: str, x: Tensor, axes: Sequence[int], keep_dims: bool) -> Tensor:
        axes = sorted(a % x.rank for a in axes)
        shape = (
            tuple(1 if i in axes else d for i, d in enumerate(x.shape))
            if keep_dims
            else tuple(d for i, d in enumerate(x.shape) if i not in axes)
        )
        indices = self.const(f"{scope}/{op.lower()}_axes", axes, "DT_INT32")
        return self.op(
            f"{scope}/{op}",
            op,
            [x, indices],
            shape,
            dtype=x.dtype,
            attr={"Tidx": attr_type("DT_INT32"), "keep_dims": attr_bool(keep_dims)},
        )

    def concat(self, scope: str, values: Sequence[Tensor], axis: int) -> Tensor:
        rank = values[0].rank
        axis %= rank
        total = None if any(v.shape[axis] is None for v in values) else sum(v.shape[axis] for v in values)  # type: ignore[misc]
        shape = tuple(total if i == axis else values[0].shape[i] for i in range(rank))
        axis_const = self.const(f"{scope}/concat_axis", axis, "DT_INT32")
        return self.op(
            f"{scope}/concat",
            "ConcatV2",
            [*values, axis_const],
            shape,
            dtype=values[0].dtype,
            attr={"N": attr_int(len(values)), "Tidx": attr_type("DT_INT32")},
        )

    def pad(
        self, scope: str, x: Tensor, paddings: Sequence[tuple[int, int]], value: Tensor | None = None
    ) -> Tensor:
        """``x`` padded with zeros (``Pad``) or ``value`` (``PadV2``). Above rank 4, through a reshape to rank 4
        where it can: TF.js 4.22's packed WebGL pad shader does not compile for rank 5 or 6 (Conv3DTranspose,
        ZeroPadding3D, a stride's zero insertion)."""
        shape = tuple(None if d is None else d + a + b for d, (a, b) in zip(x.shape, paddings, strict=True))
        low = rank4_padding(x.shape, paddings) if x.rank > 4 else None
        if low is not None:
            flat_shape, flat_paddings = low
            padded = self.pad(scope, self.reshape(f"{scope}/rank4", x, flat_shape), flat_paddings, value)
            return self.reshape(f"{scope}/rank{x.rank}", padded, shape)
        amounts = self.const(f"{scope}/paddings", [list(p) for p in paddings], "DT_INT32")
        op, inputs = ("Pad", [x, amounts]) if value is None else ("PadV2", [x, amounts, value])
        return self.op(f"{scope}/{op}", op, inputs, shape, dtype=x.dtype, attr={"Tpaddings": attr_type("DT_INT32")})

    def expand_dims(self, scope: str, x: Tensor, axis: int) -> Tensor:
        position = axis % (x.rank + 1)
        dim = self.const(f"{scope}/expand_axis", position, "DT_INT32")
        shape = (*x.shape[:position], 1, *x.shape[position:])
        return self.op(
            f"{scope}/ExpandDims", "ExpandDims", [x, dim], shape, dtype=x.dtype, attr={"Tdim": attr_type("DT_INT32")}
        )

    def squeeze(self, scope: str, x: Tensor, axis: int) -> Tensor:
        position = axis % x.rank
        shape = tuple(d for i, d in enumerate(x.shape) if i != position)
        return self.op(
            f"{scope}/Squeeze", "Squeeze", [x], shape, dtype=x.dtype, attr={"squeeze_dims": attr_ints([position])}
        )

    def gather(self, scope: str, params: Tensor, indices: Tensor, axis: int) -> Tensor:
        """``take(params, indices, axis)`` (``GatherV2``)."""
        axis_const = self.const(f"{scope}/gather_axis", axis, "DT_INT32")
        shape = (*params.shape[:axis], *indices.shape, *params.shape[axis + 1 :])
        attr = {
            "Tparams": attr_type(params.dtype),
            "Tindices": attr_type(indices.dtype),
            "Taxis": attr_type("DT_INT32"),
            "batch_dims": attr_int(0),
        }
        return self.op(
            f"{scope}/GatherV2",
            "GatherV2",
            [params, indices, axis_const],
            shape,
            dtype=params.dtype,
            typed=False,
            attr=attr,
        )

    def slice(self, scope: str, x: Tensor, begin: Sequence[int], size: Sequence[int]) -> Tensor:
        """``x[begin : begin + size]`` per axis (size -1: to the end)."""
        starts = self.const(f"{scope}/begin", list(begin), "DT_INT32")
        sizes = self.const(f"{scope}/size", list(size), "DT_INT32")
        shape = tuple(
            d if s == -1 and d is None else (d - b if s == -1 else s)  # type: ignore[operator]
            for d, b, s in zip(x.shape, begin, size, strict=True)
        )
        return self.op(
            f"{scope}/Slice", "Slice", [x, starts, sizes], shape, dtype=x.dtype, attr={"Index": attr_type("DT_INT32")}
        )


def _function_ref(ref: str) -> str:
    """A node output as a function's ``ret`` names it (``node:output:index``)."""
    node, _, index = ref.partition(":")
    return f"{node}:output:{index or 0}"


def broadcast_shape(a: Shape, b: Shape) -> Shape:
    """numpy broadcasting of two static shapes (unknown dims stay unknown unless the other side fixes them)."""
    rank = max(len(a), len(b))
    a = (1,) * (rank - len(a)) + tuple(a)
    b = (1,) * (rank - len(b)) + tuple(b)
    out: list[int | None] = []
    for x, y in zip(a, b, strict=True):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        else:
            out.append(x if x is not None else y)
    return tuple(out)


def rank4_padding(
    shape: Shape, paddings: Sequence[tuple[int, int]]
) -> tuple[Shape, list[tuple[int, int]]] | None:
    """The same constant padding on a rank-4 view of ``shape``: each unpadded axis of known size is merged into the
    axis before it (innermost first; a padding of the outer axis scales by the inner size), until four axes remain.
    None when that cannot reach rank 4, or would leave more than one size unknown (a reshape takes one -1)."""
    groups: list[list[int]] = [[axis] for axis in range(len(shape))]
    position = len(groups) - 1
    while len(groups) > 4 and position > 0:
        if all(shape[a] is not None and tuple(paddings[a]) == (0, 0) for a in groups[position]):
            groups[position - 1] += groups.pop(position)
        position -= 1
    if len(groups) > 4:
        return None
    flat_shape: list[int | None] = []
    flat_paddings: list[tuple[int, int]] = []
    for first, *rest in groups:
        inner_size = int(np.prod([shape[a] or 0 for a in rest]))
        size = shape[first]
        flat_shape.append(None if size is None else size * inner_size)
        before, after = paddings[first]
        flat_paddings.append((int(before) * inner_size, int(after) * inner_size))
    if sum(d is None for d in flat_shape) > 1:
        return None
    return tuple(flat_shape), flat_paddings
