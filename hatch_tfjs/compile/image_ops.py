"""``keras.ops.image`` calls recorded in a functional model, as graph ops: grayscale, padding and cropping, and
``resize`` with ``crop_to_aspect_ratio`` / ``pad_to_aspect_ratio``, and the others below (ssim, map_coordinates,
scale_and_translate, ...).

Each computes what Keras's TensorFlow backend computes (the same weights, paddings and crop boxes, found from the
static image size with the same float32 arithmetic), for batches of channels-last images; anything else is reported
uncovered.
"""

from __future__ import annotations

import itertools

import numpy as np

from hatch_tfjs.compile.builder import Tensor, attr_int, attr_str, attr_type, known
from hatch_tfjs.compile.conv import Window, conv2d_op, pair, resizing
from hatch_tfjs.compile.keras_ops import _cast, _compare
from hatch_tfjs.compile.math_ops import _last_axis_product
from hatch_tfjs.compile.op_helpers import _argument, _select
from hatch_tfjs.compile.registry import LayerCall, op

GRAYSCALE_WEIGHTS = (0.2989, 0.5870, 0.1140)  # tf.image.rgb_to_grayscale's, which Keras uses


def _images(call: LayerCall) -> Tensor:
    call.require(call.config.get("data_format") in (None, "channels_last"), "channels_first is not translated yet")
    x = call.single_input()
    call.require(x.rank == 4, "an unbatched image is not translated yet")
    return x


def _size(x: Tensor) -> tuple[int, int]:
    return known(x.shape[1], "the image height"), known(x.shape[2], "the image width")


@op("RGBToGrayscale")
def rgb_to_grayscale(call: LayerCall) -> list[Tensor]:
    """The channels weighted by ``GRAYSCALE_WEIGHTS`` and summed, keeping a channel axis of 1."""
    b = call.builder
    x = _images(call)
    call.require(x.dtype == "DT_FLOAT", "grayscale of a non-float image is not translated yet")
    channels = known(x.shape[3], "the channels")
    call.require(channels in (1, 3), "an image with other than 1 or 3 channels")
    if channels == 1:
        return [b.op(f"{call.scope}/Identity", "Identity", [x], x.shape)]
    weights = b.const(f"{call.scope}/rgb_weights", np.array(GRAYSCALE_WEIGHTS, np.float32))
    return [b.reduce(call.scope, "Sum", b.binary(call.scope, "Mul", x, weights), [3], True)]


def _sides(call: LayerCall, keys: tuple[str, str], target_key: str, size: int, *, padding: bool) -> tuple[int, int]:
    """(before, after) amounts for one axis from the op's arguments, inferred as Keras infers the missing one."""
    first, second, target = (call.config.get(k) for k in (*keys, target_key))
    if first is None or second is None:
        known_side = second if first is None else first
        call.require(isinstance(target, int) and isinstance(known_side, int), f"{target_key} or a side is unset")
        inferred = (1 if padding else -1) * (target - size) - known_side  # type: ignore[operator]
        first, second = (inferred, second) if first is None else (first, inferred)
    call.require(isinstance(first, int) and isinstance(second, int) and first >= 0 and second >= 0,
                 "a negative or non-integer amount")
    return int(first), int(second)  # type: ignore[arg-type]


@op("PadImages")
def pad_images(call: LayerCall) -> list[Tensor]:
    x = _images(call)
    height, width = _size(x)
    top, bottom = _sides(call, ("top_padding", "bottom_padding"), "target_height", height, padding=True)
    left, right = _sides(call, ("left_padding", "right_padding"), "target_width", width, padding=True)
    return [call.builder.pad(call.scope, x, [(0, 0), (top, bottom), (left, right), (0, 0)])]


@op("CropImages")
def crop_images(call: LayerCall) -> list[Tensor]:
    x = _images(call)
    height, width = _size(x)
    config = call.config
    top, left = config.get("top_cropping"), config.get("left_cropping")
    target_height, target_width = config.get("target_height"), config.get("target_width")
    if top is None or target_height is None:
        bottom = config.get("bottom_cropping") or 0
        top = height - (target_height or 0) - bottom if top is None else top
        target_height = height - bottom - top if target_height is None else target_height
    if left is None or target_width is None:
        right = config.get("right_cropping") or 0
        left = width - (target_width or 0) - right if left is None else left
        target_width = width - right - left if target_width is None else target_width
    amounts = (top, left, target_height, target_width)
    call.require(all(isinstance(a, int) and a >= 0 for a in amounts), "a negative or non-integer crop")
    call.require(top + target_height <= height and left + target_width <= width, "a crop outside the image")
    return [call.builder.slice(call.scope, x, [0, top, left, 0], [-1, target_height, target_width, -1])]


