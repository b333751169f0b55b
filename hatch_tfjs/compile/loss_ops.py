"""``keras.ops.nn`` cross-entropies recorded in a functional model, as graph ops: from logits, from clipped
probabilities, and through a sigmoid / softmax output to its logits, as Keras's TensorFlow backend computes them; psnr;
and the CTC loss, its forward recursion unrolled over the known time steps."""

from __future__ import annotations

import numpy as np

from hatch_tfjs.compile.builder import (
    Tensor,
    attr_bool,
    attr_type,
    known,
)
from hatch_tfjs.compile.keras_ops import _cast, _compare
from hatch_tfjs.compile.math_ops import _last_axis_product
from hatch_tfjs.compile.op_helpers import (
    EPSILON,
    _argument,
    _select,
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


# --- CTC loss: the forward recursion unrolled over the known time steps ---------------------------------------------

_CTC_NEG = -1e30  # log of an impossible state: finite, so a logsumexp of impossible states stays finite
_CTC_MAX_STEPS = 256


def _ctc_int(call: LayerCall, x: Tensor) -> Tensor:
    return _cast(call, x, "int32")


def _ctc_float(call: LayerCall, name: str, flags: Tensor, shape: tuple[int | None, ...]) -> Tensor:
    attr = {"SrcT": attr_type("DT_BOOL"), "DstT": attr_type("DT_FLOAT"), "Truncate": attr_bool(False)}
    return call.builder.op(f"{call.scope}/{name}", "Cast", [flags], shape, typed=False, attr=attr)


def _ctc_logsumexp(call: LayerCall, name: str, terms: list[Tensor]) -> Tensor:
    """``log(sum(exp(terms)))`` elementwise, about the largest term."""
    b = call.builder
    top = terms[0]
    for k, t in enumerate(terms[1:]):
        top = b.binary(f"{call.scope}/{name}_max{k}", "Maximum", top, t)
    total: Tensor | None = None
    for k, t in enumerate(terms):
        e = b.unary(f"{call.scope}/{name}_exp{k}", "Exp", b.binary(f"{call.scope}/{name}_sub{k}", "Sub", t, top))
        total = e if total is None else b.binary(f"{call.scope}/{name}_sum{k}", "AddV2", total, e)
    assert total is not None  # noqa: S101 - at least one term
    return b.binary(f"{call.scope}/{name}", "AddV2", top, b.unary(f"{call.scope}/{name}_log", "Log", total))


def _ctc_state_log_probs(call: LayerCall, target: Tensor, output: Tensor, classes: int, labels: int) -> Tensor:
    """``[batch, steps, 2 * labels + 1]``: each step's log-probability of the extended sequence's symbols (blank,
    label 1, blank, ..., label L, blank), gathered by a product with the labels' one-hot rows (exact)."""
    b, s = call.builder, call.scope
    steps = output.shape[1]
    log_probs = b.op(f"{s}/LogSoftmax", "LogSoftmax", [output], output.shape)
    # one-hot labels as Equal against range(classes): every backend's kernels agree (WASM's OneHot does not always)
    classes_range = b.const(f"{s}/classes", np.arange(classes), "DT_INT32")
    one_hot = _ctc_float(call, "label_one_hot", _compare(call, "Equal", b.expand_dims(f"{s}/labels", target, 2),
                                                         classes_range), (None, labels, classes))
    label_lp = b.op(f"{s}/label_log_probs", "BatchMatMulV2", [log_probs, one_hot], (None, steps, labels),
                    attr={"adj_x": attr_bool(False), "adj_y": attr_bool(True)})
    blank_lp = b.slice(f"{s}/blank", log_probs, [0, 0, 0], [-1, -1, 1])
    selection = np.zeros((labels + 1, 2 * labels + 1), np.float32)  # one 1 per column: exact
    selection[0, 0::2] = 1.0
    selection[np.arange(1, labels + 1), np.arange(1, 2 * labels + 1, 2)] = 1.0
    return _last_axis_product(call, "state_log_probs", b.concat(f"{s}/blank_labels", [blank_lp, label_lp], 2),
                              selection)


def _ctc_skip(call: LayerCall, target: Tensor, labels: int) -> Tensor:
    """``[batch, states]``: 0 where a label state may be reached from two states back (its label differs from the
    previous one), else ``_CTC_NEG``."""
    b, s = call.builder, call.scope
    differs = _ctc_float(call, "differs", _compare(call, "NotEqual", b.slice(f"{s}/later", target, [0, 1], [-1, -1]),
                                                   b.slice(f"{s}/earlier", target, [0, 0], [-1, labels - 1])),
                         (None, labels - 1))
    spread = np.zeros((labels - 1, 2 * labels + 1), np.float32)
    spread[np.arange(labels - 1), np.arange(3, 2 * labels + 1, 2)] = 1.0
    allowed = _last_axis_product(call, "skip_allowed", differs, spread)
    return b.binary(f"{s}/skip", "Mul", b.binary(f"{s}/skip_not", "Sub", b.scalar(f"{s}/skip_one", 1.0), allowed),
                    b.scalar(f"{s}/skip_neg", _CTC_NEG))


def _ctc_shift(call: LayerCall, name: str, alpha: Tensor, by: int) -> Tensor:
    """``alpha``'s states moved ``by`` later, the first ones impossible."""
    b = call.builder
    head = b.slice(f"{call.scope}/{name}_head", alpha, [0, 0], [-1, alpha.shape[1] - by])  # type: ignore[operator]
    paddings = b.const(f"{call.scope}/pad{by}", [[0, 0], [by, 0]], "DT_INT32")
    return b.op(f"{call.scope}/{name}", "PadV2", [head, paddings, b.scalar(f"{call.scope}/neg", _CTC_NEG)],
                alpha.shape, attr={"Tpaddings": attr_type("DT_INT32")})


def _ctc_likelihood(call: LayerCall, alpha: Tensor, target_length: Tensor) -> Tensor:
    """``[batch]``: the logsumexp of ``alpha`` at the final states, the last label (``2 * length - 1``) and the blank
    after it (``2 * length``)."""
    b, s = call.builder, call.scope
    ends = b.binary(f"{s}/ends", "Mul", b.expand_dims(f"{s}/target_length", _ctc_int(call, target_length), 1),
                    b.const(f"{s}/two", np.int32(2), "DT_INT32"))
    positions = b.const(f"{s}/states", np.arange(alpha.shape[1]), "DT_INT32")  # type: ignore[arg-type]
    last_blank = _compare(call, "Equal", positions, ends)
    last_label = _compare(call, "Equal", positions, b.binary(f"{s}/ends_label", "Sub", ends,
                                                             b.const(f"{s}/one_int", np.int32(1), "DT_INT32")))
    final = b.op(f"{s}/final", "LogicalOr", [last_blank, last_label], alpha.shape, dtype="DT_BOOL", typed=False)
    impossible = b.op(f"{s}/neg_fill", "Fill", [b.shape_of(f"{s}/neg_fill", alpha), b.scalar(f"{s}/neg", _CTC_NEG)],
                      alpha.shape, attr={"index_type": attr_type("DT_INT32")})
    final_alpha = _select(call, "final_alpha", final, alpha, impossible)
    top = b.reduce(f"{s}/final_max", "Max", final_alpha, [1], True)
    total = b.reduce(f"{s}/final_sum", "Sum", b.unary(f"{s}/final_exp", "Exp", b.binary(
        f"{s}/final_sub", "Sub", final_alpha, top)), [1], True)
    likelihood = b.binary(f"{s}/likelihood", "AddV2", top, b.unary(f"{s}/final_log", "Log", total))
    return b.squeeze(f"{s}/likelihood", likelihood, 1)


@op("CTCLoss")
def ctc_loss(call: LayerCall) -> list[Tensor]:
    """``nn.ctc_loss(target, output, target_length, output_length)`` with the blank at ``mask_index`` 0 (Keras's
    default), ``output`` ``[batch, steps, classes]`` of known steps (at most 256) and classes, ``target`` ``[batch,
    labels]`` of known length: minus the log-likelihood TensorFlow's ``ctc_loss_dense`` computes, as the forward
    (alpha) recursion over the extended label sequence in log space, unrolled over the steps, each sample's states
    held once its ``output_length`` is reached, read at the final states of its ``target_length``. (An infeasible
    alignment gives about 1e30 where TensorFlow gives about 707.)"""
    b, s = call.builder, call.scope
    target, output = _argument(call, 0, "target"), _argument(call, 1, "output")
    target_length, output_length = _argument(call, 2, "target_length"), _argument(call, 3, "output_length")
    call.require(call.config.get("mask_index", 0) == 0, "a mask_index other than 0")
    for value, name in ((target, "target"), (output, "output"), (target_length, "target_length"),
                        (output_length, "output_length")):
        call.require(isinstance(value, Tensor), f"a {name} that is not a tensor of the model")
    assert isinstance(target, Tensor) and isinstance(output, Tensor)  # noqa: S101 - checked above
    assert isinstance(target_length, Tensor) and isinstance(output_length, Tensor)  # noqa: S101 - checked above
    call.require(output.dtype == "DT_FLOAT" and output.rank == 3 and target.rank == 2, "output not float [b, t, c]")
    call.require(target_length.rank == 1 and output_length.rank == 1, "lengths that are not [batch]")
    steps, classes = known(output.shape[1], "the time steps"), known(output.shape[2], "the classes")
    labels = known(target.shape[1], "the label length")
    call.require(1 <= steps <= _CTC_MAX_STEPS and labels >= 1, f"{steps} time steps (at most {_CTC_MAX_STEPS})")
    target = _ctc_int(call, target)
    state_lp = _ctc_state_log_probs(call, target, output, classes, labels)
    skip = _ctc_skip(call, target, labels) if labels > 1 else None
    lengths = b.expand_dims(f"{s}/output_length", _ctc_int(call, output_length), 1)
    start = np.full(2 * labels + 1, _CTC_NEG, np.float32)
    start[:2] = 0.0
    alpha = b.binary(f"{s}/alpha0", "AddV2", b.squeeze(f"{s}/step0", b.slice(
        f"{s}/step0", state_lp, [0, 0, 0], [-1, 1, -1]), 1), b.const(f"{s}/start", start))
    for t in range(1, steps):
        terms = [alpha, _ctc_shift(call, f"t{t}_shift1", alpha, 1)]
        if skip is not None:
            terms.append(b.binary(f"{s}/t{t}_skip", "AddV2", _ctc_shift(call, f"t{t}_shift2", alpha, 2), skip))
        observed = b.squeeze(f"{s}/t{t}_obs", b.slice(f"{s}/t{t}_obs", state_lp, [0, t, 0], [-1, 1, -1]), 1)
        new = b.binary(f"{s}/t{t}_alpha", "AddV2", _ctc_logsumexp(call, f"t{t}_lse", terms), observed)
        running = _compare(call, "Less", b.const(f"{s}/t{t}_step", np.int32(t), "DT_INT32"), lengths)
        alpha = _select(call, f"t{t}_hold", running, new, alpha)
    return [b.unary(f"{s}/loss", "Neg", _ctc_likelihood(call, alpha, target_length))]
