"""``keras.ops.nn`` calls recorded in a functional model, as graph ops: activations, normalize / moments,
multi_hot, pooling (adaptive too), depth <-> space, unfold, and the ops that take their weights as arguments
(batch / layer / rms normalization, dot_product_attention, conv / depthwise_conv / separable_conv).

Each computes what Keras's TensorFlow backend computes for the call (``normalize`` as ``x * min(rsqrt(sum(x**2)),
1/epsilon)``, ``moments`` as ``tf.nn.moments``, ``sparsemax`` from a descending sort, ...), with ops every TF.js 4.22
backend has; an argument that would need more (another data format, a dtype TF.js has not) is reported uncovered.
"""

from __future__ import annotations

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
from hatch_tfjs.compile.keras_ops import _compare, _float_input
from hatch_tfjs.compile.math_ops import _last_axis_product
from hatch_tfjs.compile.op_helpers import (
    EPSILON,
    _argument,
    _bool_to,
    _ones,
    _operand,
    _select,
    _vector_norm,
    _zeros,
)
from hatch_tfjs.compile.registry import LayerCall, op

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


# --- normalizations with their statistics and weights passed as arguments ------------------------------------------


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


_FOLD_MATRIX_LIMIT = 1 << 22  # placement-matrix entries (16 MB of float32 weights)


@op("Fold")
def fold(call: LayerCall) -> list[Tensor]:
    """``fold(x, output_size, kernel_size, dilation, padding, stride)`` of ``[n, c * kh * kw, blocks]`` into ``[n,
    c, oh, ow]`` (col2im, the inverse of unfold): each channel's ``kh * kw * blocks`` values times a constant 0/1
    matrix that adds every value into its output pixel (the padding dropped), one ``MatMul``."""
    b = call.builder
    x = call.single_input()
    call.require(x.dtype == "DT_FLOAT" and x.rank == 3, "fold of other than [n, c * kh * kw, blocks] floats")
    kernel_size, dilation = pair(call.config.get("kernel_size"), 2), pair(call.config.get("dilation", 1), 2)
    padding, stride = pair(call.config.get("padding", 0), 2), pair(call.config.get("stride", 1), 2)
    height, width = pair(call.config.get("output_size"), 2)
    rows, cols = kernel_size
    depth, length = known(x.shape[1], "the patch values"), known(x.shape[2], "the blocks")
    call.require(depth % (rows * cols) == 0, "patch values that are not channels times the kernel size")
    blocks_h, blocks_w = ((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, p, d, k, s in zip(
        (height, width), padding, dilation, kernel_size, stride, strict=True))
    call.require(blocks_h > 0 and blocks_w > 0 and blocks_h * blocks_w == length, "a block count that does not fit")
    call.require(rows * cols * length * height * width <= _FOLD_MATRIX_LIMIT,
                 "a fold whose placement matrix would exceed 4M weights")
    matrix = np.zeros((rows * cols * length, height * width), np.float32)
    for i, j, a, c in np.ndindex(rows, cols, blocks_h, blocks_w):
        h, w = a * stride[0] + i * dilation[0] - padding[0], c * stride[1] + j * dilation[1] - padding[1]
        if 0 <= h < height and 0 <= w < width:
            matrix[(i * cols + j) * length + a * blocks_w + c, h * width + w] = 1.0
    channels = depth // (rows * cols)
    flat = b.reshape(f"{call.scope}/channels", x, (None, channels, rows * cols * length))
    placed = _last_axis_product(call, "place", flat, matrix)
    return [b.reshape(call.scope, placed, (None, channels, height, width))]
