"""``keras.ops.nn`` cross-entropies recorded in a functional model, as graph ops: from logits, from clipped
probabilities, and through a sigmoid / softmax output to its logits, as Keras's TensorFlow backend computes them."""

from __future__ import annotations

import numpy as np

from hatch_tfjs.compile.builder import (
    Tensor,
    attr_type,
    known,
)
from hatch_tfjs.compile.op_helpers import (
    EPSILON,
    _argument,
    _zeros,
)
from hatch_tfjs.compile.registry import LayerCall, op

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


# --- image metrics --------------------------------------------------------------------------------------------------


@op("PSNR")
def psnr(call: LayerCall) -> list[Tensor]:
    """``psnr(x1, x2, max_val)`` with a constant ``max_val``: ``20 log10(max_val) - 10 log10(mean((x1 - x2)^2))``
    over every axis, the batch included (a scalar), ``log10`` as ``log(x) / log(10)``."""
    b = call.builder
    x1, x2 = (_argument(call, i, n) for i, n in ((0, "x1"), (1, "x2")))
    call.require(isinstance(x1, Tensor) and isinstance(x2, Tensor), "images that are not tensors")
    assert isinstance(x1, Tensor) and isinstance(x2, Tensor)  # noqa: S101 - checked above
    call.require(x1.dtype == x2.dtype == "DT_FLOAT" and x1.rank == x2.rank, "images of another dtype or rank")
    max_val = call.config.get("max_val")
    call.require(isinstance(max_val, (int, float)) and not isinstance(max_val, bool) and max_val > 0,
                 "a max_val that is not a positive constant")
    assert isinstance(max_val, (int, float))  # noqa: S101 - checked above
    ten = np.log(np.float32(10.0))
    peak = np.float32(20.0) * (np.log(np.float32(max_val)) / ten)
    difference = b.binary(f"{call.scope}/difference", "Sub", x1, x2)
    squared = b.binary(f"{call.scope}/squared", "Mul", difference, difference)
    mse = b.reduce(f"{call.scope}/mse", "Mean", squared, list(range(squared.rank)), False)
    log10 = b.binary(f"{call.scope}/log10", "RealDiv", b.unary(f"{call.scope}/log", "Log", mse),
                     b.const(f"{call.scope}/ln10", ten))
    scaled = b.binary(f"{call.scope}/scaled", "Mul", log10, b.scalar(f"{call.scope}/ten", 10.0))
    return [b.binary(call.scope, "Sub", b.const(f"{call.scope}/peak", np.float32(peak)), scaled)]
