"""Merge layers: elementwise chains over their inputs (in Keras's order, so rounding matches) and Concatenate."""

from __future__ import annotations

from functools import reduce

from hatch_tfjs.compile.builder import Tensor
from hatch_tfjs.compile.registry import LayerCall, layer

_CHAIN_OPS = {"Add": "AddV2", "Multiply": "Mul", "Maximum": "Maximum", "Minimum": "Minimum", "Average": "AddV2"}


def _inputs(call: LayerCall, at_least: int = 2) -> list[Tensor]:
    call.require(len(call.inputs) >= at_least, f"it is called on {len(call.inputs)} tensor(s)")
    ranks = {x.rank for x in call.inputs}
    call.require(len(ranks) == 1, "its inputs have different ranks")
    return call.inputs


@layer("Add", "Multiply", "Maximum", "Minimum", "Average")
def elementwise(call: LayerCall) -> list[Tensor]:
    """``((x0 op x1) op x2) ...``; Average divides that sum by the input count, as Keras does."""
    b = call.builder
    op = _CHAIN_OPS[call.class_name]
    total = reduce(lambda acc, x: b.binary(call.scope, op, acc, x), _inputs(call))
    if call.class_name == "Average":
        total = b.binary(call.scope, "RealDiv", total, b.scalar(call.scope, float(len(call.inputs))))
    return [total]


@layer("Subtract")
def subtract(call: LayerCall) -> list[Tensor]:
    first, second = _inputs(call)
    call.require(len(call.inputs) == 2, "Subtract takes exactly two inputs")
    return [call.builder.binary(call.scope, "Sub", first, second)]


@layer("Concatenate")
def concatenate(call: LayerCall) -> list[Tensor]:
    return [call.builder.concat(call.scope, _inputs(call, at_least=1), int(call.option("axis", -1)))]
