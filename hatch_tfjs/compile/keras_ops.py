"""``keras.ops`` calls recorded in a functional model (``x + y``, ``ops.mean(x, axis=-1)``, ...), as graph ops.

Arguments arrive resolved: graph tensors, numpy constants (``__tensor__`` values) and plain Python numbers. A
constant operand takes the dtype of the tensor it meets, as Keras's type promotion gives for the cases covered
here (a float tensor with any number, an int tensor with whole numbers); anything else is reported uncovered.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hatch_tfjs.compile.activations import ACTIVATIONS, gelu, leaky_relu
from hatch_tfjs.compile.builder import NotCoveredError, Tensor, attr_bool, attr_type, broadcast_shape, known
from hatch_tfjs.compile.registry import LayerCall, op

_BINARY = {
    "Add": "AddV2",
    "Subtract": "Sub",
    "Multiply": "Mul",
    "Divide": "RealDiv",
    "TrueDivide": "RealDiv",
    "Maximum": "Maximum",
    "Minimum": "Minimum",
    "Power": "Pow",
    "SquaredDifference": "SquaredDifference",
    "FloorDivide": "FloorDiv",
    "Mod": "FloorMod",
    "Arctan2": "Atan2",
}
_UNARY = {
    "Sqrt": "Sqrt",
    "Square": "Square",
    "Exp": "Exp",
    "Log": "Log",
    "Abs": "Abs",
    "Absolute": "Abs",
    "Negative": "Neg",
    "Erf": "Erf",
    "Rsqrt": "Rsqrt",
    "Floor": "Floor",
    "Ceil": "Ceil",
    "Sin": "Sin",
    "Cos": "Cos",
    "Reciprocal": "Reciprocal",
    "Tan": "Tan",
    "Arcsin": "Asin",
    "Arccos": "Acos",
    "Arctan": "Atan",
    "Sinh": "Sinh",
    "Cosh": "Cosh",
    "Arcsinh": "Asinh",
    "Arccosh": "Acosh",
    "Arctanh": "Atanh",
    "Expm1": "Expm1",
    "Log1p": "Log1p",
    "Sign": "Sign",
    "Fabs": "Abs",
}
_PREDICATES = {"Isnan": "IsNan", "Isinf": "IsInf", "Isfinite": "IsFinite"}
_ACTIVATION_OPS = {
    "Relu": "relu",
    "Relu6": "relu6",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "Silu": "silu",
    "Swish": "silu",
    "Softplus": "softplus",
    "Softsign": "softsign",
    "Elu": "elu",
    "Selu": "selu",
    "HardSigmoid": "hard_sigmoid",
    "HardSilu": "hard_silu",
    "HardSwish": "hard_silu",
    "Mish": "mish",
    "LogSoftmax": "log_softmax",
}


def operand(call: LayerCall, value: Any, like: Tensor) -> Tensor:
    """``value`` as a graph tensor: itself if it is one, else a constant of ``like``'s dtype."""
    if isinstance(value, Tensor):
        return value
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise NotCoveredError(f"argument {value!r} is not a number")
    if like.dtype == "DT_INT32" and (array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0)):
        raise NotCoveredError(
            "an int tensor combined with a fractional number (a dtype promotion) is not translated yet"
        )
    return call.builder.const(f"{call.scope}/operand", array, like.dtype)


def _float_input(call: LayerCall) -> Tensor:
    x = call.single_input()
    call.require(x.dtype == "DT_FLOAT", "only float tensors are translated for this op")
    return x


