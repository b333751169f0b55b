"""``keras.ops.math`` / ``linalg`` calls recorded in a functional model, as graph ops: erfc, norm,
extract_sequences, cdist, in_top_k, segment reductions and the Fourier transforms (as DFT matrix products, which every
TF.js backend runs), each as Keras's TensorFlow backend computes it."""

from __future__ import annotations

import numpy as np

from hatch_tfjs.compile.builder import (
    Tensor,
    attr_bool,
    attr_ints,
    attr_str,
    attr_type,
    known,
)
from hatch_tfjs.compile.keras_ops import _axes, _compare, _float_input
from hatch_tfjs.compile.op_helpers import (
    _argument,
    _bool_to,
    _operand,
    _select,
    _vector_norm,
    _zeros,
)
from hatch_tfjs.compile.registry import LayerCall, op

# --- erfc, norm, frames ---------------------------------------------------------------------------------------------


@op("Erfc")
def erfc(call: LayerCall) -> list[Tensor]:
    """``erfc(x) = 1 - erf(x)`` (TF.js has no Erfc op; the difference to TensorFlow's is below float32's step at 1)."""
    b = call.builder
    x = _float_input(call)
    return [b.binary(call.scope, "Sub", b.scalar(f"{call.scope}/one", 1.0), b.unary(call.scope, "Erf", x))]


# Giles's single-precision erfinv ("Approximating the erfinv function", GPU Computing Gems, 2011): a polynomial in
# w - 2.5 where w = -log(1 - x^2) < 5, else in sqrt(w) - 3, highest power first
_ERFINV_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                   -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                0.00943887047, 1.00167406, 2.83297682)


def _horner(call: LayerCall, name: str, t: Tensor, coefficients: tuple[float, ...]) -> Tensor:
    b = call.builder
    value = b.scalar(f"{call.scope}/{name}_0", coefficients[0])
    for i, c in enumerate(coefficients[1:], 1):
        value = b.binary(f"{call.scope}/{name}_{i}", "AddV2", b.binary(f"{call.scope}/{name}_{i}", "Mul", value, t),
                         b.scalar(f"{call.scope}/{name}_{i}", c))
    return value


@op("Erfinv")
def erfinv(call: LayerCall) -> list[Tensor]:
    """``erfinv(x)``: TensorFlow computes it as ``ndtri((x + 1) / 2) / sqrt(2)``, so ``x`` is first rounded through
    ``(x + 1) / 2`` in float32 as there (the largest float below 1 becomes 1: infinite, as in TensorFlow), then
    Giles's approximation; within 1e-6 of TensorFlow over (-1, 1) (measured on a dense grid, the ends included),
    +-inf at +-1, NaN outside."""
    b = call.builder
    x = _float_input(call)
    one, half = b.scalar(f"{call.scope}/one", 1.0), b.scalar(f"{call.scope}/half", 0.5)
    probability = b.binary(f"{call.scope}/probability", "Mul", b.binary(f"{call.scope}/shift", "AddV2", x, one), half)
    rounded = b.binary(f"{call.scope}/rounded", "Sub", b.binary(f"{call.scope}/twice", "AddV2", probability,
                                                                 probability), one)
    w = b.unary(f"{call.scope}/w", "Neg", b.unary(f"{call.scope}/w", "Log", b.binary(
        f"{call.scope}/w", "Mul", b.binary(f"{call.scope}/below", "Sub", one, rounded),
        b.binary(f"{call.scope}/above", "AddV2", one, rounded))))
    central = _horner(call, "central", b.binary(f"{call.scope}/central", "Sub", w, b.scalar(f"{call.scope}/c", 2.5)),
                      _ERFINV_CENTRAL)
    tail = _horner(call, "tail", b.binary(f"{call.scope}/tail", "Sub", b.unary(f"{call.scope}/tail", "Sqrt", w),
                                          b.scalar(f"{call.scope}/t", 3.0)), _ERFINV_TAIL)
    inner = _compare(call, "Less", w, b.scalar(f"{call.scope}/five", 5.0))
    value = b.binary(f"{call.scope}/value", "Mul", _select(call, "branch", inner, central, tail), rounded)
    edge = _compare(call, "Equal", b.unary(f"{call.scope}/abs", "Abs", rounded), one)
    infinite = b.binary(f"{call.scope}/infinite", "Mul", rounded, b.scalar(f"{call.scope}/inf", float("inf")))
    return [_select(call, "edge", edge, infinite, value)]


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
    reduced = b.reduce(call.scope, reduction, chosen, [1], False)
    if reduction not in ("Max", "Min"):
        return [reduced]
    # An empty segment's identity set again after the reduction: TF.js 4.22's WebGL Max/Min start from -/+1e20, so
    # they turn the lowest / highest float32 into -/+1e20.
    nonempty = b.op(f"{call.scope}/Any", "Any", [member, b.const(f"{call.scope}/samples_axis", [1], "DT_INT32")],
                    (count, *[1] * (data.rank - 1)), dtype="DT_BOOL", typed=False,
                    attr={"Tidx": attr_type("DT_INT32"), "keep_dims": attr_bool(False)})
    empty_value = b.scalar(f"{call.scope}/identity", identity)
    return [b.op(f"{call.scope}/SelectV2_empty", "SelectV2", [nonempty, reduced, empty_value], reduced.shape)]


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


