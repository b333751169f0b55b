"""``keras.ops`` calls that index, select, split, stack, repeat, sort or resize tensors, as graph ops.

Each computes what Keras's TensorFlow backend computes for the same call (``x[:, 0]`` is a ``StridedSlice``,
``take`` a ``GatherV2`` with negative indices wrapped, ``top_k`` a ``TopKV2``, ...), with TF.js 4.22's ops; an
argument or setting that would need more (a tensor as a slice bound, an axis TF.js's kernel does not take) is
reported uncovered, never compiled differently.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hatch_tfjs.compile.builder import (
    GraphBuilder,
    NotCoveredError,
    Shape,
    Tensor,
    attr_bool,
    attr_int,
    attr_ints,
    attr_type,
    broadcast_shape,
    known,
)
from hatch_tfjs.compile.keras_ops import operand
from hatch_tfjs.compile.registry import LayerCall, op
from hatch_tfjs.einsum_plan import EinsumRefusedError, Known, emit_einsum, lower_einsum


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise NotCoveredError(f"{what} {value!r} is not a constant integer")
    return int(value)


def _outputs(call: LayerCall, node: str, shapes: Sequence[Shape], dtypes: Sequence[str]) -> list[Tensor]:
    """The tensors of a node with several outputs (``node``, ``node:1``, ...)."""
    return [
        Tensor(node if index == 0 else f"{node}:{index}", tuple(shape), dtype)
        for index, (shape, dtype) in enumerate(zip(shapes, dtypes, strict=True))
    ]


# --- x[...]: GetItem ---------------------------------------------------------------------------------------------


def _slice_part(value: Any) -> tuple[int | None, int | None, int | None] | None:
    if isinstance(value, dict) and value.get("class_name") == "__slice__":
        config = value.get("config") or {}
        parts = [config.get("start"), config.get("stop"), config.get("step")]
        if any(p is not None and (isinstance(p, bool) or not isinstance(p, int)) for p in parts):
            raise NotCoveredError("a slice bound that is not a constant integer is not translated yet")
        return parts[0], parts[1], parts[2]
    return None


def _is_ellipsis(part: Any) -> bool:
    return isinstance(part, dict) and part.get("class_name") == "__ellipsis__"


@dataclass
class _StridedSlice:
    """A ``StridedSlice``'s begin/end/strides and masks, built one index part at a time."""

    x: Tensor
    consumed: int  # the tensor axes the key indexes (all but ``None`` and ``...``)
    begin: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)
    strides: list[int] = field(default_factory=list)
    masks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"), 0))
    shape: list[int | None] = field(default_factory=list)
    shrunk: list[int] = field(default_factory=list)  # output axes an integer index removes (squeezed after)
    axis: int = 0

    def add(self, position: int, part: Any) -> None:
        if part is None:
            self._spec(position, "new_axis_mask", 0, 0, 1)
            self.shape.append(1)
        elif _is_ellipsis(part):
            self._spec(position, "ellipsis_mask", 0, 0, 1)
            skipped = self.x.rank - self.consumed
            self.shape.extend(self.x.shape[self.axis : self.axis + skipped])
            self.axis += skipped
        elif _slice_part(part) is None:
            self._index(position, _int(part, "an index"))
        else:
            self._slice(position, *_slice_part(part))  # type: ignore[misc]

    def _spec(self, position: int, mask: str | None, first: int, last: int, step: int) -> None:
        if mask is not None:
            self.masks[mask] |= 1 << position
        self.begin.append(first)
        self.end.append(last)
        self.strides.append(step)

    def _index(self, position: int, index: int) -> None:
        if self.axis == 0:
            raise NotCoveredError("indexing the batch axis with an integer is not translated yet")
        dim = self.x.shape[self.axis]
        if dim is not None and not -dim <= index < dim:
            raise NotCoveredError(f"index {index} is out of range for an axis of {dim}")
        if index < 0:
            index += known(dim, "the length of an axis indexed from its end")
        # TF.js's shrink_axis_mask picks wrong elements next to a strided axis: a length-1 slice, squeezed after
        self._spec(position, None, index, index + 1, 1)
        self.shrunk.append(len(self.shape))
        self.shape.append(1)
        self.axis += 1

    def _slice(self, position: int, start: int | None, stop: int | None, step: int | None) -> None:
        step = 1 if step is None else step
        if step <= 0:  # TF.js's StridedSlice differs from TensorFlow's for negative strides
            raise NotCoveredError("a slice with a negative step (x[::-1]) is not translated yet; keras.ops.flip is")
        if self.axis == 0 and (start, stop, step) != (None, None, 1):
            raise NotCoveredError("slicing the batch axis is not translated yet")
        dim = self.x.shape[self.axis]
        if dim is not None:  # explicit bounds: TF.js's masks disagree with TensorFlow's next to a shrunk axis
            first, last, _ = slice(start, stop, step).indices(dim)
            self._spec(position, None, first, last, step)
            self.shape.append(len(range(first, last, step)))
        else:
            self.masks["begin_mask"] |= (1 << position) if start is None else 0
            self.masks["end_mask"] |= (1 << position) if stop is None else 0
            self._spec(position, None, start or 0, stop or 0, step)
            self.shape.append(None)
        self.axis += 1