def _ratio_length(length: int, target: int, other_target: int) -> int:
    """``int32(float32(length * target) / other_target)``, as Keras computes a crop or pad box's side."""
    return int(np.float32(length * target) / np.float32(other_target))


def _half(amount: int) -> int:
    return int(np.float32(amount) / np.float32(2))


@op("Resize")
def resize(call: LayerCall) -> list[Tensor]:
    """``image.resize(images, size, ...)``: cropped (``crop_to_aspect_ratio``) or padded with ``fill_value``
    (``pad_to_aspect_ratio``) to the target's aspect ratio around the centre, as Keras does, then the ``Resizing``
    layer's translation."""
    size = call.config.get("size")
    call.require(isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) for s in size),
                 "a size that is not (height, width)")
    assert isinstance(size, list)  # noqa: S101 - checked above
    config = {**call.config, "height": size[0], "width": size[1], "crop_to_aspect_ratio": False,
              "pad_to_aspect_ratio": False}
    x = call.single_input()
    if call.config.get("crop_to_aspect_ratio") or call.config.get("pad_to_aspect_ratio"):
        x = _images(call)
        x = _crop_to_ratio(call, x, size) if call.config.get("crop_to_aspect_ratio") else _pad_to_ratio(call, x, size)
    return resizing(LayerCall(call.builder, call.name, "Resizing", config, [x], call.weights))


def _crop_to_ratio(call: LayerCall, x: Tensor, size: list[int]) -> Tensor:
    height, width = _size(x)
    crop_height = max(min(height, _ratio_length(width, size[0], size[1])), 1)
    crop_width = max(min(width, _ratio_length(height, size[1], size[0])), 1)
    top, left = _half(height - crop_height), _half(width - crop_width)
    return call.builder.slice(f"{call.scope}/crop", x, [0, top, left, 0], [-1, crop_height, crop_width, -1])


def _pad_to_ratio(call: LayerCall, x: Tensor, size: list[int]) -> Tensor:
    call.require(call.config.get("fill_mode", "constant") == "constant", "a fill_mode other than constant")
    fill = call.config.get("fill_value", 0.0)
    call.require(isinstance(fill, (int, float)) and not isinstance(fill, bool), "a fill_value that is not a number")
    height, width = _size(x)
    pad_height = max(height, _ratio_length(width, size[0], size[1]))
    pad_width = max(width, _ratio_length(height, size[1], size[0]))
    top, left = _half(pad_height - height), _half(pad_width - width)
    if not top and not left:
        return x
    b = call.builder
    amounts = b.const(f"{call.scope}/paddings", [[0, 0], [top, top], [left, left], [0, 0]], "DT_INT32")
    value = b.const(f"{call.scope}/fill_value", np.float32(fill))
    shape = (x.shape[0], height + 2 * top, width + 2 * left, x.shape[3])
    return b.op(f"{call.scope}/PadV2", "PadV2", [x, amounts, value], shape, attr={"Tpaddings": attr_type("DT_INT32")})


@op("ExtractPatches")
def extract_patches(call: LayerCall) -> list[Tensor]:
    """``image.extract_patches(images, size, ...)`` of 2-D patches as Keras computes them on every backend: a
    ``Conv2D`` with an identity kernel ``[h, w, c, h * w * c]``."""
    x = _images(call)
    size = call.config.get("size")
    size = [size, size] if isinstance(size, int) else size
    call.require(isinstance(size, list) and len(size) == 2, "3-D patches are not translated yet")
    assert isinstance(size, list)  # noqa: S101 - checked above
    channels = known(x.shape[3], "the channels")
    strides = call.config.get("strides") or size
    dilation = call.config.get("dilation_rate", 1)
    padding = str(call.config.get("padding", "valid")).upper()
    call.require(padding in ("SAME", "VALID"), f"padding {padding.lower()!r}")
    height, width = int(size[0]), int(size[1])
    depth = height * width * channels
    kernel = np.eye(depth, dtype=np.float32).reshape(height, width, channels, depth)
    window = Window((height, width), pair(strides, 2), pair(dilation, 2), padding)
    return [conv2d_op(call.builder, call.scope, "Conv2D", x, kernel, window)]


def _rgb_images(call: LayerCall) -> Tensor:
    x = _images(call)
    call.require(x.dtype == "DT_FLOAT" and x.shape[3] == 3, "images that are not float RGB (3 channels)")
    return x


