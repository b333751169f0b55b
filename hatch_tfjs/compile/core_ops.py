"""``keras.ops`` core calls recorded in a functional model, as graph ops: slice, saturate_cast, slice_update,
with constant starts and sizes, as Keras's TensorFlow backend computes them."""

from __future__ import annotations

import numpy as np

from hatch_tfjs.compile.builder import (
    Tensor,
    attr_bool,
    attr_type,
    known,
)
from hatch_tfjs.compile.keras_ops import _cast, _float_input
from hatch_tfjs.compile.op_helpers import (
    _argument,
)
from hatch_tfjs.compile.registry import LayerCall, op


@op("Slice")
def slice_op(call: LayerCall) -> list[Tensor]:
    """``slice(x, start_indices, shape)`` with constant starts and sizes (``Slice``)."""
    x = call.single_input()
    starts = call.args[1] if len(call.args) == 2 else call.config.get("start_indices")
    sizes = call.config.get("shape")
    valid = [isinstance(v, list) and len(v) == x.rank and all(isinstance(i, int) and not isinstance(i, bool) for i in v)
             for v in (starts, sizes)]
    call.require(all(valid), "slice with starts or sizes that are not constant integers, one per axis")
    assert isinstance(starts, list) and isinstance(sizes, list)  # noqa: S101 - checked above
    call.require(all(s >= 0 for s in starts) and all(s >= -1 for s in sizes), "a negative start or size")
    return [call.builder.slice(call.scope, x, starts, sizes)]


_INT32 = (-(2**31), float(np.nextafter(np.float32(2**31), np.float32(0))))


@op("SaturateCast")
def saturate_cast(call: LayerCall) -> list[Tensor]:
    """``saturate_cast(x, dtype)`` of a float tensor to int32 or float32: clipped to the range Keras computes for
    the two dtypes (the int32 maximum nudged to the largest float32 below 2**31), then cast."""
    b = call.builder
    x = _float_input(call)
    target = str(call.config.get("dtype"))
    call.require(target in ("int32", "float32"), f"a saturating cast to {target} is not translated yet")
    if target == "float32":
        return [b.op(f"{call.scope}/Identity", "Identity", [x], x.shape)]
    low, high = (b.const(f"{call.scope}/clip_{n}", np.float32(v)) for n, v in zip(("min", "max"), _INT32, strict=True))
    clipped = b.op(f"{call.scope}/ClipByValue", "ClipByValue", [x, low, high], x.shape)
    return [_cast(call, clipped, "int32")]


@op("SliceUpdate")
def slice_update(call: LayerCall) -> list[Tensor]:
    """``slice_update(inputs, start_indices, updates)`` with constant starts and an update that spans the batch:
    the update padded to the input's shape, selected where a constant mask marks its box (starts clamped so the
    box fits, as ``dynamic_update_slice`` does)."""
    b = call.builder
    x, starts, updates = (_argument(call, i, n) for i, n in ((0, "inputs"), (1, "start_indices"), (2, "updates")))
    call.require(isinstance(x, Tensor) and isinstance(updates, Tensor), "inputs or updates that are not tensors")
    assert isinstance(x, Tensor) and isinstance(updates, Tensor)  # noqa: S101 - checked above
    call.require(updates.dtype == x.dtype and updates.rank == x.rank, "updates of another dtype or rank")
    call.require(isinstance(starts, list) and len(starts) == x.rank and all(isinstance(s, int) for s in starts),
                 "start indices that are not constant integers, one per axis")
    assert isinstance(starts, list)  # noqa: S101 - checked above
    call.require(starts[0] == 0 and x.shape[0] is None and updates.shape[0] is None, "an update of part of the batch")
    dims = [known(d, "an input axis") for d in x.shape[1:]]
    sizes = [known(d, "an update axis") for d in updates.shape[1:]]
    call.require(all(s <= d for s, d in zip(sizes, dims, strict=True)), "an update larger than the input")
    begins = [min(max(int(s), 0), d - n) for s, d, n in zip(starts[1:], dims, sizes, strict=True)]
    paddings = [(0, 0), *((s, d - s - n) for s, d, n in zip(begins, dims, sizes, strict=True))]
    padded = b.pad(f"{call.scope}/updates", updates, paddings)
    box = np.zeros([1, *dims], np.int32)
    box[(slice(None), *(slice(s, s + n) for s, n in zip(begins, sizes, strict=True)))] = 1
    mask = b.const(f"{call.scope}/box", box, "DT_INT32")
    mask = b.op(f"{call.scope}/box/Cast", "Cast", [mask], mask.shape, dtype="DT_BOOL", typed=False,
                attr={"SrcT": attr_type("DT_INT32"), "DstT": attr_type("DT_BOOL"), "Truncate": attr_bool(False)})
    return [b.op(f"{call.scope}/SelectV2", "SelectV2", [mask, padded, x], x.shape, dtype=x.dtype)]
