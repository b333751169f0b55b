"""Convolutions, pooling, padding, cropping and upsampling (channels_last).

1-D layers run as their 2-D counterparts on a ``[batch, 1, steps, channels]`` view, as TensorFlow computes them,
so they get the same fused kernels. Bias and activation follow the kernel as ``BiasAdd`` + activation ops, which the
fusion pass turns into ``_FusedConv2D`` / ``FusedDepthwiseConv2dNative``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from hatch_tfjs.compile.builder import GraphBuilder, Tensor, attr_bool, attr_int, attr_ints, attr_str, attr_type
from hatch_tfjs.compile.core import bias_and_activation, check_plain_kernel
from hatch_tfjs.compile.registry import LayerCall, layer


def _pair(value: Any, rank: int) -> tuple[int, ...]:
    values = tuple(int(v) for v in (value if isinstance(value, (list, tuple)) else [value] * rank))
    return values if len(values) == rank else values * rank


def _spatial_rank(class_name: str) -> int:
    return 1 if "1D" in class_name else 2


def _check_layout(call: LayerCall) -> None:
    call.require(call.option("data_format", "channels_last") in ("channels_last", None),
                 "data_format channels_first is not translated yet")


def _out_size(size: int | None, kernel: int, stride: int, dilation: int, padding: str) -> int | None:
    if size is None:
        return None
    if padding == "SAME":
        return -(-size // stride)
    return (size - (kernel - 1) * dilation - 1) // stride + 1


def _as_2d(call: LayerCall, x: Tensor, rank: int) -> Tensor:
    return call.builder.expand_dims(f"{call.scope}/to_2d", x, 1) if rank == 1 else x


def _from_2d(call: LayerCall, y: Tensor, rank: int) -> Tensor:
    return call.builder.squeeze(f"{call.scope}/to_1d", y, 1) if rank == 1 else y


def _conv_padding(call: LayerCall, x: Tensor, kernel: Sequence[int], dilation: Sequence[int]) -> tuple[Tensor, str]:
    """The TF padding name, after padding the steps on the left for ``causal`` (Conv1D)."""
    padding = str(call.option("padding", "valid")).lower()
    if padding == "causal":
        left = (kernel[-1] - 1) * dilation[-1]
        return call.builder.pad(f"{call.scope}/causal", x, [(0, 0), (left, 0), (0, 0)]), "VALID"
    call.require(padding in ("same", "valid"), f"padding {padding!r} is not translated")
    return x, padding.upper()


def _conv_shape(x: Tensor, kernel: Sequence[int], strides: Sequence[int], dilation: Sequence[int], padding: str,
                channels: int) -> tuple[int | None, ...]:
    spatial = [_out_size(x.shape[1 + i], kernel[i], strides[i], dilation[i], padding) for i in range(2)]
    return (x.shape[0], *spatial, channels)


def conv2d_op(b: GraphBuilder, scope: str, op: str, x: Tensor, filt: Tensor, kernel: Sequence[int],
              strides: Sequence[int], dilation: Sequence[int], padding: str, channels: int) -> Tensor:
    attr = {"strides": attr_ints([1, *strides, 1]), "dilations": attr_ints([1, *dilation, 1]), "padding": attr_str(padding),
            "data_format": attr_str("NHWC"), "explicit_paddings": attr_ints([])}
    if op == "Conv2D":
        attr["use_cudnn_on_gpu"] = attr_bool(True)
    return b.op(f"{scope}/{op}", op, [x, filt], _conv_shape(x, kernel, strides, dilation, padding, channels), attr=attr)


@layer("Conv1D", "Conv2D", "Convolution1D", "Convolution2D")
def conv(call: LayerCall) -> list[Tensor]:
    """``Conv2D`` (1-D on a 2-D view); ``groups`` > 1 as a depthwise convolution when each group reads one channel,
    else as one convolution per group on a ``Split`` of the channels, concatenated."""
    check_plain_kernel(call)
    _check_layout(call)
    b = call.builder
    rank = _spatial_rank(call.class_name)
    kernel_size, strides = _pair(call.option("kernel_size"), rank), _pair(call.option("strides", 1), rank)
    dilation = _pair(call.option("dilation_rate", 1), rank)
    x, padding = _conv_padding(call, call.single_input(), kernel_size, dilation)
    kernel = call.weight("kernel")
    if rank == 1:
        kernel, kernel_size, strides, dilation = kernel[None], (1, *kernel_size), (1, *strides), (1, *dilation)
    x = _as_2d(call, x, rank)
    groups = int(call.option("groups", 1) or 1)
    filters = kernel.shape[-1]
    if groups == 1:
        y = conv2d_op(b, call.scope, "Conv2D", x, b.const(f"{call.scope}/kernel", kernel), kernel_size, strides, dilation, padding, filters)
    elif kernel.shape[2] == 1:
        depthwise = kernel.reshape(*kernel.shape[:2], groups, filters // groups)
        y = conv2d_op(b, call.scope, "DepthwiseConv2dNative", x, b.const(f"{call.scope}/kernel", depthwise), kernel_size,
                      strides, dilation, padding, filters)
    else:
        y = _grouped(call, x, kernel, groups, kernel_size, strides, dilation, padding)
    return [_from_2d(call, bias_and_activation(call, y), rank)]


def _grouped(call: LayerCall, x: Tensor, kernel: np.ndarray, groups: int, kernel_size: Sequence[int],
             strides: Sequence[int], dilation: Sequence[int], padding: str) -> Tensor:
    b = call.builder
    per_group = kernel.shape[-1] // groups
    axis = b.const(f"{call.scope}/split_axis", 3, "DT_INT32")
    split = b.node(f"{call.scope}/split", "Split", [axis, x], {"T": attr_type("DT_FLOAT"), "num_split": attr_int(groups)})
    channels = kernel.shape[2]
    parts = []
    for g in range(groups):
        part = Tensor(f"{split}:{g}" if g else split, (*x.shape[:3], channels))
        filt = b.const(f"{call.scope}/kernel_group{g}", kernel[..., g * per_group:(g + 1) * per_group])
        parts.append(conv2d_op(b, f"{call.scope}/group{g}", "Conv2D", part, filt, kernel_size, strides, dilation, padding, per_group))
    return b.concat(call.scope, parts, -1)


@layer("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise(call: LayerCall) -> list[Tensor]:
    check_plain_kernel(call)
    _check_layout(call)
    b = call.builder
    rank = _spatial_rank(call.class_name)
    kernel_size, strides = _pair(call.option("kernel_size"), rank), _pair(call.option("strides", 1), rank)
    dilation = _pair(call.option("dilation_rate", 1), rank)
    x, padding = _conv_padding(call, call.single_input(), kernel_size, dilation)
    kernel = call.weight("kernel" if call.has_weight("kernel") else "depthwise_kernel")
    if rank == 1:
        kernel, kernel_size, strides, dilation = kernel[None], (1, *kernel_size), (1, *strides), (1, *dilation)
    channels = kernel.shape[2] * kernel.shape[3]
    y = conv2d_op(b, call.scope, "DepthwiseConv2dNative", _as_2d(call, x, rank), b.const(f"{call.scope}/depthwise_kernel", kernel),
                  kernel_size, strides, dilation, padding, channels)
    return [_from_2d(call, bias_and_activation(call, y), rank)]


@layer("SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D")
def separable(call: LayerCall) -> list[Tensor]:
    """A depthwise convolution, then a 1x1 ``Conv2D`` carrying the bias and activation (it fuses)."""
    check_plain_kernel(call)
    _check_layout(call)
    b = call.builder
    rank = _spatial_rank(call.class_name)
    kernel_size, strides = _pair(call.option("kernel_size"), rank), _pair(call.option("strides", 1), rank)
    dilation = _pair(call.option("dilation_rate", 1), rank)
    x, padding = _conv_padding(call, call.single_input(), kernel_size, dilation)
    depthwise_kernel, pointwise_kernel = call.weight("depthwise_kernel"), call.weight("pointwise_kernel")
    if rank == 1:
        depthwise_kernel, pointwise_kernel = depthwise_kernel[None], pointwise_kernel[None]
        kernel_size, strides, dilation = (1, *kernel_size), (1, *strides), (1, *dilation)
    mid = depthwise_kernel.shape[2] * depthwise_kernel.shape[3]
    y = conv2d_op(b, f"{call.scope}/depthwise", "DepthwiseConv2dNative", _as_2d(call, x, rank),
                  b.const(f"{call.scope}/depthwise_kernel", depthwise_kernel), kernel_size, strides, dilation, padding, mid)
    y = conv2d_op(b, f"{call.scope}/pointwise", "Conv2D", y, b.const(f"{call.scope}/pointwise_kernel", pointwise_kernel),
                  (1, 1), (1, 1), (1, 1), "VALID", pointwise_kernel.shape[-1])
    return [_from_2d(call, bias_and_activation(call, y), rank)]


@layer("MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D")
def pooling(call: LayerCall) -> list[Tensor]:
    _check_layout(call)
    rank = _spatial_rank(call.class_name)
    pool = _pair(call.option("pool_size", 2), rank)
    strides = _pair(call.option("strides") or pool, rank)
    padding = str(call.option("padding", "valid")).upper()
    call.require(padding in ("SAME", "VALID"), f"padding {padding!r} is not translated")
    if rank == 1:
        pool, strides = (1, *pool), (1, *strides)
    op = "MaxPool" if call.class_name.startswith("Max") else "AvgPool"
    x = _as_2d(call, call.single_input(), rank)
    attr = {"ksize": attr_ints([1, *pool, 1]), "strides": attr_ints([1, *strides, 1]), "padding": attr_str(padding),
            "data_format": attr_str("NHWC")}
    if op == "MaxPool":
        attr["explicit_paddings"] = attr_ints([])
    y = call.builder.op(f"{call.scope}/{op}", op, [x], _conv_shape(x, pool, strides, (1, 1), padding, x.shape[-1]), attr=attr)
    return [_from_2d(call, y, rank)]


@layer("GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
       "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalAvgPool1D", "GlobalAvgPool2D")
def global_pooling(call: LayerCall) -> list[Tensor]:
    _check_layout(call)
    x = call.single_input()
    op = "Max" if "Max" in call.class_name else "Mean"
    return [call.builder.reduce(call.scope, op, x, range(1, x.rank - 1), bool(call.option("keepdims", False)))]


def _pad_pairs(value: Any, rank: int) -> list[tuple[int, int]]:
    """Keras's padding/cropping argument (int, per-axis ints, or per-axis pairs) as ``rank`` (before, after) pairs."""
    if isinstance(value, int):
        return [(value, value)] * rank
    pairs = []
    for item in value:
        pairs.append((int(item), int(item)) if isinstance(item, int) else (int(item[0]), int(item[1])))
    if rank == 1 and len(pairs) == 2 and isinstance(value[0], int):
        return [(pairs[0][0], pairs[1][0])]  # ZeroPadding1D((left, right))
    return pairs