def _channel(call: LayerCall, x: Tensor, index: int, name: str) -> Tensor:
    return call.builder.slice(f"{call.scope}/{name}", x, [0, 0, 0, index], [-1, -1, -1, 1])


@op("RGBToHSV")
def rgb_to_hsv(call: LayerCall) -> list[Tensor]:
    """``tf.image.rgb_to_hsv``'s formulas (which Keras calls): ``v = max``, ``s = range / v`` where ``v > 0``, the
    hue from the channel that is the maximum, ``range ** -1 / 6`` times a difference, wrapped into [0, 1)."""
    b = call.builder
    x = _rgb_images(call)
    red, green, blue = (_channel(call, x, i, n) for i, n in enumerate(("red", "green", "blue")))
    value = b.reduce(f"{call.scope}/value", "Max", x, [3], True)
    spread = b.binary(f"{call.scope}/range", "Sub", value, b.reduce(f"{call.scope}/min", "Min", x, [3], True))
    zero = b.scalar(f"{call.scope}/zero", 0.0)
    zeros = b.op(f"{call.scope}/ZerosLike", "ZerosLike", [value], value.shape)
    saturation = b.op(f"{call.scope}/saturation", "SelectV2", [_greater(call, "positive", value, zero),
                                                                 b.binary(f"{call.scope}/s", "RealDiv", spread, value),
                                                                 zeros], value.shape)
    norm = b.binary(f"{call.scope}/norm", "Mul", b.unary(f"{call.scope}/norm", "Reciprocal", spread),
                    b.scalar(f"{call.scope}/sixth", float(np.float32(1) / np.float32(6))))

    def sector(name: str, a: Tensor, c: Tensor, offset: float | None) -> Tensor:
        hue = b.binary(f"{call.scope}/{name}", "Mul", norm, b.binary(f"{call.scope}/{name}", "Sub", a, c))
        if offset is None:
            return hue
        return b.binary(f"{call.scope}/{name}", "AddV2", hue, b.scalar(f"{call.scope}/{name}_offset", offset))

    two, four = float(np.float32(2) / np.float32(6)), float(np.float32(4) / np.float32(6))
    inner = b.op(f"{call.scope}/green_max", "SelectV2", [_equal(call, "is_green", green, value),
                                                         sector("from_green", blue, red, two),
                                                         sector("from_blue", red, green, four)], value.shape)
    hue = b.op(f"{call.scope}/red_max", "SelectV2", [_equal(call, "is_red", red, value),
                                                     sector("from_red", green, blue, None), inner], value.shape)
    hue = b.op(f"{call.scope}/chromatic", "SelectV2", [_greater(call, "has_range", spread, zero), hue, zeros],
               value.shape)
    wrapped = b.binary(f"{call.scope}/wrapped", "AddV2", hue, b.scalar(f"{call.scope}/one", 1.0))
    hue = b.op(f"{call.scope}/hue", "SelectV2", [_less(call, "negative", hue, zero), wrapped, hue], value.shape)
    return [b.concat(call.scope, [hue, saturation, value], 3)]


@op("HSVToRGB")
def hsv_to_rgb(call: LayerCall) -> list[Tensor]:
    """``tf.image.hsv_to_rgb``'s formulas: with ``dh = 6 h``, each channel ``((1 - s) + s * d) * v`` where ``d`` is
    ``clip(|dh - 3| - 1)``, ``clip(2 - |dh - 2|)``, ``clip(2 - |dh - 4|)`` into [0, 1]."""
    b = call.builder
    x = _rgb_images(call)
    hue, saturation, value = (_channel(call, x, i, n) for i, n in enumerate(("hue", "saturation", "value")))
    scaled = b.binary(f"{call.scope}/dh", "Mul", hue, b.scalar(f"{call.scope}/six", 6.0))
    low, high = b.scalar(f"{call.scope}/zero", 0.0), b.scalar(f"{call.scope}/one", 1.0)
    one_minus_s = b.binary(f"{call.scope}/one_s", "Sub", high, saturation)
    channels = []
    for name, centre, rising in (("red", 3.0, True), ("green", 2.0, False), ("blue", 4.0, False)):
        distance = b.unary(f"{call.scope}/{name}", "Abs",
                           b.binary(f"{call.scope}/{name}", "Sub", scaled, b.scalar(f"{call.scope}/c{name}", centre)))
        if rising:
            ramp = b.binary(f"{call.scope}/{name}", "Sub", distance, high)
        else:
            ramp = b.binary(f"{call.scope}/{name}", "Sub", b.scalar(f"{call.scope}/two", 2.0), distance)
        ramp = b.binary(f"{call.scope}/{name}_min", "Minimum", b.binary(f"{call.scope}/{name}_max", "Maximum", ramp,
                                                                         low), high)
        mixed = b.binary(f"{call.scope}/{name}", "AddV2", one_minus_s,
                         b.binary(f"{call.scope}/{name}_s", "Mul", saturation, ramp))
        channels.append(b.binary(f"{call.scope}/{name}_v", "Mul", mixed, value))
    return [b.concat(call.scope, channels, 3)]


