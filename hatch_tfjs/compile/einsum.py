"""EinsumDense: ``einsum(equation, x, kernel)``, then the bias and the activation, as one ``MatMul`` between reshapes.

Every equation where each input axis is either kept in the output or summed with the kernel, and each kernel axis
is either summed or kept, is a matrix product: the input is transposed to ``[kept..., summed...]`` and flattened to
2-D, the kernel (a constant, rearranged here) to ``[summed, kept]``, and the product reshaped and transposed to the
output's axis order. That covers the projections of MultiHeadAttention (``abc,cde->abde``, ``abcd,cde->abe``) and
of keras-hub transformers (``btd,dnh->btnh``, ``...a,ab->...b``). Where the output ends with the kernel's kept
axes, in order, the bias (over those axes) and the activation follow the 2-D product, which TF.js fuses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hatch_tfjs.compile.activations import activation_name, apply_activation
from hatch_tfjs.compile.builder import NotCoveredError, Tensor, attr_bool, attr_str
from hatch_tfjs.compile.core import check_plain_kernel
from hatch_tfjs.compile.registry import LayerCall, layer

ELIDED_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # stand-ins for the axes ``...`` stands for (equations use lowercase)
AXIS_MIXING_ACTIVATIONS = ("softmax", "log_softmax")  # activations that read more than one element (the last axis)


@dataclass(frozen=True)
class EinsumPlan:
    """An EinsumDense equation read as a matrix product; each string holds one letter per axis."""

    input: str
    kernel: str
    output: str
    kept: str  # input axes kept in the output, in input order (the batch first)
    summed: str  # input axes summed with the kernel, in input order
    kernel_kept: str  # kernel axes kept in the output, in kernel order

    @property
    def output_ends_with_kernel(self) -> bool:
        """The output is ``[kept..., kernel_kept...]``: the 2-D product's layout, no final transpose."""
        return self.output == self.kept + self.kernel_kept


def _expand_ellipsis(spec: str, count: int) -> str:
    return spec.replace("...", ELIDED_LETTERS[:count])


def plan_einsum(equation: str, input_rank: int) -> EinsumPlan:
    """Read ``equation`` (``input,kernel->output``, ``...`` allowed on the input and output) for an input of
    ``input_rank`` axes; NotCoveredError naming the equation where it is not a plain matrix product."""

    def refuse(why: str) -> NotCoveredError:
        return NotCoveredError(f"its equation {equation!r} {why}, which is not translated")

    operands, arrow, output = equation.replace(" ", "").partition("->")
    input_spec, comma, kernel = operands.partition(",")
    if not arrow or not comma or "..." in kernel:
        raise refuse("is not of the form 'input,kernel->output' with '...' only on the input and output")
    elided = input_rank - len(input_spec.replace("...", "")) if "..." in input_spec else 0
    if elided < 0:
        raise refuse("names more axes than its input has")
    input_spec, output = _expand_ellipsis(input_spec, elided), _expand_ellipsis(output, elided)
    specs = (input_spec, kernel, output)
    if not all(spec.isalpha() and len(set(spec)) == len(spec) for spec in specs) or len(input_spec) != input_rank:
        raise refuse("repeats an axis letter or does not name every input axis")
    shared = set(input_spec) & set(kernel) & set(output)
    if shared:
        raise refuse(f"keeps axis {sorted(shared)[0]!r} of both the input and the kernel (a batched product)")
    if set(output) - set(input_spec) - set(kernel) or (set(input_spec) ^ set(kernel)) - set(output):
        raise refuse("sums an axis of only one operand, or outputs an axis of neither")
    return EinsumPlan(
        input=input_spec,
        kernel=kernel,
        output=output,
        kept="".join(c for c in input_spec if c in output),
        summed="".join(c for c in input_spec if c in kernel),
        kernel_kept="".join(c for c in kernel if c in output),
    )


