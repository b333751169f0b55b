"""Compiler zoo cases for the ``keras.ops`` nn / math / core / linalg / image calls (hatch_tfjs/compile/nn_ops.py,
math_ops.py, core_ops.py, loss_ops.py, image_ops.py): one small functional model per call and setting, compiled
without TensorFlow and run in TF.js against Keras by tests/parity/test_compile.py, with the rest of the compiler zoo
(importing this module adds its cases)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import compile_zoo
from compile_zoo import CompileCase, _ops_model

CASES: dict[str, CompileCase] = {}


def _add(name: str, make: Callable[[Any, Any], Any], shape: tuple[int, ...] = (3, 4), kind: str = "float",
         dtype: str = "float32") -> None:
    CASES[f"nnops_{name}"] = CompileCase(f"nnops_{name}", _ops_model(make, shape, dtype), ((shape, kind),))


# nn: activations, normalization, statistics, multi_hot, pooling, depth <-> space
for _name, _make in {
    "sparse_plus": lambda o, x: o.sparse_plus(x * 2.0), "sparse_sigmoid": lambda o, x: o.sparse_sigmoid(x * 2.0),
    "sparsemax": lambda o, x: o.sparsemax(x * 2.0), "normalize_l2": lambda o, x: o.normalize(x),
    "normalize_l1_axis1": lambda o, x: o.normalize(x, axis=1, order=1),
    "normalize_l3_epsilon": lambda o, x: o.normalize(x * 1e-3, order=3, epsilon=1e-2),
    "moments": lambda o, x: list(o.moments(x, axes=[1])), "moments_keepdims": lambda o, x: list(o.moments(x, [1, 2], True)),
    "erfc": lambda o, x: o.erfc(x * 2.0),
    # core and linalg
    "slice": lambda o, x: o.slice(x, [0, 1, 1], [2, 2, 3]), "saturate_cast": lambda o, x: o.saturate_cast(x * 3.0, "int32"),
    "convert_to_tensor_int": lambda o, x: o.convert_to_tensor(x * 3.0, dtype="int32"),
    "norm_vector": lambda o, x: o.norm(x, axis=-1), "norm_l1_axis1": lambda o, x: o.norm(x, ord=1, axis=1),
    "norm_inf_keepdims": lambda o, x: o.norm(x, ord=float("inf"), axis=-1, keepdims=True),
    "norm_l0_l3": lambda o, x: o.norm(o.relu(x), ord=0, axis=-1) + o.norm(x, ord=3, axis=-1),
    "norm_fro": lambda o, x: o.norm(x, axis=(1, 2)), "norm_matrix_l1": lambda o, x: o.norm(x, ord=1, axis=(1, 2), keepdims=True),
    "norm_matrix_minus_inf": lambda o, x: o.norm(x, ord=float("-inf"), axis=(2, 1)),
}.items():
    _add(_name, _make)

# normalizations with statistics and weights as arguments: constants, and tensors the model computes
_FEATURES = np.linspace(0.5, 1.5, 4, dtype="float32")
for _name, _make in {
    "batch_normalization_constants": lambda o, x: o.batch_normalization(x, _FEATURES - 1.0, _FEATURES, axis=-1,
                                                                        offset=_FEATURES * 0.1, scale=_FEATURES * 2.0),
    "batch_normalization_axis1_tensors": lambda o, x: o.batch_normalization(
        x, o.mean(x, axis=[0, 2]), o.var(x, axis=[0, 2]) + 0.5, axis=1, epsilon=0.01),
    "layer_normalization": lambda o, x: o.layer_normalization(x, gamma=_FEATURES, beta=-_FEATURES),
    "layer_normalization_axes_tensor_gamma": lambda o, x: o.layer_normalization(x, gamma=o.sigmoid(x), axis=[1, 2]),
    "rms_normalization": lambda o, x: o.rms_normalization(x, scale=_FEATURES, epsilon=1e-3),
    "rms_normalization_axis1": lambda o, x: o.rms_normalization(x, axis=1),
    "extract_sequences": lambda o, x: o.extract_sequences(x, 2, 1), "extract_sequences_stride": lambda o, x: o.extract_sequences(o.reshape(x, (-1, 12)), 5, 3),
}.items():
    _add(_name, _make)
# attention and convolutions with their weights as arguments
_RNG = np.random.default_rng(21)
_KERNEL_2D, _KERNEL_1D = _RNG.normal(size=(3, 3, 3, 2)).astype("float32"), _RNG.normal(size=(2, 4, 5)).astype("float32")
_POINTWISE = _RNG.normal(size=(1, 1, 6, 4)).astype("float32")
_DEPTHWISE_1D, _POINTWISE_1D = _RNG.normal(size=(2, 4, 1)).astype("float32"), _RNG.normal(size=(1, 4, 3)).astype("float32")
_DEPTHWISE, _BIAS = _RNG.normal(size=(2, 3, 3, 2)).astype("float32"), _RNG.normal(size=(1, 1, 3, 3)).astype("float32")


def _heads(o: Any, x: Any, heads: int = 2) -> Any:
    """``x`` ``[batch, 3, 4]`` as ``[batch, 3 steps, heads, 4 // heads]``."""
    return o.reshape(x, (-1, 3, heads, 4 // heads))


for _name, _make in {
    "dot_product_attention": lambda o, x: o.dot_product_attention(_heads(o, x), _heads(o, o.tanh(x)), _heads(o, o.sigmoid(x))),
    "dot_product_attention_causal_scale_bias": lambda o, x: o.dot_product_attention(
        _heads(o, x), _heads(o, x * 0.5), _heads(o, o.sigmoid(x)), bias=_BIAS, scale=0.3, is_causal=True),
    "dot_product_attention_mask_grouped": lambda o, x: o.dot_product_attention(
        o.reshape(o.concatenate([x, x * 2.0], axis=-1), (-1, 3, 4, 2)), _heads(o, o.tanh(x)), _heads(o, x),
        mask=(x[:, :, 0] > -0.5)[:, None, None, :]),
    "conv_1d_same": lambda o, x: o.conv(x, _KERNEL_1D, padding="same"),
}.items():
    _add(_name, _make)
for _name, _make in {
    "conv_2d": lambda o, x: o.conv(x, _KERNEL_2D), "conv_2d_same_s2": lambda o, x: o.conv(x, _KERNEL_2D, strides=2, padding="same"),
    "conv_2d_dilated": lambda o, x: o.conv(x, _KERNEL_2D, dilation_rate=2),
    "depthwise_conv": lambda o, x: o.depthwise_conv(x, _DEPTHWISE, padding="same"),
    "separable_conv": lambda o, x: o.separable_conv(x, _DEPTHWISE, _POINTWISE, strides=2),
}.items():
    _add(_name, _make, (6, 8, 3))
for _name, _make in {
    "adaptive_average_pool": lambda o, x: o.adaptive_average_pool(x, (4, 3)),
    "adaptive_max_pool_up": lambda o, x: o.adaptive_max_pool(x, (7, 5)),
    "adaptive_max_pool_even": lambda o, x: o.adaptive_max_pool(x, (2, 2)),
    "slice_update": lambda o, x: o.slice_update(x, [0, 2, 3, 1], o.tanh(x[:, :3, :4, :2])),
}.items():
    _add(_name, _make, (6, 8, 3))
_add("adaptive_average_pool_1d", lambda o, x: o.adaptive_average_pool(x, (2,)))
_add("slice_update_clamped", lambda o, x: o.slice_update(x, [0, 2, 3], o.square(x[:, :2, :2])))
_add("separable_conv_1d", lambda o, x: o.separable_conv(x, _DEPTHWISE_1D, _POINTWISE_1D, padding="same"))

# cross-entropies: from logits, from probabilities, and from a sigmoid's / softmax's output (Keras uses its logits:
# saturated here, where clipped probabilities would give other values)
for _name, _make in {
    "binary_crossentropy_of_sigmoid": lambda o, x: o.binary_crossentropy(o.sigmoid(x * 0.5), o.sigmoid(x * 40.0)),
    "binary_crossentropy_probabilities": lambda o, x: o.binary_crossentropy(
        o.cast(x > 0, "float32"), o.clip(x * 0.3 + 0.5, 0.0, 1.0)),
    "binary_crossentropy_from_logits": lambda o, x: o.binary_crossentropy(o.sigmoid(x * 0.5), x * 3.0, from_logits=True),
    "categorical_crossentropy_of_softmax": lambda o, x: o.categorical_crossentropy(o.softmax(x * 0.5), o.softmax(x * 40.0)),
    "categorical_crossentropy_probabilities": lambda o, x: o.categorical_crossentropy(
        o.softmax(x * 0.5), o.abs(x) + 0.1),
    "categorical_crossentropy_from_logits_axis1": lambda o, x: o.categorical_crossentropy(
        o.abs(x) / 3.0, x * 2.0, from_logits=True, axis=1),
    "sparse_categorical_crossentropy_of_softmax": lambda o, x: o.sparse_categorical_crossentropy(
        o.argmin(x, axis=-1), o.softmax(x * 40.0)),
    "sparse_categorical_crossentropy_probabilities": lambda o, x: o.sparse_categorical_crossentropy(
        o.expand_dims(o.argmax(x, axis=-1), -1), o.abs(x) / o.sum(o.abs(x), axis=-1, keepdims=True)),
    "sparse_categorical_crossentropy_from_logits": lambda o, x: o.sparse_categorical_crossentropy(
        o.argmin(x, axis=-1), x, from_logits=True),
}.items():
    _add(_name, _make)
for _name, _make in {
    "cdist": lambda o, x: o.cdist(x, o.tanh(x)), "cdist_constant": lambda o, x: o.cdist(x, _FEATURES.reshape(1, 4) * _FEATURES[:2, None]),
    "in_top_k": lambda o, x: o.cast(o.in_top_k(o.argmin(x[:, 0], axis=-1), o.round(x[:, 1] * 2.0), 2), "float32"),
    "in_top_k_ties_out_of_range": lambda o, x: o.cast(o.in_top_k(o.argmax(x[:, 0], axis=-1) + 2, o.round(x[:, 2]), 1), "float32"),
}.items():
    _add(_name, _make)
_add("multi_hot", lambda o, x: o.multi_hot(x, 6), (5,), "int6", "int32")
_add("multi_hot_int_bool", lambda o, x: o.cast(o.multi_hot(x, 4, dtype="int32"), "float32")
     + o.cast(o.multi_hot(x, 4, dtype="bool"), "float32"), (5,), "int6", "int32")
for _name, _make in {
    "max_pool": lambda o, x: o.max_pool(x, 2), "average_pool_same_s2": lambda o, x: o.average_pool(x, 3, 2, "same"),
    "depth_to_space": lambda o, x: o.nn.depth_to_space(o.concatenate([x, x * 2.0, -x, x + 1.0], axis=-1)[..., :8], 2),
    "space_to_depth": lambda o, x: o.nn.space_to_depth(x, 2),
    # image
    "rgb_to_grayscale": lambda o, x: o.image.rgb_to_grayscale(x),
    "pad_images": lambda o, x: o.image.pad_images(x, 1, 2, target_height=9, target_width=12),
    "pad_images_bottom_right": lambda o, x: o.image.pad_images(x, bottom_padding=2, right_padding=1, target_height=10,
                                                              target_width=9),
    "crop_images": lambda o, x: o.image.crop_images(x, 1, 2, target_height=4, target_width=5),
    "crop_images_bottom_right": lambda o, x: o.image.crop_images(x, bottom_cropping=1, right_cropping=3,
                                                                target_height=3, target_width=4),
    "extract_patches": lambda o, x: o.image.extract_patches(x, 2), "extract_patches_same_s1": lambda o, x: o.image.extract_patches(x, (3, 2), strides=1, padding="same"),
    "extract_patches_dilated": lambda o, x: o.image.extract_patches(x, 2, strides=1, dilation_rate=2),
    "rgb_to_hsv": lambda o, x: o.image.rgb_to_hsv(o.sigmoid(x)),
    "rgb_to_hsv_ties": lambda o, x: o.image.rgb_to_hsv(o.round(o.sigmoid(x) * 2.0) / 2.0),
    "hsv_to_rgb": lambda o, x: o.image.hsv_to_rgb(o.sigmoid(x)),
    "gaussian_blur": lambda o, x: o.image.gaussian_blur(x),
    "gaussian_blur_5x3": lambda o, x: o.image.gaussian_blur(x, kernel_size=(5, 3), sigma=(1.5, 0.7)),
    "sobel_edges": lambda o, x: o.image.sobel_edges(x),
    "resize_crop_to_aspect_ratio": lambda o, x: o.image.resize(x, (5, 5), crop_to_aspect_ratio=True),
    "resize_pad_to_aspect_ratio": lambda o, x: o.image.resize(x, (3, 7), pad_to_aspect_ratio=True, fill_value=0.5),
    "resize_nearest_pad_tall": lambda o, x: o.image.resize(x, (9, 4), interpolation="nearest", pad_to_aspect_ratio=True),
}.items():
    _add(_name, _make, (6, 8, 3))
_add("max_pool_1d_s1", lambda o, x: o.max_pool(x, 2, strides=1), (8, 3))


def _segments(reduction: str, shift: int) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        data, ids = keras.Input((3,), name="data"), keras.Input((), dtype="int32", name="ids")
        reduce = getattr(keras.ops, f"segment_{reduction}")
        return keras.Model([data, ids], reduce(data, ids - shift, num_segments=4))

    return build


for _reduction, _shift in (("sum", 0), ("max", 0), ("min", 1), ("prod", 1)):
    CASES[f"nnops_segment_{_reduction}"] = CompileCase(f"nnops_segment_{_reduction}", _segments(_reduction, _shift),
                                                       (((3,), "float"), ((), "int3")))

_add("unfold", lambda o, x: o.unfold(x, 2), (3, 6, 8))
_add("unfold_padded_strided", lambda o, x: o.unfold(x, (3, 2), padding=1, stride=2), (3, 6, 8))
_add("unfold_dilated", lambda o, x: o.unfold(x, 2, dilation=(2, 1)), (2, 6, 5))
_add("fold", lambda o, x: o.fold(o.unfold(x, 2), (6, 8), 2), (3, 6, 8))
_add("fold_overlapping_padded_strided", lambda o, x: o.fold(x, (5, 4), (3, 2), padding=1, stride=(2, 1)), (12, 15))
_add("fold_dilated", lambda o, x: o.fold(o.unfold(x, 2, dilation=(2, 1)), (6, 5), 2, dilation=(2, 1)), (2, 6, 5))

for _name, _make in {
    "fft": lambda o, x: list(o.fft((x, o.tanh(x)))), "rfft": lambda o, x: list(o.rfft(x)),
    "rfft_padded": lambda o, x: list(o.rfft(x, fft_length=7)), "rfft_truncated": lambda o, x: list(o.rfft(x, fft_length=3)),
    "irfft": lambda o, x: o.irfft((x, o.tanh(x))), "irfft_odd": lambda o, x: o.irfft((x, o.tanh(x)), fft_length=7),
    "irfft_short": lambda o, x: o.irfft((x, o.tanh(x)), fft_length=4),
    "rfft_irfft_round_trip": lambda o, x: o.irfft(o.rfft(x * 2.0), fft_length=4),
    "fft2": lambda o, x: list(o.fft2((x, o.sigmoid(x)))), "ifft2": lambda o, x: list(o.ifft2((o.tanh(x), x))),
}.items():
    _add(_name, _make)

for _name, _make in {
    "stft": lambda o, x: list(o.stft(x, 4, 2, 8)),
    "stft_hamming_uncentred": lambda o, x: list(o.stft(x, 5, 3, 6, window="hamming", center=False)),
    "stft_no_window": lambda o, x: list(o.stft(x, 6, 4, 6, window=None)),
    "stft_hann_even_in_odd": lambda o, x: list(o.stft(x, 4, 3, 7)),
}.items():
    _add(_name, _make, (24,))

# scatter with constant and computed indices (the batch moved last so constant indices address fixed axes), psnr
_UNBATCHED = (1, 2, 0)
for _name, _make in {
    "scatter_duplicates": lambda o, x: x + o.scatter([[1, 2], [0, 0], [1, 2], [2, 3]], o.mean(x, axis=(0, 1)), (3, 4)),
    "scatter_update": lambda o, x: o.transpose(o.scatter_update(
        o.transpose(x, _UNBATCHED), [[0, 1], [2, 3]], o.transpose(o.tanh(x[:, :2, 0]))), (2, 0, 1)),
    "scatter_update_rows_computed_indices": lambda o, x: o.scatter_update(
        o.mean(x, axis=0), o.expand_dims(o.cast(o.max(x, axis=(0, 2)) * 0.0, "int32"), -1)
        + np.array([[2], [0], [1]], "int32"), o.sigmoid(o.min(x, axis=0))) + x,
    "scatter_update_add_duplicates": lambda o, x: o.transpose(o.scatter_update(
        o.transpose(x, _UNBATCHED), [[1], [1], [2]], o.transpose(o.tanh(x), _UNBATCHED), reduction="add"), (2, 0, 1)),
    "scatter_update_max": lambda o, x: o.transpose(o.scatter_update(
        o.transpose(x, _UNBATCHED), [[0, 1], [2, 3], [1, 0]], o.transpose(o.tanh(x[:, :3, 1])), reduction="max"), (2, 0, 1)),
    "psnr": lambda o, x: x * 0.0 + o.psnr(x, o.tanh(x), 2.0),
    # in hundreds of dB: a ~50 dB result's float32 rounding exceeds the 1e-5 tolerance
    "psnr_max_255": lambda o, x: o.psnr(o.sigmoid(x) * 255.0, o.round(o.sigmoid(x) * 255.0), 255) * 0.01 + o.zeros_like(x),
}.items():
    _add(_name, _make)

for _name, _make in {
    "ssim": lambda o, x: o.image.ssim(x, o.tanh(x) * 0.8, filter_size=5)[:, None] + o.zeros_like(x[:, 0, 0, :2]),
    "ssim_channels_first_255": lambda o, x: o.image.ssim(
        o.sigmoid(x) * 255.0, o.round(o.sigmoid(x * 1.1) * 255.0), max_val=255.0, filter_size=3, filter_sigma=0.8,
        k1=0.02, data_format="channels_first"),
}.items():
    _add(_name, _make, (6, 8, 3))
_add("ssim_default_window", lambda o, x: o.image.ssim(x, o.sin(x)), (12, 11, 2))

for _name, _make in {
    "istft_round_trip": lambda o, x: o.istft(o.stft(x, 8, 2, 8), 8, 2, 8),
    "istft_hamming_length": lambda o, x: o.istft((x, o.tanh(x)), 5, 3, 8, length=9, window="hamming"),
    "istft_no_window_uncentred": lambda o, x: o.istft((x, o.sigmoid(x)), 6, 4, 8, window=None, center=False),
}.items():
    _add(_name, _make, (24,) if "round_trip" in _name else (4, 5))

# erfinv near +-1 is steep (a float32 step below 1 moves it by ~1e-2): the inputs reach it exactly, as constants
_NEAR_ONE = np.array([[-0.99999994, -0.9999999, -0.99999, -0.999], [-0.5, 0.0, 1e-3, 0.3],
                      [0.9, 0.9999, 0.9999999, 0.99999988]], "float32")
_add("erfinv", lambda o, x: o.erfinv(o.clip(x * 0.5, -0.999, 0.999)))
_add("erfinv_near_one", lambda o, x: o.erfinv(x * 0.0 + _NEAR_ONE))

# map_coordinates: Keras needs every input size, so the image is a constant (or unbatched), sampled at coordinates
# the model computes, their batch axis moved last
_LOOKUP = _RNG.normal(size=(5, 6)).astype("float32")
for _name, _order, _mode in (("map_coordinates_linear", 1, "constant"), ("map_coordinates_nearest_order0", 0, "nearest"),
                             ("map_coordinates_linear_wrap", 1, "wrap"),
                             ("map_coordinates_reflect_order0", 0, "reflect")):
    _add(_name, lambda o, x, order=_order, mode=_mode: o.transpose(o.image.map_coordinates(
        _LOOKUP, o.transpose(x * 3.0 + 2.0, (1, 2, 0)), order, fill_mode=mode, fill_value=-0.5)), (2, 4))
_add("map_coordinates_unbatched_input", lambda o, x: o.transpose(o.image.map_coordinates(
    o.mean(x, axis=0), o.transpose(x[:, :2, :] * 2.0 + 1.5, (1, 2, 0)), 1)), (3, 4))

# scale_and_translate: constant output sizes, scales and translations; each kernel, antialiasing on (downscaling
# widens the kernel) and off, spatial axes given in either order
for _name, _method, _antialias, _dims, _out, _scale, _shift in (
        ("scale_translate_linear", "linear", True, (1, 2), (None, 8, 4, 2), (1.5, 0.7), (0.5, -0.3)),
        ("scale_translate_cubic_no_antialias", "bicubic", False, (1, 2), (None, 3, 9, 2), (0.6, 1.6), (-0.2, 0.4)),
        ("scale_translate_lanczos3", "lanczos3", True, (2, 1), (None, 7, 3, 2), (0.5, 1.2), (0.3, 0.1)),
        ("scale_translate_lanczos5_one_axis", "lanczos5", True, (-2,), (None, 5, 10, 2), (1.8,), (-0.7,)),
        ("scale_translate_trilinear_no_antialias", "trilinear", False, (1, 2), (None, 4, 5, 2), (0.7, 0.9), (0.0, 1.0))):
    _add(_name, lambda o, x, m=_method, a=_antialias, d=_dims, s=_out, sc=_scale, t=_shift: o.image.scale_and_translate(
        x, s, np.array(sc, "float32"), np.array(t, "float32"), d, m, antialias=a), (5, 6, 2))


# ctc_loss: logits [steps, classes], labels 1..2 (0 is the blank, Keras's mask_index; repeated labels need a blank
# between them), label lengths (1..3, or 0..1) and logit lengths (steps - 2 .. steps) from integer inputs: every
# alignment feasible
def _ctc_model(steps: int, labels: int, shortest: int) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        logits = keras.Input((steps, 5), name="logits")
        ids = keras.Input((labels,), dtype="int32", name="ids")
        label_length = keras.Input((), dtype="int32", name="label_length")
        logit_length = keras.Input((), dtype="int32", name="logit_length")
        o = keras.ops
        loss = o.ctc_loss(ids + 1, logits * 2.0, label_length + shortest, logit_length + steps - 2)
        return keras.Model([logits, ids, label_length, logit_length], loss)

    return build


for _name, _steps, _labels, _shortest in (("ctc_loss", 8, 3, 1), ("ctc_loss_one_label", 6, 1, 0)):
    CASES[f"nnops_{_name}"] = CompileCase(f"nnops_{_name}", _ctc_model(_steps, _labels, _shortest), (
        ((_steps, 5), "float"), ((_labels,), "int2"), ((), f"int{_labels + 1 - _shortest}"), ((), "int3")))

compile_zoo.CASES.update(CASES)  # the compiler zoo's test runs them with its own cases