@op(*_BINARY)
def binary(call: LayerCall) -> list[Tensor]:
    call.require(len(call.args) == 2 and not call.kwargs, "it takes other arguments than two operands")
    like = next(a for a in call.args if isinstance(a, Tensor))
    a, b = (operand(call, value, like) for value in call.args)
    call.require(a.dtype == b.dtype, "its operands have different dtypes")
    if call.class_name in ("Divide", "TrueDivide", "Power", "Arctan2"):
        call.require(a.dtype == "DT_FLOAT", "integer division and powers change dtype in Keras: not translated yet")
    if call.class_name == "FloorDivide" and a.dtype == "DT_FLOAT":
        # What TensorFlow's FloorDiv computes for floats; TF.js 4.22's WebGL FloorDiv rounds its operands to ints.
        quotient = call.builder.binary(call.scope, "RealDiv", a, b)
        return [call.builder.unary(call.scope, "Floor", quotient)]
    return [call.builder.binary(call.scope, _BINARY[call.class_name], a, b)]


@op(*_UNARY)
def unary(call: LayerCall) -> list[Tensor]:
    return [call.builder.unary(call.scope, _UNARY[call.class_name], _float_input(call))]


@op(*_ACTIVATION_OPS)
def activation(call: LayerCall) -> list[Tensor]:
    return [ACTIVATIONS[_ACTIVATION_OPS[call.class_name]](call.builder, call.scope, _float_input(call))]


@op("Gelu")
def gelu_op(call: LayerCall) -> list[Tensor]:
    approximate = call.kwargs.get("approximate", call.config.get("approximate", True))
    return [gelu(call.builder, call.scope, _float_input(call), bool(approximate))]


@op("LeakyRelu")
def leaky_relu_op(call: LayerCall) -> list[Tensor]:
    slope = call.kwargs.get("negative_slope", call.config.get("negative_slope", 0.2))
    return [leaky_relu(call.builder, call.scope, _float_input(call), float(slope))]


@op("Softmax")
def softmax_op(call: LayerCall) -> list[Tensor]:
    x = _float_input(call)
    axis = call.config.get("axis", -1)
    call.require(isinstance(axis, int) and axis % x.rank == x.rank - 1, "softmax over an axis other than the last")
    return [call.builder.op(f"{call.scope}/Softmax", "Softmax", [x], x.shape)]


def _axes(call: LayerCall, x: Tensor) -> list[int]:
    axis = call.config.get("axis")
    if axis is None:
        return list(range(x.rank))
    return [int(a) for a in (axis if isinstance(axis, list) else [axis])]


_REDUCTIONS = {"Mean": "Mean", "Sum": "Sum", "Max": "Max", "Min": "Min", "Prod": "Prod", "Amax": "Max", "Amin": "Min"}


