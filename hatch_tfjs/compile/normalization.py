"""Normalization and rescaling layers at inference, with Keras's formulas.

BatchNormalization becomes ``x * scale + offset`` with the constants folded in float64 (``scale = gamma /
sqrt(var + eps)``, ``offset = beta - mean * scale``); the fusion pass folds that pair into a preceding kernel when the
kernel has no other consumer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hatch_tfjs.compile.builder import Tensor, known
from hatch_tfjs.compile.registry import LayerCall, layer


def _axes(call: LayerCall, x: Tensor, default: Any = -1) -> list[int]:
    axis = call.option("axis", default)
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return sorted(int(a) % x.rank for a in axes)


def _broadcastable(values: np.ndarray, x: Tensor, axes: list[int]) -> np.ndarray:
    """A per-feature constant (shape of ``x`` along ``axes``) shaped to broadcast against ``x`` from axis 1 on;
    on the last axis alone it stays 1-D, the form the kernel folds read."""
    if axes == [x.rank - 1]:
        return values.reshape(-1)
    shape = [values.shape[axes.index(i)] if i in axes else 1 for i in range(1, x.rank)]
    return values.reshape(shape)


def _scale_shift(
    call: LayerCall, x: Tensor, scale: np.ndarray | None, offset: np.ndarray | None, axes: list[int]
) -> Tensor:
    b = call.builder
    if scale is not None:
        x = b.binary(call.scope, "Mul", x, b.const(f"{call.scope}/scale", _broadcastable(scale, x, axes)))
    if offset is not None:
        x = b.binary(call.scope, "AddV2", x, b.const(f"{call.scope}/offset", _broadcastable(offset, x, axes)))
    return x


@layer("BatchNormalization")
def batch_normalization(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    axes = _axes(call, x)
    call.require(not call.option("renorm"), "batch renormalization is not translated yet")
    mean = call.weight("moving_mean").astype(np.float64)
    variance = call.weight("moving_variance").astype(np.float64)
    gamma = call.weight("gamma").astype(np.float64) if call.option("scale", True) else 1.0
    beta = call.weight("beta").astype(np.float64) if call.option("center", True) else 0.0
    scale = gamma / np.sqrt(variance + float(call.option("epsilon", 1e-3)))
    offset = beta - mean * scale
    return [_scale_shift(call, x, scale.astype(np.float32), offset.astype(np.float32), axes)]


@layer("LayerNormalization")
def layer_normalization(call: LayerCall) -> list[Tensor]:
    """``(x - mean) * rsqrt(var + eps) * gamma + beta`` over ``axis`` (moments as ``Mean`` / ``SquaredDifference``)."""
    b, x = call.builder, call.single_input()
    call.require(not call.option("rms_scaling"), "rms_scaling is not translated yet")
    axes = _axes(call, x)
    mean = b.reduce(f"{call.scope}/mean", "Mean", x, axes, True)
    variance = b.reduce(
        f"{call.scope}/variance", "Mean", b.binary(call.scope, "SquaredDifference", x, mean), axes, True
    )
    epsilon = b.scalar(call.scope, float(call.option("epsilon", 1e-3)))
    inverse = b.unary(call.scope, "Rsqrt", b.binary(call.scope, "AddV2", variance, epsilon))
    normalized = b.binary(call.scope, "Mul", b.binary(call.scope, "Sub", x, mean), inverse)
    gamma = call.weight("gamma") if call.option("scale", True) else None
    beta = call.weight("beta") if call.option("center", True) else None
    return [_scale_shift(call, normalized, gamma, beta, axes)]


@layer("Normalization")
def normalization(call: LayerCall) -> list[Tensor]:
    """``(x - mean) / max(sqrt(variance), 1e-7)`` with the adapted (or given) statistics."""
    b, x = call.builder, call.single_input()
    call.require(not call.option("invert"), "invert=True is not translated yet")
    axes = _axes(call, x)
    stats = []
    for key in ("mean", "variance"):
        value = call.weight(key) if call.has_weight(key) else call.option(key)
        call.require(value is not None, f"its {key} is neither stored nor configured")
        stats.append(np.broadcast_to(np.asarray(value, np.float32), [known(x.shape[a]) for a in axes]))
    mean, variance = stats
    denominator = np.maximum(np.sqrt(variance), np.float32(1e-7)).astype(np.float32)
    centered = b.binary(call.scope, "Sub", x, b.const(f"{call.scope}/mean", _broadcastable(mean, x, axes)))
    return [
        b.binary(
            call.scope, "RealDiv", centered, b.const(f"{call.scope}/denominator", _broadcastable(denominator, x, axes))
        )
    ]


@layer("Rescaling")
def rescaling(call: LayerCall) -> list[Tensor]:
    """``x * scale + offset`` (scale and offset scalars or per-channel lists)."""
    b, x = call.builder, call.single_input()
    scale = np.asarray(call.option("scale", 1.0), np.float32)
    offset = np.asarray(call.option("offset", 0.0), np.float32)
    y = b.binary(call.scope, "Mul", x, b.const(f"{call.scope}/scale", scale))
    return [b.binary(call.scope, "AddV2", y, b.const(f"{call.scope}/offset", offset))]


@layer("GroupNormalization")
def group_normalization(call: LayerCall) -> list[Tensor]:
    """Channels split into ``groups``; per sample and group ``x * inv + (beta - mean * inv)`` with
    ``inv = rsqrt(var + eps) * gamma``, in Keras's order of operations."""
    b, x = call.builder, call.single_input()
    call.require(int(call.option("axis", -1)) % x.rank == x.rank - 1, "GroupNormalization over a non-last axis")
    call.require(all(d is not None for d in x.shape[1:]), "its input has dimensions unknown before run time")
    groups = int(call.option("groups", 32))
    channels = known(x.shape[-1], "the channel count")
    grouped = b.reshape(f"{call.scope}/groups", x, (*x.shape[:-1], groups, channels // groups))
    axes = [a for a in range(1, grouped.rank) if a != grouped.rank - 2]
    mean = b.reduce(f"{call.scope}/mean", "Mean", grouped, axes, True)
    variance = b.reduce(
        f"{call.scope}/variance", "Mean", b.binary(call.scope, "SquaredDifference", grouped, mean), axes, True
    )
    inverse = b.unary(
        call.scope,
        "Rsqrt",
        b.binary(call.scope, "AddV2", variance, b.scalar(call.scope, float(call.option("epsilon", 1e-3)))),
    )
    if call.option("scale", True):
        inverse = b.binary(
            call.scope, "Mul", inverse, b.const(f"{call.scope}/gamma", call.weight("gamma").reshape(groups, -1))
        )
    offset = b.binary(call.scope, "Mul", b.unary(call.scope, "Neg", mean), inverse)
    if call.option("center", True):
        offset = b.binary(
            call.scope, "AddV2", offset, b.const(f"{call.scope}/beta", call.weight("beta").reshape(groups, -1))
        )
    normalized = b.binary(call.scope, "AddV2", b.binary(call.scope, "Mul", grouped, inverse), offset)
    return [b.reshape(f"{call.scope}/restore", normalized, x.shape)]


@layer("UnitNormalization")
def unit_normalization(call: LayerCall) -> list[Tensor]:
    """``x * min(rsqrt(sum(x^2)), 1 / 1e-12)`` over ``axis`` (Keras's L2 ``normalize``)."""
    b, x = call.builder, call.single_input()
    square_sum = b.reduce(call.scope, "Sum", b.unary(call.scope, "Square", x), _axes(call, x), True)
    inverse = b.binary(call.scope, "Minimum", b.unary(call.scope, "Rsqrt", square_sum), b.scalar(call.scope, 1e12))
    return [b.binary(call.scope, "Mul", x, inverse)]


@layer("RMSNormalization")
def rms_normalization(call: LayerCall) -> list[Tensor]:
    """``x * rsqrt(mean(x^2) + eps) * scale`` over ``axis`` (Keras's ``ops.rms_normalization``)."""
    b, x = call.builder, call.single_input()
    axes = _axes(call, x)
    call.require(all(x.shape[a] is not None for a in axes), "its normalized axes are unknown before run time")
    mean_square = b.reduce(call.scope, "Mean", b.unary(call.scope, "Square", x), axes, True)
    epsilon = b.scalar(call.scope, float(call.option("epsilon", 1e-6)))
    inverse = b.unary(call.scope, "Rsqrt", b.binary(call.scope, "AddV2", mean_square, epsilon))
    normalized = b.binary(call.scope, "Mul", x, inverse)
    return [_scale_shift(call, normalized, call.weight("scale"), None, axes)]
