"""The compiler zoo's keras.ops numpy calls (hatch_tfjs/compile/numpy_ops.py and numpy_array_ops.py): one small
functional model per call and setting, with int inputs where Keras keeps or changes an int dtype, NaN / infinity /
zero / ties where the op treats them specially. ``compile_zoo`` adds them to its CASES (checked on cpu and wasm)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

W45 = np.linspace(-1.0, 1.0, 20, dtype="float32").reshape(4, 5)
W342 = np.linspace(-1.0, 1.0, 24, dtype="float32").reshape(3, 4, 2)


def _signed_inf(o: Any, x: Any) -> Any:
    """``sign(x) / round(x) ** 2``: +-inf where x rounds to 0, NaN added where x < -1.5 (log of a negative)."""
    return o.divide(o.sign(x), o.square(o.round(x))) + o.log(x + 1.5) * 0.0


def _scalar(o: Any, x: Any, value: Any) -> Any:
    """A scalar result broadcast over x (Keras's predict needs a batch axis)."""
    return o.cast(value, "float32") + x * 0.0


FLOAT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    # elementwise
    "cbrt": lambda o, x: o.cbrt(x * 5.0),
    "i0": lambda o, x: o.i0(x * 2.0),
    "hypot": lambda o, x: o.hypot(x, 0.5 * x + 0.1),
    "logaddexp": lambda o, x: o.logaddexp(x, o.flip(x, axis=2) * 3.0),
    "logaddexp2": lambda o, x: o.logaddexp2(x, 0.5),
    "heaviside": lambda o, x: o.heaviside(o.round(x), x * 0.0 + 0.5),
    "nan_to_num_default": lambda o, x: o.nan_to_num(_signed_inf(o, x)),
    "nan_to_num_values": lambda o, x: o.nan_to_num(_signed_inf(o, x), nan=7.0, posinf=100.0, neginf=-50.0),
    "fmax_fmin": lambda o, x: o.fmax(o.log(x), x * 0.5) + o.fmin(x * 0.5, o.log(x)),
    "fmod": lambda o, x: o.fmod(x * 3.0, 0.7),
    "divide_no_nan": lambda o, x: o.divide_no_nan(x, o.round(x)),
    "isneginf_isposinf": lambda o, x: o.cast(o.isneginf(_signed_inf(o, x)), "float32")
    + 2.0 * o.cast(o.isposinf(_signed_inf(o, x)), "float32"),
    "signbit": lambda o, x: o.cast(o.signbit(x), "float32") + 2.0 * o.cast(o.signbit(o.negative(o.relu(x))), "float32"),
    "sinc": lambda o, x: o.sinc(o.round(x) + x * o.cast(x > 0.5, "float32")),
    "ldexp": lambda o, x: o.ldexp(x, o.cast(o.round(x * 2.0), "int32")),
    "isclose": lambda o, x: o.cast(o.isclose(x, o.round(x * 2.0) / 2.0, rtol=0.1, atol=0.05), "float32"),
    "isclose_equal_nan": lambda o, x: o.cast(o.isclose(o.log(x), o.log(x), equal_nan=True), "float32"),
    "allclose": lambda o, x: _scalar(o, x, o.allclose(x, x + 1e-9)) + _scalar(o, x, o.allclose(x, x * 1.1)) * 2.0,
    # reductions
    "count_nonzero": lambda o, x: o.count_nonzero(o.round(x), axis=1),
    "count_nonzero_all": lambda o, x: _scalar(o, x, o.count_nonzero(x > 0)),
    "ptp": lambda o, x: o.ptp(x, axis=1)[:, :3] + o.ptp(x, axis=-1, keepdims=True)[:, :, 0],
    "average": lambda o, x: o.average(x, axis=1),
    "average_weights_1d": lambda o, x: o.average(x, axis=-1, weights=np.array([1.0, 2.0, 3.0, 4.0], "float32")),
    "average_weights_tensor": lambda o, x: o.average(x, axis=1, weights=o.abs(x) + 0.1),
    "size": lambda o, x: _scalar(o, x, o.size(x)),
    "empty_full_like": lambda o, x: o.empty_like(x) + o.full_like(x, 2.5) * x + o.cast(o.full_like(x, 3, dtype="int32"), "float32"),
    # shapes, orders, pads
    "broadcast_to": lambda o, x: o.broadcast_to(x[:, :1, :], (2, 3, 4)),
    "ravel": lambda o, x: o.ravel(x),
    "append_axis": lambda o, x: o.append(x, o.tanh(x), axis=2),
    "append_flat": lambda o, x: o.append(x, x * 2.0),
    "hstack": lambda o, x: o.hstack([x, o.tanh(x)]),
    "vstack": lambda o, x: o.vstack([x, x * 2.0]),
    "dstack": lambda o, x: o.dstack([x[:, 0], x[:, 1]]),
    "vsplit": lambda o, x: o.vsplit(x, 2)[1] * 2.0 + o.vsplit(x, 2)[0],
    "hsplit": lambda o, x: o.hsplit(x, 3)[1],
    "dsplit": lambda o, x: o.dsplit(x, 2)[0] - o.dsplit(x, [1, 3])[2],
    "array_split": lambda o, x: o.array_split(x, 3, axis=2)[0] + o.array_split(x, 3, axis=2)[2][:, :, :1],
    "diff": lambda o, x: o.diff(x, n=2, axis=1),
    "diff_bool": lambda o, x: o.cast(o.diff(x > 0, axis=-1), "float32"),
    "repeat": lambda o, x: o.repeat(x, 2, axis=1),
    "repeat_counts": lambda o, x: o.repeat(x, [1, 0, 2, 1], axis=2),
    "repeat_flat": lambda o, x: o.repeat(x, 2),
    "roll": lambda o, x: o.roll(x, 1, axis=1),
    "roll_axes": lambda o, x: o.roll(x, [2, -1], axis=[1, 2]),
    "pad_constant": lambda o, x: o.pad(x, [[0, 0], [1, 2], [0, 1]], constant_values=1.5),
    "pad_reflect": lambda o, x: o.pad(x, [[0, 0], [1, 1], [2, 2]], mode="reflect"),
    "pad_symmetric": lambda o, x: o.pad(x, [[0, 0], [1, 0], [2, 3]], mode="symmetric"),
    "fliplr_flipud": lambda o, x: o.fliplr(x) + o.flipud(x) * 2.0,
    "rot90": lambda o, x: o.rot90(x, axes=(1, 2)),
    "rot90_k2": lambda o, x: o.rot90(x, k=2, axes=(1, 2)),
    "rot90_k3": lambda o, x: o.rot90(x, k=3, axes=(2, 1)),
    "rot90_k2_rank4": lambda o, x: o.rot90(o.stack([x, x * 2.0], axis=1), k=2, axes=(3, 2)),
    "sort": lambda o, x: o.sort(x, axis=1),
    "argsort": lambda o, x: o.argsort(x),
    "take_along_axis": lambda o, x: o.take_along_axis(x, o.argsort(x, axis=1), axis=1),
    "take_along_axis_negative": lambda o, x: o.take_along_axis(x, o.argsort(x) - 4, axis=-1),
    "select": lambda o, x: o.select([x > 0.5, x < -0.5], [x, x * 2.0], -1.0),
    "trace": lambda o, x: o.trace(x, axis1=1, axis2=2) + o.trace(x, offset=1, axis1=2, axis2=1),
    "diagonal": lambda o, x: o.diagonal(x, offset=1, axis1=1, axis2=2),
    "trapezoid": lambda o, x: o.trapezoid(x, axis=1) + o.trapezoid(x, dx=0.5)[:, :1],
    "trapezoid_points": lambda o, x: o.trapezoid(x, x=[0.0, 1.0, 3.0, 4.5]),
    # products
    "outer": lambda o, x: o.outer(x[:, 0], x[:, 1]),
    "inner": lambda o, x: o.inner(x, W45[:, :1].T),
    "inner_vector": lambda o, x: o.inner(x, W45[:, 1]),
    "dot": lambda o, x: o.dot(x, W45),
    "dot_vector": lambda o, x: o.dot(x, W45[:, 0]),
    "tensordot": lambda o, x: o.tensordot(x, W342, axes=[[1, 2], [0, 1]]),
    "tensordot_int_axes": lambda o, x: o.tensordot(x, W45, axes=1),
    "vdot": lambda o, x: _scalar(o, x, o.vdot(x, o.tanh(x))),
    "cross": lambda o, x: o.cross(x[:, :, :3], o.flip(x[:, :, 1:], axis=2)),
    "cross_2d": lambda o, x: o.cross(x[:, :, :2], x[:, :, 2:]) + o.cross(x[:, :, :2], x[:, :, 1:])[:, :, 0],
    "cross_axes": lambda o, x: o.cross(x, x * 0.5 + 1.0, axisa=1, axisb=1, axisc=1),
    "bool_arrays": lambda o, x: o.cast(o.roll(x > 0, 1, axis=1), "float32") + o.cast(o.repeat(x > 0.5, [2, 1, 0], axis=1)[:, :3], "float32")
    + o.cast(o.hstack([x > 0, x < 0])[:, 1:4], "float32")
    + o.cast(o.fliplr(x > 0.3), "float32") + o.cast(o.pad(x > 0, [[0, 0], [0, 0], [1, 0]])[:, :, :4], "float32")
    + o.cast(o.sort(o.cast(x > 0, "int32"), axis=-1), "float32"),
    # tensors made from tensors
    "full": lambda o, x: o.full((2, 3, 4), x[:, :1, :]) + o.cast(o.full((2, 3, 4), x[:, :1, :] * 3.0, dtype="int32"), "float32"),
    "array": lambda o, x: o.array(x) + o.cast(o.array(x * 3.0, dtype="int32"), "float32"),
    "vander": lambda o, x: o.vander(x[:, 0, 0], N=3) + o.vander(x[:, 1, 1], N=3, increasing=True),
    "linspace": lambda o, x: o.linspace(x[:, 0], x[:, 1], num=5, axis=1),
    "linspace_no_endpoint": lambda o, x: o.linspace(x[:, 0], 2.0, num=4, endpoint=False, axis=-1),
    "linspace_int": lambda o, x: o.cast(o.linspace(x[:, 0] * 5.0, x[:, 1] * 5.0, num=4, dtype="int32", axis=1), "float32"),
    # geomspace multiplies by sign(start) unexpanded: Keras runs it on tensors along axis 0 only
    "geomspace": lambda o, x: o.geomspace(o.abs(x[:, 0]) + 0.5, o.abs(x[:, 1]) + 2.0, num=4)
    + o.geomspace(-o.abs(x[:, 2]) - 0.5, -3.0, num=4, endpoint=False),
    "logspace": lambda o, x: o.logspace(x[:, 0], x[:, 1], num=4, axis=1, base=2.0),
    # NaN-ignoring reductions (log of x + 0.5 is NaN for x < -0.5; of x - 10 NaN everywhere)
    "nansum_nanmean": lambda o, x: o.nansum(o.log(x + 0.5), axis=1)[:, :3] + o.nanmean(o.log(x + 0.5), axis=-1),
    "nanmean_keepdims": lambda o, x: o.nan_to_num(o.nanmean(o.log(x + 0.5), axis=-1, keepdims=True), nan=-7.0),
    "nanprod": lambda o, x: o.nanprod(o.log(x + 1.0), axis=2),
    "nanmax_nanmin": lambda o, x: o.nan_to_num(o.nanmax(o.log(x + 0.5), axis=1) + o.nanmin(o.log(x + 0.5), axis=1),
                                              nan=-7.0),
    "nanmax_all_nan": lambda o, x: o.nan_to_num(o.nanmax(o.log(x - 10.0), axis=1), nan=-7.0),
    "nanvar_nanstd": lambda o, x: o.nan_to_num(o.nanvar(o.log(x + 0.5), axis=-1) + o.nanstd(o.log(x + 0.5), axis=1)[:, :3],
                                              nan=-7.0),
    "nancumsum": lambda o, x: o.nancumsum(o.log(x + 0.5), axis=1),
    "nancumprod": lambda o, x: o.nancumprod(o.log(x + 1.5), axis=-1),
    "nanargmax": lambda o, x: o.nanargmax(o.log(x + 0.5), axis=-1),
    "nanargmin_all_nan": lambda o, x: o.nanargmin(o.log(x - 10.0), axis=1, keepdims=True)
    + o.nanargmin(o.log(x + 0.5), axis=1, keepdims=True),
    # quantiles (a sort: TopKV2 over the reduced axes)
    "quantile": lambda o, x: o.quantile(x, 0.3, axis=-1),
    "percentile_axes": lambda o, x: o.percentile(x, 75.0, axis=[1, 2]),
    "median_keepdims": lambda o, x: o.median(x, axis=1, keepdims=True),
    "median_nan": lambda o, x: o.nan_to_num(o.median(o.log(x + 0.5), axis=-1), nan=-7.0),
    "quantile_lower_is_linear": lambda o, x: o.quantile(x, 0.4, axis=-1, method="lower"),  # Keras drops the method
    "percentile_lower": lambda o, x: o.percentile(x, 40.0, axis=-1, method="lower"),
    "percentile_higher": lambda o, x: o.percentile(x, 40.0, axis=-1, method="higher"),
    "percentile_nearest": lambda o, x: o.percentile(x, 50.0, axis=-1, method="nearest"),
    "percentile_midpoint": lambda o, x: o.percentile(x, 40.0, axis=-1, method="midpoint"),
    # searchsorted, digitize
    "searchsorted": lambda o, x: o.searchsorted(np.array([-1.0, 0.0, 0.5, 1.0], "float32"), x[:, 0, 0])
    + o.searchsorted(np.array([-1.0, 0.0, 0.5, 1.0], "float32"), x[:, 1, 1], side="right") * 10,
    "digitize": lambda o, x: o.digitize(x, np.array([-1.0, 0.0, 0.5, 1.0], "float32")),
}