@layer("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
def zero_padding(call: LayerCall) -> list[Tensor]:
    _check_layout(call)
    x = call.single_input()
    pairs = _pad_pairs(call.option("padding", 1), x.rank - 2)
    return [call.builder.pad(call.scope, x, [(0, 0), *pairs, (0, 0)])]


@layer("Cropping1D", "Cropping2D", "Cropping3D")
def cropping(call: LayerCall) -> list[Tensor]:
    _check_layout(call)
    x = call.single_input()
    key = "cropping"
    pairs = _pad_pairs(call.option(key, 1), x.rank - 2)
    spatial = x.shape[1:-1]
    call.require(all(d is not None for d in spatial), "its input's spatial size is unknown before run time")
    sizes = [d - a - c for d, (a, c) in zip(spatial, pairs)]  # type: ignore[operator]
    return [call.builder.slice(call.scope, x, [0, *(a for a, _ in pairs), 0], [-1, *sizes, -1])]


@layer("UpSampling1D", "UpSampling2D")
def upsampling(call: LayerCall) -> list[Tensor]:
    """Nearest-neighbour upsampling by integer factors: each step / pixel repeated, as Keras's ``ops.repeat``."""
    _check_layout(call)
    b, x = call.builder, call.single_input()
    if call.class_name == "UpSampling1D":
        size = int(call.option("size", 2))
        expanded = b.expand_dims(call.scope, x, 2)
        multiples = b.const(f"{call.scope}/multiples", [1, 1, size, 1], "DT_INT32")
        tiled = b.op(f"{call.scope}/Tile", "Tile", [expanded, multiples], (x.shape[0], x.shape[1], size, x.shape[2]),
                     attr={"Tmultiples": attr_type("DT_INT32")})
        steps = None if x.shape[1] is None else x.shape[1] * size
        return [b.reshape(call.scope, tiled, (None, steps, x.shape[2]))]
    call.require(call.option("interpolation", "nearest") == "nearest", "only nearest-neighbour upsampling is translated yet")
    height, width = _pair(call.option("size", 2), 2)
    call.require(x.shape[1] is not None and x.shape[2] is not None, "its input's spatial size is unknown before run time")
    out = (x.shape[1] * height, x.shape[2] * width)  # type: ignore[operator]
    size = b.const(f"{call.scope}/size", list(out), "DT_INT32")
    return [b.op(f"{call.scope}/ResizeNearestNeighbor", "ResizeNearestNeighbor", [x, size], (x.shape[0], *out, x.shape[3]),
                 attr={"align_corners": attr_bool(False), "half_pixel_centers": attr_bool(False)})]


@layer("Conv2DTranspose", "Convolution2DTranspose")
def conv_transpose(call: LayerCall) -> list[Tensor]:
    """``Conv2DBackpropInput`` with the output size Keras computes (``in * stride`` for same padding, ``(in - 1) *
    stride + kernel`` for valid), the batch read from the input at run time; then bias and activation."""
    check_plain_kernel(call)
    _check_layout(call)
    b, x = call.builder, call.single_input()
    kernel_size, strides = _pair(call.option("kernel_size"), 2), _pair(call.option("strides", 1), 2)
    call.require(_pair(call.option("dilation_rate", 1), 2) == (1, 1) and call.option("output_padding") is None,
                 "dilated transposed convolutions and output_padding are not translated yet")
    call.require(x.shape[1] is not None and x.shape[2] is not None, "its input's spatial size is unknown before run time")
    padding = str(call.option("padding", "valid")).upper()
    kernel = call.weight("kernel")  # [h, w, filters, in_channels]
    size = [int(d) * s if padding == "SAME" else (int(d) - 1) * s + k  # type: ignore[arg-type]
            for d, s, k in zip(x.shape[1:3], strides, kernel_size)]
    batch = b.slice(f"{call.scope}/batch", b.op(f"{call.scope}/Shape", "Shape", [x], (x.rank,), dtype="DT_INT32",
                                               typed=False, attr={"T": attr_type("DT_FLOAT"), "out_type": attr_type("DT_INT32")}),
                    [0], [1])
    output_shape = b.concat(f"{call.scope}/output_shape", [batch, b.const(f"{call.scope}/output_size", [*size, kernel.shape[2]], "DT_INT32")], 0)
    attr = {"strides": attr_ints([1, *strides, 1]), "padding": attr_str(padding), "data_format": attr_str("NHWC"),
            "explicit_paddings": attr_ints([]), "dilations": attr_ints([1, 1, 1, 1]), "use_cudnn_on_gpu": attr_bool(True)}
    y = b.op(f"{call.scope}/conv2d_transpose", "Conv2DBackpropInput", [output_shape, b.const(f"{call.scope}/kernel", kernel), x],
             (x.shape[0], *size, kernel.shape[2]), attr=attr)
    return [bias_and_activation(call, y)]
