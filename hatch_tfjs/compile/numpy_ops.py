"""``keras.ops`` numpy calls computed elementwise or by reductions (``cbrt``, ``hypot``, ``logaddexp``, ``nan_to_num``,
``heaviside``, ``isclose``, ``count_nonzero``, ``average``, ``ptp``, the bitwise ops, ...), as graph ops.

Each computes what Keras's TensorFlow backend computes for the same call, with the same dtypes: an int input of an op
whose result is float is cast to float32 first, an op that keeps an int dtype keeps int32, predicates give bool. A
dtype or argument whose result would differ is reported uncovered, never compiled differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hatch_tfjs.compile.builder import NotCoveredError, Tensor, attr_bool, attr_type, broadcast_shape
from hatch_tfjs.compile.keras_ops import _axes, _cast, _compare, operand
from hatch_tfjs.compile.registry import LayerCall, op

_INT_DTYPES = ("DT_INT32",)


def as_float(call: LayerCall, x: Tensor) -> Tensor:
    """``x`` as float32 (Keras casts int inputs of float-valued ops to floatx); bool is not translated."""
    if x.dtype == "DT_FLOAT":
        return x
    call.require(x.dtype in _INT_DTYPES, f"a {x.dtype} input is not translated for this op")
    return _cast(call, x, "float32")


def operands(call: LayerCall, values: Sequence[Any] | None = None) -> tuple[Tensor, Tensor]:
    """The two operands (tensors, or numbers taking the other's dtype), of one dtype."""
    values = list(call.args[:2] if values is None else values)
    call.require(len(values) == 2, "it takes other arguments than two operands")
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        raise NotCoveredError("both operands are constants")
    a, b = (operand(call, v, like) for v in values)
    call.require(a.dtype == b.dtype, "its operands have different dtypes")
    return a, b


def float_operands(call: LayerCall) -> tuple[Tensor, Tensor]:
    a, b = operands(call)
    return as_float(call, a), as_float(call, b)


def select(call: LayerCall, condition: Tensor, a: Tensor, b: Tensor, name: str = "SelectV2") -> Tensor:
    shape = broadcast_shape(condition.shape, broadcast_shape(a.shape, b.shape))
    return call.builder.op(f"{call.scope}/{name}", "SelectV2", [condition, a, b], shape, dtype=a.dtype)


def compare(call: LayerCall, name: str, a: Tensor, b: Tensor) -> Tensor:
    return _compare(call, name, a, b)


def logical(call: LayerCall, name: str, a: Tensor, b: Tensor | None = None) -> Tensor:
    inputs = [a] if b is None else [a, b]
    shape = a.shape if b is None else broadcast_shape(a.shape, b.shape)
    return call.builder.op(f"{call.scope}/{name}", name, inputs, shape, dtype="DT_BOOL", typed=False)


def predicate(call: LayerCall, name: str, x: Tensor) -> Tensor:
    """``IsNan`` / ``IsInf`` / ``IsFinite`` of a float tensor."""
    return call.builder.op(f"{call.scope}/{name}", name, [x], x.shape, dtype="DT_BOOL", attr={"T": attr_type(x.dtype)},
                           typed=False)


def constant(call: LayerCall, name: str, value: float, like: Tensor) -> Tensor:
    return call.builder.const(f"{call.scope}/{name}", np.asarray(value), like.dtype)


def full_like(call: LayerCall, x: Tensor, value: float, dtype: str) -> Tensor:
    """A tensor of ``x``'s shape (read at run time) filled with ``value``."""
    b = call.builder
    fill = b.const(f"{call.scope}/value", np.asarray(value), dtype)
    return b.op(f"{call.scope}/Fill", "Fill", [b.shape_of(call.scope, x), fill], x.shape, dtype=dtype,
                attr={"index_type": attr_type("DT_INT32")})


# --- elementwise -----------------------------------------------------------------------------------------------------


@op("Cbrt")
def cbrt(call: LayerCall) -> list[Tensor]:
    """``sign(x) * |x| ** (1/3)``, as Keras's TensorFlow backend."""
    b = call.builder
    x = as_float(call, call.single_input())
    root = b.binary(call.scope, "Pow", b.unary(call.scope, "Abs", x), constant(call, "third", 1.0 / 3.0, x))
    return [b.binary(call.scope, "Mul", b.unary(call.scope, "Sign", x), root)]


@op("Hypot")
def hypot(call: LayerCall) -> list[Tensor]:
    """``max * sqrt(1 + (min / max) ** 2)`` of the absolute values (``divide_no_nan``), as Keras."""
    b = call.builder
    x1, x2 = float_operands(call)
    a, c = b.unary(f"{call.scope}/a", "Abs", x1), b.unary(f"{call.scope}/b", "Abs", x2)
    high, low = b.binary(call.scope, "Maximum", a, c), b.binary(call.scope, "Minimum", a, c)
    ratio = b.binary(call.scope, "DivNoNan", low, high)
    root = b.unary(call.scope, "Sqrt", b.binary(call.scope, "AddV2", constant(call, "one", 1.0, ratio),
                                                b.unary(call.scope, "Square", ratio)))
    return [b.binary(call.scope, "Mul", high, root)]


@op("Logaddexp", "Logaddexp2")
def logaddexp(call: LayerCall) -> list[Tensor]:
    """``max + log1p(exp(-|x1 - x2|))`` (base 2: scaled by ln 2), ``x1 + x2`` where the difference is NaN."""
    b = call.builder
    x1, x2 = float_operands(call)
    delta = b.binary(call.scope, "Sub", x1, x2)
    exponent = b.unary(call.scope, "Neg", b.unary(call.scope, "Abs", delta))
    base2 = call.class_name == "Logaddexp2"
    log2 = constant(call, "log2", float(np.float32(np.log(2.0))), x1)
    if base2:
        exponent = b.binary(f"{call.scope}/scaled", "Mul", exponent, log2)
    softplus = b.unary(call.scope, "Log1p", b.unary(call.scope, "Exp", exponent))
    if base2:
        softplus = b.binary(call.scope, "RealDiv", softplus, log2)
    value = b.binary(call.scope, "AddV2", b.binary(call.scope, "Maximum", x1, x2), softplus)
    total = b.binary(f"{call.scope}/sum", "AddV2", x1, x2)
    return [select(call, predicate(call, "IsNan", delta), total, value)]


@op("Heaviside")
def heaviside(call: LayerCall) -> list[Tensor]:
    """``0`` where ``x1 < 0``, ``1`` where ``x1 > 0``, else ``x2``."""
    x1, x2 = float_operands(call)
    zero = constant(call, "zero", 0.0, x1)
    ones = full_like(call, x1, 1.0, x1.dtype)
    zeros = call.builder.op(f"{call.scope}/ZerosLike", "ZerosLike", [x1], x1.shape)
    inner = select(call, compare(call, "Greater", x1, zero), ones, x2)
    return [select(call, compare(call, "Less", x1, zero), zeros, inner)]


@op("NanToNum")
def nan_to_num(call: LayerCall) -> list[Tensor]:
    """NaN, +inf and -inf replaced (by ``nan``, ``posinf`` / ``neginf`` or float32's extremes); ints unchanged."""
    x = call.single_input()
    if x.dtype != "DT_FLOAT":
        return [call.builder.op(f"{call.scope}/Identity", "Identity", [x], x.shape, dtype=x.dtype)]
    config = call.config
    return [replace_non_finite(call, x, float(config.get("nan", 0.0)), config.get("posinf"), config.get("neginf"))]


def replace_non_finite(call: LayerCall, x: Tensor, nan: float, posinf: Any = None, neginf: Any = None) -> Tensor:
    """``nan_to_num`` of a float tensor, as Keras's TensorFlow backend: NaN, then +inf, then -inf replaced."""
    limit = float(np.finfo(np.float32).max)
    replacements = (
        ("nan", nan),
        ("posinf", limit if posinf is None else float(posinf)),
        ("neginf", -limit if neginf is None else float(neginf)),
    )
    zero = constant(call, "zero", 0.0, x)
    for key, value in replacements:
        if key == "nan":
            where = predicate(call, "IsNan", x)
        else:
            sign = compare(call, "Greater" if key == "posinf" else "Less", x, zero)
            where = logical(call, "LogicalAnd", predicate(call, "IsInf", x), sign)
        x = select(call, where, constant(call, key, value, x), x)
    return x


@op("Fmax", "Fmin")
def fmax_fmin(call: LayerCall) -> list[Tensor]:
    """``maximum`` / ``minimum`` that take the other operand where one is NaN."""
    b = call.builder
    x1, x2 = operands(call)
    result = b.binary(call.scope, "Maximum" if call.class_name == "Fmax" else "Minimum", x1, x2)
    if x1.dtype != "DT_FLOAT":
        return [result]
    nan1, nan2 = predicate(call, "IsNan", x1), predicate(call, "IsNan", x2)
    only1 = logical(call, "LogicalAnd", nan1, logical(call, "LogicalNot", nan2))
    result = select(call, only1, x2, result)
    only2 = logical(call, "LogicalAnd", nan2, logical(call, "LogicalNot", nan1))
    return [select(call, only2, x1, result)]


@op("Fmod")
def fmod(call: LayerCall) -> list[Tensor]:
    """``sign(x1) * floormod(|x1|, |x2|)``: the remainder with the dividend's sign, as Keras."""
    b = call.builder
    x1, x2 = operands(call)
    call.require(x1.dtype in ("DT_FLOAT", "DT_INT32"), "fmod of bool tensors is not translated")
    magnitudes = b.unary(f"{call.scope}/a", "Abs", x1), b.unary(f"{call.scope}/b", "Abs", x2)
    remainder = b.binary(call.scope, "FloorMod", *magnitudes)
    return [b.binary(call.scope, "Mul", b.unary(call.scope, "Sign", x1), remainder)]


@op("DivideNoNan")
def divide_no_nan(call: LayerCall) -> list[Tensor]:
    x1, x2 = float_operands(call)
    return [call.builder.binary(call.scope, "DivNoNan", x1, x2)]


@op("Isneginf", "Isposinf")
def is_signed_inf(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    if x.dtype != "DT_FLOAT":  # an int tensor holds no infinity
        return [_cast(call, call.builder.op(f"{call.scope}/ZerosLike", "ZerosLike", [x], x.shape, dtype=x.dtype),
                      "bool")]
    infinity = constant(call, "infinity", -np.inf if call.class_name == "Isneginf" else np.inf, x)
    return [compare(call, "Equal", x, infinity)]


@op("Signbit")
def signbit(call: LayerCall) -> list[Tensor]:
    """``x < 0``; for floats also ``-0.0`` (``1 / x < 0``). Keras reads the sign bit: a NaN's is not read here."""
    x = call.single_input()
    call.require(x.dtype in ("DT_FLOAT", "DT_INT32"), "signbit of a bool tensor is not translated")
    negative = compare(call, "Less", x, constant(call, "zero", 0.0, x))
    if x.dtype != "DT_FLOAT":
        return [negative]
    reciprocal = call.builder.unary(call.scope, "Reciprocal", x)
    return [logical(call, "LogicalOr", negative, compare(call, "Less", reciprocal, constant(call, "zero", 0.0, x)))]


@op("Sinc")
def sinc(call: LayerCall) -> list[Tensor]:
    """``sin(pi x) / (pi x)``, 1 at 0."""
    b = call.builder
    x = as_float(call, call.single_input())
    scaled = b.binary(call.scope, "Mul", x, constant(call, "pi", float(np.float32(np.pi)), x))
    quotient = b.binary(call.scope, "RealDiv", b.unary(call.scope, "Sin", scaled), scaled)
    is_zero = compare(call, "Equal", x, constant(call, "zero", 0.0, x))
    return [select(call, is_zero, full_like(call, x, 1.0, x.dtype), quotient)]


@op("Ldexp")
def ldexp(call: LayerCall) -> list[Tensor]:
    """``x1 * 2 ** x2`` (``x2`` an int tensor), ``x1`` itself where it is infinite or zero."""
    b = call.builder
    call.require(len(call.args) == 2 and isinstance(call.args[1], Tensor), "its exponent is not a tensor")
    x2 = call.args[1]
    call.require(x2.dtype == "DT_INT32", "ldexp's exponent must be an int tensor")
    x1 = as_float(call, operand(call, call.args[0], x2) if not isinstance(call.args[0], Tensor) else call.args[0])
    power = b.binary(call.scope, "Pow", constant(call, "two", 2.0, x1), _cast(call, x2, "float32"))
    result = b.binary(call.scope, "Mul", x1, power)
    is_zero = compare(call, "Equal", x1, constant(call, "zero", 0.0, x1))
    keep = logical(call, "LogicalOr", predicate(call, "IsInf", x1), is_zero)
    return [select(call, keep, x1, result)]


@op("Isclose", "AllClose")
def isclose(call: LayerCall) -> list[Tensor]:
    """``|x1 - x2| <= atol + rtol * |x2|`` (ints: equality); ``allclose`` also counts equal values (infinities)
    as close, only where both are finite otherwise, and reduces with ``all``."""
    x1, x2 = operands(call)
    tolerances = {"rtol": 1e-5, "atol": 1e-8}
    for position, key in enumerate(tolerances, start=2):
        value = call.args[position] if len(call.args) > position else call.kwargs.get(key, call.config.get(key))
        if value is not None:
            call.require(isinstance(value, (int, float)) and not isinstance(value, bool), f"{key} is not a number")
            tolerances[key] = float(value)
    equal = compare(call, "Equal", x1, x2)
    if x1.dtype != "DT_FLOAT":
        result = equal
    else:
        result = _close(call, x1, x2, tolerances["rtol"], tolerances["atol"])
        if call.class_name == "AllClose":
            finite = logical(call, "LogicalAnd", predicate(call, "IsFinite", x1), predicate(call, "IsFinite", x2))
            result = logical(call, "LogicalOr", logical(call, "LogicalAnd", finite, result), equal)
        if call.config.get("equal_nan"):
            both = logical(call, "LogicalAnd", predicate(call, "IsNan", x1), predicate(call, "IsNan", x2))
            result = logical(call, "LogicalOr", result, both)
    if call.class_name == "AllClose":
        return [call.builder.reduce(call.scope, "All", result, list(range(result.rank)), False)]
    return [result]


def _close(call: LayerCall, x1: Tensor, x2: Tensor, rtol: float, atol: float) -> Tensor:
    b = call.builder
    difference = b.unary(call.scope, "Abs", b.binary(call.scope, "Sub", x1, x2))
    scaled = b.binary(call.scope, "Mul", constant(call, "rtol", rtol, x2), b.unary(f"{call.scope}/b", "Abs", x2))
    bound = b.binary(call.scope, "AddV2", constant(call, "atol", atol, x2), scaled)
    return compare(call, "LessEqual", difference, bound)


# --- bitwise (int32) without bitwise ops: exact in two's complement arithmetic, which TF.js's int32 tensors wrap in ---


@op("BitwiseInvert", "BitwiseNot")
def bitwise_invert(call: LayerCall) -> list[Tensor]:
    """``~x = -x - 1`` (int32)."""
    x = call.single_input()
    call.require(x.dtype == "DT_INT32", "bitwise ops of non-int tensors are not translated")
    b = call.builder
    return [b.binary(call.scope, "Sub", b.unary(call.scope, "Neg", x), constant(call, "one", 1, x))]


@op("BitwiseLeftShift", "LeftShift", "BitwiseRightShift", "RightShift")
def shift(call: LayerCall) -> list[Tensor]:
    """A shift by a constant count in [0, 31): a product with (a floor division by) ``2 ** count``."""
    call.require(len(call.args) == 2 and isinstance(call.args[0], Tensor), "it shifts something else than a tensor")
    x, count = call.args
    call.require(x.dtype == "DT_INT32", "bitwise ops of non-int tensors are not translated")
    call.require(isinstance(count, (int, np.integer)) and not isinstance(count, bool) and bool(0 <= count < 31),
                 "a shift by a tensor or by a count outside [0, 31) is not translated")
    factor = constant(call, "factor", 2 ** int(count), x)
    name = "Mul" if "Left" in call.class_name else "FloorDiv"
    return [call.builder.binary(call.scope, name, x, factor)]


# --- reductions ------------------------------------------------------------------------------------------------------


@op("CountNonzero")
def count_nonzero(call: LayerCall) -> list[Tensor]:
    """The number of nonzero elements over ``axis`` (int32)."""
    x = call.single_input()
    b = call.builder
    nonzero = x if x.dtype == "DT_BOOL" else compare(call, "NotEqual", x, constant(call, "zero", 0, x))
    counts = _cast(call, nonzero, "int32")
    return [b.reduce(call.scope, "Sum", counts, _axes(call, x), False)]


@op("Ptp")
def ptp(call: LayerCall) -> list[Tensor]:
    """``max - min`` over ``axis``."""
    x = call.single_input()
    call.require(x.dtype in ("DT_FLOAT", "DT_INT32"), "ptp of a bool tensor is not translated")
    b = call.builder
    keepdims = bool(call.config.get("keepdims", False))
    high = b.reduce(call.scope, "Max", x, _axes(call, x), keepdims)
    return [b.binary(call.scope, "Sub", high, b.reduce(call.scope, "Min", x, _axes(call, x), keepdims))]


@op("Average")
def average(call: LayerCall) -> list[Tensor]:
    """The mean over ``axis``, or ``sum(x * w) / sum(w)`` with weights of ``x``'s rank or 1-D along ``axis``."""
    b = call.builder
    x = as_float(call, call.args[0] if call.args and isinstance(call.args[0], Tensor) else call.single_input())
    weights = call.args[1] if len(call.args) > 1 else call.kwargs.get("weights")
    axis = call.config.get("axis")
    axes = _axes(call, x)
    if weights is None:
        return [b.reduce(call.scope, "Mean", x, axes, False)]
    w = as_float(call, operand(call, weights, x))
    if w.rank != x.rank:
        call.require(isinstance(axis, int) and w.rank == 1, "weights of another rank than 1 or the input's")
        position = int(axis) % x.rank  # type: ignore[arg-type]
        w = b.reshape(f"{call.scope}/weights", w, tuple(w.shape[0] if i == position else 1 for i in range(x.rank)))
        total = b.reduce(f"{call.scope}/weights", "Sum", w, list(range(w.rank)), False)
    else:
        total = b.reduce(f"{call.scope}/weights", "Sum", w, axes, False)
    weighted = b.reduce(call.scope, "Sum", b.binary(call.scope, "Mul", x, w), axes, False)
    return [b.binary(call.scope, "RealDiv", weighted, total)]


@op("Size")
def size(call: LayerCall) -> list[Tensor]:
    """The number of elements (int32), read at run time."""
    x = call.single_input()
    attr = {"T": attr_type(x.dtype), "out_type": attr_type("DT_INT32")}
    return [call.builder.op(f"{call.scope}/Size", "Size", [x], (), dtype="DT_INT32", typed=False, attr=attr)]


@op("EmptyLike", "FullLike")
def empty_full_like(call: LayerCall) -> list[Tensor]:
    """``empty_like`` (zeros, as Keras's TensorFlow backend) and ``full_like`` with a constant number."""
    call.require(bool(call.args) and isinstance(call.args[0], Tensor), "its first argument is not a tensor")
    x = call.args[0]
    dtype = {"float32": "DT_FLOAT", "int32": "DT_INT32", "bool": "DT_BOOL", None: x.dtype}.get(call.config.get("dtype"))
    if dtype is None:
        raise NotCoveredError(f"dtype {call.config.get('dtype')} is not translated")
    value: Any = 0
    if call.class_name == "FullLike":
        value = call.args[1] if len(call.args) > 1 else call.kwargs.get("fill_value")
        call.require(np.asarray(value).shape == () and np.asarray(value).dtype.kind in "biuf",
                     "a fill value that is not one constant number")
        if dtype == "DT_INT32" and float(value) != int(value):
            raise NotCoveredError("a fractional fill value in an int tensor")
    if dtype == "DT_BOOL":
        return [_cast(call, full_like(call, x, float(bool(value)), "DT_INT32"), "bool")]
    return [full_like(call, x, float(value), dtype)]


@op("UnravelIndex")
def unravel_index(call: LayerCall) -> list[Tensor]:
    """Coordinates of flat int indices in ``shape``, one tensor per axis, as Keras's TensorFlow backend computes them:
    from the last axis for 1-D indices; for others it takes ``shape``'s axes first to last and reverses the result
    (numpy would not: reproduced, not corrected)."""
    indices = call.single_input()
    call.require(indices.dtype == "DT_INT32", "indices that are not int32")
    shape = [int(d) for d in call.config.get("shape") or []]
    call.require(bool(shape) and all(d > 0 for d in shape), "a shape with unknown or empty axes")
    b = call.builder
    coordinates = []
    for dim in reversed(shape) if indices.rank == 1 else shape:
        divisor = constant(call, "dim", dim, indices)
        coordinates.append(b.binary(call.scope, "FloorMod", indices, divisor))
        indices = b.binary(call.scope, "FloorDiv", indices, divisor)
    return coordinates[::-1]


_I0_TERMS = 128  # enough for every float32 argument whose i0 is finite (|x| < 89): the terms fall from k ~ |x| / 2


@op("I0")
def i0(call: LayerCall) -> list[Tensor]:
    """The modified Bessel function of order 0 as its power series ``sum_k ((x / 2) ** 2) ** k / (k!) ** 2``, the
    terms a cumulative product of ``(x / 2) ** 2 / k ** 2`` along a new last axis. TensorFlow evaluates Chebyshev
    expansions instead: over [-88, 88] the two agree within 2.2e-6 relative in TF.js's cpu and wasm backends (and
    overflow to infinity at the same arguments)."""
    b = call.builder
    x = as_float(call, call.single_input())
    quarter = b.binary(call.scope, "Mul", b.unary(call.scope, "Square", x), constant(call, "quarter", 0.25, x))
    k = np.arange(1, _I0_TERMS, dtype=np.float32)
    ratios = b.binary(call.scope, "Mul", b.expand_dims(call.scope, quarter, -1),
                      b.const(f"{call.scope}/inverse_squares", 1.0 / (k * k)))
    attr = {"T": attr_type("DT_FLOAT"), "Tidx": attr_type("DT_INT32"), "exclusive": attr_bool(False),
            "reverse": attr_bool(False)}
    last = b.const(f"{call.scope}/axis", ratios.rank - 1, "DT_INT32")  # TF.js permutes wrongly for -1
    terms = b.op(f"{call.scope}/Cumprod", "Cumprod", [ratios, last], ratios.shape, typed=False, attr=attr)
    total = b.reduce(call.scope, "Sum", terms, [-1], False)
    return [b.binary(call.scope, "AddV2", total, constant(call, "one", 1.0, total))]