@op("GetItem")
def get_item(call: LayerCall) -> list[Tensor]:
    """``x[key]`` with constant integers, slices, ``None`` and ``...``: one ``StridedSlice`` with TensorFlow's masks."""
    call.require(len(call.args) == 2 and isinstance(call.args[0], Tensor), "it indexes something else than a tensor")
    x, key = call.args
    key = list(key) if isinstance(key, list) else [key]
    call.require(sum(_is_ellipsis(k) for k in key) <= 1, "an index with more than one ... is not valid")
    consumed = sum(1 for k in key if k is not None and not _is_ellipsis(k))
    call.require(consumed <= x.rank, "the index has more axes than the tensor")
    plan = _StridedSlice(x, consumed)
    for position, part in enumerate(key):
        plan.add(position, part)
    plan.shape.extend(x.shape[plan.axis :])
    b = call.builder
    values = (("begin", plan.begin), ("end", plan.end), ("strides", plan.strides))
    inputs = [x, *(b.const(f"{call.scope}/{n}", v, "DT_INT32") for n, v in values)]
    attr = {k: attr_int(v) for k, v in plan.masks.items()} | {"Index": attr_type("DT_INT32")}
    y = b.op(f"{call.scope}/StridedSlice", "StridedSlice", inputs, tuple(plan.shape), dtype=x.dtype, attr=attr)
    if not plan.shrunk:
        return [y]
    shape = tuple(d for i, d in enumerate(plan.shape) if i not in plan.shrunk)
    squeeze = {"squeeze_dims": attr_ints(plan.shrunk)}
    return [b.op(f"{call.scope}/Squeeze", "Squeeze", [y], shape, dtype=x.dtype, attr=squeeze)]


# --- take, where, split, stack, tile, flip, swapaxes / moveaxis, broadcast_to -------------------------------------


def _axis(call: LayerCall, rank: int, key: str = "axis", default: Any = None) -> int:
    value = call.config.get(key, default)
    if value is None:
        raise NotCoveredError(f"{call.class_name.lower()} over the flattened tensor (no axis) is not translated yet")
    return _int(value, "the axis") % rank