def _compare_op(call: LayerCall, op_name: str, name: str, a: Tensor, c: Tensor) -> Tensor:
    return call.builder.op(f"{call.scope}/{name}", op_name, [a, c], a.shape, dtype="DT_BOOL",
                           attr={"T": attr_type("DT_FLOAT")}, typed=False)


def _greater(call: LayerCall, name: str, a: Tensor, c: Tensor) -> Tensor:
    return _compare_op(call, "Greater", name, a, c)


def _less(call: LayerCall, name: str, a: Tensor, c: Tensor) -> Tensor:
    return _compare_op(call, "Less", name, a, c)


def _equal(call: LayerCall, name: str, a: Tensor, c: Tensor) -> Tensor:
    return _compare_op(call, "Equal", name, a, c)


@op("GaussianBlur")
def gaussian_blur(call: LayerCall) -> list[Tensor]:
    """``image.gaussian_blur``: a same-padded ``DepthwiseConv2dNative`` with Keras's kernel (the outer product of two
    normalized 1-D Gaussians, in float32, laid out as Keras reshapes it)."""
    x = _images(call)
    call.require(x.dtype == "DT_FLOAT", "a non-float image")
    size = pair(call.config.get("kernel_size", (3, 3)), 2)
    sigma = [float(s) for s in (call.config.get("sigma") or (1.0, 1.0))]
    sigma = sigma * 2 if len(sigma) == 1 else sigma
    channels = known(x.shape[3], "the channels")

    def gaussian(length: int, spread: float) -> np.ndarray:
        offsets = np.arange(length, dtype=np.float32) - np.float32((length - 1) / 2)
        curve = np.exp(np.float32(-0.5) * (offsets / np.float32(spread)) ** 2).astype(np.float32)
        normalized: np.ndarray = (curve / curve.sum(dtype=np.float32)).astype(np.float32)
        return normalized

    kernel = np.multiply.outer(gaussian(size[1], sigma[1]), gaussian(size[0], sigma[0])).astype(np.float32)
    kernel = np.tile(kernel.reshape(size[0], size[1], 1, 1), (1, 1, channels, 1))
    window = Window(size, (1, 1), (1, 1), "SAME")
    return [conv2d_op(call.builder, call.scope, "DepthwiseConv2dNative", x, kernel, window)]


SOBEL = np.array([[[-1, -2, -1], [0, 0, 0], [1, 2, 1]], [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]], np.float32)


@op("SobelEdges")
def sobel_edges(call: LayerCall) -> list[Tensor]:
    """``tf.image.sobel_edges`` (which Keras calls): the images reflect-padded by one, a ``DepthwiseConv2dNative``
    with the vertical and horizontal Sobel kernels, reshaped to ``[n, h, w, c, 2]``."""
    b = call.builder
    x = _images(call)
    call.require(x.dtype == "DT_FLOAT", "a non-float image")
    height, width = _size(x)
    channels = known(x.shape[3], "the channels")
    amounts = b.const(f"{call.scope}/paddings", [[0, 0], [1, 1], [1, 1], [0, 0]], "DT_INT32")
    padded = b.op(f"{call.scope}/MirrorPad", "MirrorPad", [x, amounts], (x.shape[0], height + 2, width + 2, channels),
                  attr={"Tpaddings": attr_type("DT_INT32"), "mode": attr_str("REFLECT")})
    kernel = np.tile(np.transpose(SOBEL, (1, 2, 0))[:, :, None, :], (1, 1, channels, 1))
    edges = conv2d_op(b, call.scope, "DepthwiseConv2dNative", padded, kernel, Window((3, 3), (1, 1), (1, 1), "VALID"))
    return [b.reshape(f"{call.scope}/edges", edges, (None, height, width, channels, 2))]


