"""``keras.ops`` numpy calls that reshape, reorder, pad, stack, split, sort or contract tensors (``broadcast_to``,
``diff``, ``repeat``, ``roll``, ``pad``, ``sort``, ``argsort``, ``take_along_axis``, ``trace``, ``dot``,
``tensordot``, ...), as graph ops.

Each computes what Keras's TensorFlow backend computes for the same call. Where that needs an axis length before
run time (the rolled, repeated or sorted axis) the batch axis is refused, as a call that flattens it (``roll`` or
``sort`` without an axis) is; a full sort is ``TopKV2`` with ``k`` the axis length (ties keep their index order, as
TensorFlow's stable ``argsort``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from hatch_tfjs.compile.array_ops import _axis, _int, _outputs, split
from hatch_tfjs.compile.builder import NotCoveredError, Tensor, attr_bool, attr_int, attr_str, attr_type, known
from hatch_tfjs.compile.keras_ops import _cast, operand
from hatch_tfjs.compile.numpy_ops import as_float, compare, constant, operands, select
from hatch_tfjs.compile.registry import LayerCall, op


def _first_tensor(call: LayerCall) -> Tensor:
    call.require(bool(call.args) and isinstance(call.args[0], Tensor), "its first argument is not a tensor")
    return call.args[0]  # type: ignore[no-any-return]


def _to_last(call: LayerCall, x: Tensor, axes: Sequence[int]) -> tuple[Tensor, list[int]]:
    """``x`` with ``axes`` moved to the end (in that order); the permutation that undoes it."""
    perm = [i for i in range(x.rank) if i not in axes] + list(axes)
    if perm == list(range(x.rank)):
        return x, perm
    return call.builder.transpose(f"{call.scope}/to_last", x, perm), [perm.index(i) for i in range(x.rank)]


def _back(call: LayerCall, x: Tensor, inverse: list[int]) -> Tensor:
    return x if inverse == list(range(x.rank)) else call.builder.transpose(f"{call.scope}/back", x, inverse)


def _reverse(call: LayerCall, x: Tensor, axes: list[int]) -> Tensor:
    """``ReverseV2``; bool as int32 (TF.js 4.22's WASM kernel reads bool tensors wrong, see rnn._reverse_time)."""
    if x.dtype == "DT_BOOL":
        return _cast(call, _reverse(call, _cast(call, x, "int32"), axes), "bool")
    const = call.builder.const(f"{call.scope}/reverse_axes", axes, "DT_INT32")
    return call.builder.op(f"{call.scope}/ReverseV2", "ReverseV2", [x, const], x.shape, dtype=x.dtype,
                           attr={"Tidx": attr_type("DT_INT32")})


def _gather(call: LayerCall, x: Tensor, indices: Sequence[int] | np.ndarray, axis: int) -> Tensor:
    const = call.builder.const(f"{call.scope}/indices", np.asarray(indices, dtype=np.int32), "DT_INT32")
    return call.builder.gather(call.scope, x, const, axis)


def _known_axis(call: LayerCall, x: Tensor, key: str = "axis", default: Any = None) -> tuple[int, int]:
    """A constant axis besides the batch's, and its length."""
    axis = _axis(call, x.rank, key, default)
    call.require(axis != 0, f"{call.class_name.lower()} along the batch axis is not translated (its length is "
                 "known only at run time)")
    return axis, known(x.shape[axis], "the length of the axis")


# --- broadcast_to, append, ravel, stacks, splits -------------------------------------------------------------------


@op("BroadcastTo")
def broadcast_to(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    shape = [_int(d, "a dimension") for d in call.config.get("shape") or []]
    call.require(len(shape) >= x.rank, "a target shape of lower rank than the input")
    target = call.builder.const(f"{call.scope}/shape", shape, "DT_INT32")
    return [call.builder.op(f"{call.scope}/BroadcastTo", "BroadcastTo", [x, target], tuple(shape), dtype=x.dtype,
                            attr={"Tidx": attr_type("DT_INT32")})]


@op("Ravel")
def ravel(call: LayerCall) -> list[Tensor]:
    """The flattened tensor (its batch axis too), as Keras's ``reshape(x, [-1])``."""
    return [call.builder.reshape(call.scope, call.single_input(), (None,))]


@op("Append")
def append(call: LayerCall) -> list[Tensor]:
    """``concatenate`` along ``axis``, or of both flattened without one."""
    a, b = operands(call)
    axis = call.config.get("axis")
    if axis is None:
        a, b = (call.builder.reshape(f"{call.scope}/{n}", t, (None,)) for n, t in (("a", a), ("b", b)))
        axis = 0
    call.require(a.rank == b.rank, "operands of different ranks")
    return [call.builder.concat(call.scope, [a, b], _int(axis, "the axis"))]


def _stacked(call: LayerCall) -> list[Tensor]:
    values = call.args[0] if call.args and isinstance(call.args[0], list) else []
    call.require(bool(values) and all(isinstance(v, Tensor) for v in values), "it stacks constants")
    call.require(len({v.dtype for v in values}) == 1, "tensors of different dtypes")
    return values


@op("Hstack", "Vstack", "Dstack")
def hstack(call: LayerCall) -> list[Tensor]:
    """Concatenation along axis 1 (``hstack``; 0 for 1-D), 0 (``vstack``: the batch axis) or 2 (``dstack``, 2-D
    tensors given a third axis)."""
    values = _stacked(call)
    rank = values[0].rank
    call.require(all(v.rank == rank for v in values), "tensors of different ranks")
    if call.class_name == "Dstack":
        call.require(rank >= 2, "dstack of 1-D tensors (their batch axis) is not translated")
        if rank == 2:
            values = [call.builder.expand_dims(call.scope, v, 2) for v in values]
        return [call.builder.concat(call.scope, values, 2)]
    call.require(call.class_name == "Hstack" or rank >= 2, "vstack of 1-D tensors is not translated")
    axis = 1 if call.class_name == "Hstack" and rank >= 2 else 0
    return [call.builder.concat(call.scope, values, axis)]


@op("Vsplit")
def vsplit(call: LayerCall) -> list[Tensor]:
    """``split`` of the batch axis into equal parts, their length found at run time (``Split``)."""
    x = call.single_input()
    sections = call.config.get("indices_or_sections")
    call.require(isinstance(sections, int) and not isinstance(sections, bool) and sections > 0,
                 "vsplit at indices (the batch axis's length is known only at run time) is not translated")
    count = int(sections)  # type: ignore[arg-type]
    b = call.builder
    attr = {"T": attr_type(x.dtype), "num_split": attr_int(count)}
    node = b.node(f"{call.scope}/split", "Split", [b.const(f"{call.scope}/split_axis", 0, "DT_INT32"), x], attr)
    first = None if x.shape[0] is None else x.shape[0] // count
    return _outputs(call, node, [(first, *x.shape[1:])] * count, [x.dtype] * count)


@op("Hsplit", "Dsplit", "ArraySplit")
def split_along(call: LayerCall) -> list[Tensor]:
    """``split`` along axis 1 (``hsplit``) or 2 (``dsplit``); ``array_split`` into parts whose sizes differ by one."""
    x = call.single_input()
    sections = call.config.get("indices_or_sections")
    if call.class_name == "ArraySplit":
        axis, dim = _known_axis(call, x, default=0)
        count = _int(sections, "the number of sections")
        call.require(0 < count <= dim, f"{dim} cannot be split into {count} parts")
        sizes = [dim // count + 1] * (dim % count) + [dim // count] * (count - dim % count)
        sections = [int(i) for i in np.cumsum(sizes)[:-1]]
    else:
        axis = 1 if call.class_name == "Hsplit" else 2
        call.require(x.rank > axis, f"{call.class_name.lower()} of a tensor of rank {x.rank}")
    config = {"axis": axis, "indices_or_sections": sections}
    return split(LayerCall(call.builder, call.name, "Split", config, [x], call.weights))


# --- diff, repeat, roll, flips, rot90, pad -------------------------------------------------------------------------


@op("Diff")
def diff(call: LayerCall) -> list[Tensor]:
    """``x[1:] - x[:-1]`` along ``axis``, ``n`` times (``!=`` for bool)."""
    x = call.single_input()
    n = _int(call.config.get("n", 1), "n")
    axis, dim = _known_axis(call, x, default=-1)
    call.require(0 <= n < dim, f"a difference of order {n} along an axis of {dim}")
    b = call.builder
    for _ in range(n):
        begin, size = [0] * x.rank, [-1] * x.rank
        begin[axis] = 1
        upper = b.slice(f"{call.scope}/upper", x, begin, size)
        begin[axis], size[axis] = 0, known(x.shape[axis]) - 1
        lower = b.slice(f"{call.scope}/lower", x, begin, size)
        bool_diff = x.dtype == "DT_BOOL"
        x = compare(call, "NotEqual", upper, lower) if bool_diff else b.binary(call.scope, "Sub", upper, lower)
    return [x]


@op("Repeat")
def repeat(call: LayerCall) -> list[Tensor]:
    """Each element repeated along ``axis``: a constant gather (an int count: also along the batch axis, as
    ``Tile`` of a new axis merged back); without an axis over the flattened tensor."""
    x = call.single_input()
    repeats = call.config.get("repeats")
    axis = call.config.get("axis")
    b = call.builder
    if isinstance(repeats, int) and not isinstance(repeats, bool):
        call.require(repeats >= 0, "a negative repeat count")
        if axis is None:
            x, axis = b.reshape(f"{call.scope}/flat", x, (None,)), 0
        axis = _int(axis, "the axis") % x.rank
        expanded = b.expand_dims(call.scope, x, axis + 1)
        multiples = [1] * expanded.rank
        multiples[axis + 1] = repeats
        shape = tuple(None if d is None else d * m for d, m in zip(expanded.shape, multiples, strict=True))
        multiples_const = b.const(f"{call.scope}/multiples", multiples, "DT_INT32")
        tiled = b.op(f"{call.scope}/Tile", "Tile", [expanded, multiples_const], shape, dtype=x.dtype,
                     attr={"Tmultiples": attr_type("DT_INT32")})
        length = x.shape[axis]
        merged = None if length is None else length * repeats
        return [b.reshape(call.scope, tiled, (*x.shape[:axis], merged, *x.shape[axis + 1 :]))]
    counts = np.asarray(repeats)
    call.require(counts.dtype.kind in "iu" and counts.ndim == 1, "repeats that are not constant integers")
    axis_index, dim = _known_axis(call, x)
    call.require(len(counts) == dim and bool(np.all(counts >= 0)), "repeats that do not match the axis")
    return [_gather(call, x, np.repeat(np.arange(dim), counts), axis_index)]


@op("Roll")
def roll(call: LayerCall) -> list[Tensor]:
    """Elements shifted along ``axis`` (each of several), wrapping around: a constant gather per axis."""
    x = call.single_input()
    shift, axis = call.config.get("shift"), call.config.get("axis")
    call.require(axis is not None, "roll of the flattened tensor (no axis) is not translated (it mixes the batch)")
    axes = axis if isinstance(axis, list) else [axis]
    shifts = shift if isinstance(shift, list) else [shift] * len(axes)
    call.require(len(shifts) == len(axes), "as many shifts as axes are needed")
    for a, s in zip(axes, shifts, strict=True):
        position = _int(a, "the axis") % x.rank
        call.require(position != 0, "roll along the batch axis is not translated (its length is known at run time)")
        dim = known(x.shape[position], "the length of the axis")
        x = _gather(call, x, (np.arange(dim) - _int(s, "the shift")) % dim, position)
    return [x]


@op("Fliplr", "Flipud")
def flip_lr_ud(call: LayerCall) -> list[Tensor]:
    """Reversed along axis 1 (``fliplr``) or 0 (``flipud``: the batch axis)."""
    x = call.single_input()
    axis = 1 if call.class_name == "Fliplr" else 0
    call.require(x.rank > axis, "fliplr of a 1-D tensor")
    return [_reverse(call, x, [axis])]


@op("Rot90")
def rot90(call: LayerCall) -> list[Tensor]:
    """``k`` quarter turns in the plane of ``axes`` (not the batch axis) as Keras's TensorFlow backend computes them:
    the two axes moved last, each turn a reverse of the last axis and a swap of the two, the axes moved back (for
    ``k > 1`` Keras reshapes between turns where numpy would transpose: reproduced, not corrected)."""
    x = call.single_input()
    k = _int(call.config.get("k", 1), "k") % 4
    if k == 0:
        return [call.builder.op(f"{call.scope}/Identity", "Identity", [x], x.shape, dtype=x.dtype)]
    first, second = (_int(a, "an axis") % x.rank for a in call.config.get("axes", [0, 1]))
    call.require(first != second and 0 not in (first, second), "rot90 in a plane with the batch axis")
    b = call.builder
    moved, inverse = _to_last(call, x, [first, second])
    height, width = known(x.shape[first], "the rows"), known(x.shape[second], "the columns")
    rest = moved.shape[:-2]
    flat = None if None in rest else math.prod(rest)  # type: ignore[arg-type]
    y = b.reshape(f"{call.scope}/planes", moved, (flat, height, width))
    for turn in range(k):
        if turn == 1:  # Keras reshapes to the final plane shape before the later turns
            y = b.reshape(f"{call.scope}/turns", y, (flat, *((width, height) if k % 2 else (height, width))))
        y = b.transpose(call.scope, _reverse(call, y, [2]), [0, 2, 1])
    final = (width, height) if k % 2 else (height, width)
    return [_back(call, b.reshape(call.scope, y, (*rest, *final)), inverse)]


_PAD_MODES = {"reflect": "REFLECT", "symmetric": "SYMMETRIC"}


@op("Pad")
def pad(call: LayerCall) -> list[Tensor]:
    """``PadV2`` with the constant value, ``MirrorPad`` for ``reflect`` / ``symmetric``."""
    x = call.single_input()
    mode = str(call.config.get("mode", "constant"))
    call.require(mode == "constant" or mode in _PAD_MODES, f"pad mode '{mode}' is not translated")
    widths = np.asarray(call.config.get("pad_width"))
    call.require(widths.dtype.kind in "iu", "pad widths that are not constant integers")
    amounts = np.broadcast_to(widths, (x.rank, 2)).astype(np.int32)
    call.require(bool(np.all(amounts >= 0)), "a negative pad width")
    b = call.builder
    value = call.kwargs.get("constant_values", call.args[1] if len(call.args) > 1 else None)
    if mode != "constant":
        call.require(value is None, "a constant value with a mirror mode")
        paddings = b.const(f"{call.scope}/paddings", amounts, "DT_INT32")
        shape = tuple(None if d is None else d + int(lo) + int(hi)
                      for d, (lo, hi) in zip(x.shape, amounts, strict=True))
        attr = {"Tpaddings": attr_type("DT_INT32"), "mode": attr_str(_PAD_MODES[mode])}
        return [b.op(f"{call.scope}/MirrorPad", "MirrorPad", [x, paddings], shape, dtype=x.dtype, attr=attr)]
    fill = operand(call, 0 if value is None else value, x)
    call.require(fill.rank == 0, "a constant value that is not one number")
    return [b.pad(call.scope, x, [(int(lo), int(hi)) for lo, hi in amounts], fill)]


# --- sort, argsort, take_along_axis, select -------------------------------------------------------------------------


@op("Sort", "Argsort")
def sort(call: LayerCall) -> list[Tensor]:
    """Ascending along ``axis``: ``TopKV2`` of ``-x`` with ``k`` the axis length (values negated back)."""
    x = call.single_input()
    call.require(x.dtype in ("DT_FLOAT", "DT_INT32"), "sorting a bool tensor is not translated")
    call.require(call.config.get("axis", -1) is not None, "sorting the flattened tensor (no axis) mixes the batch")
    axis, dim = _known_axis(call, x, default=-1)
    b = call.builder
    moved, inverse = _to_last(call, x, [axis])
    attr = {"T": attr_type(x.dtype), "sorted": attr_bool(True)}
    node = b.node(f"{call.scope}/TopKV2", "TopKV2",
                  [b.unary(call.scope, "Neg", moved), b.const(f"{call.scope}/k", dim, "DT_INT32")], attr)
    values, indices = _outputs(call, node, [moved.shape, moved.shape], [x.dtype, "DT_INT32"])
    result = b.unary(call.scope, "Neg", values) if call.class_name == "Sort" else indices
    return [_back(call, result, inverse)]


@op("TakeAlongAxis")
def take_along_axis(call: LayerCall) -> list[Tensor]:
    """The elements at ``indices`` along ``axis`` (negative ones counted from the end): the axis moved last and the
    other axes merged into rows, one ``GatherV2`` from the flattened tensor at ``row * length + index`` (TF.js
    4.22's WASM GatherV2 gives wrong values with ``batch_dims``)."""
    call.require(len(call.args) == 2 and all(isinstance(a, Tensor) for a in call.args), "indices that are not a tensor")
    x, indices = call.args
    call.require(indices.dtype == "DT_INT32", "indices of another dtype than int32")
    call.require(x.rank == indices.rank, "indices of another rank than the tensor")
    axis, dim = _known_axis(call, x)
    call.require(all(i == axis or d == e for i, (d, e) in enumerate(zip(x.shape, indices.shape, strict=True))),
                 "indices whose other axes do not match the tensor's (a broadcast) are not translated")
    b = call.builder
    zero = constant(call, "zero", 0, indices)
    wrapped = select(call, compare(call, "Less", indices, zero),
                     b.binary(f"{call.scope}/wrap", "AddV2", indices, constant(call, "size", dim, indices)), indices)
    moved, inverse = _to_last(call, x, [axis])
    where, _ = _to_last(call, wrapped, [axis])
    rest = where.shape[:-1]
    count = known(where.shape[-1], "the number of indices")
    rows = b.reshape(f"{call.scope}/rows", where, (None if None in rest else math.prod(rest), count))  # type: ignore[arg-type]
    first = b.slice(f"{call.scope}/first", rows, [0, 0], [-1, 1])
    ones = b.op(f"{call.scope}/ones", "Fill", [b.shape_of(call.scope, first), constant(call, "one", 1, indices)],
                first.shape, dtype="DT_INT32", attr={"index_type": attr_type("DT_INT32")})
    attr = {"T": attr_type("DT_INT32"), "Tidx": attr_type("DT_INT32"), "exclusive": attr_bool(True),
            "reverse": attr_bool(False)}
    row = b.op(f"{call.scope}/Cumsum", "Cumsum", [ones, b.const(f"{call.scope}/row_axis", 0, "DT_INT32")],
               first.shape, dtype="DT_INT32", typed=False, attr=attr)
    offsets = b.binary(call.scope, "Mul", row, constant(call, "length", dim, indices))
    flat = b.reshape(f"{call.scope}/flat", moved, (None,))
    gathered = b.gather(call.scope, flat, b.binary(call.scope, "AddV2", rows, offsets), 0)
    return [_back(call, b.reshape(call.scope, gathered, where.shape), inverse)]


@op("Select")
def select_op(call: LayerCall) -> list[Tensor]:
    """The choice of the first true condition, else ``default``: nested ``SelectV2`` from the last condition."""
    call.require(len(call.args) in (2, 3), "it takes other arguments than conditions, choices and a default")
    conditions, choices = call.args[0], call.args[1]
    default = call.args[2] if len(call.args) == 3 else call.kwargs.get("default", 0)
    call.require(isinstance(conditions, list) and isinstance(choices, list) and len(conditions) == len(choices),
                 "conditions and choices are not lists of one length")
    call.require(all(isinstance(c, Tensor) and c.dtype == "DT_BOOL" for c in conditions),
                 "a condition is not a bool tensor")
    like = next((c for c in [*choices, default] if isinstance(c, Tensor)), None)
    if like is None:
        raise NotCoveredError("every choice is a constant")
    result = operand(call, default, like)
    for condition, choice in zip(reversed(conditions), reversed(choices), strict=True):
        value = operand(call, choice, like)
        call.require(value.dtype == result.dtype, "choices of different dtypes")
        result = select(call, condition, value, result)
    return [result]


# --- trace, diagonal, trapezoid -------------------------------------------------------------------------------------


def _plane(call: LayerCall, x: Tensor, defaults: tuple[int, int]) -> tuple[Tensor, int, int]:
    """``x`` with the axes ``axis1``, ``axis2`` moved last (neither the batch axis); their lengths."""
    axes = [_int(call.config.get(k, d), "an axis") % x.rank for k, d in zip(("axis1", "axis2"), defaults, strict=True)]
    call.require(axes[0] != axes[1] and 0 not in axes, "a plane with the batch axis is not translated")
    moved, _ = _to_last(call, x, axes)
    return moved, known(x.shape[axes[0]], "the rows"), known(x.shape[axes[1]], "the columns")


@op("Trace")
def trace(call: LayerCall) -> list[Tensor]:
    """The sum of the ``offset`` diagonal of the plane ``axis1``, ``axis2``: a select against a constant mask."""
    x = call.single_input()
    if x.dtype == "DT_BOOL":
        x = _cast(call, x, "int32")
    moved, rows, cols = _plane(call, x, (0, 1))
    b = call.builder
    eye = np.eye(rows, cols, k=_int(call.config.get("offset", 0), "the offset"), dtype=np.int32)
    mask = _cast(call, b.const(f"{call.scope}/mask", eye, "DT_INT32"), "bool")
    zeros = b.op(f"{call.scope}/ZerosLike", "ZerosLike", [moved], moved.shape, dtype=moved.dtype)
    return [b.reduce(call.scope, "Sum", select(call, mask, moved, zeros), [-2, -1], False)]


@op("Diagonal")
def diagonal(call: LayerCall) -> list[Tensor]:
    """The ``offset`` diagonal of the plane ``axis1``, ``axis2`` as the last axis: a constant gather."""
    moved, rows, cols = _plane(call, call.single_input(), (0, 1))
    offset = _int(call.config.get("offset", 0), "the offset")
    positions = [i * cols + i + offset for i in range(rows) if 0 <= i + offset < cols]
    call.require(bool(positions), "an empty diagonal")
    flat = call.builder.reshape(f"{call.scope}/flat", moved, (*moved.shape[:-2], rows * cols))
    return [_gather(call, flat, positions, flat.rank - 1)]


@op("Trapezoid")
def trapezoid(call: LayerCall) -> list[Tensor]:
    """``sum(0.5 * (y[1:] + y[:-1]) * dx)`` along ``axis`` (sample points ``x``: a constant 1-D list)."""
    b = call.builder
    y = as_float(call, call.single_input())
    axis, dim = _known_axis(call, y, default=-1)
    moved, _ = _to_last(call, y, [axis])
    points = call.config.get("x")
    if points is None:
        step = constant(call, "dx", float(call.config.get("dx", 1.0)), y)
    else:
        values = np.asarray(points, dtype=np.float32)
        call.require(values.shape == (dim,), "sample points that are not a constant list along the axis")
        step = b.const(f"{call.scope}/dx", np.diff(values), "DT_FLOAT")
    upper = b.slice(f"{call.scope}/upper", moved, [0] * y.rank, [-1] * (y.rank - 1) + [dim - 1])
    lower = b.slice(f"{call.scope}/lower", moved, [0] * (y.rank - 1) + [1], [-1] * y.rank)
    heights = b.binary(call.scope, "Mul", constant(call, "half", 0.5, y), b.binary(call.scope, "AddV2", lower, upper))
    return [b.reduce(call.scope, "Sum", b.binary(f"{call.scope}/dx", "Mul", heights, step), [-1], False)]


# --- outer, inner, dot, vdot, tensordot ----------------------------------------------------------------------------


def _contract(call: LayerCall, a: Tensor, b_: Tensor, axes_a: list[int], axes_b: list[int]) -> Tensor:
    """``tensordot(a, b, [axes_a, axes_b])`` as one matrix product: ``a`` to ``[free, summed]``, ``b`` to
    ``[summed, free]`` (at most one of the two free sizes known only at run time), reshaped to the free axes."""
    b = call.builder
    axes_a = [i % a.rank for i in axes_a] if a.rank else []
    axes_b = [i % b_.rank for i in axes_b] if b_.rank else []
    same = all(a.shape[i] == b_.shape[j] for i, j in zip(axes_a, axes_b, strict=True))
    call.require(len(axes_a) == len(axes_b) and same, "summed axes of different lengths")
    summed = math.prod(known(a.shape[i], "a summed axis") for i in axes_a)
    free_a = [i for i in range(a.rank) if i not in axes_a]
    free_b = [j for j in range(b_.rank) if j not in axes_b]
    dims_a, dims_b = [a.shape[i] for i in free_a], [b_.shape[j] for j in free_b]
    rows = None if None in dims_a else math.prod(dims_a)  # type: ignore[arg-type]
    cols = None if None in dims_b else math.prod(dims_b)  # type: ignore[arg-type]
    call.require(rows is not None or cols is not None, "both operands keep an axis known only at run time")
    left, _ = _to_last(call, a, axes_a)
    right = b_ if axes_b + free_b == list(range(b_.rank)) else b.transpose(f"{call.scope}/b", b_, axes_b + free_b)
    left = b.reshape(f"{call.scope}/a", left, (rows, summed))
    right = b.reshape(f"{call.scope}/b", right, (summed, cols))
    product = b.op(f"{call.scope}/BatchMatMulV2", "BatchMatMulV2", [left, right], (rows, cols),
                   attr={"adj_x": attr_bool(False), "adj_y": attr_bool(False)})
    return b.reshape(call.scope, product, (*dims_a, *dims_b))


def _product_operands(call: LayerCall) -> tuple[Tensor, Tensor, str]:
    """Both operands as float32 (Keras computes int products in float), and the result's dtype."""
    a, b = operands(call)
    call.require(a.dtype in ("DT_FLOAT", "DT_INT32"), "products of bool tensors are not translated")
    return as_float(call, a), as_float(call, b), a.dtype


def _result(call: LayerCall, x: Tensor, dtype: str) -> list[Tensor]:
    return [x if dtype == "DT_FLOAT" else _cast(call, x, "int32")]


@op("Tensordot")
def tensordot(call: LayerCall) -> list[Tensor]:
    a, b, dtype = _product_operands(call)
    axes = call.config.get("axes", 2)
    if isinstance(axes, int):
        left, right = list(range(a.rank - axes, a.rank)), list(range(axes))
    else:
        call.require(isinstance(axes, list) and len(axes) == 2, "axes that are not a number or two lists")
        left, right = ([_int(i, "an axis") for i in (side if isinstance(side, list) else [side])] for side in axes)
    return _result(call, _contract(call, a, b, left, right), dtype)


@op("Dot", "Inner")
def dot(call: LayerCall) -> list[Tensor]:
    """``dot``: the last axis of ``x1`` with the last (1-D ``x2``) or second-to-last of ``x2``; ``inner``: the last
    axes of both; a product with a scalar for either."""
    a, b, dtype = _product_operands(call)
    if a.rank == 0 or b.rank == 0:
        return _result(call, call.builder.binary(call.scope, "Mul", a, b), dtype)
    last_b = -1 if call.class_name == "Inner" or b.rank == 1 else -2
    return _result(call, _contract(call, a, b, [-1], [last_b]), dtype)


@op("Vdot")
def vdot(call: LayerCall) -> list[Tensor]:
    """The sum of the elementwise product of both flattened."""
    a, b, dtype = _product_operands(call)
    builder = call.builder
    flat = [builder.reshape(f"{call.scope}/{n}", t, (None,)) for n, t in (("a", a), ("b", b))]
    return _result(call, builder.reduce(call.scope, "Sum", builder.binary(call.scope, "Mul", *flat), [0], False), dtype)


@op("Outer")
def outer(call: LayerCall) -> list[Tensor]:
    """``reshape(x1, [-1, 1]) * reshape(x2, [-1])``."""
    a, b = operands(call)
    call.require(a.dtype in ("DT_FLOAT", "DT_INT32"), "outer of bool tensors is not translated")
    builder = call.builder
    column = builder.reshape(f"{call.scope}/a", a, (None if None in a.shape else math.prod(a.shape), 1))  # type: ignore[arg-type]
    row = builder.reshape(f"{call.scope}/b", b, (None if None in b.shape else math.prod(b.shape),))  # type: ignore[arg-type]
    return [builder.binary(call.scope, "Mul", column, row)]


@op("Cross")
def cross(call: LayerCall) -> list[Tensor]:
    """The cross product of vectors along ``axisa`` / ``axisb`` (2 or 3 long, 2 padded with a zero z), placed along
    ``axisc``; of two 2-vectors only its z component, as Keras."""
    a, b = operands(call)
    call.require(a.dtype in ("DT_FLOAT", "DT_INT32"), "cross of bool tensors is not translated")
    config = call.config
    keys = ("axisa", "axisb", "axisc")
    axes = [config.get("axis") if config.get("axis") is not None else config.get(k, -1) for k in keys]
    builder = call.builder
    components = []
    for name, x, axis in (("a", a, axes[0]), ("b", b, axes[1])):
        position = _int(axis, "an axis") % x.rank
        call.require(position != 0, "vectors along the batch axis are not translated")
        length = known(x.shape[position], "the vectors' length")
        call.require(length in (2, 3), f"vectors of length {length} (2 or 3 are taken)")
        moved, _ = _to_last(call, x, [position])
        parts = [builder.gather(f"{call.scope}/{name}{i}", moved, builder.const(f"{call.scope}/i{i}", i, "DT_INT32"),
                                moved.rank - 1) for i in range(length)]
        components.append(parts)
    (a0, a1, *rest_a), (b0, b1, *rest_b) = components

    def minus(first: tuple[Tensor, Tensor], second: tuple[Tensor, Tensor], name: str) -> Tensor:
        left = builder.binary(f"{call.scope}/{name}", "Mul", *first)
        right = builder.binary(f"{call.scope}/{name}", "Mul", *second)
        return builder.binary(f"{call.scope}/{name}", "Sub", left, right)

    z = minus((a0, b1), (a1, b0), "z")
    if not rest_a and not rest_b:
        return [z]
    zero = constant(call, "zero", 0, a0)
    a2, b2 = (rest[0] if rest else zero for rest in (rest_a, rest_b))
    x_part, y_part = minus((a1, b2), (a2, b1), "x"), minus((a2, b0), (a0, b2), "y")
    shape = z.shape
    x_part, y_part = (v if v.shape == shape else builder.op(f"{call.scope}/BroadcastTo", "BroadcastTo",
                      [v, builder.shape_of(call.scope, z)], shape, dtype=v.dtype, attr={"Tidx": attr_type("DT_INT32")})
                      for v in (x_part, y_part))
    stacked = builder.op(f"{call.scope}/stack", "Pack", [x_part, y_part, z], (*shape, 3), dtype=z.dtype,
                         attr={"N": attr_int(3), "axis": attr_int(len(shape))})
    target = _int(axes[2], "axisc") % stacked.rank
    call.require(target != 0, "a result along the batch axis is not translated")
    perm = list(range(stacked.rank - 1))
    perm.insert(target, stacked.rank - 1)
    return [stacked if target == stacked.rank - 1 else builder.transpose(f"{call.scope}/out", stacked, perm)]
