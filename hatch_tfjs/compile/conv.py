"""Convolutions, pooling, padding, cropping and upsampling (channels_last).

1-D layers run as their 2-D counterparts on a ``[batch, 1, steps, channels]`` view, as TensorFlow computes them,
so they get the same fused kernels. Bias and activation follow the kernel as ``BiasAdd`` + activation ops, which the
fusion pass turns into ``_FusedConv2D`` / ``FusedDepthwiseConv2dNative``. 3-D layers are ``Conv3D`` /
``MaxPool3D`` / ``AvgPool3D`` on NDHWC (TF.js fuses none of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hatch_tfjs.compile.builder import GraphBuilder, Tensor, attr_bool, attr_int, attr_ints, attr_str, attr_type, known
from hatch_tfjs.compile.core import bias_and_activation, check_plain_kernel
from hatch_tfjs.compile.registry import LayerCall, layer


def pair(value: Any, rank: int) -> tuple[int, ...]:
    """A window option (an int, or one per spatial axis) as ``rank`` ints."""
    values = tuple(int(v) for v in (value if isinstance(value, (list, tuple)) else [value] * rank))
    return values if len(values) == rank else values * rank


def _check_layout(call: LayerCall) -> None:
    call.require(
        call.option("data_format", "channels_last") in ("channels_last", None),
        "data_format channels_first is not translated yet",
    )


def _out_size(size: int | None, kernel: int, stride: int, dilation: int, padding: str) -> int | None:
    if size is None:
        return None
    if padding == "SAME":
        return -(-size // stride)
    return (size - (kernel - 1) * dilation - 1) // stride + 1


@dataclass(frozen=True)
class Window:
    """A convolution's or pooling's geometry on the 2-D (NHWC) view (1-D layers get a leading 1 on each), or on
    NDHWC for 3-D layers."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: str  # "SAME" | "VALID" (causal padding is applied to the input beforehand)

    @property
    def data_format(self) -> str:
        return "NDHWC" if len(self.kernel) == 3 else "NHWC"

    def attrs(self, *, pooling: bool = False) -> dict[str, Any]:
        """``strides`` / ``padding`` / ``data_format``, and ``ksize`` (pooling) or ``dilations`` (convolutions), in
        the NHWC / NDHWC forms TensorFlow ops carry."""
        attr = {
            "strides": attr_ints([1, *self.strides, 1]),
            "padding": attr_str(self.padding),
            "data_format": attr_str(self.data_format),
        }
        if pooling:
            attr["ksize"] = attr_ints([1, *self.kernel, 1])
        else:
            attr["dilations"] = attr_ints([1, *self.dilation, 1])
        return attr

    def output_shape(self, x: Tensor, channels: int | None) -> tuple[int | None, ...]:
        spatial = [
            _out_size(x.shape[1 + i], self.kernel[i], self.strides[i], self.dilation[i], self.padding)
            for i in range(len(self.kernel))
        ]
        return (x.shape[0], *spatial, channels)


@dataclass(frozen=True)
class WindowInput:
    """A windowed layer's input on its 2-D view, its window, and whether it is a 1-D layer."""

    x: Tensor
    window: Window
    one_d: bool

    def kernel(self, value: np.ndarray) -> np.ndarray:
        """A Keras kernel on the 2-D view (``[k, ...]`` -> ``[1, k, ...]`` for 1-D layers)."""
        return value[None] if self.one_d else value

    def restore(self, call: LayerCall, y: Tensor) -> Tensor:
        """The 2-D view's result back in the layer's rank."""
        return call.builder.squeeze(f"{call.scope}/to_1d", y, 1) if self.one_d else y