def _ssim_kernel(size: int, sigma: float, channels: int) -> np.ndarray:
    """Keras's Gaussian window (float32: ``exp(-x^2 / (2 sigma^2))`` normalized, its outer product) as a depthwise
    ``[size, size, channels, 1]`` filter."""
    x = np.arange(size, dtype=np.float32) - np.float32((size - 1) / 2.0)
    gauss = np.exp(-(x**2) / np.float32(2.0 * sigma**2)).astype(np.float32)
    gauss = gauss / gauss.sum(dtype=np.float32)
    window = np.outer(gauss, gauss).astype(np.float32)
    return np.repeat(window[:, :, None, None], channels, axis=2)


@op("SSIM")
def ssim(call: LayerCall) -> list[Tensor]:
    """``image.ssim(image1, image2, max_val, filter_size, filter_sigma, k1, k2)`` of batches of images: the local
    means, variances and covariance as VALID depthwise convolutions with Keras's Gaussian window (each channel on
    its own, as Keras's one-channel convolution of the channels moved into the batch), the SSIM map averaged over
    the pixels, then over the channels: one value per image."""
    b = call.builder
    images = [call.args[i] if len(call.args) > i else call.kwargs.get(n) for i, n in ((0, "image1"), (1, "image2"))]
    call.require(all(isinstance(t, Tensor) and t.dtype == "DT_FLOAT" and t.rank == 4 for t in images),
                 "images that are not batches of float images")
    first, second = (t for t in images if isinstance(t, Tensor))
    call.require(first.shape == second.shape, "images of different shapes")
    if call.config.get("data_format") == "channels_first":
        first, second = (b.transpose(f"{call.scope}/nhwc_{i}", t, [0, 2, 3, 1]) for i, t in enumerate((first, second)))
    size, sigma = call.config.get("filter_size", 11), call.config.get("filter_sigma", 1.5)
    constants = [call.config.get(k, d) for k, d in (("max_val", 1.0), ("k1", 0.01), ("k2", 0.03))]
    call.require(isinstance(size, int) and size >= 1 and isinstance(sigma, (int, float))
                 and all(isinstance(c, (int, float)) for c in constants), "a window or constants that are not numbers")
    assert isinstance(size, int) and isinstance(sigma, (int, float))  # noqa: S101 - checked above
    height, width, channels = (known(d, "an image axis") for d in first.shape[1:])
    call.require(height >= size and width >= size, "images smaller than the filter")
    kernel = _ssim_kernel(size, float(sigma), channels)
    window = Window((size, size), (1, 1), (1, 1), "VALID")

    def blur(name: str, x: Tensor) -> Tensor:
        return conv2d_op(b, f"{call.scope}/{name}", "DepthwiseConv2dNative", x, kernel, window)

    max_val, k1, k2 = (float(c) for c in constants)
    c1, c2 = b.scalar(f"{call.scope}/c1", (k1 * max_val) ** 2), b.scalar(f"{call.scope}/c2", (k2 * max_val) ** 2)
    two = b.scalar(f"{call.scope}/two", 2.0)
    mu1, mu2 = blur("mu1", first), blur("mu2", second)
    mu1_sq = b.binary(f"{call.scope}/mu1_sq", "Mul", mu1, mu1)
    mu2_sq = b.binary(f"{call.scope}/mu2_sq", "Mul", mu2, mu2)
    mu12 = b.binary(f"{call.scope}/mu12", "Mul", mu1, mu2)

    def moment(name: str, a: Tensor, c: Tensor, mean: Tensor) -> Tensor:
        return b.binary(f"{call.scope}/{name}", "Sub", blur(f"{name}_blur", b.binary(f"{call.scope}/{name}_product",
                                                                                       "Mul", a, c)), mean)

    sigma1_sq, sigma2_sq = moment("sigma1_sq", first, first, mu1_sq), moment("sigma2_sq", second, second, mu2_sq)
    sigma12 = moment("sigma12", first, second, mu12)

    def add(name: str, x: Tensor, y: Tensor) -> Tensor:
        return b.binary(f"{call.scope}/{name}", "AddV2", x, y)

    numerator = b.binary(f"{call.scope}/numerator", "Mul",
                         add("luminance", b.binary(f"{call.scope}/mu12x2", "Mul", two, mu12), c1),
                         add("structure", b.binary(f"{call.scope}/sigma12x2", "Mul", two, sigma12), c2))
    denominator = b.binary(f"{call.scope}/denominator", "Mul", add("means", add("mu_sq", mu1_sq, mu2_sq), c1),
                           add("variances", add("sigma_sq", sigma1_sq, sigma2_sq), c2))
    ssim_map = b.binary(f"{call.scope}/map", "RealDiv", numerator, denominator)
    per_channel = b.reduce(f"{call.scope}/per_channel", "Mean", ssim_map, [1, 2], False)
    return [b.reduce(call.scope, "Mean", per_channel, [1], False)]