@op(*_REDUCTIONS)
def reduction(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    call.require(call.class_name != "Mean" or x.dtype == "DT_FLOAT", "the mean of an int tensor changes dtype")
    keepdims = bool(call.config.get("keepdims", False))
    return [call.builder.reduce(call.scope, _REDUCTIONS[call.class_name], x, _axes(call, x), keepdims)]


_DTYPES = {"float32": "DT_FLOAT", "int32": "DT_INT32", "bool": "DT_BOOL"}


@op("ZerosLike", "OnesLike")
def like(call: LayerCall) -> list[Tensor]:
    """Zeros / ones of the input's shape, cast when another dtype is asked (``zeros_like(x, dtype="bool")`` is
    how Keras records the all-false mask of a merged input)."""
    x = call.single_input()
    y = call.builder.op(f"{call.scope}/{call.class_name}", call.class_name, [x], x.shape, dtype=x.dtype)
    dtype = call.config.get("dtype")
    return [y if dtype is None else _cast(call, y, dtype)]


@op("Reshape")
def reshape_op(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    shape = [int(d) for d in call.config.get("newshape", call.config.get("new_shape", []))]
    call.require(
        shape[:1] == [-1] or (bool(shape) and x.shape[0] is not None), "a reshape that does not keep the batch axis"
    )
    return [call.builder.reshape(call.scope, x, (None, *shape[1:]))]


@op("Transpose")
def transpose_op(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    axes = call.config.get("axes")
    perm = list(range(x.rank))[::-1] if axes is None else [int(a) % x.rank for a in axes]
    return [call.builder.transpose(call.scope, x, perm)]


@op("ExpandDims")
def expand_dims_op(call: LayerCall) -> list[Tensor]:
    axis = call.config.get("axis")
    if not isinstance(axis, int):
        raise NotCoveredError("expanding several axes at once is not translated yet")
    return [call.builder.expand_dims(call.scope, call.single_input(), axis)]


@op("Squeeze")
def squeeze_op(call: LayerCall) -> list[Tensor]:
    axis = call.config.get("axis")
    if not isinstance(axis, int):
        raise NotCoveredError("squeeze without one axis is not translated yet")
    return [call.builder.squeeze(call.scope, call.single_input(), axis)]


@op("Concatenate")
def concatenate_op(call: LayerCall) -> list[Tensor]:
    values = call.args[0] if call.args and isinstance(call.args[0], list) else []
    call.require(bool(values) and all(isinstance(a, Tensor) for a in values), "it concatenates constants")
    return [call.builder.concat(call.scope, values, int(call.config.get("axis", 0)))]


@op("Matmul")
def matmul_op(call: LayerCall) -> list[Tensor]:
    call.require(len(call.inputs) == 2, "matmul with a constant is not translated yet")
    a, b = call.inputs
    call.require(a.rank == b.rank and a.rank >= 2, "matmul of tensors of different ranks")
    attr = {"adj_x": attr_bool(False), "adj_y": attr_bool(False)}
    return [
        call.builder.op(f"{call.scope}/BatchMatMulV2", "BatchMatMulV2", [a, b], (*a.shape[:-1], b.shape[-1]), attr=attr)
    ]


@op("Cast")
def cast_op(call: LayerCall) -> list[Tensor]:
    return [_cast(call, call.single_input(), call.config.get("dtype"))]


def _cast(call: LayerCall, x: Tensor, dtype: Any) -> Tensor:
    target = _DTYPES.get(str(dtype))
    if target is None:
        raise NotCoveredError(f"a cast to {dtype} is not translated yet")
    if target == x.dtype:
        return x
    attr = {"SrcT": attr_type(x.dtype), "DstT": attr_type(target), "Truncate": attr_bool(False)}
    return call.builder.op(f"{call.scope}/Cast", "Cast", [x], x.shape, dtype=target, typed=False, attr=attr)


@op("LogicalOr", "LogicalAnd")
def logical(call: LayerCall) -> list[Tensor]:
    """``logical_or`` / ``logical_and`` of two bool tensors (how Keras records merged masks)."""
    call.require(
        len(call.inputs) == 2 and len(call.args) == 2 and all(t.dtype == "DT_BOOL" for t in call.inputs),
        "it takes other arguments than two bool tensors",
    )
    a, b = call.inputs
    shape = broadcast_shape(a.shape, b.shape)
    return [
        call.builder.op(f"{call.scope}/{call.class_name}", call.class_name, [a, b], shape, dtype="DT_BOOL", typed=False)
    ]


_COMPARISONS = {
    "NotEqual": "NotEqual",
    "Equal": "Equal",
    "Greater": "Greater",
    "GreaterEqual": "GreaterEqual",
    "Less": "Less",
    "LessEqual": "LessEqual",
}


@op(*_COMPARISONS)
def comparison(call: LayerCall) -> list[Tensor]:
    """Elementwise comparisons (how Keras 3 records a mask: ``not_equal(ids, 0)``), as bool tensors."""
    call.require(len(call.args) == 2, "it takes other arguments than two operands")
    like = next(a for a in call.args if isinstance(a, Tensor))
    a, b = (operand(call, value, like) for value in call.args)
    call.require(a.dtype == b.dtype, "its operands have different dtypes")
    shape = broadcast_shape(a.shape, b.shape)
    return [
        call.builder.op(
            f"{call.scope}/{call.class_name}",
            _COMPARISONS[call.class_name],
            [a, b],
            shape,
            dtype="DT_BOOL",
            attr={"T": attr_type(a.dtype)},
            typed=False,
        )
    ]


@op("Any", "All")
def logical_reduction(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    call.require(x.dtype == "DT_BOOL", f"{call.class_name.lower()} of a non-bool tensor is not translated yet")
    return [
        call.builder.reduce(call.scope, call.class_name, x, _axes(call, x), bool(call.config.get("keepdims", False)))
    ]


@op("Round")
def round_op(call: LayerCall) -> list[Tensor]:
    """``round(x)``: half to even, as Keras (and TF.js's ``Round``)."""
    call.require(not call.config.get("decimals"), "round to decimals other than 0 is not translated yet")
    return [call.builder.unary(call.scope, "Round", _float_input(call))]


@op(*_PREDICATES)
def predicate(call: LayerCall) -> list[Tensor]:
    x = _float_input(call)
    name = _PREDICATES[call.class_name]
    return [call.builder.op(f"{call.scope}/{name}", name, [x], x.shape, dtype="DT_BOOL", attr={"T": attr_type(x.dtype)},
                            typed=False)]


@op("LogicalNot", "LogicalXor")
def logical_not_xor(call: LayerCall) -> list[Tensor]:
    """``logical_not`` (``LogicalNot``) and ``logical_xor`` (``NotEqual`` of two bool tensors)."""
    call.require(all(t.dtype == "DT_BOOL" for t in call.inputs), "it takes non-bool tensors")
    if call.class_name == "LogicalNot":
        x = call.single_input()
        return [call.builder.op(f"{call.scope}/LogicalNot", "LogicalNot", [x], x.shape, dtype="DT_BOOL", typed=False)]
    call.require(len(call.inputs) == 2 and len(call.args) == 2, "it takes other arguments than two bool tensors")
    a, b = call.inputs
    attr = {"T": attr_type("DT_BOOL"), "incompatible_shape_error": attr_bool(True)}
    shape = broadcast_shape(a.shape, b.shape)
    return [
        call.builder.op(f"{call.scope}/NotEqual", "NotEqual", [a, b], shape, dtype="DT_BOOL", attr=attr, typed=False)
    ]


_LOG_BASES = {"Log2": 2.0, "Log10": 10.0}


@op(*_LOG_BASES)
def log_base(call: LayerCall) -> list[Tensor]:
    x = _float_input(call)
    log = call.builder.unary(call.scope, "Log", x)
    scale = call.builder.scalar(f"{call.scope}/inverse_log_base", 1.0 / float(np.log(_LOG_BASES[call.class_name])))
    return [call.builder.binary(call.scope, "Mul", log, scale)]


@op("LogSigmoid")
def log_sigmoid(call: LayerCall) -> list[Tensor]:
    """``log_sigmoid(x) = -softplus(-x)``, as Keras computes it."""
    b = call.builder
    negated = b.unary(f"{call.scope}/negated", "Neg", _float_input(call))
    return [b.unary(call.scope, "Neg", b.unary(call.scope, "Softplus", negated))]


@op("Var", "Std")
def variance(call: LayerCall) -> list[Tensor]:
    """``var`` / ``std``: the mean of squared deviations from the mean (its square root), over ``axis``."""
    x = _float_input(call)
    b = call.builder
    axes = _axes(call, x)
    mean = b.reduce(f"{call.scope}/mean", "Mean", x, axes, True)
    squared = b.binary(call.scope, "SquaredDifference", x, mean)
    result = b.reduce(call.scope, "Mean", squared, axes, bool(call.config.get("keepdims", False)))
    return [b.unary(call.scope, "Sqrt", result) if call.class_name == "Std" else result]


@op("Logsumexp")
def logsumexp(call: LayerCall) -> list[Tensor]:
    """``logsumexp(x, axis)`` computed as ``max + log(sum(exp(x - max)))``, as TensorFlow's reduce_logsumexp."""
    x = _float_input(call)
    b = call.builder
    axes = _axes(call, x)
    keepdims = bool(call.config.get("keepdims", False))
    peak = b.reduce(f"{call.scope}/max", "Max", x, axes, True)
    exponentials = b.unary(call.scope, "Exp", b.binary(call.scope, "Sub", x, peak))
    summed = b.reduce(call.scope, "Sum", exponentials, axes, keepdims)
    shift = peak if keepdims else b.reduce(f"{call.scope}/max_dropped", "Max", x, axes, False)
    return [b.binary(call.scope, "AddV2", b.unary(call.scope, "Log", summed), shift)]


@op("Copy", "StopGradient", "ConvertToTensor")
def identity(call: LayerCall) -> list[Tensor]:
    """Calls that return their input unchanged at inference (``convert_to_tensor`` with a dtype casts)."""
    x = call.single_input()
    if call.config.get("dtype"):
        call.require(call.class_name == "ConvertToTensor", "a conversion to another dtype is not translated yet")
        return [_cast(call, x, call.config["dtype"])]
    return [call.builder.op(f"{call.scope}/Identity", "Identity", [x], x.shape, dtype=x.dtype)]


_SCALES = {"Deg2rad": float(np.pi / 180.0), "Rad2deg": float(180.0 / np.pi)}


@op(*_SCALES)
def scale(call: LayerCall) -> list[Tensor]:
    x = _float_input(call)
    return [call.builder.binary(call.scope, "Mul", x, call.builder.scalar(call.scope, _SCALES[call.class_name]))]


@op("Exp2")
def exp2(call: LayerCall) -> list[Tensor]:
    """``2 ** x`` (``Pow``), as Keras's TensorFlow backend computes it."""
    x = _float_input(call)
    return [call.builder.binary(call.scope, "Pow", call.builder.scalar(f"{call.scope}/base", 2.0), x)]


@op("Trunc")
def trunc(call: LayerCall) -> list[Tensor]:
    """``trunc(x) = sign(x) * floor(|x|)`` (TF.js has no Trunc op)."""
    b = call.builder
    x = _float_input(call)
    floored = b.unary(call.scope, "Floor", b.unary(call.scope, "Abs", x))
    return [b.binary(call.scope, "Mul", b.unary(call.scope, "Sign", x), floored)]


@op("HardTanh")
def hard_tanh(call: LayerCall) -> list[Tensor]:
    b = call.builder
    x = _float_input(call)
    bounds = [b.const(f"{call.scope}/clip_min", np.float32(-1.0)), b.const(f"{call.scope}/clip_max", np.float32(1.0))]
    return [b.op(f"{call.scope}/ClipByValue", "ClipByValue", [x, *bounds], x.shape)]


@op("TanhShrink")
def tanh_shrink(call: LayerCall) -> list[Tensor]:
    x = _float_input(call)
    return [call.builder.binary(call.scope, "Sub", x, call.builder.unary(call.scope, "Tanh", x))]


@op("Squareplus")
def squareplus(call: LayerCall) -> list[Tensor]:
    """``(x + sqrt(x ** 2 + b)) / 2``."""
    b = call.builder
    x = _float_input(call)
    bias = b.scalar(f"{call.scope}/b", float(call.config.get("b", 4)))
    root = b.unary(call.scope, "Sqrt", b.binary(call.scope, "AddV2", b.unary(call.scope, "Square", x), bias))
    return [b.binary(call.scope, "Mul", b.binary(f"{call.scope}/sum", "AddV2", x, root), b.scalar(call.scope, 0.5))]


@op("Celu")
def celu(call: LayerCall) -> list[Tensor]:
    """``max(x, 0) + min(alpha * (exp(x / alpha) - 1), 0)``."""
    b = call.builder
    x = _float_input(call)
    alpha = float(call.config.get("alpha", 1.0))
    zero = b.scalar(f"{call.scope}/zero", 0.0)
    scaled = b.binary(call.scope, "Mul", x, b.scalar(f"{call.scope}/inverse_alpha", 1.0 / alpha))
    negative = b.binary(f"{call.scope}/alpha", "Mul", b.unary(call.scope, "Expm1", scaled), b.scalar(call.scope, alpha))
    return [b.binary(call.scope, "AddV2", b.binary(call.scope, "Maximum", x, zero),
                     b.binary(call.scope, "Minimum", negative, zero))]


@op("Glu")
def glu(call: LayerCall) -> list[Tensor]:
    """``a * sigmoid(b)`` of the two halves of the last axis."""
    b = call.builder
    x = _float_input(call)
    call.require(call.config.get("axis", -1) in (-1, x.rank - 1), "glu over another axis than the last")
    half = known(x.shape[-1], "the last axis") // 2
    call.require(x.shape[-1] == 2 * half, "glu of an odd last axis")
    first = b.slice(f"{call.scope}/a", x, [0] * x.rank, [-1] * (x.rank - 1) + [half])
    second = b.slice(f"{call.scope}/b", x, [0] * (x.rank - 1) + [half], [-1] * (x.rank - 1) + [half])
    return [b.binary(call.scope, "Mul", first, b.unary(call.scope, "Sigmoid", second))]


@op("SoftShrink", "HardShrink", "Threshold")
def shrink(call: LayerCall) -> list[Tensor]:
    """``soft_shrink`` / ``hard_shrink`` (by ``threshold``) and ``threshold(x, threshold, default_value)``."""
    b = call.builder
    x = _float_input(call)
    limit = float(call.config.get("threshold", 0.5))
    bound = b.scalar(f"{call.scope}/threshold", limit)
    if call.class_name == "Threshold":
        above = _compare(call, "Greater", x, bound)
        value = b.scalar(f"{call.scope}/value", float(call.config.get("default_value", 0.0)))
        default = b.op(f"{call.scope}/default", "Fill", [b.shape_of(call.scope, x), value], x.shape,
                       attr={"index_type": attr_type("DT_INT32")})
        return [b.op(f"{call.scope}/SelectV2", "SelectV2", [above, x, default], x.shape)]
    zeros = b.op(f"{call.scope}/ZerosLike", "ZerosLike", [x], x.shape)
    outside = _compare(call, "Greater", b.unary(call.scope, "Abs", x), bound)
    shrunk = b.binary(call.scope, "Mul", b.unary(call.scope, "Sign", x), bound)
    kept = x if call.class_name == "HardShrink" else b.binary(call.scope, "Sub", x, shrunk)
    return [b.op(f"{call.scope}/SelectV2", "SelectV2", [outside, kept, zeros], x.shape)]


def _compare(call: LayerCall, name: str, a: Tensor, b: Tensor) -> Tensor:
    return call.builder.op(f"{call.scope}/{name}", name, [a, b], broadcast_shape(a.shape, b.shape), dtype="DT_BOOL",
                           attr={"T": attr_type(a.dtype)}, typed=False)


@op("Tril", "Triu")
def triangle(call: LayerCall) -> list[Tensor]:
    """``tril`` / ``triu`` of the last two axes (known lengths), as a select against a constant mask."""
    b = call.builder
    x = call.single_input()
    call.require(x.rank >= 3, "tril / triu of a tensor without two axes besides the batch")
    rows, cols = known(x.shape[-2], "the rows"), known(x.shape[-1], "the columns")
    k = int(call.config.get("k", 0))
    ones = np.ones((rows, cols), bool)
    mask = np.tril(ones, k) if call.class_name == "Tril" else np.triu(ones, k)
    keep = b.const(f"{call.scope}/mask", mask.astype(np.int32), "DT_INT32")
    keep = b.op(f"{call.scope}/Cast", "Cast", [keep], keep.shape, dtype="DT_BOOL", typed=False,
                attr={"SrcT": attr_type("DT_INT32"), "DstT": attr_type("DT_BOOL"), "Truncate": attr_bool(False)})
    zeros = b.op(f"{call.scope}/ZerosLike", "ZerosLike", [x], x.shape, dtype=x.dtype)
    return [b.op(f"{call.scope}/SelectV2", "SelectV2", [keep, x, zeros], x.shape, dtype=x.dtype)]