def _window(call: LayerCall, length: int) -> np.ndarray | None:
    """The STFT window Keras uses (tf.signal's periodic Hann or Hamming, in float32), or the one given."""
    window = call.config.get("window", "hann")
    if window is None:
        return None
    if isinstance(window, str):
        call.require(window in ("hann", "hamming"), f"window {window!r}")
        if length == 1:
            return np.ones(1, np.float32)
        a = np.float32(0.5 if window == "hann" else 0.54)
        # tf.signal's "periodic" window divides by the length only when it is even (by length - 1 when odd)
        period = np.float32(length if length % 2 == 0 else length - 1)
        phase = np.float32(2.0 * np.pi) * np.arange(length, dtype=np.float32) / period
        values: np.ndarray = (a - (np.float32(1.0) - a) * np.cos(phase)).astype(np.float32)
        return values
    given = np.asarray(window, dtype=np.float32)
    call.require(given.shape == (length,), "a window whose length is not sequence_length")
    return given


@op("STFT")
def stft(call: LayerCall) -> list[Tensor]:
    """``stft(x, sequence_length, sequence_stride, fft_length, window, center)`` as Keras's TensorFlow backend: the
    signal reflect-padded by ``fft_length // 2`` (``center``), framed by ``fft_length`` every ``sequence_stride``
    (constant gather indices), multiplied by the window (zero-padded to ``fft_length`` around its centre), then the
    non-negative frequencies as a DFT matrix product."""
    b = call.builder
    x = call.single_input()
    call.require(x.dtype == "DT_FLOAT" and x.rank >= 2, "a non-float signal")
    length, stride, size = (int(call.config.get(k) or 0) for k in ("sequence_length", "sequence_stride", "fft_length"))
    call.require(0 < length <= size and stride > 0, "a sequence longer than fft_length, or no stride")
    total = known(x.shape[-1], "the signal length")
    if call.config.get("center", True):
        half = size // 2
        call.require(half < total, "a signal shorter than half the fft_length")
        amounts = b.const(f"{call.scope}/paddings", [[0, 0]] * (x.rank - 1) + [[half, half]], "DT_INT32")
        x = b.op(f"{call.scope}/MirrorPad", "MirrorPad", [x, amounts], (*x.shape[:-1], total + 2 * half),
                 attr={"Tpaddings": attr_type("DT_INT32"), "mode": attr_str("REFLECT")})
        total += 2 * half
    call.require(total >= size, "a signal shorter than fft_length")
    count = 1 + (total - size) // stride
    indices = np.arange(count)[:, None] * stride + np.arange(size)[None, :]
    frames = b.gather(f"{call.scope}/frames", x, b.const(f"{call.scope}/frame_indices", indices.astype(np.int32),
                                                          "DT_INT32"), x.rank - 1)
    window = _window(call, length)
    if window is not None:
        left = (size - length) // 2
        padded = np.zeros(size, np.float32)
        padded[left:left + length] = window
        frames = b.binary(f"{call.scope}/windowed", "Mul", frames, b.const(f"{call.scope}/window", padded))
    angles = _angles(size, size // 2 + 1, size)
    return [_last_axis_product(call, "real", frames, np.cos(angles)),
            _last_axis_product(call, "imag", frames, -np.sin(angles))]


_ISTFT_MATRIX_LIMIT = 1 << 22  # entries of each of the two constant matrices (16 MB of float32 weights)


def _inverse_window(call: LayerCall, length: int, size: int, stride: int) -> np.ndarray:
    """``tf.signal.inverse_stft_window_fn`` of Keras's window zero-padded to ``size`` around its centre: the window
    over the sum of its squares at every ``stride`` shift (ones when there is no window)."""
    window = _window(call, length)
    if window is None:
        return np.ones(size)
    left = (size - length) // 2
    padded = np.zeros(size)
    padded[left:left + length] = window
    overlaps = -(-size // stride)
    squares = np.pad(padded**2, (0, overlaps * stride - size)).reshape(overlaps, stride).sum(axis=0)
    denominator = np.tile(squares, overlaps)[:size]
    return np.asarray(padded / denominator)


@op("ISTFT")
def istft(call: LayerCall) -> list[Tensor]:
    """``istft((real, imag), sequence_length, sequence_stride, fft_length, length, window, center)`` as Keras's
    TensorFlow backend (``tf.signal.inverse_stft``): each frame's inverse real DFT times the inverse window,
    overlapped and added, then cut to ``length`` (after ``fft_length // 2`` when ``center``). All of it is linear,
    so it is two constant matrices from every frame's bins to the output samples, one per part, added."""
    b = call.builder
    real, imag = _complex_pair(call)
    call.require(real.rank >= 3, "a spectrogram without a batch, frame and bin axis")
    length, stride, size = (int(call.config.get(k) or 0) for k in ("sequence_length", "sequence_stride", "fft_length"))
    call.require(0 < length <= size and stride > 0, "a sequence longer than fft_length, or no stride")
    frames, bins = known(real.shape[-2], "the frame count"), known(real.shape[-1], "the bin count")
    call.require(bins == size // 2 + 1, "a bin count other than fft_length // 2 + 1")
    total = size + stride * (frames - 1)
    start = size // 2 if call.config.get("center", True) else 0
    wanted = call.config.get("length")
    call.require(wanted is None or (isinstance(wanted, int) and wanted > 0), "a length that is not a positive int")
    if wanted is not None:
        end = min(start + int(wanted), total)
    else:
        end = total - size // 2 if call.config.get("center", True) else total
    call.require(end > start, "an empty output")
    call.require(frames * bins * (end - start) <= _ISTFT_MATRIX_LIMIT, "an istft whose matrices exceed 4M weights")
    window = _inverse_window(call, length, size, stride)
    angles = 2.0 * np.pi * np.outer(np.arange(bins), np.arange(size)) / size  # [bin, sample]
    weights = np.where((np.arange(bins) == 0) | (2 * np.arange(bins) == size), 1.0, 2.0)[:, None] / size
    parts = (weights * np.cos(angles) * window, -weights * np.sin(angles) * window)  # [bin, sample in frame]
    matrices = []
    for part in parts:
        matrix = np.zeros((frames, bins, total))
        for frame in range(frames):
            matrix[frame, :, frame * stride:frame * stride + size] = part
        matrices.append(matrix[:, :, start:end].reshape(frames * bins, end - start))
    middle = [known(d, "an axis before the frames") for d in real.shape[1:-2]]
    flat = [b.reshape(f"{call.scope}/{n}_flat", t, (None, *middle, frames * bins))
            for n, t in (("real", real), ("imag", imag))]
    return [b.binary(call.scope, "AddV2", _last_axis_product(call, "real", flat[0], matrices[0]),
                     _last_axis_product(call, "imag", flat[1], matrices[1]))]