def _int_op(call: LayerCall, name: str, op_name: str, a: Tensor, value: int | Tensor) -> Tensor:
    b = call.builder
    other = value if isinstance(value, Tensor) else b.const(f"{call.scope}/{name}_value", np.int32(value), "DT_INT32")
    return b.op(f"{call.scope}/{name}", op_name, [a, other], a.shape, dtype="DT_INT32")


def _fixed_index(call: LayerCall, name: str, index: Tensor, size: int, mode: str) -> tuple[Tensor, Tensor | None]:
    """An integer index moved inside ``[0, size)`` as Keras's ``fill_mode`` does, and (constant mode) whether it
    was inside."""
    b = call.builder
    low, high = b.const(f"{call.scope}/{name}_low", np.int32(0), "DT_INT32"), b.const(
        f"{call.scope}/{name}_high", np.int32(size - 1), "DT_INT32")
    if mode in ("constant", "nearest"):
        # Maximum / Minimum, not ClipByValue: TF.js 4.22's WASM ClipByValue leaves int32 values unclipped
        clipped = _int_op(call, f"{name}_min", "Minimum", _int_op(call, f"{name}_max", "Maximum", index, low), high)
        if mode == "nearest":
            return clipped, None
        inside = b.op(f"{call.scope}/{name}_inside", "LogicalAnd", [
            _compare(call, "GreaterEqual", index, low), _compare(call, "LessEqual", index, high)],
            index.shape, dtype="DT_BOOL", typed=False)
        return clipped, inside
    if mode == "wrap":
        return _int_op(call, f"{name}_wrap", "FloorMod", index, size), None
    folded = _int_op(call, f"{name}_mod", "FloorMod", b.op(f"{call.scope}/{name}_abs", "Abs", [index], index.shape,
                                                          dtype="DT_INT32"), 2 * size)
    under = _compare(call, "Less", folded, b.const(f"{call.scope}/{name}_size", np.int32(size), "DT_INT32"))
    mirrored = _int_op(call, f"{name}_mirrored", "Sub", b.const(f"{call.scope}/{name}_size2", np.int32(2 * size),
                                                                "DT_INT32"), folded)
    mirrored = Tensor(mirrored.ref, index.shape, "DT_INT32")
    if mode == "reflect":
        mirrored = _int_op(call, f"{name}_reflected", "Sub", mirrored, 1)
    return _select(call, f"{name}_fold", under, folded, mirrored), None