def window_input(call: LayerCall, *, pooling: bool = False) -> WindowInput:
    """Read the window options (kernel_size/strides/dilation_rate, or pool_size/strides), pad for ``causal``, and
    lift a 1-D input to ``[batch, 1, steps, channels]``."""
    _check_layout(call)
    one_d = "1D" in call.class_name
    rank = 1 if one_d else 3 if "3D" in call.class_name else 2
    if pooling:
        kernel = pair(call.option("pool_size", 2), rank)
        strides, dilation = pair(call.option("strides") or kernel, rank), (1,) * rank
    else:
        check_plain_kernel(call)
        kernel = pair(call.option("kernel_size"), rank)
        strides, dilation = pair(call.option("strides", 1), rank), pair(call.option("dilation_rate", 1), rank)
    x = call.single_input()
    padding = str(call.option("padding", "valid")).lower()
    call.require(padding in ("same", "valid", "causal"), f"padding {padding!r} is not translated")
    if padding == "causal":
        x = call.builder.pad(f"{call.scope}/causal", x, [(0, 0), ((kernel[-1] - 1) * dilation[-1], 0), (0, 0)])
        padding = "valid"
    if one_d:
        x = call.builder.expand_dims(f"{call.scope}/to_2d", x, 1)
        kernel, strides, dilation = (1, *kernel), (1, *strides), (1, *dilation)
    return WindowInput(x, Window(kernel, strides, dilation, padding.upper()), one_d)


def conv2d_op(b: GraphBuilder, scope: str, op: str, x: Tensor, filt: np.ndarray, window: Window) -> Tensor:
    """One NHWC ``Conv2D`` / ``DepthwiseConv2dNative`` with a constant filter."""
    attr = {**window.attrs(), "explicit_paddings": attr_ints([])}
    if op == "Conv2D":
        attr["use_cudnn_on_gpu"] = attr_bool(True)
    channels = filt.shape[2] * filt.shape[3] if op == "DepthwiseConv2dNative" else filt.shape[3]
    constant = b.const(f"{scope}/kernel", filt)
    return b.op(f"{scope}/{op}", op, [x, constant], window.output_shape(x, channels), attr=attr)