INT_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "cbrt_int": lambda o, x: o.cbrt(x - 2),
    "hypot_int": lambda o, x: o.hypot(x, np.array(2, "int32")),
    "fmod_int": lambda o, x: o.fmod(x - 2, 3),
    "signbit_int": lambda o, x: o.cast(o.signbit(x - 2), "float32"),
    "count_nonzero_int": lambda o, x: o.count_nonzero(x, axis=-1),
    "bitwise_invert_shifts": lambda o, x: o.bitwise_invert(x - 2) + o.left_shift(x - 2, 3) + o.right_shift(x - 3, 1) * 100,
    "argsort_ties": lambda o, x: o.argsort(x, axis=-1),
    "sort_int": lambda o, x: o.sort(x - 2, axis=1),
    "dot_int": lambda o, x: o.dot(x, np.arange(20, dtype="int32").reshape(4, 5)),
    "ptp_int": lambda o, x: o.ptp(x, axis=1),
    "repeat_int": lambda o, x: o.repeat(x, 3, axis=2),
    "nan_to_num_int": lambda o, x: o.nan_to_num(x),
    "nan_reductions_int": lambda o, x: o.nansum(x, axis=1) + o.nanmax(x, axis=1) * 10 + o.nanargmax(x, axis=1) * 100,
    "median_int": lambda o, x: o.median(x, axis=-1),
    "unravel_index": lambda o, x: o.unravel_index(x * 3 + 1, (4, 5))[0] * 100 + o.unravel_index(x * 3 + 1, (4, 5))[1],
    "unravel_index_1d": lambda o, x: o.unravel_index(x[:, 0, 0] * 4 + x[:, 1, 1], (3, 7))[0] * 100
    + o.unravel_index(x[:, 0, 0] * 4 + x[:, 1, 1], (3, 7))[1],
    "digitize_int": lambda o, x: o.digitize(x, np.array([1.0, 2.5, 3.0], "float32")),
}


def cases(case_type: Callable[..., Any], ops_model: Callable[..., Callable[[], Any]]) -> dict[str, Any]:
    """``name -> case_type(name, build, inputs)``: the float cases on a (3, 4) float input, the int ones on int32
    values below 5."""
    found = {}
    for name, make in FLOAT_OPS.items():
        found[f"ops_{name}"] = case_type(f"ops_{name}", ops_model(make), (((3, 4), "float"),))
    for name, make in INT_OPS.items():
        found[f"ops_{name}"] = case_type(f"ops_{name}", ops_model(make, (3, 4), "int32"), (((3, 4), "int5"),))
    return found