@op("MapCoordinates")
def map_coordinates(call: LayerCall) -> list[Tensor]:
    """``image.map_coordinates(inputs, coordinates, order, fill_mode, fill_value)`` of float ``inputs`` of known
    shape (a constant, or a tensor without the batch axis: Keras needs every size) at ``coordinates`` ``[rank,
    ...]``: per axis the rounded (order 0) or floor / floor + 1 (order 1, with their linear weights) indices, moved
    inside as ``fill_mode`` says, every corner gathered (``GatherNd``), weighted and summed in Keras's order; out of
    range corners are ``fill_value`` in constant mode."""
    b = call.builder
    inputs, coordinates = _argument(call, 0, "inputs"), _argument(call, 1, "coordinates")
    order, mode = call.config.get("order"), str(call.config.get("fill_mode", "constant"))
    call.require(order in (0, 1), f"interpolation order {order}")
    # Keras's "mirror" maps a coordinate at the period's middle to the size itself, which TensorFlow's GatherNd
    # refuses: the graph is left to TensorFlow rather than made to gather what TF.js would return there
    call.require(mode in ("constant", "nearest", "wrap", "reflect"), f"fill_mode {mode!r}")
    call.require(isinstance(coordinates, Tensor) and coordinates.dtype in ("DT_FLOAT", "DT_INT32"),
                 "coordinates that are not a float or int32 tensor")
    assert isinstance(coordinates, Tensor)  # noqa: S101 - checked above
    if not isinstance(inputs, Tensor):
        array = np.asarray(inputs)
        call.require(array.dtype.kind == "f" and array.ndim >= 1, "inputs that are not floats")
        inputs = b.const(f"{call.scope}/inputs", array.astype(np.float32))
    call.require(inputs.dtype == "DT_FLOAT", "inputs that are not floats")
    sizes = [known(d, "an input axis") for d in inputs.shape]
    call.require(coordinates.rank >= 2 and coordinates.shape[0] == len(sizes), "coordinates not [rank, ...]")
    fill = call.config.get("fill_value", 0.0)
    call.require(isinstance(fill, (int, float)), "a fill_value that is not a number")
    rest = coordinates.shape[1:]
    nodes: list[list[tuple[Tensor, Tensor | None, Tensor | None]]] = []  # per axis: (index, inside, weight)
    for axis, size in enumerate(sizes):
        c = b.squeeze(f"{call.scope}/axis{axis}", b.slice(f"{call.scope}/axis{axis}", coordinates,
                                                           [axis] + [0] * len(rest), [1] + [-1] * len(rest)), 0)
        if order == 0:
            rounded = c if c.dtype == "DT_INT32" else b.unary(f"{call.scope}/axis{axis}_round", "Round", c)
            corners: list[tuple[Tensor, Tensor | None]] = [(_cast(call, rounded, "int32"), None)]
        else:
            c = _cast(call, c, "float32")
            lower = b.unary(f"{call.scope}/axis{axis}_floor", "Floor", c)
            upper_weight = b.binary(f"{call.scope}/axis{axis}_upper_weight", "Sub", c, lower)
            lower_weight = b.binary(f"{call.scope}/axis{axis}_lower_weight", "Sub", b.scalar(
                f"{call.scope}/axis{axis}_one", 1.0), upper_weight)
            index = _cast(call, lower, "int32")
            corners = [(index, lower_weight), (_int_op(call, f"axis{axis}_next", "AddV2", index, 1), upper_weight)]
        nodes.append([(*_fixed_index(call, f"axis{axis}_{k}", i, size, mode), w)
                      for k, (i, w) in enumerate(corners)])
    total: Tensor | None = None
    for number, items in enumerate(itertools.product(*nodes)):
        scope = f"{call.scope}/corner{number}"
        indices = b.op(f"{scope}/stack", "Pack", [i for i, _, _ in items], (*rest, len(sizes)), dtype="DT_INT32",
                       attr={"N": attr_int(len(sizes)), "axis": attr_int(len(rest))})
        gathered = b.op(f"{scope}/GatherNd", "GatherNd", [inputs, indices], rest, typed=False,
                        attr={"Tparams": attr_type("DT_FLOAT"), "Tindices": attr_type("DT_INT32")})
        flags = [v for _, v, _ in items if v is not None]
        if flags:
            valid = flags[0]
            for k, flag in enumerate(flags[1:]):
                valid = b.op(f"{scope}/valid{k}", "LogicalAnd", [valid, flag], rest, dtype="DT_BOOL", typed=False)
            filler = b.op(f"{scope}/fill", "Fill", [b.shape_of(scope, gathered), b.scalar(f"{scope}/fill_value",
                                                                                               float(fill))],
                          rest, attr={"index_type": attr_type("DT_INT32")})
            gathered = _select(call, f"corner{number}_select", valid, gathered, filler)
        weights = [w for _, _, w in items if w is not None]
        if weights:
            weight = weights[0]
            for k, w in enumerate(weights[1:]):
                weight = b.binary(f"{scope}/weight{k}", "Mul", weight, w)
            gathered = b.binary(f"{scope}/weighted", "Mul", weight, gathered)
        total = gathered if total is None else b.binary(f"{scope}/sum", "AddV2", total, gathered)
    assert total is not None  # noqa: S101 - at least one corner
    return [total]


# --- scale_and_translate: one constant weight matrix per spatial axis ------------------------------------------------

_SCALE_METHODS = {**dict.fromkeys(("linear", "bilinear", "trilinear"), "linear"),
                  **dict.fromkeys(("cubic", "bicubic", "tricubic"), "cubic"), "lanczos3": "lanczos3",
                  "lanczos5": "lanczos5"}


def _scale_kernel(method: str, x: np.ndarray) -> np.ndarray:
    """Keras's TensorFlow backend's resampling kernel at the (non-negative) distances ``x``, in float32."""
    one = np.float32(1.0)
    if method == "linear":
        return np.asarray(np.maximum(np.float32(0.0), one - np.abs(x)), np.float32)
    if method == "cubic":
        out = ((np.float32(1.5) * x - np.float32(2.5)) * x) * x + one
        out = np.where(x >= 1.0, ((np.float32(-0.5) * x + np.float32(2.5)) * x - np.float32(4.0)) * x
                       + np.float32(2.0), out)
        return np.where(x >= 2.0, np.float32(0.0), out).astype(np.float32)
    radius = np.float32(3.0 if method == "lanczos3" else 5.0)
    pi = np.float32(np.pi)
    y = radius * np.sin(pi * x) * np.sin(pi * x / radius)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(x > 1e-3, y / np.where(x != 0, np.float32(np.pi**2) * x**2, one), one)
    return np.where(x > radius, np.float32(0.0), out).astype(np.float32)


