"""``keras.ops`` numpy statistics: the NaN-ignoring reductions (``nansum``, ``nanmean``, ``nanmax``, ...,
``nanargmax``, ``nancumsum``), ``quantile`` / ``percentile`` / ``median`` and ``searchsorted`` / ``digitize``, as
graph ops computing what Keras's TensorFlow backend computes.

A quantile sorts the reduced axes (merged into one, known lengths, not the batch axis) with ``TopKV2`` of ``-x``; a
constant ``q`` makes every index and interpolation weight a constant, computed in float64 as Keras does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hatch_tfjs.compile.array_ops import _int, _outputs, arg_extreme, cumulative
from hatch_tfjs.compile.builder import NotCoveredError, Tensor, attr_bool, attr_type, known
from hatch_tfjs.compile.keras_ops import _axes, _cast
from hatch_tfjs.compile.numpy_ops import (
    as_float,
    constant,
    logical,
    predicate,
    replace_non_finite,
    select,
)
from hatch_tfjs.compile.registry import LayerCall, op


def _keepdims(call: LayerCall) -> bool:
    return bool(call.config.get("keepdims", False))


def _is_nan(call: LayerCall, x: Tensor) -> Tensor:
    return predicate(call, "IsNan", x)


def _valid(call: LayerCall, x: Tensor) -> Tensor:
    return logical(call, "LogicalNot", _is_nan(call, x))


# --- NaN-ignoring reductions ------------------------------------------------------------------------------------------


def _nansum(call: LayerCall, x: Tensor, axes: list[int], keepdims: bool) -> Tensor:
    b = call.builder
    if x.dtype == "DT_BOOL":
        x = _cast(call, x, "int32")
    if x.dtype == "DT_FLOAT":
        x = select(call, _is_nan(call, x), constant(call, "zero", 0.0, x), x)
    return b.reduce(call.scope, "Sum", x, axes, keepdims)


def _nanmean(call: LayerCall, x: Tensor, axes: list[int], keepdims: bool) -> Tensor:
    b = call.builder
    if x.dtype != "DT_FLOAT":
        return b.reduce(call.scope, "Mean", as_float(call, x), axes, keepdims)
    count = b.reduce(f"{call.scope}/count", "Sum", _cast(call, _valid(call, x), "float32"), axes, keepdims)
    return b.binary(call.scope, "RealDiv", _nansum(call, x, axes, keepdims), count)


@op("Nansum", "Nanmean", "Nanprod")
def nan_sum_mean_prod(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    axes, keepdims = _axes(call, x), _keepdims(call)
    if call.class_name == "Nansum":
        return [_nansum(call, x, axes, keepdims)]
    if call.class_name == "Nanmean":
        return [_nanmean(call, x, axes, keepdims)]
    call.require(x.dtype != "DT_BOOL", "nanprod of a bool tensor is not translated")
    if x.dtype == "DT_FLOAT":
        x = select(call, _is_nan(call, x), constant(call, "one", 1.0, x), x)
    return [call.builder.reduce(call.scope, "Prod", x, axes, keepdims)]


@op("Nanmax", "Nanmin")
def nan_extreme(call: LayerCall) -> list[Tensor]:
    """The max / min of the non-NaN elements, NaN where all are."""
    b = call.builder
    x = call.single_input()
    axes, keepdims = _axes(call, x), _keepdims(call)
    high = call.class_name == "Nanmax"
    if x.dtype == "DT_BOOL":
        return [b.reduce(call.scope, "Any" if high else "All", x, axes, keepdims)]
    if x.dtype != "DT_FLOAT":
        return [b.reduce(call.scope, "Max" if high else "Min", x, axes, keepdims)]
    nan = _is_nan(call, x)
    clean = select(call, nan, constant(call, "fill", -np.inf if high else np.inf, x), x)
    result = b.reduce(call.scope, "Max" if high else "Min", clean, axes, keepdims)
    all_nan = b.reduce(f"{call.scope}/all_nan", "All", nan, axes, keepdims)
    return [select(call, all_nan, constant(call, "nan", np.nan, x), result)]


@op("Nanvar", "Nanstd")
def nan_variance(call: LayerCall) -> list[Tensor]:
    """The mean squared deviation of the non-NaN elements from their mean (its square root)."""
    b = call.builder
    x = as_float(call, call.single_input())
    axes, keepdims = _axes(call, x), _keepdims(call)
    mean = _nanmean(call, x, axes, True)
    valid = _valid(call, x)
    zeros = b.op(f"{call.scope}/ZerosLike", "ZerosLike", [x], x.shape)
    centered = b.unary(call.scope, "Square", select(call, valid, b.binary(call.scope, "Sub", x, mean), zeros))
    count = b.reduce(f"{call.scope}/count", "Sum", _cast(call, valid, "float32"), axes, keepdims)
    result = b.binary(call.scope, "RealDiv", b.reduce(call.scope, "Sum", centered, axes, keepdims), count)
    return [b.unary(call.scope, "Sqrt", result) if call.class_name == "Nanstd" else result]


@op("Nancumsum", "Nancumprod")
def nan_cumulative(call: LayerCall) -> list[Tensor]:
    """``cumsum`` of ``nan_to_num(x)`` (infinities become float32's extremes, as Keras), ``cumprod`` with NaN as 1."""
    x = call.single_input()
    call.require(x.dtype != "DT_BOOL", f"{call.class_name.lower()} of a bool tensor is not translated")
    if x.dtype == "DT_FLOAT":
        x = replace_non_finite(call, x, 0.0 if call.class_name == "Nancumsum" else 1.0)
    name = call.class_name[3:].capitalize()
    return cumulative(LayerCall(call.builder, call.name, name, call.config, [x], call.weights))


@op("Nanargmax", "Nanargmin")
def nan_arg_extreme(call: LayerCall) -> list[Tensor]:
    """``argmax`` / ``argmin`` with NaN as -inf / +inf, -1 where all are NaN."""
    x = call.single_input()
    high = call.class_name == "Nanargmax"
    name = "Argmax" if high else "Argmin"
    if x.dtype != "DT_FLOAT":
        return arg_extreme(LayerCall(call.builder, call.name, name, call.config, [x], call.weights))
    nan = _is_nan(call, x)
    clean = select(call, nan, constant(call, "fill", -np.inf if high else np.inf, x), x)
    (index,) = arg_extreme(LayerCall(call.builder, call.name, name, call.config, [clean], call.weights))
    all_nan = call.builder.reduce(f"{call.scope}/all_nan", "All", nan, _axes(call, x), _keepdims(call))
    return [select(call, all_nan, constant(call, "none", -1, index), index)]


# --- quantile, percentile, median ----------------------------------------------------------------------------------


def _sorted_last(call: LayerCall, x: Tensor, axes: list[int]) -> Tensor:
    """``x`` with ``axes`` moved last and merged into one axis, sorted ascending along it."""
    b = call.builder
    others = [i for i in range(x.rank) if i not in axes]
    perm = others + axes
    moved = x if perm == list(range(x.rank)) else b.transpose(f"{call.scope}/to_last", x, perm)
    length = math.prod(known(x.shape[i], "a reduced axis") for i in axes)
    merged = b.reshape(f"{call.scope}/merged", moved, (*(x.shape[i] for i in others), length))
    attr = {"T": attr_type(x.dtype), "sorted": attr_bool(True)}
    k = b.const(f"{call.scope}/k", length, "DT_INT32")
    node = b.node(f"{call.scope}/TopKV2", "TopKV2", [b.unary(call.scope, "Neg", merged), k], attr)
    values, _ = _outputs(call, node, [merged.shape, merged.shape], [x.dtype, "DT_INT32"])
    return b.unary(f"{call.scope}/sorted", "Neg", values)


def _plan(d: int, q: float, method: str) -> tuple[list[int], list[float]]:
    """Keras's ``_quantile`` of ``d`` sorted values at a constant ``q``: the indices it reads and their weights
    (float64 index arithmetic as Keras; the weights float32 as TensorFlow computes them)."""
    last = d - 1

    def index(rounding: Any) -> int:
        return int(min(max(int(rounding((d - 1) * q)), 0), last))

    if method in ("lower", "higher", "nearest"):
        return [index({"lower": math.floor, "higher": math.ceil, "nearest": np.round}[method])], [1.0]
    if method == "midpoint":
        return [index(math.floor), index(math.ceil)], [0.5, 0.5]
    if method != "linear":
        raise NotCoveredError(f"quantile method '{method}' is not translated")
    smaller = max(index(math.ceil) - 1, 0)
    larger = min(smaller + 1, last)
    fraction = np.float32(float(larger) - (d - 1) * q)
    return [larger, smaller], [float(np.float32(1) - fraction), float(fraction)]


def _combine(call: LayerCall, values: list[Tensor], weights: list[Tensor], method: str) -> Tensor:
    """The value read (one index), ``0.5 * (lower + higher)`` (midpoint) or ``v0 * w0 + v1 * w1`` (linear)."""
    b = call.builder
    if len(values) == 1:
        return values[0]
    if method == "midpoint":
        total = b.binary(call.scope, "AddV2", values[0], values[1])
        return b.binary(call.scope, "Mul", constant(call, "half", 0.5, total), total)
    upper = b.binary(f"{call.scope}/upper", "Mul", values[0], weights[0])
    return b.binary(call.scope, "AddV2", upper, b.binary(f"{call.scope}/lower", "Mul", values[1], weights[1]))


def _quantile_q(call: LayerCall) -> float:
    """``q`` as Keras's backend uses it: float32, over 100 for a percentile (in float32), 0.5 for a median."""
    if call.class_name == "Median":
        return 0.5
    value = call.args[1] if len(call.args) > 1 else call.kwargs.get("q")
    number = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    call.require(number, "q is not one number")
    q32 = np.float32(value)
    q = float(q32 / np.float32(100.0)) if call.class_name == "Percentile" else float(q32)
    call.require(0.0 <= q <= 1.0, "q outside [0, 1]")
    return q


def _reduced_axes(call: LayerCall, x: Tensor) -> list[int]:
    axis = call.config.get("axis")
    call.require(axis is not None, "a quantile of the flattened tensor (no axis) mixes the batch")
    axes = [_int(a, "an axis") % x.rank for a in (axis if isinstance(axis, list) else [axis])]
    call.require(0 not in axes, "a quantile over the batch axis is not translated")
    return axes


def _finish_quantile(call: LayerCall, result: Tensor, undefined: Tensor, axes: list[int]) -> list[Tensor]:
    """NaN where ``undefined``, the reduced axes kept as 1s with ``keepdims``."""
    b = call.builder
    result = select(call, undefined, constant(call, "nan", np.nan, result), result)
    if _keepdims(call):
        for position in sorted(axes):
            result = b.expand_dims(call.scope, result, position)
    return [result]


@op("Quantile", "Percentile", "Median")
def quantile(call: LayerCall) -> list[Tensor]:
    """The ``q`` quantile over ``axis`` (not the batch axis), NaN where the reduced elements hold one."""
    x = as_float(call, call.single_input() if call.class_name == "Median" else _first(call))
    axes = _reduced_axes(call, x)
    q = _quantile_q(call)
    # Keras's Quantile op passes no method to the backend (linear whatever its config says); Percentile does
    method = str(call.config.get("method", "linear")) if call.class_name == "Percentile" else "linear"
    y = _sorted_last(call, x, axes)
    indices, weights = _plan(known(y.shape[-1]), q, method)
    b = call.builder
    values = [b.gather(call.scope, y, b.const(f"{call.scope}/index", i, "DT_INT32"), y.rank - 1) for i in indices]
    result = _combine(call, values, [constant(call, "weight", w, y) for w in weights], method)
    any_nan = b.reduce(f"{call.scope}/any_nan", "Any", _is_nan(call, x), axes, False)
    return _finish_quantile(call, result, any_nan, axes)


def _first(call: LayerCall) -> Tensor:
    call.require(bool(call.args) and isinstance(call.args[0], Tensor), "its first argument is not a tensor")
    return call.args[0]  # type: ignore[no-any-return]


# --- searchsorted, digitize ----------------------------------------------------------------------------------------


def _bound(call: LayerCall, boundaries: Any, values: Tensor, right: bool) -> Tensor:
    """``LowerBound`` / ``UpperBound`` of ``values`` (any shape, one row) in constant increasing ``boundaries``."""
    b = call.builder
    array = np.asarray(boundaries)
    call.require(array.ndim == 1 and array.size > 0 and array.dtype.kind in "biuf",
                 "boundaries that are not a constant 1-D list of numbers")
    call.require(bool(np.all(np.diff(array.astype(np.float64)) >= 0)), "boundaries that are not increasing")
    if values.dtype != "DT_FLOAT" and array.dtype.kind == "f":
        values = as_float(call, values)
    sorted_row = b.const(f"{call.scope}/boundaries", array.reshape(1, -1), values.dtype)
    count = None if None in values.shape else math.prod(values.shape)  # type: ignore[arg-type]
    row = b.reshape(f"{call.scope}/row", values, (1, count))
    name = "UpperBound" if right else "LowerBound"
    attr = {"T": attr_type(values.dtype), "out_type": attr_type("DT_INT32")}
    found = b.op(f"{call.scope}/{name}", name, [sorted_row, row], row.shape, dtype="DT_INT32", typed=False, attr=attr)
    return b.reshape(call.scope, found, values.shape)


@op("SearchSorted")
def searchsorted(call: LayerCall) -> list[Tensor]:
    """Insertion points of ``values`` in a constant sorted sequence (TensorFlow takes 1-D values only)."""
    call.require(len(call.args) == 2 and isinstance(call.args[1], Tensor), "values that are not a tensor")
    sequence, values = call.args
    if isinstance(sequence, Tensor):
        raise NotCoveredError("a sorted sequence that is a tensor (in a model, its batch axis) is not translated")
    call.require(values.rank == 1, "values of rank other than 1 (TensorFlow refuses them)")
    side = str(call.config.get("side", "left"))
    call.require(side in ("left", "right"), f"side '{side}'")
    return [_bound(call, sequence, values, side == "right")]


@op("Digitize")
def digitize(call: LayerCall) -> list[Tensor]:
    """The bucket of each element: how many of the constant increasing ``bins`` are at most it (``Bucketize``)."""
    call.require(len(call.args) == 2 and isinstance(call.args[0], Tensor), "it digitizes something else than a tensor")
    x, bins = call.args
    call.require(x.dtype != "DT_BOOL", "digitize of a bool tensor is not translated")
    return [_bound(call, np.asarray(bins, dtype=np.float32), x, True)]