@op("Take")
def take(call: LayerCall) -> list[Tensor]:
    """``take(x, indices, axis)``: ``GatherV2``; negative indices count from the end, as Keras wraps them."""
    call.require(len(call.args) == 2 and isinstance(call.args[0], Tensor), "it takes from something but a tensor")
    x, indices = call.args
    axis = _axis(call, x.rank)
    call.require(axis != 0, "taking along the batch axis is not translated yet")
    dim = x.shape[axis]
    b = call.builder
    if isinstance(indices, Tensor):
        call.require(indices.dtype == "DT_INT32", "indices of another dtype than int32 are not translated yet")
        size = b.const(f"{call.scope}/axis_size", known(dim, "the length of the axis taken from"), "DT_INT32")
        zero = b.const(f"{call.scope}/zero", 0, "DT_INT32")
        negative = b.op(f"{call.scope}/Less", "Less", [indices, zero], indices.shape, dtype="DT_BOOL",
                        attr={"T": attr_type("DT_INT32")}, typed=False)
        wrapped = b.binary(f"{call.scope}/wrap", "AddV2", indices, size)
        indices = b.op(f"{call.scope}/SelectV2", "SelectV2", [negative, wrapped, indices], indices.shape,
                       dtype="DT_INT32")
    else:
        array = np.asarray(indices)
        call.require(array.dtype.kind in "iu", "indices that are not integers")
        if np.any(array < 0):
            array = np.where(array < 0, array + known(dim, "the length of the axis taken from"), array)
        indices = b.const(f"{call.scope}/indices", array, "DT_INT32")
    return [b.gather(call.scope, x, indices, axis)]


@op("Where")
def where(call: LayerCall) -> list[Tensor]:
    """``where(condition, x, y)``: ``SelectV2`` (broadcasting); numbers take the other operand's dtype."""
    call.require(len(call.args) == 3, "where with one argument (the indices of nonzero elements) is not translated yet")
    condition, *branches = call.args
    call.require(isinstance(condition, Tensor) and condition.dtype == "DT_BOOL", "its condition is not a bool tensor")
    like = next((a for a in branches if isinstance(a, Tensor)), None)
    call.require(like is not None, "both branches are constants")
    a, b_ = (operand(call, value, like) for value in branches)  # type: ignore[arg-type]
    call.require(a.dtype == b_.dtype, "its branches have different dtypes")
    shape = broadcast_shape(condition.shape, broadcast_shape(a.shape, b_.shape))
    return [call.builder.op(f"{call.scope}/SelectV2", "SelectV2", [condition, a, b_], shape, dtype=a.dtype)]