def _scale_weights(size: int, out: int, scale: float, translation: float, method: str, antialias: bool) -> np.ndarray:
    """The ``[size, out]`` matrix Keras's ``_compute_weight_mat`` builds, with the same float32 arithmetic."""
    scale32, translation32 = np.float32(scale), np.float32(translation)
    inv_scale = np.float32(1.0) / scale32
    kernel_scale = np.maximum(inv_scale, np.float32(1.0)) if antialias else np.float32(1.0)
    sample = (np.arange(out, dtype=np.float32) + np.float32(0.5)) * inv_scale - translation32 * inv_scale \
        - np.float32(0.5)
    weights = _scale_kernel(method, np.abs(sample[None, :] - np.arange(size, dtype=np.float32)[:, None])
                            / kernel_scale)
    total = weights.sum(axis=0, keepdims=True, dtype=np.float32)
    weights = np.where(np.abs(total) > 1000.0 * float(np.finfo(np.float32).eps),
                       weights / np.where(total != 0, total, np.float32(1.0)), np.float32(0.0))
    inside = (sample >= -0.5) & (sample <= np.float32(size) - np.float32(0.5))
    return np.where(inside[None, :], weights, np.float32(0.0)).astype(np.float32)


def _numbers(call: LayerCall, value: object, name: str, count: int) -> list[float]:
    call.require(not isinstance(value, Tensor), f"a {name} computed by the model")
    array = np.asarray(value)
    call.require(array.shape == (count,) and array.dtype.kind == "f", f"a {name} that is not {count} floats")
    return [float(v) for v in array]


@op("ScaleAndTranslate")
def scale_and_translate(call: LayerCall) -> list[Tensor]:
    """``image.scale_and_translate(images, output_shape, scale, translation, spatial_dims, method, antialias)`` of
    float images with constant ``scale`` and ``translation``: a separable linear map, each spatial axis (never the
    batch axis) moved last and multiplied by the constant ``[input size, output size]`` weight matrix Keras's
    TensorFlow backend computes (same kernel, antialiasing, normalization and out-of-range columns), then moved back,
    axis after axis in Keras's order."""
    x = call.single_input()
    call.require(x.dtype == "DT_FLOAT", "images that are not float32 (Keras rounds and clips integer images)")
    output_shape = _argument(call, 1, "output_shape")
    dims = call.config.get("spatial_dims")
    method = _SCALE_METHODS.get(str(call.config.get("method")))
    call.require(method is not None, f"method {call.config.get('method')!r}")
    assert method is not None  # noqa: S101 - checked above
    call.require(isinstance(dims, (list, tuple)) and all(isinstance(d, int) for d in dims), "spatial_dims unset")
    assert isinstance(dims, (list, tuple))  # noqa: S101 - checked above
    call.require(isinstance(output_shape, (list, tuple)) and len(output_shape) == x.rank,
                 "an output_shape that is not of the images' rank")
    assert isinstance(output_shape, (list, tuple))  # noqa: S101 - checked above
    scale = _numbers(call, _argument(call, 2, "scale"), "scale", len(dims))
    translation = _numbers(call, _argument(call, 3, "translation"), "translation", len(dims))
    antialias = bool(call.config.get("antialias", True))
    for i, dim in enumerate(dims):
        axis = dim % x.rank
        call.require(axis != 0, "a spatial axis that is the batch axis")
        size, out = known(x.shape[axis], "a spatial axis"), output_shape[axis]
        call.require(isinstance(out, int) and out > 0, "an unknown output size")
        matrix = _scale_weights(size, int(out), scale[i], translation[i], method, antialias)
        perm = [a for a in range(x.rank) if a != axis] + [axis]
        moved = x if axis == x.rank - 1 else call.builder.transpose(f"{call.scope}/axis{i}_last", x, perm)
        x = _last_axis_product(call, f"axis{i}", moved, matrix)
        if axis != x.rank - 1:
            x = call.builder.transpose(f"{call.scope}/axis{i}_back", x, [int(p) for p in np.argsort(perm)])
    return [x]
