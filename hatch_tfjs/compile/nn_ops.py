"""``keras.ops.nn`` / ``math`` / ``core`` / ``linalg`` calls recorded in a functional model, as graph ops.

Each computes what Keras's TensorFlow backend computes for the call (``normalize`` as ``x * min(rsqrt(sum(x**2)),
1/epsilon)``, ``moments`` as ``tf.nn.moments``, ``sparsemax`` from a descending sort, ...), with ops every TF.js 4.22
backend has; an argument that would need more (another data format, a dtype TF.js has not) is reported uncovered.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hatch_tfjs.compile.builder import (
    Tensor,
    attr_bool,
    attr_int,
    attr_ints,
    attr_str,
    attr_type,
    broadcast_shape,
    known,
)
from hatch_tfjs.compile.conv import Window, conv2d_op, pair, pooling
from hatch_tfjs.compile.keras_ops import _axes, _cast, _compare, _float_input
from hatch_tfjs.compile.registry import LayerCall, op

EPSILON = 1e-7  # keras.config.epsilon()'s default, which normalize uses when its epsilon is None


def _select(call: LayerCall, name: str, condition: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return call.builder.op(f"{call.scope}/{name}", "SelectV2", [condition, a, b], a.shape, dtype=a.dtype)


def _zeros(call: LayerCall, x: Tensor) -> Tensor:
    return call.builder.op(f"{call.scope}/ZerosLike", "ZerosLike", [x], x.shape, dtype=x.dtype)


def _ones(call: LayerCall, x: Tensor) -> Tensor:
    return call.builder.op(f"{call.scope}/OnesLike", "OnesLike", [x], x.shape, dtype=x.dtype)


def _bool_to(call: LayerCall, x: Tensor, dtype: str) -> Tensor:
    attr = {"SrcT": attr_type("DT_BOOL"), "DstT": attr_type(dtype), "Truncate": attr_bool(False)}
    return call.builder.op(f"{call.scope}/Cast", "Cast", [x], x.shape, dtype=dtype, typed=False, attr=attr)


# --- activations ---------------------------------------------------------------------------------------------------


@op("SparsePlus")
def sparse_plus(call: LayerCall) -> list[Tensor]:
    """``where(x <= -1, 0, where(x < 1, (x + 1)**2 / 4, x))``."""
    b = call.builder
    x = _float_input(call)
    shifted = b.binary(call.scope, "AddV2", x, b.scalar(f"{call.scope}/one", 1.0))
    quadratic = b.binary(call.scope, "Mul", b.unary(call.scope, "Square", shifted), b.scalar(call.scope, 0.25))
    inner = _select(call, "inner", _compare(call, "Less", x, b.scalar(f"{call.scope}/one", 1.0)), quadratic, x)
    low = _compare(call, "LessEqual", x, b.scalar(f"{call.scope}/minus_one", -1.0))
    return [_select(call, "outer", low, _zeros(call, x), inner)]


@op("SparseSigmoid")
def sparse_sigmoid(call: LayerCall) -> list[Tensor]:
    """``where(x <= -1, 0, where(x >= 1, 1, (x + 1) / 2))``."""
    b = call.builder
    x = _float_input(call)
    linear = b.binary(call.scope, "Mul", b.binary(call.scope, "AddV2", x, b.scalar(f"{call.scope}/one", 1.0)),
                      b.scalar(call.scope, 0.5))
    high = _compare(call, "GreaterEqual", x, b.scalar(f"{call.scope}/one", 1.0))
    inner = _select(call, "inner", high, _ones(call, x), linear)
    low = _compare(call, "LessEqual", x, b.scalar(f"{call.scope}/minus_one", -1.0))
    return [_select(call, "outer", low, _zeros(call, x), inner)]


@op("Sparsemax")
def sparsemax(call: LayerCall) -> list[Tensor]:
    """Sparsemax over the last axis (of known length), as Keras's TensorFlow backend: the values sorted in
    descending order (``TopKV2`` with k the whole axis), the support ``sorted - (cumsum - 1) / r > 0``, the threshold
    ``tau`` from it, then ``max(x - tau, 0)``."""
    b = call.builder
    x = _float_input(call)
    axis = call.config.get("axis", -1)
    call.require(isinstance(axis, int) and axis % x.rank == x.rank - 1, "sparsemax over another axis than the last")
    length = known(x.shape[-1], "the length of the last axis")
    scope = call.scope
    k = b.const(f"{scope}/k", length, "DT_INT32")
    node = b.node(f"{scope}/TopKV2", "TopKV2", [x, k], {"T": attr_type(x.dtype), "sorted": attr_bool(True)})
    ordered = Tensor(node, x.shape, x.dtype)
    last = b.const(f"{scope}/axis", x.rank - 1, "DT_INT32")
    cumsum_attr = {"Tidx": attr_type("DT_INT32"), "exclusive": attr_bool(False), "reverse": attr_bool(False)}
    cumsum = b.op(f"{scope}/Cumsum", "Cumsum", [ordered, last], x.shape, attr=cumsum_attr)
    ranks = b.const(f"{scope}/r", np.arange(1, length + 1, dtype=np.float32))
    bound = b.binary(f"{scope}/bound", "RealDiv", b.binary(scope, "Sub", cumsum, b.scalar(f"{scope}/one", 1.0)), ranks)
    support = _compare(call, "Greater", b.binary(f"{scope}/gap", "Sub", ordered, bound), b.scalar(f"{scope}/zero", 0.0))
    kept = _select(call, "cumsum_safe", support, cumsum, _zeros(call, cumsum))
    count = b.reduce(f"{scope}/k", "Sum", _bool_to(call, support, "DT_FLOAT"), [-1], True)
    total = b.binary(f"{scope}/total", "Sub", b.reduce(scope, "Sum", kept, [-1], True), b.scalar(f"{scope}/one", 1.0))
    tau = b.binary(f"{scope}/tau", "RealDiv", total, count)
    return [b.binary(scope, "Maximum", b.binary(f"{scope}/shifted", "Sub", x, tau), b.scalar(f"{scope}/zero", 0.0))]


# --- statistics and normalization -----------------------------------------------------------------------------------


@op("Normalize")
def normalize(call: LayerCall) -> list[Tensor]:
    """``normalize(x, axis, order, epsilon)``: order 2 as ``x * min(rsqrt(sum(x**2)), 1 / epsilon)``; other orders
    as ``x / max(norm(x, order), epsilon)``, as Keras computes them."""
    b = call.builder
    x = _float_input(call)
    axis = call.config.get("axis", -1)
    order = call.config.get("order", 2)
    call.require(isinstance(axis, int) and not isinstance(axis, bool), "normalize over several axes")
    call.require(isinstance(order, int) and not isinstance(order, bool) and order >= 1, "an order that is not an int")
    epsilon = call.config.get("epsilon")
    epsilon = EPSILON if epsilon is None else float(epsilon)
    if order == 2:
        summed = b.reduce(call.scope, "Sum", b.unary(call.scope, "Square", x), [axis], True)
        inverse = b.unary(call.scope, "Rsqrt", summed)
        inverse = b.binary(call.scope, "Minimum", inverse, b.scalar(f"{call.scope}/inverse_epsilon", 1.0 / epsilon))
        return [b.binary(call.scope, "Mul", x, inverse)]
    norm = _vector_norm(call, x, float(order), [axis], keepdims=True)
    denominator = b.binary(call.scope, "Maximum", norm, b.scalar(f"{call.scope}/epsilon", epsilon))
    return [b.binary(call.scope, "RealDiv", x, denominator)]


@op("Moments")
def moments(call: LayerCall) -> list[Tensor]:
    """``moments(x, axes)``: mean and variance as ``tf.nn.moments`` (the mean of squared differences from the mean)."""
    b = call.builder
    x = _float_input(call)
    given = call.config.get("axes")
    call.require(isinstance(given, (int, list)), "moments without constant axes")
    axes = [int(a) for a in given] if isinstance(given, list) else [int(given or 0)]
    keepdims = bool(call.config.get("keepdims", False))
    mean = b.reduce(f"{call.scope}/mean", "Mean", x, axes, True)
    variance = b.reduce(f"{call.scope}/variance", "Mean", b.binary(call.scope, "SquaredDifference", x, mean), axes,
                        True)
    if keepdims:
        return [mean, variance]
    kept = [i for i in range(x.rank) if i not in {a % x.rank for a in axes}]
    shape = tuple(x.shape[i] for i in kept)
    dims = {"squeeze_dims": attr_ints(sorted(a % x.rank for a in axes))}
    return [b.op(f"{call.scope}/{name}/Squeeze", "Squeeze", [t], shape, attr=dims)
            for name, t in (("mean", mean), ("variance", variance))]


# --- one_hot variants, pooling, depth <-> space ---------------------------------------------------------------------


@op("MultiHot")
def multi_hot(call: LayerCall) -> list[Tensor]:
    """``multi_hot(ids, num_classes)``: the one-hot rows of each sample's ids, reduced by max (any for bool)."""
    b = call.builder
    x = call.single_input()
    call.require(x.dtype == "DT_INT32", "multi_hot of non-integer ids is not translated yet")
    call.require(x.rank == 2, "multi_hot of other than one sequence of ids per sample is not translated yet")
    call.require(call.config.get("axis", -1) in (-1, x.rank), "multi_hot on another axis than the last")
    call.require(not call.config.get("sparse"), "sparse multi_hot is not translated")
    dtype = {"float32": "DT_FLOAT", "int32": "DT_INT32", "bool": "DT_BOOL", None: "DT_FLOAT"}.get(
        call.config.get("dtype"), "")
    call.require(bool(dtype), f"multi_hot of dtype {call.config.get('dtype')} is not translated yet")
    depth = int(call.config.get("num_classes") or 0)
    call.require(depth > 0, "num_classes is not a positive integer")
    classes = b.const(f"{call.scope}/classes", np.arange(depth, dtype=np.int32), "DT_INT32")
    shape = (*x.shape, depth)
    hot = b.op(f"{call.scope}/Equal", "Equal", [b.expand_dims(call.scope, x, -1), classes], shape,
               dtype="DT_BOOL", attr={"T": attr_type("DT_INT32")}, typed=False)
    if dtype == "DT_BOOL":
        return [b.reduce(call.scope, "Any", hot, [1], False)]
    return [b.reduce(call.scope, "Max", _bool_to(call, hot, dtype), [1], False)]


