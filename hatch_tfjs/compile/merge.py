"""Merge layers: elementwise chains over their inputs (in Keras's order, so rounding matches) and Concatenate."""

from __future__ import annotations

from functools import reduce

from hatch_tfjs.compile.builder import Tensor, attr_bool, attr_type
from hatch_tfjs.compile.registry import LayerCall, layer

_CHAIN_OPS = {"Add": "AddV2", "Multiply": "Mul", "Maximum": "Maximum", "Minimum": "Minimum", "Average": "AddV2"}


def _inputs(call: LayerCall, at_least: int = 2) -> list[Tensor]:
    call.require(len(call.inputs) >= at_least, f"it is called on {len(call.inputs)} tensor(s)")
    ranks = {x.rank for x in call.inputs}
    call.require(len(ranks) == 1, "its inputs have different ranks")
    return call.inputs


@layer("Add", "Multiply", "Maximum", "Minimum", "Average")
def elementwise(call: LayerCall) -> list[Tensor]:
    """``((x0 op x1) op x2) ...``; Average divides that sum by the input count, as Keras does. (Multiply, Maximum and
    Minimum read their inputs' masks: see hatch_tfjs.compile.masks.)"""
    b = call.builder
    _or_masks(call)
    op = _CHAIN_OPS[call.class_name]
    total = reduce(lambda acc, x: b.binary(call.scope, op, acc, x), _inputs(call))
    if call.class_name == "Average":
        total = b.binary(call.scope, "RealDiv", total, b.scalar(call.scope, float(len(call.inputs))))
    return [total]


@layer("Subtract")
def subtract(call: LayerCall) -> list[Tensor]:
    first, second = _inputs(call)
    call.require(len(call.inputs) == 2, "Subtract takes exactly two inputs")
    _or_masks(call)
    return [call.builder.binary(call.scope, "Sub", first, second)]


@layer("Concatenate")
def concatenate(call: LayerCall) -> list[Tensor]:
    inputs, axis = _inputs(call, at_least=1), int(call.option("axis", -1))
    if any(m is not None for m in call.input_masks):
        call.output_masks = [_concatenated_mask(call, inputs, axis)]
    return [call.builder.concat(call.scope, inputs, axis)]


def _or_masks(call: LayerCall) -> None:
    """Keras's mask of an elementwise merge: the inputs' masks or-ed, when every input has one (else none)."""
    present = [m for m in call.input_masks if m is not None]
    if not present or len(present) != len(call.input_masks):
        return
    merged = present[0]
    for mask in present[1:]:
        merged = call.builder.op(
            f"{call.scope}/LogicalOr", "LogicalOr", [merged, mask], merged.shape, dtype="DT_BOOL", typed=False
        )
    call.output_masks = [merged]


def _concatenated_mask(call: LayerCall, inputs: list[Tensor], axis: int) -> Tensor:
    """Keras's mask of a Concatenate: each input's mask spread over its last axis (all true for an input without
    one), concatenated like the inputs, then ``any`` over the last axis."""
    b = call.builder
    spread = []
    for x, mask in zip(inputs, call.input_masks, strict=True):
        ones = b.op(f"{call.scope}/OnesLike", "OnesLike", [x], x.shape)
        if mask is None:
            spread.append(ones)
            continue
        weights = b.op(
            f"{call.scope}/Cast",
            "Cast",
            [b.expand_dims(call.scope, mask, -1)],
            (*mask.shape, 1),
            typed=False,
            attr={"SrcT": attr_type("DT_BOOL"), "DstT": attr_type("DT_FLOAT"), "Truncate": attr_bool(False)},
        )
        spread.append(b.binary(call.scope, "Mul", ones, weights))
    merged = b.concat(f"{call.scope}/mask", spread, axis)
    kept = b.op(
        f"{call.scope}/mask/Cast",
        "Cast",
        [merged],
        merged.shape,
        dtype="DT_BOOL",
        typed=False,
        attr={"SrcT": attr_type("DT_FLOAT"), "DstT": attr_type("DT_BOOL"), "Truncate": attr_bool(False)},
    )
    return b.reduce(f"{call.scope}/mask", "Any", kept, [-1], False)


@layer("Dot")
def dot(call: LayerCall) -> list[Tensor]:
    """``batch_dot`` of two rank-2 or rank-3 tensors over ``axes`` (optionally L2-normalised first: cosine)."""
    b = call.builder
    first, second = _inputs(call)
    call.require(
        len(call.inputs) == 2 and first.rank in (2, 3), "Dot of other than two rank-2/3 tensors is not translated yet"
    )
    axes = call.option("axes")
    pair = [int(a) % first.rank for a in (axes if isinstance(axes, list) else [axes, axes])]
    if call.option("normalize"):
        first, second = (_l2_normalize(call, t, axis) for t, axis in zip((first, second), pair, strict=True))
    if first.rank == 2:
        call.require(pair == [1, 1], "Dot of rank-2 tensors over axis 0")
        return [b.reduce(call.scope, "Sum", b.binary(call.scope, "Mul", first, second), [1], True)]
    # [B, i, k] x [B, k, j]: the contracted axis is last on the left and first on the right, transposing as needed.
    left_adjoint, right_adjoint = pair[0] == 1, pair[1] == 2
    shape = (first.shape[0], first.shape[2 if left_adjoint else 1], second.shape[1 if right_adjoint else 2])
    return [
        b.op(
            f"{call.scope}/BatchMatMulV2",
            "BatchMatMulV2",
            [first, second],
            shape,
            attr={"adj_x": attr_bool(left_adjoint), "adj_y": attr_bool(right_adjoint)},
        )
    ]


def _l2_normalize(call: LayerCall, x: Tensor, axis: int) -> Tensor:
    """Keras's ``normalize(x, axis)``: ``x * min(rsqrt(sum(x^2)), 1 / 1e-7)``."""
    b = call.builder
    square_sum = b.reduce(f"{call.scope}/normalize", "Sum", b.unary(call.scope, "Square", x), [axis], True)
    inverse = b.binary(call.scope, "Minimum", b.unary(call.scope, "Rsqrt", square_sum), b.scalar(call.scope, 1e7))
    return b.binary(call.scope, "Mul", x, inverse)
