"""What the ``keras.ops`` emitters of nn_ops / math_ops / core_ops / loss_ops share: Keras's default epsilon,
select / zeros / ones / bool casts, call arguments by keyword or position, operands that are tensors or constants,
and vector norms as Keras computes them."""

from __future__ import annotations

from typing import Any

import numpy as np

from hatch_tfjs.compile.builder import (
    Tensor,
    attr_bool,
    attr_type,
)
from hatch_tfjs.compile.keras_ops import _compare
from hatch_tfjs.compile.registry import LayerCall

EPSILON = 1e-7  # keras.config.epsilon()'s default, which normalize uses when its epsilon is None


def _select(call: LayerCall, name: str, condition: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return call.builder.op(f"{call.scope}/{name}", "SelectV2", [condition, a, b], a.shape, dtype=a.dtype)


def _zeros(call: LayerCall, x: Tensor) -> Tensor:
    return call.builder.op(f"{call.scope}/ZerosLike", "ZerosLike", [x], x.shape, dtype=x.dtype)


def _ones(call: LayerCall, x: Tensor) -> Tensor:
    return call.builder.op(f"{call.scope}/OnesLike", "OnesLike", [x], x.shape, dtype=x.dtype)


def _bool_to(call: LayerCall, x: Tensor, dtype: str) -> Tensor:
    attr = {"SrcT": attr_type("DT_BOOL"), "DstT": attr_type(dtype), "Truncate": attr_bool(False)}
    return call.builder.op(f"{call.scope}/Cast", "Cast", [x], x.shape, dtype=dtype, typed=False, attr=attr)


def _argument(call: LayerCall, position: int, name: str) -> Any:
    """A call argument by keyword or by position (``position`` counts the input ``x`` as 0)."""
    if name in call.kwargs:
        return call.kwargs[name]
    return call.args[position] if len(call.args) > position else None


def _operand(call: LayerCall, value: Any, name: str, x: Tensor, shape: list[int] | None) -> Tensor | None:
    """A float operand (a graph tensor or a constant) reshaped to ``shape`` when given (to broadcast against
    ``x`` along a normalized axis that is not the last); None stays None."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        call.require(value.dtype == "DT_FLOAT", f"a non-float {name}")
        if shape is None or value.rank == x.rank:
            return value
        return call.builder.reshape(f"{call.scope}/{name}", value, tuple(shape))
    array = np.asarray(value, dtype=np.float32)
    if shape is not None and array.ndim != x.rank:
        array = array.reshape(shape)
    return call.builder.const(f"{call.scope}/{name}", array)


def _vector_norm(call: LayerCall, x: Tensor, order: float, axes: list[int], *, keepdims: bool) -> Tensor:
    """``norm(x, ord=order, axis)`` of vectors, as Keras's TensorFlow backend computes each order."""
    b = call.builder
    scope = f"{call.scope}/norm"
    if order == 2:
        return b.unary(scope, "Sqrt", b.reduce(scope, "Sum", b.binary(scope, "Mul", x, x), axes, keepdims))
    if order in (np.inf, -np.inf):
        return b.reduce(scope, "Max" if order > 0 else "Min", b.unary(scope, "Abs", x), axes, keepdims)
    if order == 0:
        nonzero = _compare(call, "NotEqual", x, b.scalar(f"{scope}/zero", 0.0))
        return b.reduce(scope, "Sum", _bool_to(call, nonzero, "DT_FLOAT"), axes, keepdims)
    powered = b.binary(scope, "Pow", b.unary(scope, "Abs", x), b.scalar(f"{scope}/ord", order))
    return b.binary(f"{scope}/root", "Pow", b.reduce(scope, "Sum", powered, axes, keepdims),
                    b.scalar(f"{scope}/inverse_ord", 1.0 / order))