def _flat_bias(call: LayerCall, plan: EinsumPlan, kernel_kept_shape: tuple[int, ...]) -> np.ndarray | None:
    """The bias as one value per column of the 2-D product, or None where it spans input axes (then it is added
    to the output, in the output's layout)."""
    bias_axes = str(call.option("bias_axes") or "")
    if not plan.output_ends_with_kernel or not set(bias_axes) <= set(plan.kernel_kept):
        return None
    return np.broadcast_to(call.weight("bias"), kernel_kept_shape).reshape(-1)


@layer("EinsumDense")
def einsum_dense(call: LayerCall) -> list[Tensor]:
    check_plain_kernel(call)
    b, x = call.builder, call.single_input()
    call.require(x.dtype == "DT_FLOAT", "its input is not float")
    plan = plan_einsum(str(call.option("equation")), x.rank)
    kernel = call.weight("kernel")
    call.require(kernel.ndim == len(plan.kernel), "its kernel does not have one axis per kernel letter")
    sizes = dict(zip(plan.kernel, kernel.shape, strict=True))
    call.require(
        all(x.shape[plan.input.index(c)] == sizes[c] for c in plan.summed), "its kernel does not match its input"
    )
    order = [plan.input.index(c) for c in plan.kept + plan.summed]
    if order != list(range(x.rank)):
        x = b.transpose(f"{call.scope}/input", x, order)
    depth = math.prod(sizes[c] for c in plan.summed)
    kept_shape = tuple(sizes[c] for c in plan.kernel_kept)
    units = math.prod(kept_shape)
    matrix = kernel.transpose([plan.kernel.index(c) for c in plan.summed + plan.kernel_kept]).reshape(depth, units)
    flat = x if x.rank == 2 else b.reshape(f"{call.scope}/flatten", x, (None, depth))
    y = b.op(
        f"{call.scope}/MatMul",
        "MatMul",
        [flat, call.const_weight("kernel", matrix)],
        (None, units),
        attr={"transpose_a": attr_bool(False), "transpose_b": attr_bool(False)},
    )
    has_bias = call.has_weight("bias") and bool(call.option("bias_axes"))
    flat_bias = _flat_bias(call, plan, kept_shape) if has_bias else None
    activation = call.option("activation")
    flat_activation = (flat_bias is not None or not has_bias) and (
        plan.output_ends_with_kernel
        and (len(plan.kernel_kept) == 1 or activation_name(activation) not in AXIS_MIXING_ACTIVATIONS)
    )
    if flat_bias is not None:
        attr = {"data_format": attr_str("NHWC")}
        y = b.op(f"{call.scope}/BiasAdd", "BiasAdd", [y, call.const_weight("bias", flat_bias)], y.shape, attr=attr)
    if flat_activation:
        y = apply_activation(b, call.scope, y, activation)
    y = _restore(call, plan, x, y, kept_shape)
    if has_bias and flat_bias is None:
        y = b.binary(call.scope, "AddV2", y, call.const_weight("bias"))
    return [y if flat_activation else apply_activation(b, call.scope, y, activation)]


def _restore(call: LayerCall, plan: EinsumPlan, x: Tensor, y: Tensor, kept_shape: tuple[int, ...]) -> Tensor:
    """The 2-D product ``y`` as ``[kept..., kernel_kept...]`` (``x`` is the transposed input), then in the output's
    axis order."""
    b = call.builder
    kept = x.shape[: len(plan.kept)]
    if x.rank == 2 and len(kept_shape) == 1:
        restored = y
    elif sum(d is None for d in kept) <= 1:
        restored = b.reshape(f"{call.scope}/restore", y, (*kept, *kept_shape))
    else:  # a sequence of a length known only at run time: the kept sizes read from the input
        restored = b.reshape_leading(f"{call.scope}/restore", y, x, list(kept_shape), len(plan.kept))
    layout = plan.kept + plan.kernel_kept
    if layout == plan.output:
        return restored
    return b.transpose(f"{call.scope}/output", restored, [layout.index(c) for c in plan.output])
