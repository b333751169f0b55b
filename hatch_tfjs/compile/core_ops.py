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


def _scatter_indices(call: LayerCall, value: object, depth_limit: int) -> tuple[Tensor, np.ndarray | None]:
    """``indices`` as an int32 graph tensor ``[..., depth]`` (a tensor the model computes, or a constant checked
    to lie inside the first ``depth`` axes, returned as an array too)."""
    if isinstance(value, Tensor):
        call.require(value.dtype == "DT_INT32" and value.rank >= 1 and value.shape[-1] is not None
                     and value.shape[-1] <= depth_limit, "indices that are not int32 [..., depth]")
        return value, None
    array = np.asarray(value)
    call.require(array.dtype.kind in "iu" and array.ndim >= 1 and array.size > 0
                 and 0 < array.shape[-1] <= depth_limit, "indices that are not constant integers [..., depth]")
    return call.builder.const(f"{call.scope}/indices", array.astype(np.int32), "DT_INT32"), array


def _scatter_attr(dtype: str) -> dict[str, object]:
    return {"T": attr_type(dtype), "Tindices": attr_type("DT_INT32")}


@op("Scatter")
def scatter(call: LayerCall) -> list[Tensor]:
    """``scatter(indices, values, shape)`` with a constant shape (``ScatterNd``: duplicates add up, as in
    ``tf.scatter_nd``)."""
    b = call.builder
    values = _argument(call, 1, "values")
    shape = call.config.get("shape")
    call.require(isinstance(values, Tensor), "values that are not a tensor")
    assert isinstance(values, Tensor)  # noqa: S101 - checked above
    call.require(isinstance(shape, (list, tuple)) and all(isinstance(d, int) and d > 0 for d in shape),
                 "a shape that is not constant positive integers")
    assert isinstance(shape, (list, tuple))  # noqa: S101 - checked above
    indices, array = _scatter_indices(call, _argument(call, 0, "indices"), len(shape))
    if array is not None:
        call.require(bool(np.all((array >= 0) & (array < np.asarray(shape[:array.shape[-1]])))),
                     "indices outside the shape")
    target = b.const(f"{call.scope}/shape", list(shape), "DT_INT32")
    return [b.op(call.scope, "ScatterNd", [indices, values, target], tuple(shape), dtype=values.dtype, typed=False,
                 attr=_scatter_attr(values.dtype))]


@op("ScatterUpdate")
def scatter_update(call: LayerCall) -> list[Tensor]:
    """``scatter_update(inputs, indices, updates, reduction)``: ``TensorScatterUpdate`` (no reduction), ``inputs
    + ScatterNd`` ("add", duplicates adding up as ``tensor_scatter_nd_add``), and, for constant indices without
    duplicates, the gathered values combined with the updates ("max", "min") written back."""
    b = call.builder
    x, updates = _argument(call, 0, "inputs"), _argument(call, 2, "updates")
    call.require(isinstance(x, Tensor) and isinstance(updates, Tensor), "inputs or updates that are not tensors")
    assert isinstance(x, Tensor) and isinstance(updates, Tensor)  # noqa: S101 - checked above
    call.require(updates.dtype == x.dtype and x.dtype in ("DT_FLOAT", "DT_INT32"), "updates of another dtype")
    indices, array = _scatter_indices(call, _argument(call, 1, "indices"), x.rank)
    if array is not None:
        bounds = list(x.shape[:array.shape[-1]])
        call.require(all(d is not None for d in bounds), "constant indices into an axis known only at run time")
        call.require(bool(np.all((array >= 0) & (array < np.asarray(bounds)))), "indices outside the inputs")
    reduction = call.config.get("reduction")
    attr = _scatter_attr(x.dtype)
    if reduction is None:
        return [b.op(call.scope, "TensorScatterUpdate", [x, indices, updates], x.shape, dtype=x.dtype, typed=False,
                     attr=attr)]
    if reduction == "add":
        scattered = b.op(f"{call.scope}/ScatterNd", "ScatterNd", [indices, updates, b.shape_of(call.scope, x)],
                         x.shape, dtype=x.dtype, typed=False, attr=attr)
        return [b.binary(call.scope, "AddV2", x, scattered)]
    combine = {"max": "Maximum", "min": "Minimum"}.get(str(reduction))
    call.require(combine is not None, f"a scatter reduction {reduction!r}")
    assert combine is not None  # noqa: S101 - checked above
    distinct = array is not None and len({tuple(i) for i in array.reshape(-1, array.shape[-1])}) == len(
        array.reshape(-1, array.shape[-1]))
    call.require(distinct, f"a {reduction} scatter with indices that are not distinct constants")
    gathered = b.op(f"{call.scope}/GatherNd", "GatherNd", [x, indices], updates.shape, dtype=x.dtype, typed=False,
                    attr={"Tparams": attr_type(x.dtype), "Tindices": attr_type("DT_INT32")})
    combined = b.binary(f"{call.scope}/combine", combine, gathered, updates)
    return [b.op(call.scope, "TensorScatterUpdate", [x, indices, combined], x.shape, dtype=x.dtype, typed=False,
                 attr=attr)]