@layer("Conv1D", "Conv2D", "Convolution1D", "Convolution2D")
def conv(call: LayerCall) -> list[Tensor]:
    """``Conv2D`` (1-D on a 2-D view); ``groups`` > 1 as a depthwise convolution when each group reads one channel,
    else as one convolution per group on a ``Split`` of the channels, concatenated."""
    view = window_input(call)
    kernel = view.kernel(call.weight("kernel"))
    groups = int(call.option("groups", 1) or 1)
    filters = kernel.shape[-1]
    if groups == 1:
        y = conv2d_op(call.builder, call.scope, "Conv2D", view.x, kernel, view.window)
    elif kernel.shape[2] == 1:
        depthwise = kernel.reshape(*kernel.shape[:2], groups, filters // groups)
        y = conv2d_op(call.builder, call.scope, "DepthwiseConv2dNative", view.x, depthwise, view.window)
    else:
        y = _grouped(call, view, kernel, groups)
    return [view.restore(call, bias_and_activation(call, y))]


def _grouped(call: LayerCall, view: WindowInput, kernel: np.ndarray, groups: int) -> Tensor:
    b, x = call.builder, view.x
    per_group = kernel.shape[-1] // groups
    axis = b.const(f"{call.scope}/split_axis", 3, "DT_INT32")
    split = b.node(
        f"{call.scope}/split", "Split", [axis, x], {"T": attr_type("DT_FLOAT"), "num_split": attr_int(groups)}
    )
    parts = []
    for g in range(groups):
        part = Tensor(f"{split}:{g}" if g else split, (*x.shape[:3], kernel.shape[2]))
        filt = kernel[..., g * per_group : (g + 1) * per_group]
        parts.append(conv2d_op(call.builder, f"{call.scope}/group{g}", "Conv2D", part, filt, view.window))
    return b.concat(call.scope, parts, -1)


@layer("Conv3D", "Convolution3D")
def conv3d(call: LayerCall) -> list[Tensor]:
    """``Conv3D`` (NDHWC), then bias and activation."""
    view = window_input(call)
    call.require(int(call.option("groups", 1) or 1) == 1, "grouped 3-D convolutions are not translated yet")
    kernel = call.weight("kernel")
    constant = call.builder.const(f"{call.scope}/kernel", kernel)
    y = call.builder.op(
        f"{call.scope}/Conv3D",
        "Conv3D",
        [view.x, constant],
        view.window.output_shape(view.x, kernel.shape[-1]),
        attr=view.window.attrs(),
    )
    return [bias_and_activation(call, y)]


@layer("DepthwiseConv1D", "DepthwiseConv2D")
def depthwise(call: LayerCall) -> list[Tensor]:
    view = window_input(call)
    kernel = view.kernel(call.weight("kernel" if call.has_weight("kernel") else "depthwise_kernel"))
    y = conv2d_op(call.builder, call.scope, "DepthwiseConv2dNative", view.x, kernel, view.window)
    return [view.restore(call, bias_and_activation(call, y))]


@layer("SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D")
def separable(call: LayerCall) -> list[Tensor]:
    """A depthwise convolution, then a 1x1 ``Conv2D`` carrying the bias and activation (it fuses)."""
    view = window_input(call)
    depthwise_kernel = view.kernel(call.weight("depthwise_kernel"))
    pointwise_kernel = view.kernel(call.weight("pointwise_kernel"))
    y = conv2d_op(
        call.builder, f"{call.scope}/depthwise", "DepthwiseConv2dNative", view.x, depthwise_kernel, view.window
    )
    pointwise = Window((1, 1), (1, 1), (1, 1), "VALID")
    y = conv2d_op(call.builder, f"{call.scope}/pointwise", "Conv2D", y, pointwise_kernel, pointwise)
    return [view.restore(call, bias_and_activation(call, y))]


@layer(
    "MaxPooling1D",
    "MaxPooling2D",
    "AveragePooling1D",
    "AveragePooling2D",
    "MaxPool1D",
    "MaxPool2D",
    "AvgPool1D",
    "AvgPool2D",
    "MaxPooling3D",
    "AveragePooling3D",
    "MaxPool3D",
    "AvgPool3D",
)
def pooling(call: LayerCall) -> list[Tensor]:
    view = window_input(call, pooling=True)
    call.require(view.window.padding in ("SAME", "VALID"), "causal pooling is not translated")
    window, x = view.window, view.x
    op = ("MaxPool" if call.class_name.startswith("Max") else "AvgPool") + ("3D" if len(window.kernel) == 3 else "")
    if op == "MaxPool3D" and None not in x.shape[1:]:
        return [_max_pool_3d_as_2d(call, window, x)]
    attr = window.attrs(pooling=True)
    if op == "MaxPool":
        attr["explicit_paddings"] = attr_ints([])
    y = call.builder.op(f"{call.scope}/{op}", op, [x], window.output_shape(x, x.shape[-1]), attr=attr)
    return [view.restore(call, y)]


def _max_pool_2d(call: LayerCall, name: str, x: Tensor, window: Window) -> Tensor:
    attr = {**window.attrs(pooling=True), "explicit_paddings": attr_ints([])}
    return call.builder.op(f"{call.scope}/{name}", "MaxPool", [x], window.output_shape(x, x.shape[-1]), attr=attr)


def _max_pool_3d_as_2d(call: LayerCall, window: Window, x: Tensor) -> Tensor:
    """A 3-D max pooling as two 2-D ones: over (height, width) of every depth slice, then over depth windows. The
    maximum over a box is the maximum over its depth of the maxima over its (height, width) faces, so this is exact;
    it is emitted because TF.js 4.22's WASM ``MaxPool3D`` kernel returns wrong maxima (found by test_compile's WASM
    run), while ``MaxPool`` is right on every backend."""
    b, scope = call.builder, call.scope
    _, depth, height, width, channels = x.shape
    assert depth is not None and height is not None and width is not None  # noqa: S101 - the caller checked
    (kd, kh, kw), (sd, sh, sw) = window.kernel, window.strides
    slices = b.reshape(f"{scope}/slices", x, (None, height, width, channels))
    faces = _max_pool_2d(call, "MaxPool_hw", slices, Window((kh, kw), (sh, sw), (1, 1), window.padding))
    _, out_h, out_w, _ = faces.shape
    assert out_h is not None and out_w is not None  # noqa: S101 - static input, static output
    columns = b.reshape(f"{scope}/columns", faces, (None, depth, out_h * out_w, channels))
    pooled = _max_pool_2d(call, "MaxPool_d", columns, Window((kd, 1), (sd, 1), (1, 1), window.padding))
    return b.reshape(f"{scope}/volume", pooled, (None, pooled.shape[1], out_h, out_w, channels))


@layer(
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalAveragePooling2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalAvgPool2D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling3D",
    "GlobalMaxPool3D",
    "GlobalAvgPool3D",
)
def global_pooling(call: LayerCall) -> list[Tensor]:
    _check_layout(call)
    x = call.single_input()
    op = "Max" if "Max" in call.class_name else "Mean"
    return [call.builder.reduce(call.scope, op, x, range(1, x.rank - 1), bool(call.option("keepdims", False)))]


@layer("GlobalAveragePooling1D", "GlobalAvgPool1D", kwargs=("mask",))
def global_average_1d(call: LayerCall) -> list[Tensor]:
    """The mean over the steps; with a ``[batch, steps]`` mask, ``sum(x * mask) / sum(mask)`` over the kept steps
    (a sequence with none kept divides by zero, as in Keras)."""
    mask = call.kwargs.get("mask")
    if mask is None:
        return global_pooling(call)
    _check_layout(call)
    b, x = call.builder, call.single_input()
    call.require(mask.rank == 2 and mask.dtype == "DT_BOOL", "its mask is not a [batch, steps] bool tensor")
    keepdims = bool(call.option("keepdims", False))
    weights = b.op(
        f"{call.scope}/Cast",
        "Cast",
        [b.expand_dims(call.scope, mask, 2)],
        (*mask.shape, 1),
        typed=False,
        attr={"SrcT": attr_type("DT_BOOL"), "DstT": attr_type("DT_FLOAT"), "Truncate": attr_bool(False)},
    )
    total = b.reduce(call.scope, "Sum", b.binary(call.scope, "Mul", x, weights), [1], keepdims)
    return [b.binary(call.scope, "RealDiv", total, b.reduce(call.scope, "Sum", weights, [1], keepdims))]


def _pad_pairs(value: Any, rank: int) -> list[tuple[int, int]]:
    """Keras's padding/cropping argument (int, per-axis ints, or per-axis pairs) as ``rank`` (before, after) pairs."""
    if isinstance(value, int):
        return [(value, value)] * rank
    pairs = [(int(item), int(item)) if isinstance(item, int) else (int(item[0]), int(item[1])) for item in value]
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
    sizes = [d - a - c for d, (a, c) in zip(spatial, pairs, strict=True)]  # type: ignore[operator]
    return [call.builder.slice(call.scope, x, [0, *(a for a, _ in pairs), 0], [-1, *sizes, -1])]


def _repeat_elements(call: LayerCall, x: Tensor, axis: int, times: int) -> Tensor:
    """Each slice of ``x`` along ``axis`` repeated ``times`` in place (numpy's ``repeat``): a new axis after it is
    tiled, then merged into it."""
    b = call.builder
    scope = f"{call.scope}/repeat_axis{axis}"
    expanded = b.expand_dims(scope, x, axis + 1)
    multiples = [1] * expanded.rank
    multiples[axis + 1] = times
    tiled = b.op(
        f"{scope}/Tile",
        "Tile",
        [expanded, b.const(f"{scope}/multiples", multiples, "DT_INT32")],
        tuple(times if i == axis + 1 else d for i, d in enumerate(expanded.shape)),
        attr={"Tmultiples": attr_type("DT_INT32")},
    )
    merged = known(x.shape[axis], "the upsampled dimension") * times
    return b.reshape(scope, tiled, (None, *(merged if i == axis else d for i, d in enumerate(x.shape) if i > 0)))


@layer("UpSampling1D", "UpSampling2D", "UpSampling3D")
def upsampling(call: LayerCall) -> list[Tensor]:
    """Nearest-neighbour upsampling by integer factors: each step / pixel / voxel repeated, as Keras's
    ``ops.repeat`` (2-D as ``ResizeNearestNeighbor``, which computes the same)."""
    _check_layout(call)
    b, x = call.builder, call.single_input()
    if call.class_name != "UpSampling2D":
        sizes = pair(call.option("size", 2), x.rank - 2)
        call.require(all(d is not None for d in x.shape[1:]), "its input has dimensions unknown before run time")
        for axis, size in enumerate(sizes, start=1):
            x = _repeat_elements(call, x, axis, size)
        return [x]
    call.require(
        call.option("interpolation", "nearest") == "nearest", "only nearest-neighbour upsampling is translated yet"
    )
    height, width = pair(call.option("size", 2), 2)
    out = (known(x.shape[1], "the input height") * height, known(x.shape[2], "the input width") * width)
    target = b.const(f"{call.scope}/size", list(out), "DT_INT32")
    attr = {"align_corners": attr_bool(False), "half_pixel_centers": attr_bool(False)}
    op = "ResizeNearestNeighbor"
    return [b.op(f"{call.scope}/{op}", op, [x, target], (x.shape[0], *out, x.shape[3]), attr=attr)]


def _transposed_geometry(
    call: LayerCall, x: Tensor, rank: int
) -> tuple[tuple[int, ...], tuple[int, ...], str, list[int]]:
    """Kernel size, strides, padding and output size of a transposed convolution, as Keras computes the size:
    ``in * stride`` for same padding, ``in * stride + max(kernel - stride, 0)`` for valid."""
    check_plain_kernel(call)
    _check_layout(call)
    kernel_size, strides = pair(call.option("kernel_size"), rank), pair(call.option("strides", 1), rank)
    call.require(
        pair(call.option("dilation_rate", 1), rank) == (1,) * rank and call.option("output_padding") is None,
        "dilated transposed convolutions and output_padding are not translated yet",
    )
    spatial = [known(d, "the input's spatial size") for d in x.shape[1 : 1 + rank]]
    padding = str(call.option("padding", "valid")).upper()
    call.require(padding in ("SAME", "VALID"), f"padding {padding.lower()!r} is not translated")
    size = [
        d * s if padding == "SAME" else d * s + max(k - s, 0)
        for d, s, k in zip(spatial, strides, kernel_size, strict=True)
    ]
    return kernel_size, strides, padding, size


@layer("Conv1DTranspose", "Convolution1DTranspose", "Conv2DTranspose", "Convolution2DTranspose")
def conv_transpose(call: LayerCall) -> list[Tensor]:
    """``Conv2DBackpropInput`` to the output size Keras computes, the batch read from the input at run time; then
    bias and activation. A 1-D layer runs on the ``[batch, 1, steps, channels]`` view, as TensorFlow computes it."""
    b, x = call.builder, call.single_input()
    one_d = "1D" in call.class_name
    _, strides, padding, size = _transposed_geometry(call, x, 1 if one_d else 2)
    kernel = call.weight("kernel")  # [h, w, filters, in_channels] ([steps, filters, in_channels] for 1-D)
    if one_d:
        x = b.expand_dims(f"{call.scope}/to_2d", x, 1)
        kernel, strides, size = kernel[None], (1, *strides), [1, *size]
    batch = b.slice(f"{call.scope}/batch", b.shape_of(call.scope, x), [0], [1])
    output_shape = b.concat(
        f"{call.scope}/output_shape",
        [batch, b.const(f"{call.scope}/output_size", [*size, kernel.shape[2]], "DT_INT32")],
        0,
    )
    attr = {
        "strides": attr_ints([1, *strides, 1]),
        "padding": attr_str(padding),
        "data_format": attr_str("NHWC"),
        "explicit_paddings": attr_ints([]),
        "dilations": attr_ints([1, 1, 1, 1]),
        "use_cudnn_on_gpu": attr_bool(True),
    }
    y = b.op(
        f"{call.scope}/conv2d_transpose",
        "Conv2DBackpropInput",
        [output_shape, b.const(f"{call.scope}/kernel", kernel), x],
        (x.shape[0], *size, kernel.shape[2]),
        attr=attr,
    )
    y = bias_and_activation(call, y)
    return [b.squeeze(f"{call.scope}/to_1d", y, 1) if one_d else y]


@layer("Conv3DTranspose", "Convolution3DTranspose")
def conv3d_transpose(call: LayerCall) -> list[Tensor]:
    """TF.js has no 3-D transposed convolution op: the same sums as a ``Conv3D`` of the input spread ``stride``
    apart (zeros between), padded so every output position sees the kernel, with the kernel flipped in space and
    its channel axes swapped. Same padding crops ``max(kernel - stride, 0) // 2`` from the start, as TensorFlow."""
    b, x = call.builder, call.single_input()
    kernel_size, strides, padding, size = _transposed_geometry(call, x, 3)
    kernel = call.weight("kernel")  # [d, h, w, filters, in_channels]
    for axis, stride in enumerate(strides, start=1):
        x = _spread(call, x, axis, stride)
    pads = []
    for k, s, out, spread in zip(kernel_size, strides, size, x.shape[1:4], strict=True):
        crop = max(k - s, 0) // 2 if padding == "SAME" else 0
        before = k - 1 - crop
        pads.append((before, out + k - 1 - before - known(spread, "the spread size")))
    x = b.pad(f"{call.scope}/full", x, [(0, 0), *pads, (0, 0)])
    flipped = np.ascontiguousarray(kernel[::-1, ::-1, ::-1].transpose(0, 1, 2, 4, 3))
    window = Window(kernel_size, (1, 1, 1), (1, 1, 1), "VALID")
    y = b.op(
        f"{call.scope}/Conv3D",
        "Conv3D",
        [x, b.const(f"{call.scope}/kernel", flipped)],
        window.output_shape(x, kernel.shape[3]),
        attr=window.attrs(),
    )
    return [bias_and_activation(call, y)]


def _spread(call: LayerCall, x: Tensor, axis: int, stride: int) -> Tensor:
    """``x`` with ``stride - 1`` zeros after each slice along ``axis`` (a new axis padded, then merged into it)."""
    if stride == 1:
        return x
    b = call.builder
    scope = f"{call.scope}/spread_axis{axis}"
    expanded = b.expand_dims(scope, x, axis + 1)
    padded = b.pad(scope, expanded, [(0, stride - 1) if i == axis + 1 else (0, 0) for i in range(expanded.rank)])
    merged = known(x.shape[axis], "the input's spatial size") * stride
    return b.reshape(scope, padded, (None, *(merged if i == axis else d for i, d in enumerate(x.shape) if i > 0)))


@layer("CenterCrop")
def center_crop(call: LayerCall) -> list[Tensor]:
    """The centred ``height x width`` window (start ``(size - target) // 2``) of an image at least that large."""
    _check_layout(call)
    x = call.single_input()
    call.require(x.rank == 4, "CenterCrop of an unbatched image is not translated yet")
    height, width = int(call.option("height")), int(call.option("width"))
    size = (known(x.shape[1], "the input height"), known(x.shape[2], "the input width"))
    call.require(size[0] >= height and size[1] >= width, "CenterCrop that enlarges (resizes) is not translated yet")
    begin = [0, (size[0] - height) // 2, (size[1] - width) // 2, 0]
    return [call.builder.slice(call.scope, x, begin, [-1, height, width, -1])]


@layer("Resizing")
def resizing(call: LayerCall) -> list[Tensor]:
    """``image.resize`` to ``height x width`` with half-pixel centres, nearest or bilinear, without antialiasing."""
    _check_layout(call)
    x = call.single_input()
    method = call.option("interpolation", "bilinear")
    call.require(method in ("nearest", "bilinear"), f"{method} interpolation is not translated yet")
    call.require(
        not call.option("crop_to_aspect_ratio") and not call.option("pad_to_aspect_ratio"),
        "crop_to_aspect_ratio / pad_to_aspect_ratio are not translated yet",
    )
    call.require(not call.option("antialias"), "antialiased resizing is not translated yet")
    call.require(x.rank == 4, "resizing an unbatched image is not translated yet")
    out = [int(call.option("height")), int(call.option("width"))]
    target = call.builder.const(f"{call.scope}/size", out, "DT_INT32")
    op = "ResizeNearestNeighbor" if method == "nearest" else "ResizeBilinear"
    attr = {"align_corners": attr_bool(False), "half_pixel_centers": attr_bool(True)}
    return [call.builder.op(f"{call.scope}/{op}", op, [x, target], (x.shape[0], *out, x.shape[3]), attr=attr)]