@op("MaxPool", "AveragePool")
def pool(call: LayerCall) -> list[Tensor]:
    """``max_pool`` / ``average_pool``: the pooling layer's translation with the op's arguments."""
    x = call.single_input()
    call.require(3 <= x.rank <= 5, "pooling of a tensor without 1 to 3 spatial axes")
    kind = "MaxPooling" if call.class_name == "MaxPool" else "AveragePooling"
    config = dict(call.config)
    if config.get("strides") is None:
        config["strides"] = config.get("pool_size")
    return pooling(LayerCall(call.builder, call.name, f"{kind}{x.rank - 2}D", config, call.inputs, call.weights))


def _channels_last(call: LayerCall) -> None:
    call.require(call.config.get("data_format") in (None, "channels_last"), "channels_first is not translated yet")


@op("DepthToSpace")
def depth_to_space(call: LayerCall) -> list[Tensor]:
    """``depth_to_space(x, block_size)`` (channels last): TF.js's ``DepthToSpace``, the kernel TensorFlow's is."""
    _channels_last(call)
    x = call.single_input()
    call.require(x.rank == 4, "depth_to_space of other than a batch of images")
    block = int(call.config.get("block_size") or 0)
    channels = known(x.shape[3], "the channels")
    call.require(block >= 2 and channels % (block * block) == 0, "channels not divisible by block_size ** 2")
    shape = (x.shape[0], *(None if d is None else d * block for d in x.shape[1:3]), channels // (block * block))
    attr = {"block_size": attr_int(block), "data_format": attr_str("NHWC")}
    return [call.builder.op(f"{call.scope}/DepthToSpace", "DepthToSpace", [x], shape, dtype=x.dtype, attr=attr)]


@op("SpaceToDepth")
def space_to_depth(call: LayerCall) -> list[Tensor]:
    """``space_to_depth(x, block_size)`` (channels last) as reshape / transpose / reshape (TF.js 4.22 has no
    SpaceToDepth): ``[n, h/b, b, w/b, b, c]`` with the first two axes merged, the block axes moved together."""
    _channels_last(call)
    b = call.builder
    x = call.single_input()
    call.require(x.rank == 4, "space_to_depth of other than a batch of images")
    block = int(call.config.get("block_size") or 0)
    height, width = known(x.shape[1], "the height"), known(x.shape[2], "the width")
    channels = known(x.shape[3], "the channels")
    call.require(block >= 2 and height % block == 0 and width % block == 0, "a size not divisible by block_size")
    rows = b.reshape(f"{call.scope}/rows", x, (None, block, width // block, block, channels))
    moved = b.transpose(call.scope, rows, [0, 2, 1, 3, 4])
    return [b.reshape(f"{call.scope}/out", moved, (None, height // block, width // block, block * block * channels))]


# --- math, core, linalg ---------------------------------------------------------------------------------------------


@op("Erfc")
def erfc(call: LayerCall) -> list[Tensor]:
    """``erfc(x) = 1 - erf(x)`` (TF.js has no Erfc op; the difference to TensorFlow's is below float32's step at 1)."""
    b = call.builder
    x = _float_input(call)
    return [b.binary(call.scope, "Sub", b.scalar(f"{call.scope}/one", 1.0), b.unary(call.scope, "Erf", x))]


@op("Slice")
def slice_op(call: LayerCall) -> list[Tensor]:
    """``slice(x, start_indices, shape)`` with constant starts and sizes (``Slice``)."""
    x = call.single_input()
    starts = call.args[1] if len(call.args) == 2 else call.config.get("start_indices")
    sizes = call.config.get("shape")
    valid = [isinstance(v, list) and len(v) == x.rank and all(isinstance(i, int) and not isinstance(i, bool) for i in v)
             for v in (starts, sizes)]
    call.require(all(valid), "slice with starts or sizes that are not constant integers, one per axis")
    assert isinstance(starts, list) and isinstance(sizes, list)  # noqa: S101 - checked above
    call.require(all(s >= 0 for s in starts) and all(s >= -1 for s in sizes), "a negative start or size")
    return [call.builder.slice(call.scope, x, starts, sizes)]


_INT32 = (-(2**31), float(np.nextafter(np.float32(2**31), np.float32(0))))


@op("SaturateCast")
def saturate_cast(call: LayerCall) -> list[Tensor]:
    """``saturate_cast(x, dtype)`` of a float tensor to int32 or float32: clipped to the range Keras computes for
    the two dtypes (the int32 maximum nudged to the largest float32 below 2**31), then cast."""
    b = call.builder
    x = _float_input(call)
    target = str(call.config.get("dtype"))
    call.require(target in ("int32", "float32"), f"a saturating cast to {target} is not translated yet")
    if target == "float32":
        return [b.op(f"{call.scope}/Identity", "Identity", [x], x.shape)]
    low, high = (b.const(f"{call.scope}/clip_{n}", np.float32(v)) for n, v in zip(("min", "max"), _INT32, strict=True))
    clipped = b.op(f"{call.scope}/ClipByValue", "ClipByValue", [x, low, high], x.shape)
    return [_cast(call, clipped, "int32")]


def _vector_norm(call: LayerCall, x: Tensor, order: float, axes: list[int], *, keepdims: bool) -> Tensor:
    """``norm(x, ord=order, axis)`` of vectors, as Keras's TensorFlow backend computes each order."""
    b = call.builder
    scope = f"{call.scope}/norm"
    if order == 2:
        return b.unary(scope, "Sqrt", b.reduce(scope, "Sum", b.binary(scope, "Mul", x, x), axes, keepdims))
    if order in (np.inf, -np.inf):
        return b.reduce(scope, "Max" if order > 0 else "Min", b.unary(scope, "Abs", x), axes, keepdims)
    if order == 0:
        nonzero = _compare(call, "NotEqual", x, b.scalar(f"{scope}/zero", 0.0))
        return b.reduce(scope, "Sum", _bool_to(call, nonzero, "DT_FLOAT"), axes, keepdims)
    powered = b.binary(scope, "Pow", b.unary(scope, "Abs", x), b.scalar(f"{scope}/ord", order))
    return b.binary(f"{scope}/root", "Pow", b.reduce(scope, "Sum", powered, axes, keepdims),
                    b.scalar(f"{scope}/inverse_ord", 1.0 / order))


@op("Norm")
def norm(call: LayerCall) -> list[Tensor]:
    """``linalg.norm(x, ord, axis)``: vector norms of every order over one axis, and the Frobenius norm (``ord``
    None or "fro") or the 1 / inf norms of matrices over two; the 2-norm and nuclear norm of matrices need an SVD."""
    b = call.builder
    x = _float_input(call)
    axes = _axes(call, x)
    order = call.config.get("ord")
    keepdims = bool(call.config.get("keepdims", False))
    if len(axes) == 1:
        call.require(order is None or (isinstance(order, (int, float)) and not isinstance(order, bool)),
                     f"a vector norm of order {order!r}")
        return [_vector_norm(call, x, 2.0 if order is None else float(order), axes, keepdims=keepdims)]
    call.require(len(axes) == 2, "a norm over more than two axes")
    if order in (None, "fro"):
        return [_vector_norm(call, x, 2.0, axes, keepdims=keepdims)]
    call.require(order in (1, -1, np.inf, -np.inf), f"a matrix norm of order {order!r} (it needs an SVD)")
    rows, cols = (a % x.rank for a in axes)
    summed_axis, extreme_axis = (rows, cols) if order in (1, -1) else (cols, rows)
    sums = b.reduce(f"{call.scope}/sums", "Sum", b.unary(call.scope, "Abs", x), [summed_axis], True)
    extreme = b.reduce(call.scope, "Max" if order in (1, np.inf) else "Min", sums, [extreme_axis], True)
    if keepdims:
        return [extreme]
    shape = tuple(d for i, d in enumerate(x.shape) if i not in (rows, cols))
    squeeze = {"squeeze_dims": attr_ints(sorted((rows, cols)))}
    return [b.op(f"{call.scope}/Squeeze", "Squeeze", [extreme], shape, attr=squeeze)]


# --- normalizations with their statistics and weights passed as arguments ------------------------------------------


def _argument(call: LayerCall, position: int, name: str) -> Any:
    """A call argument by keyword or by position (``position`` counts the input ``x`` as 0)."""
    if name in call.kwargs:
        return call.kwargs[name]
    return call.args[position] if len(call.args) > position else None


def _operand(call: LayerCall, value: Any, name: str, x: Tensor, shape: list[int] | None) -> Tensor | None:
    """A float operand (a graph tensor or a constant) reshaped to ``shape`` when given (to broadcast against
    ``x`` along a normalized axis that is not the last); None stays None."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        call.require(value.dtype == "DT_FLOAT", f"a non-float {name}")
        if shape is None or value.rank == x.rank:
            return value
        return call.builder.reshape(f"{call.scope}/{name}", value, tuple(shape))
    array = np.asarray(value, dtype=np.float32)
    if shape is not None and array.ndim != x.rank:
        array = array.reshape(shape)
    return call.builder.const(f"{call.scope}/{name}", array)


@op("BatchNorm")
def batch_norm(call: LayerCall) -> list[Tensor]:
    """``batch_normalization(x, mean, variance, axis, offset, scale, epsilon)`` as ``tf.nn.batch_normalization``:
    ``inv = rsqrt(variance + epsilon) * scale``, then ``x * inv + (offset - mean * inv)``."""
    b = call.builder
    x = call.args[0] if call.args and isinstance(call.args[0], Tensor) else None
    call.require(x is not None and x.dtype == "DT_FLOAT", "batch_normalization of a non-float tensor")
    assert x is not None  # noqa: S101 - checked above
    axis = int(call.config.get("axis", -1)) % x.rank
    length = known(x.shape[axis], "the normalized axis")
    shape = None if axis == x.rank - 1 else [length if i == axis else 1 for i in range(x.rank)]
    mean, variance, offset, scale = (
        _operand(call, _argument(call, i, n), n, x, shape)
        for i, n in ((1, "mean"), (2, "variance"), (3, "offset"), (4, "scale"))
    )
    call.require(mean is not None and variance is not None, "batch_normalization without mean and variance")
    assert mean is not None and variance is not None  # noqa: S101 - checked above
    epsilon = b.scalar(f"{call.scope}/epsilon", float(call.config.get("epsilon", 1e-3)))
    inverse = b.unary(call.scope, "Rsqrt", b.binary(call.scope, "AddV2", variance, epsilon))
    if scale is not None:
        inverse = b.binary(f"{call.scope}/scale", "Mul", inverse, scale)
    shift = b.binary(f"{call.scope}/mean", "Mul", mean, inverse)
    shift = b.unary(call.scope, "Neg", shift) if offset is None else b.binary(call.scope, "Sub", offset, shift)
    return [b.binary(call.scope, "AddV2", b.binary(call.scope, "Mul", x, inverse), shift)]


def _norm_axes(call: LayerCall, x: Tensor) -> tuple[list[int], list[int] | None]:
    """The normalized axes, and the shape a weight of another rank is reshaped to (None: on the last axis)."""
    axis = call.config.get("axis", -1)
    axes = sorted(int(a) % x.rank for a in (axis if isinstance(axis, list) else [axis]))
    if axes == [x.rank - 1]:
        return axes, None
    return axes, [known(x.shape[i], "a normalized axis") if i in axes else 1 for i in range(x.rank)]


def _epsilon(call: LayerCall) -> float:
    value = call.config.get("epsilon")
    return EPSILON if value is None else float(value)


@op("LayerNorm")
def layer_norm(call: LayerCall) -> list[Tensor]:
    """``layer_normalization(x, gamma, beta, axis, epsilon)``: ``x * inv + (beta - mean * inv)`` with ``inv =
    rsqrt(variance + epsilon) * gamma`` (the deprecated ``rms_scaling``: ``x * rsqrt(variance + epsilon) * gamma``)."""
    b = call.builder
    x = call.args[0] if call.args and isinstance(call.args[0], Tensor) else None
    call.require(x is not None and x.dtype == "DT_FLOAT", "layer_normalization of a non-float tensor")
    assert x is not None  # noqa: S101 - checked above
    axes, shape = _norm_axes(call, x)
    gamma, beta = (_operand(call, _argument(call, i, n), n, x, shape) for i, n in ((1, "gamma"), (2, "beta")))
    mean = b.reduce(f"{call.scope}/mean", "Mean", x, axes, True)
    variance = b.reduce(f"{call.scope}/variance", "Mean", b.binary(call.scope, "SquaredDifference", x, mean), axes,
                        True)
    epsilon = b.scalar(f"{call.scope}/epsilon", _epsilon(call))
    inverse = b.unary(call.scope, "Rsqrt", b.binary(call.scope, "AddV2", variance, epsilon))
    if call.config.get("rms_scaling"):
        outputs = b.binary(call.scope, "Mul", x, inverse)
        return [outputs if gamma is None else b.binary(f"{call.scope}/gamma", "Mul", outputs, gamma)]
    if gamma is not None:
        inverse = b.binary(f"{call.scope}/gamma", "Mul", inverse, gamma)
    shift = b.unary(call.scope, "Neg", b.binary(f"{call.scope}/mean", "Mul", mean, inverse))
    if beta is not None:
        shift = b.binary(f"{call.scope}/beta", "AddV2", shift, beta)
    return [b.binary(call.scope, "AddV2", b.binary(call.scope, "Mul", x, inverse), shift)]


@op("RMSNorm")
def rms_norm(call: LayerCall) -> list[Tensor]:
    """``rms_normalization(x, scale, axis, epsilon)``: ``x * rsqrt(mean(x ** 2) + epsilon) * scale``."""
    b = call.builder
    x = call.args[0] if call.args and isinstance(call.args[0], Tensor) else None
    call.require(x is not None and x.dtype == "DT_FLOAT", "rms_normalization of a non-float tensor")
    assert x is not None  # noqa: S101 - checked above
    axes, shape = _norm_axes(call, x)
    scale = _operand(call, _argument(call, 1, "scale"), "scale", x, shape)
    mean_square = b.reduce(call.scope, "Mean", b.unary(call.scope, "Square", x), axes, True)
    epsilon = b.scalar(f"{call.scope}/epsilon", _epsilon(call))
    outputs = b.binary(call.scope, "Mul", x, b.unary(call.scope, "Rsqrt", b.binary(call.scope, "AddV2", mean_square,
                                                                                      epsilon)))
    return [outputs if scale is None else b.binary(f"{call.scope}/scale", "Mul", outputs, scale)]


@op("ExtractSequences")
def extract_sequences(call: LayerCall) -> list[Tensor]:
    """``extract_sequences(x, length, stride)`` (``tf.signal.frame`` without padding): the frames of the last axis
    gathered with constant indices."""
    x = call.single_input()
    total = known(x.shape[-1], "the length of the last axis")
    length, stride = (int(call.config.get(k) or 0) for k in ("sequence_length", "sequence_stride"))
    call.require(x.rank >= 2 and 0 < length <= total and stride > 0, "a frame longer than the axis, or no stride")
    count = 1 + (total - length) // stride
    indices = np.arange(count)[:, None] * stride + np.arange(length)[None, :]
    index = call.builder.const(f"{call.scope}/frames", indices.astype(np.int32), "DT_INT32")
    return [call.builder.gather(call.scope, x, index, x.rank - 1)]


# --- attention and convolutions with their weights passed as arguments ----------------------------------------------

LARGE_NEGATIVE = float(np.float32(3.38953e38 * -0.7))  # Keras's masked logit for float32 (_get_large_negative)


def _matmul(call: LayerCall, name: str, a: Tensor, c: Tensor, *, adj_y: bool) -> Tensor:
    shape = (*a.shape[:-1], c.shape[-2] if adj_y else c.shape[-1])
    attr = {"adj_x": attr_bool(False), "adj_y": attr_bool(adj_y)}
    return call.builder.op(f"{call.scope}/{name}", "BatchMatMulV2", [a, c], shape, attr=attr)


@op("DotProductAttention")
def dot_product_attention(call: LayerCall) -> list[Tensor]:
    """``dot_product_attention(query, key, value, bias, mask, scale, is_causal)`` as Keras's TensorFlow backend:
    ``softmax(where(mask, q.k * scale + bias, large negative)) . v`` per head, on ``[batch, steps, heads, dim]``; key
    and value heads repeated for grouped queries."""
    b = call.builder
    query, key, value = (_argument(call, i, n) for i, n in ((0, "query"), (1, "key"), (2, "value")))
    tensors = (query, key, value)
    call.require(all(isinstance(t, Tensor) and t.dtype == "DT_FLOAT" and t.rank == 4 for t in tensors),
                 "query, key and value that are not 4-D float tensors")
    assert isinstance(query, Tensor) and isinstance(key, Tensor) and isinstance(value, Tensor)  # noqa: S101
    call.require(not call.config.get("flash_attention") and call.config.get("attn_logits_soft_cap") is None,
                 "flash attention or a logits soft cap")
    heads, kv_heads = known(query.shape[2], "the query heads"), known(key.shape[2], "the key heads")
    if heads != kv_heads:
        call.require(kv_heads > 1 and heads % kv_heads == 0, "key heads that do not divide the query heads")
        repeat = b.const(f"{call.scope}/repeat", np.repeat(np.arange(kv_heads), heads // kv_heads), "DT_INT32")
        key, value = (b.gather(f"{call.scope}/{n}_heads", t, repeat, 2) for n, t in (("key", key), ("value", value)))
    scale = _argument(call, 5, "scale")
    if scale is None:
        scale = np.float32(1.0) / np.sqrt(np.float32(known(key.shape[3], "the key dimension")))
    call.require(isinstance(scale, (int, float, np.floating)), "a scale that is not a number")
    q, k, v = (b.transpose(f"{call.scope}/{n}", t, [0, 2, 1, 3])
               for n, t in (("query", query), ("key", key), ("value", value)))
    logits = b.binary(call.scope, "Mul", _matmul(call, "logits", q, k, adj_y=True), b.scalar(call.scope, float(scale)))
    bias = _operand(call, _argument(call, 3, "bias"), "bias", logits, None)
    if bias is not None:
        logits = b.binary(f"{call.scope}/bias", "AddV2", logits, bias)
    mask = _argument(call, 4, "mask")
    call.require(mask is None or (isinstance(mask, Tensor) and mask.dtype == "DT_BOOL"), "a mask that is not bool")
    if call.config.get("is_causal"):
        steps = (known(logits.shape[2], "the query length"), known(logits.shape[3], "the key length"))
        causal = b.const(f"{call.scope}/causal", np.tril(np.ones(steps, np.int32))[None, None], "DT_INT32")
        causal = b.op(f"{call.scope}/causal/Cast", "Cast", [causal], causal.shape, dtype="DT_BOOL", typed=False,
                      attr={"SrcT": attr_type("DT_INT32"), "DstT": attr_type("DT_BOOL"), "Truncate": attr_bool(False)})
        mask = causal if mask is None else b.op(f"{call.scope}/LogicalAnd", "LogicalAnd", [mask, causal],
                                                broadcast_shape(mask.shape, causal.shape), dtype="DT_BOOL",
                                                typed=False)
    if mask is not None:
        negative = b.scalar(f"{call.scope}/large_negative", LARGE_NEGATIVE)
        logits = b.op(f"{call.scope}/SelectV2", "SelectV2", [mask, logits, negative], logits.shape)
    probabilities = b.op(f"{call.scope}/Softmax", "Softmax", [logits], logits.shape)
    return [b.transpose(f"{call.scope}/out", _matmul(call, "attend", probabilities, v, adj_y=False), [0, 2, 1, 3])]


@op("Conv", "DepthwiseConv", "SeparableConv")
def conv_op(call: LayerCall) -> list[Tensor]:
    """``conv`` / ``depthwise_conv`` / ``separable_conv`` of 1-D or 2-D channels-last inputs with constant kernels:
    the ``Conv2D`` / ``DepthwiseConv2dNative`` (then a 1x1 ``Conv2D``) the layers compile to (1-D on a height of 1)."""
    separable = call.class_name == "SeparableConv"
    x = call.args[0] if call.args else None
    kernel = _argument(call, 1, "depthwise_kernel" if separable else "kernel")
    pointwise = _argument(call, 2, "pointwise_kernel") if separable else None
    call.require(not separable or (pointwise is not None and not isinstance(pointwise, Tensor)),
                 "a pointwise kernel that is a tensor")
    call.require(isinstance(x, Tensor) and x.dtype == "DT_FLOAT" and x.rank in (3, 4), "a 1-D or 2-D float input")
    assert isinstance(x, Tensor)  # noqa: S101 - checked above
    call.require(kernel is not None and not isinstance(kernel, Tensor), "a kernel that is a tensor")
    call.require(call.config.get("data_format") in (None, "channels_last"), "channels_first is not translated yet")
    filt = np.asarray(kernel, dtype=np.float32)
    rank = x.rank - 2
    call.require(filt.ndim == rank + 2, "a kernel whose rank does not match the input")
    strides, dilation = pair(call.config.get("strides", 1), rank), pair(call.config.get("dilation_rate", 1), rank)
    padding = str(call.config.get("padding", "valid")).upper()
    call.require(padding in ("SAME", "VALID"), f"padding {padding.lower()!r}")
    if rank == 1:
        x = call.builder.expand_dims(f"{call.scope}/to_2d", x, 1)
        filt, strides, dilation = filt[None], (1, *strides), (1, *dilation)
    name = "Conv2D" if call.class_name == "Conv" else "DepthwiseConv2dNative"
    y = conv2d_op(call.builder, call.scope, name, x, filt, Window(tuple(filt.shape[:2]), strides, dilation, padding))
    if pointwise is not None:
        points = np.asarray(pointwise, dtype=np.float32)
        points = points[None] if rank == 1 else points
        call.require(points.shape[:2] == (1, 1), "a pointwise kernel that is not 1x1")
        y = conv2d_op(call.builder, f"{call.scope}/pointwise", "Conv2D", y, points, Window((1, 1), (1, 1), (1, 1),
                                                                                            "VALID"))
    return [call.builder.squeeze(f"{call.scope}/to_1d", y, 1) if rank == 1 else y]


# --- adaptive pooling -----------------------------------------------------------------------------------------------


def _adaptive_indices(size: int, out: int) -> tuple[int, int, list[int]]:
    """Keras's two-pool gather for one axis: the small and big window lengths, and for each output position the
    index into ``concat(small windows, big windows)`` (window bounds in float32, as Keras computes them)."""
    small = -(-size // out)
    big = small + 1
    positions = np.arange(out, dtype=np.float32)
    starts = np.floor(positions * np.float32(size) / np.float32(out)).astype(np.int64)
    ends = np.ceil((positions + 1) * np.float32(size) / np.float32(out)).astype(np.int64)
    ends, starts = np.minimum(ends, size), np.minimum(starts, size - 1)
    small_count = max(1, size - small + 1)
    return small, big, [int(s + small_count if e - s == big else s) for s, e in zip(starts, ends, strict=True)]


@op("AdaptiveAveragePool", "AdaptiveMaxPool")
def adaptive_pool(call: LayerCall) -> list[Tensor]:
    """``adaptive_average_pool`` / ``adaptive_max_pool`` of 1-D or 2-D channels-last inputs, as Keras's TensorFlow
    backend computes them axis by axis: a stride-1 pool with the small window and one with the big window,
    concatenated, then the window of each output position gathered."""
    b = call.builder
    _channels_last(call)
    x = call.single_input()
    call.require(x.dtype == "DT_FLOAT" and x.rank in (3, 4), "adaptive pooling of other than 1-D or 2-D float inputs")
    output = call.config.get("output_size")
    sizes = pair(output, x.rank - 2)
    one_d = x.rank == 3
    if one_d:
        x = b.expand_dims(f"{call.scope}/to_2d", x, 1)
        sizes = (1, *sizes)
    kind = "MaxPool" if call.class_name == "AdaptiveMaxPool" else "AvgPool"
    for axis, out in ((1, sizes[0]), (2, sizes[1])):
        length = known(x.shape[axis], "a spatial length")
        if one_d and axis == 1:
            continue
        small, big, indices = _adaptive_indices(length, out)
        pools = []
        for name, window in (("small", small), ("big", big)):
            if window > length:
                continue
            kernel = (window, 1) if axis == 1 else (1, window)
            geometry = Window(kernel, (1, 1), (1, 1), "VALID")
            attr = geometry.attrs(pooling=True)
            if kind == "MaxPool":
                attr["explicit_paddings"] = attr_ints([])
            pools.append(b.op(f"{call.scope}/{name}_{axis}/{kind}", kind, [x], geometry.output_shape(x, x.shape[3]),
                              attr=attr))
        combined = pools[0] if len(pools) == 1 else b.concat(f"{call.scope}/windows_{axis}", pools, axis)
        gather = b.const(f"{call.scope}/positions_{axis}", np.array(indices, np.int32), "DT_INT32")
        x = b.gather(f"{call.scope}/axis_{axis}", combined, gather, axis)
    return [b.squeeze(f"{call.scope}/to_1d", x, 1) if one_d else x]


@op("SliceUpdate")
def slice_update(call: LayerCall) -> list[Tensor]:
    """``slice_update(inputs, start_indices, updates)`` with constant starts and an update that spans the batch:
    the update padded to the input's shape, selected where a constant mask marks its box (starts clamped so the
    box fits, as ``dynamic_update_slice`` does)."""
    b = call.builder
    x, starts, updates = (_argument(call, i, n) for i, n in ((0, "inputs"), (1, "start_indices"), (2, "updates")))
    call.require(isinstance(x, Tensor) and isinstance(updates, Tensor), "inputs or updates that are not tensors")
    assert isinstance(x, Tensor) and isinstance(updates, Tensor)  # noqa: S101 - checked above
    call.require(updates.dtype == x.dtype and updates.rank == x.rank, "updates of another dtype or rank")
    call.require(isinstance(starts, list) and len(starts) == x.rank and all(isinstance(s, int) for s in starts),
                 "start indices that are not constant integers, one per axis")
    assert isinstance(starts, list)  # noqa: S101 - checked above
    call.require(starts[0] == 0 and x.shape[0] is None and updates.shape[0] is None, "an update of part of the batch")
    dims = [known(d, "an input axis") for d in x.shape[1:]]
    sizes = [known(d, "an update axis") for d in updates.shape[1:]]
    call.require(all(s <= d for s, d in zip(sizes, dims, strict=True)), "an update larger than the input")
    begins = [min(max(int(s), 0), d - n) for s, d, n in zip(starts[1:], dims, sizes, strict=True)]
    paddings = [(0, 0), *((s, d - s - n) for s, d, n in zip(begins, dims, sizes, strict=True))]
    padded = b.pad(f"{call.scope}/updates", updates, paddings)
    box = np.zeros([1, *dims], np.int32)
    box[(slice(None), *(slice(s, s + n) for s, n in zip(begins, sizes, strict=True)))] = 1
    mask = b.const(f"{call.scope}/box", box, "DT_INT32")
    mask = b.op(f"{call.scope}/box/Cast", "Cast", [mask], mask.shape, dtype="DT_BOOL", typed=False,
                attr={"SrcT": attr_type("DT_INT32"), "DstT": attr_type("DT_BOOL"), "Truncate": attr_bool(False)})
    return [b.op(f"{call.scope}/SelectV2", "SelectV2", [mask, padded, x], x.shape, dtype=x.dtype)]


# --- cross-entropies ------------------------------------------------------------------------------------------------

_PASS_THROUGH = ("Identity", "Transpose", "Reshape", "ExpandDims", "Squeeze")  # ops that may hide an activation


def _logits(call: LayerCall, output: Tensor, activation: str) -> Tensor | None:
    """The logits Keras's TensorFlow backend uses in place of ``output`` when ``output`` comes straight from a
    ``Sigmoid`` / ``Softmax`` (its ``_get_logits``, whatever ``from_logits`` says); None when it does not. An output
    behind an op that could hide one (a softmax over another axis is transposed around) is reported uncovered rather
    than guessed."""
    producer = next((n for n in reversed(call.builder.nodes) if n["name"] == output.ref.split(":")[0]), None)
    if producer is None:
        return None
    call.require(producer["op"] not in _PASS_THROUGH, "an output whose activation Keras may look through")
    if producer["op"] != activation:
        return None
    return Tensor(producer["input"][0], output.shape, output.dtype)


def _target_output(call: LayerCall) -> tuple[Tensor, Tensor]:
    target, output = (_argument(call, i, n) for i, n in ((0, "target"), (1, "output")))
    call.require(isinstance(target, Tensor) and isinstance(output, Tensor), "a target or output that is not a tensor")
    assert isinstance(target, Tensor) and isinstance(output, Tensor)  # noqa: S101 - checked above
    call.require(output.dtype == "DT_FLOAT", "a non-float output")
    return target, output


def _clipped_log(call: LayerCall, name: str, x: Tensor) -> Tensor:
    b = call.builder
    low = b.const(f"{call.scope}/{name}_min", np.float32(EPSILON))
    high = b.const(f"{call.scope}/{name}_max", np.float32(1.0) - np.float32(EPSILON))
    return b.unary(f"{call.scope}/{name}", "Log", b.op(f"{call.scope}/{name}/clip", "ClipByValue", [x, low, high],
                                                        x.shape))


@op("BinaryCrossentropy")
def binary_crossentropy(call: LayerCall) -> list[Tensor]:
    """``binary_crossentropy(target, output, from_logits)``: ``tf.nn.sigmoid_cross_entropy_with_logits``'s
    ``max(x, 0) - x * z + log1p(exp(-|x|))`` from logits (also when ``output`` is a sigmoid's, as Keras looks through
    it), else ``-(t log(clip(o)) + (1 - t) log(1 - clip(o)))``."""
    b = call.builder
    target, output = _target_output(call)
    call.require(target.dtype == "DT_FLOAT", "a non-float target")
    logits = _logits(call, output, "Sigmoid") or (output if call.config.get("from_logits") else None)
    if logits is not None:
        positive = b.binary(f"{call.scope}/relu", "Maximum", logits, b.scalar(f"{call.scope}/zero", 0.0))
        softplus = b.unary(f"{call.scope}/log1p", "Log1p", b.unary(f"{call.scope}/exp", "Exp", b.unary(
            f"{call.scope}/neg", "Neg", b.unary(f"{call.scope}/abs", "Abs", logits))))
        linear = b.binary(f"{call.scope}/xz", "Mul", logits, target)
        return [b.binary(call.scope, "AddV2", b.binary(call.scope, "Sub", positive, linear), softplus)]
    one = b.scalar(f"{call.scope}/one", 1.0)
    low = b.const(f"{call.scope}/clip_min", np.float32(EPSILON))
    high = b.const(f"{call.scope}/clip_max", np.float32(1.0) - np.float32(EPSILON))
    clipped = b.op(f"{call.scope}/clip", "ClipByValue", [output, low, high], output.shape)
    positive = b.binary(f"{call.scope}/positive", "Mul", target, b.unary(f"{call.scope}/log", "Log", clipped))
    complement = b.unary(f"{call.scope}/log_complement", "Log", b.binary(f"{call.scope}/complement", "Sub", one,
                                                                          clipped))
    negative = b.binary(f"{call.scope}/negative", "Mul", b.binary(f"{call.scope}/one_t", "Sub", one, target),
                        complement)
    return [b.unary(call.scope, "Neg", b.binary(call.scope, "AddV2", positive, negative))]


def _softmax_parts(call: LayerCall, logits: Tensor, axis: int) -> tuple[Tensor, Tensor]:
    """``logits - max`` and ``log(sum(exp(logits - max)))`` over ``axis`` (kept), as TensorFlow's kernels."""
    b = call.builder
    shifted = b.binary(f"{call.scope}/shifted", "Sub", logits, b.reduce(f"{call.scope}/max", "Max", logits, [axis],
                                                                         True))
    total = b.reduce(f"{call.scope}/sum_exp", "Sum", b.unary(f"{call.scope}/exp", "Exp", shifted), [axis], True)
    return shifted, b.unary(f"{call.scope}/log_sum_exp", "Log", total)


@op("CategoricalCrossentropy")
def categorical_crossentropy(call: LayerCall) -> list[Tensor]:
    """``categorical_crossentropy``: ``sum(t * (logsumexp - (x - max)))`` from logits (also a softmax's, as Keras
    looks through it), else ``-sum(t * log(clip(o / sum(o))))`` over ``axis``."""
    b = call.builder
    target, output = _target_output(call)
    call.require(target.dtype == "DT_FLOAT" and target.rank == output.rank, "a target not shaped like the output")
    axis = int(call.config.get("axis", -1)) % output.rank
    logits = _logits(call, output, "Softmax") or (output if call.config.get("from_logits") else None)
    if logits is not None:
        shifted, log_sum = _softmax_parts(call, logits, axis)
        terms = b.binary(f"{call.scope}/terms", "Mul", target, b.binary(f"{call.scope}/nll", "Sub", log_sum, shifted))
        return [b.reduce(call.scope, "Sum", terms, [axis], False)]
    normalized = b.binary(f"{call.scope}/normalized", "RealDiv", output,
                          b.reduce(f"{call.scope}/total", "Sum", output, [axis], True))
    terms = b.binary(f"{call.scope}/terms", "Mul", target, _clipped_log(call, "log", normalized))
    return [b.unary(call.scope, "Neg", b.reduce(call.scope, "Sum", terms, [axis], False))]


@op("SparseCategoricalCrossentropy")
def sparse_categorical_crossentropy(call: LayerCall) -> list[Tensor]:
    """``sparse_categorical_crossentropy``: ``tf.nn.sparse_softmax_cross_entropy_with_logits`` of the logits (a
    softmax's, as Keras looks through it), or of ``log(clip(output))``: ``logsumexp - (x - max)[target]``."""
    b = call.builder
    target, output = _target_output(call)
    call.require(int(call.config.get("axis", -1)) % output.rank == output.rank - 1, "an axis other than the last")
    call.require(target.dtype == "DT_INT32", "a non-integer target")
    if target.rank == output.rank and target.shape[-1] == 1:
        target = b.squeeze(f"{call.scope}/target", target, -1)
    call.require(target.rank == output.rank - 1, "a target not shaped like the output without its last axis")
    logits = _logits(call, output, "Softmax") or (output if call.config.get("from_logits") else None)
    if logits is None:
        logits = _clipped_log(call, "log", output)
    shifted, log_sum = _softmax_parts(call, logits, output.rank - 1)
    classes = known(output.shape[-1], "the number of classes")
    labels = b.const(f"{call.scope}/classes", np.arange(classes, dtype=np.int32), "DT_INT32")
    chosen = b.op(f"{call.scope}/Equal", "Equal", [b.expand_dims(f"{call.scope}/target", target, -1), labels],
                  (*target.shape, classes), dtype="DT_BOOL", attr={"T": attr_type("DT_INT32")}, typed=False)
    picked = b.op(f"{call.scope}/pick", "SelectV2", [chosen, shifted, _zeros(call, shifted)], shifted.shape)
    nll = b.binary(f"{call.scope}/nll", "Sub", log_sum, b.reduce(f"{call.scope}/picked", "Sum", picked, [-1], True))
    return [b.squeeze(call.scope, nll, -1)]


# --- math: distances, top-k membership ------------------------------------------------------------------------------


@op("CDist")
def cdist(call: LayerCall) -> list[Tensor]:
    """``cdist(x, y)``: ``sqrt(sum((x[..., :, None, :] - y[..., None, :, :]) ** 2, -1))``, as Keras computes it."""
    b = call.builder
    x, y = (_argument(call, i, n) for i, n in ((0, "x"), (1, "y")))
    call.require(isinstance(x, Tensor) and x.dtype == "DT_FLOAT" and x.rank >= 2, "x is not a float tensor")
    assert isinstance(x, Tensor)  # noqa: S101 - checked above
    other = _operand(call, y, "y", x, None)
    call.require(other is not None and other.rank >= 2 and other.shape[-1] == x.shape[-1], "y does not match x")
    assert other is not None  # noqa: S101 - checked above
    diff = b.binary(call.scope, "Sub", b.expand_dims(f"{call.scope}/x", x, -2), b.expand_dims(f"{call.scope}/y", other,
                                                                                            -3))
    return [b.unary(call.scope, "Sqrt", b.reduce(call.scope, "Sum", b.unary(call.scope, "Square", diff), [-1], False))]


@op("InTopK")
def in_top_k(call: LayerCall) -> list[Tensor]:
    """``in_top_k(targets, predictions, k)`` as ``tf.math.in_top_k``: true where fewer than ``k`` predictions are
    greater than the target's (ties straddling the boundary count as in), false for a non-finite target prediction
    or a target outside the classes."""
    b = call.builder
    targets, predictions = (_argument(call, i, n) for i, n in ((0, "targets"), (1, "predictions")))
    call.require(isinstance(targets, Tensor) and targets.dtype == "DT_INT32" and targets.rank == 1,
                 "targets that are not one int per sample")
    call.require(isinstance(predictions, Tensor) and predictions.dtype == "DT_FLOAT" and predictions.rank == 2,
                 "predictions that are not [batch, classes] floats")
    assert isinstance(targets, Tensor) and isinstance(predictions, Tensor)  # noqa: S101 - checked above
    k = int(call.config.get("k") or 0)
    classes = known(predictions.shape[1], "the number of classes")
    labels = b.const(f"{call.scope}/classes", np.arange(classes, dtype=np.int32), "DT_INT32")
    chosen = b.op(f"{call.scope}/Equal", "Equal", [b.expand_dims(f"{call.scope}/targets", targets, -1), labels],
                  predictions.shape, dtype="DT_BOOL", attr={"T": attr_type("DT_INT32")}, typed=False)
    picked = b.op(f"{call.scope}/pick", "SelectV2", [chosen, predictions, _zeros(call, predictions)],
                  predictions.shape)
    target_value = b.reduce(f"{call.scope}/target_value", "Sum", picked, [1], True)
    above = _bool_to(call, _compare(call, "Greater", predictions, target_value), "DT_FLOAT")
    count = b.reduce(f"{call.scope}/count", "Sum", above, [1], False)
    within = _compare(call, "Less", count, b.scalar(f"{call.scope}/k", float(k)))
    value = b.squeeze(f"{call.scope}/value", target_value, 1)
    finite = b.op(f"{call.scope}/IsFinite", "IsFinite", [value], value.shape, dtype="DT_BOOL",
                  attr={"T": attr_type("DT_FLOAT")}, typed=False)
    known_class = b.reduce(f"{call.scope}/known_class", "Any", chosen, [1], False)
    result = within
    for name, part in (("finite", finite), ("known_class", known_class)):
        result = b.op(f"{call.scope}/{name}", "LogicalAnd", [result, part], result.shape, dtype="DT_BOOL", typed=False)
    return [result]


# --- segment reductions ---------------------------------------------------------------------------------------------

_SEGMENT = {
    "SegmentSum": ("Sum", 0.0),
    "SegmentProd": ("Prod", 1.0),
    "SegmentMax": ("Max", float(np.finfo(np.float32).min)),
    "SegmentMin": ("Min", float(np.finfo(np.float32).max)),
}


@op(*_SEGMENT)
def segment_reduction(call: LayerCall) -> list[Tensor]:
    """``segment_sum / max / min / prod(data, segment_ids, num_segments)`` (unsorted, as Keras's TensorFlow backend
    calls ``tf.math.unsorted_segment_*``): for each of the ``num_segments`` segments the samples whose id it is,
    reduced over the batch axis; an empty segment is the reduction's identity (the lowest / highest float32 for max
    / min), a negative id drops its sample."""
    b = call.builder
    data, ids = (_argument(call, i, n) for i, n in ((0, "data"), (1, "segment_ids")))
    call.require(isinstance(data, Tensor) and data.dtype == "DT_FLOAT" and data.rank >= 1, "non-float data")
    call.require(isinstance(ids, Tensor) and ids.dtype == "DT_INT32" and ids.rank == 1,
                 "segment ids that are not one int per sample")
    assert isinstance(data, Tensor) and isinstance(ids, Tensor)  # noqa: S101 - checked above
    count = call.config.get("num_segments")
    call.require(isinstance(count, int) and count > 0 and not call.config.get("sorted"),
                 "sorted segments or no num_segments (the output's length would depend on the ids)")
    assert isinstance(count, int)  # noqa: S101 - checked above
    reduction, identity = _SEGMENT[call.class_name]
    segments = b.const(f"{call.scope}/segments", np.arange(count, dtype=np.int32)[:, None], "DT_INT32")
    member = b.op(f"{call.scope}/Equal", "Equal", [b.expand_dims(f"{call.scope}/ids", ids, 0), segments],
                  (count, ids.shape[0]), dtype="DT_BOOL", attr={"T": attr_type("DT_INT32")}, typed=False)
    for _ in range(data.rank - 1):
        member = b.expand_dims(f"{call.scope}/member", member, -1)
    values = b.expand_dims(f"{call.scope}/data", data, 0)
    shape = (count, *data.shape)
    fill = b.op(f"{call.scope}/Fill", "Fill", [b.const(f"{call.scope}/fill_shape", [count, 1, *(
        known(d, "a data axis") for d in data.shape[1:])], "DT_INT32"), b.scalar(f"{call.scope}/identity", identity)],
        (count, 1, *data.shape[1:]), attr={"index_type": attr_type("DT_INT32")})
    chosen = b.op(f"{call.scope}/SelectV2", "SelectV2", [member, values, fill], shape)
    return [b.reduce(call.scope, reduction, chosen, [1], False)]


@op("Unfold")
def unfold(call: LayerCall) -> list[Tensor]:
    """``unfold(x, kernel_size, dilation, padding, stride)`` of ``[n, c, h, w]`` images into ``[n, c * kh * kw,
    blocks]``, as Keras computes it (the patches of the zero-padded channels-last images): one ``Conv2D`` whose
    identity kernel writes each value straight to its ``(c, i, j)`` row, reshaped and transposed."""
    b = call.builder
    x = call.single_input()
    call.require(x.dtype == "DT_FLOAT" and x.rank == 4, "unfold of other than [n, c, h, w] floats")
    kernel_size, dilation = pair(call.config.get("kernel_size"), 2), pair(call.config.get("dilation", 1), 2)
    padding, stride = pair(call.config.get("padding", 0), 2), pair(call.config.get("stride", 1), 2)
    call.require(stride == (1, 1) or dilation == (1, 1), "a stride and a dilation both above 1")
    channels = known(x.shape[1], "the channels")
    images = b.transpose(f"{call.scope}/nhwc", x, [0, 2, 3, 1])
    if any(padding):
        images = b.pad(f"{call.scope}/padded", images, [(0, 0), (padding[0],) * 2, (padding[1],) * 2, (0, 0)])
    rows, cols = kernel_size
    depth = channels * rows * cols
    identity = np.zeros((rows, cols, channels, depth), np.float32)
    for i, j, c in np.ndindex(rows, cols, channels):
        identity[i, j, c, (c * rows + i) * cols + j] = 1.0
    patches = conv2d_op(b, call.scope, "Conv2D", images, identity, Window(kernel_size, stride, dilation, "VALID"))
    blocks = known(patches.shape[1], "the block rows") * known(patches.shape[2], "the block columns")
    flat = b.reshape(f"{call.scope}/blocks", patches, (None, blocks, depth))
    return [b.transpose(f"{call.scope}/out", flat, [0, 2, 1])]


# --- Fourier transforms of the last axis, as matrix products -------------------------------------------------------


def _last_axis_product(call: LayerCall, name: str, x: Tensor, matrix: np.ndarray) -> Tensor:
    """``x @ matrix`` over the last axis (``MatMul`` on ``x`` flattened to rows), the matrix a float32 constant."""
    b = call.builder
    rows, columns = matrix.shape
    call.require(x.shape[-1] == rows, "a signal length that does not match")
    middle = [known(d, "an axis before the transformed one") for d in x.shape[1:-1]]
    flat = b.reshape(f"{call.scope}/{name}_rows", x, (None, rows))
    constant = b.const(f"{call.scope}/{name}_matrix", matrix.astype(np.float32))
    attr = {"transpose_a": attr_bool(False), "transpose_b": attr_bool(False)}
    product = b.op(f"{call.scope}/{name}/MatMul", "MatMul", [flat, constant], (None, columns), attr=attr)
    return b.reshape(f"{call.scope}/{name}", product, (None, *middle, columns))


def _complex_pair(call: LayerCall) -> tuple[Tensor, Tensor]:
    pair_ = call.args[0] if call.args else None
    call.require(isinstance(pair_, list) and len(pair_) == 2 and all(
        isinstance(t, Tensor) and t.dtype == "DT_FLOAT" for t in pair_), "an input that is not (real, imag) floats")
    assert isinstance(pair_, list)  # noqa: S101 - checked above
    real, imag = pair_
    call.require(real.shape == imag.shape and real.rank >= 2, "real and imaginary parts of different shapes")
    return real, imag


def _angles(rows: int, columns: int, length: int) -> np.ndarray:
    return 2.0 * np.pi * np.outer(np.arange(rows), np.arange(columns)) / length  # float64, cast once at the end


def _dft(call: LayerCall, name: str, real: Tensor, imag: Tensor) -> tuple[Tensor, Tensor]:
    """The DFT of ``(real, imag)`` over the last axis: ``real' = a cos + b sin``, ``imag' = b cos - a sin`` (angles
    in float64; the float32 result differs from TensorFlow's FFT by rounding only)."""
    b = call.builder
    length = known(real.shape[-1], "the signal length")
    angles = _angles(length, length, length)
    cos, sin = np.cos(angles), np.sin(angles)
    out_real = b.binary(f"{call.scope}/{name}_real", "AddV2", _last_axis_product(call, f"{name}_a_cos", real, cos),
                        _last_axis_product(call, f"{name}_b_sin", imag, sin))
    out_imag = b.binary(f"{call.scope}/{name}_imag", "Sub", _last_axis_product(call, f"{name}_b_cos", imag, cos),
                        _last_axis_product(call, f"{name}_a_sin", real, sin))
    return out_real, out_imag


@op("FFT")
def fft(call: LayerCall) -> list[Tensor]:
    """``fft((real, imag))`` of the last axis, as a DFT."""
    return list(_dft(call, "fft", *_complex_pair(call)))


@op("FFT2", "IFFT2")
def fft2(call: LayerCall) -> list[Tensor]:
    """``fft2`` / ``ifft2`` of the last two axes: the DFT of the rows, then of the columns (transposed to the last
    axis and back); ``ifft2`` as Keras computes it, the conjugate's ``fft2`` conjugated and divided by ``h * w``."""
    b = call.builder
    real, imag = _complex_pair(call)
    call.require(real.rank >= 3, "fft2 of a tensor without two axes besides the batch")
    inverse = call.class_name == "IFFT2"
    if inverse:
        imag = b.unary(f"{call.scope}/conjugate", "Neg", imag)
    real, imag = _dft(call, "rows", real, imag)
    swap = [*range(real.rank - 2), real.rank - 1, real.rank - 2]
    real, imag = (b.transpose(f"{call.scope}/{n}_columns", t, swap) for n, t in (("real", real), ("imag", imag)))
    real, imag = _dft(call, "columns", real, imag)
    real, imag = (b.transpose(f"{call.scope}/{n}_back", t, swap) for n, t in (("real", real), ("imag", imag)))
    if not inverse:
        return [real, imag]
    height, width = known(real.shape[-2], "the height"), known(real.shape[-1], "the width")
    area = b.scalar(f"{call.scope}/area", float(height * width))
    return [b.binary(f"{call.scope}/real", "RealDiv", real, area),
            b.binary(f"{call.scope}/imag", "RealDiv", b.unary(f"{call.scope}/imag", "Neg", imag), area)]


def _fft_length(call: LayerCall, default: int) -> int:
    value = call.config.get("fft_length")
    call.require(value is None or (isinstance(value, int) and value > 0), "an fft_length that is not a positive int")
    return default if value is None else int(value)


@op("RFFT")
def rfft(call: LayerCall) -> list[Tensor]:
    """``rfft(x, fft_length)``: the ``fft_length // 2 + 1`` non-negative frequencies of the signal truncated or
    zero-padded to ``fft_length``, as a DFT (``real = x cos``, ``imag = -x sin``)."""
    x = call.single_input()
    call.require(x.dtype == "DT_FLOAT" and x.rank >= 2, "a non-float signal")
    size = known(x.shape[-1], "the signal length")
    length = _fft_length(call, size)
    used = min(size, length)
    angles = np.zeros((size, length // 2 + 1))
    angles[:used] = _angles(used, length // 2 + 1, length)
    live = (np.arange(size) < used)[:, None]
    return [_last_axis_product(call, "real", x, np.where(live, np.cos(angles), 0.0)),
            _last_axis_product(call, "imag", x, np.where(live, -np.sin(angles), 0.0))]


@op("IRFFT")
def irfft(call: LayerCall) -> list[Tensor]:
    """``irfft((real, imag), fft_length)``: the real signal of length ``fft_length`` (default ``2 * (bins - 1)``)
    whose spectrum has these non-negative frequencies (truncated or zero-padded to ``fft_length // 2 + 1``), the
    imaginary parts of the zero and Nyquist frequencies ignored, as TensorFlow's irfft."""
    b = call.builder
    real, imag = _complex_pair(call)
    bins = known(real.shape[-1], "the number of frequencies")
    length = _fft_length(call, 2 * (bins - 1))
    call.require(length > 0, "a spectrum of one frequency without fft_length")
    used = min(bins, length // 2 + 1)
    weights = np.full(bins, 2.0)
    weights[0] = 1.0
    if length % 2 == 0 and length // 2 < bins:
        weights[length // 2] = 1.0
    weights[used:] = 0.0
    angles = _angles(bins, length, length)
    cos = weights[:, None] * np.cos(angles) / length
    sin = -weights[:, None] * np.sin(angles) / length
    sin[0] = 0.0
    if length % 2 == 0 and length // 2 < bins:
        sin[length // 2] = 0.0
    return [b.binary(call.scope, "AddV2", _last_axis_product(call, "real", real, cos),
                     _last_axis_product(call, "imag", imag, sin))]