@op("Split")
def split(call: LayerCall) -> list[Tensor]:
    """``split(x, sections or indices, axis)``: ``Split`` into equal parts, ``SplitV`` at indices."""
    x = call.single_input()
    axis = _axis(call, x.rank, default=0)
    call.require(axis != 0, "splitting the batch axis is not translated yet")
    dim = known(x.shape[axis], "the length of the axis split")
    sections = call.config.get("indices_or_sections")
    b = call.builder
    axis_const = b.const(f"{call.scope}/split_axis", axis, "DT_INT32")
    if isinstance(sections, int):
        call.require(sections > 0 and dim % sections == 0, f"{dim} cannot be split into {sections} equal parts")
        sizes = [dim // sections] * sections
        attr = {"T": attr_type(x.dtype), "num_split": attr_int(sections)}
        node = b.node(f"{call.scope}/split", "Split", [axis_const, x], attr)
    else:
        if not isinstance(sections, list) or not all(isinstance(i, int) for i in sections):
            raise NotCoveredError(f"split at {sections!r} (not constant indices) is not translated yet")
        bounds = [0, *(i % (dim + 1) if i < 0 else min(i, dim) for i in sections), dim]
        sizes = [max(0, hi - lo) for lo, hi in itertools.pairwise(bounds)]
        call.require(all(s > 0 for s in sizes), "a split that makes an empty part is not translated yet")
        size_const = b.const(f"{call.scope}/size_splits", sizes, "DT_INT32")
        attr = {"T": attr_type(x.dtype), "Tlen": attr_type("DT_INT32"), "num_split": attr_int(len(sizes))}
        node = b.node(f"{call.scope}/split", "SplitV", [x, size_const, axis_const], attr)
    shapes = [tuple(s if i == axis else d for i, d in enumerate(x.shape)) for s in sizes]
    return _outputs(call, node, shapes, [x.dtype] * len(sizes))


@op("Stack")
def stack(call: LayerCall) -> list[Tensor]:
    values = call.args[0] if call.args and isinstance(call.args[0], list) else []
    call.require(bool(values) and all(isinstance(v, Tensor) for v in values), "it stacks constants")
    first = values[0]
    call.require(all(v.shape == first.shape and v.dtype == first.dtype for v in values), "tensors of different shapes")
    axis = _int(call.config.get("axis", 0), "the axis") % (first.rank + 1)
    call.require(axis != 0, "stacking along a new first axis (before the batch) is not translated yet")
    shape = (*first.shape[:axis], len(values), *first.shape[axis:])
    attr = {"N": attr_int(len(values)), "axis": attr_int(axis)}
    return [call.builder.op(f"{call.scope}/stack", "Pack", values, shape, dtype=first.dtype, attr=attr)]


@op("Unstack")
def unstack(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    axis = _axis(call, x.rank, default=0)
    call.require(axis != 0, "unstacking the batch axis is not translated yet")
    count = known(x.shape[axis], "the length of the axis unstacked")
    attr = {"T": attr_type(x.dtype), "axis": attr_int(axis), "num": attr_int(count)}
    node = call.builder.node(f"{call.scope}/unstack", "Unpack", [x], attr)
    shape = tuple(d for i, d in enumerate(x.shape) if i != axis)
    return _outputs(call, node, [shape] * count, [x.dtype] * count)


@op("Tile")
def tile(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    repeats = [_int(r, "a repeat count") for r in (call.config.get("repeats") or [])]
    call.require(0 < len(repeats) <= x.rank, "tile that adds axes is not translated yet")
    repeats = [1] * (x.rank - len(repeats)) + repeats
    shape = tuple(None if d is None else d * r for d, r in zip(x.shape, repeats, strict=True))
    multiples = call.builder.const(f"{call.scope}/multiples", repeats, "DT_INT32")
    attr = {"Tmultiples": attr_type("DT_INT32")}
    return [call.builder.op(f"{call.scope}/Tile", "Tile", [x, multiples], shape, dtype=x.dtype, attr=attr)]


@op("Flip")
def flip(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    axis = call.config.get("axis")
    axes = list(range(1, x.rank)) if axis is None else [_int(a, "the axis") % x.rank for a in
                                                        (axis if isinstance(axis, list) else [axis])]
    call.require(axis is not None and 0 not in axes, "flipping the batch axis is not translated yet")
    const = call.builder.const(f"{call.scope}/flip_axes", axes, "DT_INT32")
    attr = {"Tidx": attr_type("DT_INT32")}
    return [call.builder.op(f"{call.scope}/ReverseV2", "ReverseV2", [x, const], x.shape, dtype=x.dtype, attr=attr)]


@op("Swapaxes", "Moveaxis")
def swap_axes(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    perm = list(range(x.rank))
    if call.class_name == "Swapaxes":
        a, b = (_int(call.config.get(k), "an axis") % x.rank for k in ("axis1", "axis2"))
        perm[a], perm[b] = perm[b], perm[a]
    else:
        sources, targets = (call.config.get(k) for k in ("source", "destination"))
        sources = [_int(a, "an axis") % x.rank for a in (sources if isinstance(sources, list) else [sources])]
        targets = [_int(a, "an axis") % x.rank for a in (targets if isinstance(targets, list) else [targets])]
        perm = [a for a in perm if a not in sources]
        for target, source in sorted(zip(targets, sources, strict=True)):
            perm.insert(target, source)
    call.require(perm[0] == 0, "moving the batch axis is not translated yet")
    return [call.builder.transpose(call.scope, x, perm)]


# --- argmax / argmin, top_k, cumulative sums, one_hot, clip ---------------------------------------------------------


@op("Argmax", "Argmin")
def arg_extreme(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    axis = _axis(call, x.rank)
    call.require(axis != 0, "argmax / argmin over the batch axis is not translated yet")
    b = call.builder
    op_name = "ArgMax" if call.class_name == "Argmax" else "ArgMin"
    axis_const = b.const(f"{call.scope}/axis", axis, "DT_INT32")
    attr = {"T": attr_type(x.dtype), "Tidx": attr_type("DT_INT32"), "output_type": attr_type("DT_INT32")}
    shape = tuple(d for i, d in enumerate(x.shape) if i != axis)
    y = b.op(f"{call.scope}/{op_name}", op_name, [x, axis_const], shape, dtype="DT_INT32", typed=False, attr=attr)
    return [b.expand_dims(call.scope, y, axis) if call.config.get("keepdims") else y]


@op("TopK")
def top_k(call: LayerCall) -> list[Tensor]:
    """``top_k(x, k)`` along the last axis: values and int32 indices (``TopKV2``)."""
    x = call.single_input()
    k = _int(call.config.get("k"), "k")
    call.require(bool(call.config.get("sorted", True)), "top_k with sorted=False is not translated yet")
    call.require(x.shape[-1] is None or k <= x.shape[-1], f"k = {k} is larger than the last axis")
    b = call.builder
    attr = {"T": attr_type(x.dtype), "sorted": attr_bool(True)}
    node = b.node(f"{call.scope}/TopKV2", "TopKV2", [x, b.const(f"{call.scope}/k", k, "DT_INT32")], attr)
    shape = (*x.shape[:-1], k)
    return _outputs(call, node, [shape, shape], [x.dtype, "DT_INT32"])


@op("Cumsum", "Cumprod")
def cumulative(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    axis = _axis(call, x.rank)
    call.require(call.config.get("dtype") in (None, "float32") or x.dtype != "DT_FLOAT", "a cumulative op that casts")
    b = call.builder
    attr = {"T": attr_type(x.dtype), "Tidx": attr_type("DT_INT32"), "exclusive": attr_bool(False),
            "reverse": attr_bool(False)}
    axis_const = b.const(f"{call.scope}/axis", axis, "DT_INT32")
    name = call.class_name
    return [b.op(f"{call.scope}/{name}", name, [x, axis_const], x.shape, dtype=x.dtype, typed=False, attr=attr)]


@op("OneHot")
def one_hot(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    call.require(x.dtype == "DT_INT32", "one_hot of non-integer indices is not translated yet")
    call.require(_int(call.config.get("axis", -1), "the axis") in (-1, x.rank), "one_hot on another axis than the last")
    call.require(not call.config.get("sparse"), "sparse one_hot is not translated")
    dtype = {"float32": "DT_FLOAT", "int32": "DT_INT32", None: "DT_FLOAT"}.get(call.config.get("dtype"), "")
    call.require(bool(dtype), f"one_hot of dtype {call.config.get('dtype')} is not translated yet")
    depth = _int(call.config.get("num_classes"), "num_classes")
    # Equal(x[..., None], range(depth)) cast to the dtype: what OneHot computes (an index outside [0, depth) gives a
    # row of zeros), with kernels that agree on every TF.js backend (WASM's OneHot does not, next to an ArgMax).
    b = call.builder
    classes = b.const(f"{call.scope}/classes", np.arange(depth, dtype=np.int32), "DT_INT32")
    shape = (*x.shape, depth)
    equal = b.op(f"{call.scope}/Equal", "Equal", [b.expand_dims(call.scope, x, -1), classes], shape,
                 dtype="DT_BOOL", attr={"T": attr_type("DT_INT32")}, typed=False)
    attr = {"SrcT": attr_type("DT_BOOL"), "DstT": attr_type(dtype), "Truncate": attr_bool(False)}
    return [b.op(f"{call.scope}/Cast", "Cast", [equal], shape, dtype=dtype, typed=False, attr=attr)]


@op("Clip")
def clip(call: LayerCall) -> list[Tensor]:
    """``clip(x, min, max)``: ``ClipByValue`` with constant bounds."""
    x = call.single_input()
    low, high = call.config.get("x_min"), call.config.get("x_max")
    call.require(all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)),
                 "clip bounds that are not numbers")
    call.require(x.dtype == "DT_FLOAT", "clipping an int tensor is not translated yet")
    b = call.builder
    bounds = [b.const(f"{call.scope}/clip_min", np.float32(low)), b.const(f"{call.scope}/clip_max", np.float32(high))]
    return [b.op(f"{call.scope}/ClipByValue", "ClipByValue", [x, *bounds], x.shape)]


# --- einsum -------------------------------------------------------------------------------------------


class _BuilderEinsumOps:
    """:class:`~hatch_tfjs.einsum_plan.EinsumOps` on the compiler's builder, under ``scope``."""

    def __init__(self, b: GraphBuilder, scope: str, operands: Sequence[Tensor]) -> None:
        self.b, self.scope, self.operands = b, scope, operands

    def reduce_sum(self, x: Tensor, axes: Sequence[int], known: Known) -> Tensor:
        return self.b.reduce(self.scope, "Sum", x, axes, keep_dims=False)

    def transpose(self, x: Tensor, perm: Sequence[int], known: Known) -> Tensor:
        return self.b.transpose(self.scope, x, perm)

    def reshape(self, x: Tensor, target: Sequence[int], known: Known) -> Tensor:
        return self.dynamic_reshape(x, [self.int_vector(target)], known)

    def shape_slice(self, operand: int, begin: int, size: int) -> Tensor:
        return self.b.slice(f"{self.scope}/dims", self.b.shape_of(self.scope, self.operands[operand]), [begin], [size])

    def int_vector(self, values: Sequence[int]) -> Tensor:
        return self.b.const(f"{self.scope}/shape", list(values), "DT_INT32")

    def dynamic_reshape(self, x: Tensor, pieces: Sequence[Tensor], known: Known) -> Tensor:
        shape = pieces[0] if len(pieces) == 1 else self.b.concat(f"{self.scope}/target", pieces, 0)
        attr = {"Tshape": attr_type("DT_INT32")}
        return self.b.op(f"{self.scope}/Reshape", "Reshape", [x, shape], known, dtype=x.dtype, attr=attr)

    def batch_matmul(self, a: Tensor, b: Tensor, adj_a: bool, adj_b: bool, known: Known) -> Tensor:
        attr = {"adj_x": attr_bool(adj_a), "adj_y": attr_bool(adj_b)}
        return self.b.op(f"{self.scope}/BatchMatMulV2", "BatchMatMulV2", [a, b], known, attr=attr)


@op("Einsum")
def einsum(call: LayerCall) -> list[Tensor]:
    """``einsum(subscripts, *operands)`` of one or two float tensors with ops every TF.js backend runs (the WASM
    backend has no Einsum kernel): the plan of :mod:`hatch_tfjs.einsum_plan`, shared with the graph route."""
    equation = str(call.config.get("subscripts", ""))
    call.require(len(call.inputs) in (1, 2) and len(call.args) == len(call.inputs),
                 "einsum of other than one or two tensors is not translated")
    call.require(all(x.dtype == "DT_FLOAT" for x in call.inputs), "einsum of non-float tensors")
    try:
        steps = lower_einsum(equation, [x.shape for x in call.inputs])
    except EinsumRefusedError as refused:
        raise NotCoveredError(f"its equation {equation!r} {refused}, which is not translated") from None
    return [emit_einsum(steps, call.inputs, _BuilderEinsumOps(call.builder, f"{call.scope}/einsum", call.inputs))]

