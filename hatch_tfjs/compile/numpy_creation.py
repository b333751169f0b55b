"""``keras.ops`` numpy calls that make tensors (``full``, ``array``, ``vander``, ``linspace``, ``logspace``), as
graph ops. With constant arguments Keras computes them when the model is built and the config holds the value; a
config records them only when an argument is a tensor, which is what is compiled here, as Keras's TensorFlow backend
computes it (``linspace`` as TensorFlow's ``linspace_nd``: start, ``start + delta * i``, stop, concatenated).
"""

from __future__ import annotations

import numpy as np

from hatch_tfjs.compile.array_ops import _int
from hatch_tfjs.compile.builder import DTYPES, NotCoveredError, Tensor, attr_type
from hatch_tfjs.compile.keras_ops import _cast
from hatch_tfjs.compile.numpy_ops import as_float, constant, operands
from hatch_tfjs.compile.registry import LayerCall, op

_FLOATX = "float32"


def _dtype(call: LayerCall, default: str) -> str:
    """The config's dtype as a graph dtype (``default`` without one)."""
    name = call.config.get("dtype") or default
    dtype = DTYPES.get(str(name))
    if dtype is None or str(name) not in ("float32", "int32", "bool"):
        raise NotCoveredError(f"dtype {name} is not translated")
    return dtype


def _to(call: LayerCall, x: Tensor, dtype: str) -> Tensor:
    return x if x.dtype == dtype else _cast(call, x, {"DT_FLOAT": "float32", "DT_INT32": "int32"}.get(dtype, "bool"))


@op("Full")
def full(call: LayerCall) -> list[Tensor]:
    """``broadcast_to(fill_value, shape)``, the fill value a tensor cast to the dtype (floatx by default)."""
    value = call.single_input()
    shape = [_int(d, "a dimension") for d in call.config.get("shape") or []]
    call.require(len(shape) >= value.rank, "a shape of lower rank than the fill value")
    value = _to(call, value, _dtype(call, _FLOATX))
    target = call.builder.const(f"{call.scope}/shape", shape, "DT_INT32")
    return [call.builder.op(f"{call.scope}/BroadcastTo", "BroadcastTo", [value, target], tuple(shape),
                            dtype=value.dtype, attr={"Tidx": attr_type("DT_INT32")})]


@op("Array")
def array(call: LayerCall) -> list[Tensor]:
    """The tensor itself, cast to ``dtype`` when one is given."""
    x = call.single_input()
    if call.config.get("dtype") is None:
        return [call.builder.op(f"{call.scope}/Identity", "Identity", [x], x.shape, dtype=x.dtype)]
    return [_to(call, x, _dtype(call, _FLOATX))]


@op("Vander")
def vander(call: LayerCall) -> list[Tensor]:
    """Powers of a 1-D tensor, ``N`` columns (decreasing unless ``increasing``), computed in float32 and cast back."""
    x = call.single_input()
    call.require(x.rank == 1, "vander of a tensor that is not 1-D")
    count = call.config.get("N")
    call.require(count is not None, "vander without N (as many columns as the batch) is not translated")
    columns = _int(count, "N")
    powers = np.arange(columns, dtype=np.float32)
    if not call.config.get("increasing", False):
        powers = powers[::-1].copy()
    b = call.builder
    column = b.expand_dims(call.scope, as_float(call, x), -1)
    result = b.binary(call.scope, "Pow", column, b.const(f"{call.scope}/powers", powers))
    return [_to(call, result, x.dtype)]


def _linspace_nd(call: LayerCall, start: Tensor, stop: Tensor, num: int, axis: int) -> Tensor:
    """TensorFlow's ``linspace_nd`` for ``num >= 2``: the two ends exact, ``start + delta * i`` between."""
    b = call.builder
    zeros = [b.op(f"{call.scope}/zeros", "ZerosLike", [t], t.shape) for t in (stop, start)]
    start = b.binary(f"{call.scope}/start", "AddV2", start, zeros[0])  # both broadcast to one shape
    stop = b.binary(f"{call.scope}/stop", "AddV2", stop, zeros[1])
    position = axis % (start.rank + 1)
    first, last = (b.expand_dims(f"{call.scope}/{n}", t, position) for n, t in (("start", start), ("stop", stop)))
    delta = b.binary(call.scope, "RealDiv", b.binary(call.scope, "Sub", last, first),
                     constant(call, "steps", float(num - 1), first))
    shape = [1] * first.rank
    shape[position] = num - 2
    steps = b.const(f"{call.scope}/range", np.arange(1, num - 1, dtype=np.float32).reshape(shape))
    middle = b.binary(call.scope, "AddV2", first, b.binary(call.scope, "Mul", delta, steps))
    return b.concat(call.scope, [first, middle, last], position)


@op("Linspace", "Logspace", "Geomspace")
def linspace(call: LayerCall) -> list[Tensor]:
    """``num`` evenly spaced values from ``start`` to ``stop`` (without it unless ``endpoint``) along a new ``axis``;
    ``logspace``: ``base`` to their power; ``geomspace``: 10 to the power of evenly spaced ``log10(|ends|)``, with
    ``start``'s sign. An int dtype is floored, then cast."""
    values = call.args[:2] if len(call.args) >= 2 else [call.args[0], call.kwargs.get("stop")]
    start, stop = operands(call, values)
    dtype = _dtype(call, _FLOATX)
    sign = None
    if call.class_name == "Geomspace":
        call.require(dtype == "DT_FLOAT", "geomspace to another dtype than float32 is not translated")
        b = call.builder
        start, stop = as_float(call, start), as_float(call, stop)
        sign = b.unary(f"{call.scope}/sign", "Sign", start)
        log_base = constant(call, "log_base", float(np.log(np.float32(10.0), dtype=np.float32)), start)
        logs = [b.unary(f"{call.scope}/{n}", "Log", b.unary(f"{call.scope}/{n}", "Abs", t))
                for n, t in (("start", start), ("stop", stop))]
        start, stop = (b.binary(f"{call.scope}/log10", "RealDiv", t, log_base) for t in logs)
    if dtype == "DT_INT32":  # Keras converts the ends to the dtype first (TensorFlow then works in float64)
        start, stop = _to(call, start, dtype), _to(call, stop, dtype)
    start, stop = as_float(call, start), as_float(call, stop)
    num = _int(call.config.get("num", 50), "num")
    call.require(num >= 2, "fewer than 2 values are not translated")
    call.require(not call.config.get("retstep"), "retstep (a second output) is not translated")
    axis = _int(call.config.get("axis", 0), "the axis")
    b = call.builder
    if not call.config.get("endpoint", True):
        step = b.binary(f"{call.scope}/step", "RealDiv", b.binary(f"{call.scope}/step", "Sub", stop, start),
                        constant(call, "num", float(num), start))
        stop = b.binary(f"{call.scope}/new_stop", "Sub", stop, step)
    result = _linspace_nd(call, start, stop, num, axis)
    if dtype == "DT_INT32":
        result = b.unary(call.scope, "Floor", result)
    result = _to(call, result, dtype)
    if call.class_name != "Linspace":
        base = 10 if call.class_name == "Geomspace" else call.config.get("base", 10)
        result = b.binary(call.scope, "Pow", constant(call, "base", float(base), result), result)
    return [result if sign is None else b.binary(f"{call.scope}/signed", "Mul", result, sign)]
