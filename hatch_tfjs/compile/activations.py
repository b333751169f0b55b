"""Keras activations as TF.js graph ops, each as Keras 3 defines it (keras/src/activations/activations.py).

Where TF.js has the op (Relu, Elu, Selu, ...) it is used directly, which also lets a preceding kernel fuse it; the
others are written out with the ops Keras's own definition uses (exact GELU through Erf, softsign as
``x / (1 + |x|)`` because TF.js has no Softsign kernel, Keras 3's ``hard_sigmoid`` as ``relu6(x + 3) / 6``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hatch_tfjs.compile.builder import GraphBuilder, NotCoveredError, Tensor, attr_float

Activation = Callable[[GraphBuilder, str, Tensor], Tensor]


def _single(op: str) -> Activation:
    return lambda b, scope, x: b.unary(scope, op, x)


def _identity(b: GraphBuilder, scope: str, x: Tensor) -> Tensor:
    return x


def leaky_relu(b: GraphBuilder, scope: str, x: Tensor, alpha: float = 0.2) -> Tensor:
    return b.op(f"{scope}/LeakyRelu", "LeakyRelu", [x], x.shape, attr={"alpha": attr_float(alpha)})


def elu(b: GraphBuilder, scope: str, x: Tensor, alpha: float = 1.0) -> Tensor:
    """``x if x > 0 else alpha * (exp(x) - 1)``: TF's Elu when alpha is 1, else ``relu(y) - alpha * relu(-y)`` of it."""
    y = b.unary(scope, "Elu", x)
    if alpha == 1.0:
        return y
    negative_part = b.binary(scope, "Mul", b.unary(scope, "Relu", b.unary(scope, "Neg", y)), b.scalar(scope, alpha))
    return b.binary(scope, "Sub", b.unary(scope, "Relu", y), negative_part)


def _silu(b: GraphBuilder, scope: str, x: Tensor) -> Tensor:
    return b.binary(scope, "Mul", x, b.unary(scope, "Sigmoid", x))


def _hard_sigmoid(b: GraphBuilder, scope: str, x: Tensor) -> Tensor:
    """Keras 3: ``relu6(x + 3) / 6``."""
    shifted = b.binary(scope, "AddV2", x, b.scalar(scope, 3.0))
    return b.binary(scope, "RealDiv", b.unary(scope, "Relu6", shifted), b.scalar(scope, 6.0))


def _hard_silu(b: GraphBuilder, scope: str, x: Tensor) -> Tensor:
    return b.binary(scope, "Mul", x, _hard_sigmoid(b, scope, x))


def _softsign(b: GraphBuilder, scope: str, x: Tensor) -> Tensor:
    denominator = b.binary(scope, "AddV2", b.unary(scope, "Abs", x), b.scalar(scope, 1.0))
    return b.binary(scope, "RealDiv", x, denominator)


def _mish(b: GraphBuilder, scope: str, x: Tensor) -> Tensor:
    return b.binary(scope, "Mul", x, b.unary(scope, "Tanh", b.unary(scope, "Softplus", x)))


def gelu(b: GraphBuilder, scope: str, x: Tensor, approximate: bool = False) -> Tensor:
    """Exact: ``0.5 x (1 + erf(x / sqrt(2)))``; approximate: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    if approximate:
        cubic = b.binary(scope, "Mul", b.scalar(scope, 0.044715), b.binary(scope, "Pow", x, b.scalar(scope, 3.0)))
        inner = b.binary(scope, "Mul", b.scalar(scope, math.sqrt(2.0 / math.pi)), b.binary(scope, "AddV2", x, cubic))
        gate = b.unary(scope, "Tanh", inner)
    else:
        gate = b.unary(scope, "Erf", b.binary(scope, "Mul", x, b.scalar(scope, 1.0 / math.sqrt(2.0))))
    half_x = b.binary(scope, "Mul", x, b.scalar(scope, 0.5))
    return b.binary(scope, "Mul", half_x, b.binary(scope, "AddV2", gate, b.scalar(scope, 1.0)))


def _softmax(op: str) -> Activation:
    def apply(b: GraphBuilder, scope: str, x: Tensor) -> Tensor:
        return b.op(f"{scope}/{op}", op, [x], x.shape)

    return apply


ACTIVATIONS: dict[str, Activation] = {
    "linear": _identity,
    "relu": _single("Relu"),
    "relu6": _single("Relu6"),
    "elu": _single("Elu"),
    "selu": _single("Selu"),
    "sigmoid": _single("Sigmoid"),
    "tanh": _single("Tanh"),
    "softplus": _single("Softplus"),
    "exponential": _single("Exp"),
    "softsign": _softsign,
    "silu": _silu,
    "swish": _silu,
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": _hard_silu,
    "hard_swish": _hard_silu,
    "mish": _mish,
    "gelu": gelu,
    "leaky_relu": leaky_relu,
    "softmax": _softmax("Softmax"),
    "log_softmax": _softmax("LogSoftmax"),
}


def activation_name(value: Any) -> str:
    """The activation a layer config names: a string, or a serialised function ``{"config": "relu", ...}``."""
    if value is None:
        return "linear"
    if isinstance(value, dict):
        value = value.get("config", value.get("class_name"))
        if isinstance(value, dict):
            value = value.get("name")
    if not isinstance(value, str) or value not in ACTIVATIONS:
        raise NotCoveredError(f"activation {value!r} has no graph translation")
    return value


def apply_activation(b: GraphBuilder, scope: str, x: Tensor, value: Any) -> Tensor:
    return ACTIVATIONS[activation_name(value)](b, scope, x)
