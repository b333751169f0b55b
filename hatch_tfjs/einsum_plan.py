"""An einsum of one or two tensors as ops every TF.js backend runs (WASM has no ``Einsum`` kernel).

One plan, two emitters: the TF-free compiler (``keras.ops.einsum``, :mod:`hatch_tfjs.compile.array_ops`) and the
graph route's rewrite of TensorFlow's ``Einsum`` node (:mod:`hatch_tfjs.translate.graph`) both call
:func:`lower_einsum` and :func:`emit_einsum` with their own :class:`EinsumOps`.

Each operand's axes are named by letters. An axis of one operand that is neither in the other nor in the output is
summed first (``Sum``); the rest are *batch* axes (both operands and the output), *kept* axes (one operand and the
output) and *summed* axes (both operands, not the output). The left operand is laid out ``[batch..., kept...,
summed...]`` and its kept and summed axes merged into one each (``Transpose`` + ``Reshape``), the right one
``[batch..., summed..., kept...]``; one ``BatchMatMulV2`` (an operand already laid out the other way round is read
through ``adj_x``/``adj_y``, without a transpose); the product's merged axes split again and transposed to the
output's order. That is the same sum of the same products as TensorFlow's Einsum, exact within float32 rounding.
A size known only at run time is read from the operand's ``Shape``; merging axes of such sizes in two places of
one reshape is refused (the one size TF.js can infer is ``-1``). One operand: ``Sum`` over the axes not in the
output, then a ``Transpose`` to the output's order. Repeated letters within one operand (diagonals) and ``...`` on
an operand of unknown rank are refused.
"""

from __future__ import annotations

import itertools
import math
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from hatch_tfjs.errors import InternalError

Ref = tuple[int, int]  # (operand, axis of that operand as given): a size read at run time
Dim = int | Ref  # a known size, -1 (the one size TF.js infers), or a Ref
Known = tuple[int | None, ...]  # a static shape, None where the size is known only at run time


class EinsumRefusedError(ValueError):
    """The equation is not lowered; the message says why (to follow "its equation ... ")."""


@dataclass(frozen=True)
class Reshape:
    target: tuple[Dim, ...]
    known: Known

    @property
    def static(self) -> bool:
        """Every entry is a number (at most one -1): a constant shape."""
        return all(isinstance(d, int) for d in self.target)


@dataclass(frozen=True)
class OperandSteps:
    reduce: tuple[int, ...]  # axes summed away first (in no other operand nor the output)
    perm: tuple[int, ...] | None  # then this Transpose
    reshape: Reshape | None  # then this Reshape
    adj: bool  # BatchMatMulV2 reads it transposed (adj_x / adj_y)
    reduced: Known  # its static shape after the sums
    transposed: Known  # after the transpose
    known: Known  # after the reshape


@dataclass(frozen=True)
class EinsumSteps:
    operands: tuple[OperandSteps, ...]  # two: BatchMatMulV2 of both; one: no product
    product: Known  # the BatchMatMulV2's static shape (two operands)
    split: Reshape | None  # the product's merged axes split
    perm: tuple[int, ...] | None  # the last Transpose, to the output's order
    output: Known


def _refuse(why: str) -> EinsumRefusedError:
    return EinsumRefusedError(why)


def _expand_ellipsis(
    specs: list[str], output: str, shapes: Sequence[Sequence[int | None] | None]
) -> tuple[list[str], str]:
    if not any("..." in s for s in specs):
        if "..." in output:
            raise _refuse("has '...' in its output only")
        return specs, output
    counts = set()
    for spec, shape in zip(specs, shapes, strict=True):
        if "..." in spec:
            if shape is None:
                raise _refuse("uses '...' on an operand of rank known only at run time")
            counts.add(len(shape) - len(spec.replace("...", "")))
    if len(counts) != 1 or min(counts) < 0:
        raise _refuse("uses '...' for different numbers of axes (broadcasting)")
    free = [c for c in string.ascii_letters if c not in "".join(specs) + output]
    letters = "".join(free[: counts.pop()])
    return [s.replace("...", letters) for s in specs], output.replace("...", letters)


def _group_size(group: str, sizes: dict[str, int | None]) -> int | None:
    """The size of ``group``'s axes merged into one (1 for none), None where one is known only at run time."""
    values = [sizes[c] for c in group]
    return None if None in values else math.prod(int(v or 0) for v in values)


def _resolve(groups: Sequence[str], sizes: dict[str, int | None], sources: dict[str, Ref]) -> Reshape:
    """A Reshape to one axis per group of letters (merged): known sizes as numbers, one unknown (the merged one,
    if any) as -1, each other unknown axis read at run time."""
    known = tuple(_group_size(g, sizes) for g in groups)
    unknown = [i for i, k in enumerate(known) if k is None]
    merged = [i for i in unknown if len(groups[i]) > 1]
    if len(merged) > 1:
        raise _refuse("merges axes of sizes known only at run time in two places")
    inferred = merged[0] if merged else unknown[0] if len(unknown) == 1 else None
    target = tuple(
        k if k is not None else -1 if i == inferred else sources[groups[i][0]] for i, k in enumerate(known)
    )
    return Reshape(target, known)


def _needs_reshape(groups: Sequence[str]) -> bool:
    return any(len(g) != 1 for g in groups)


def lower_einsum(equation: str, shapes: Sequence[Sequence[int | None] | None]) -> EinsumSteps:
    """The steps for ``equation`` over operands of ``shapes`` (None: rank and sizes known only from the equation);
    EinsumRefusedError saying why where they are not covered."""
    operands, arrow, output = equation.replace(" ", "").partition("->")
    if not arrow:
        raise _refuse("has no explicit output ('->')")
    specs = operands.split(",")
    if len(specs) != len(shapes) or len(specs) not in (1, 2):
        raise _refuse("is not of one or two operands")
    specs, output = _expand_ellipsis(specs, output, shapes)
    if not all((s == "" or s.isalpha()) and len(set(s)) == len(s) for s in (*specs, output)):
        raise _refuse("repeats a letter within one operand (a diagonal)")
    if set(output) - set("".join(specs)):
        raise _refuse("outputs an axis no operand has")
    sizes: dict[str, int | None] = {}
    sources: dict[str, Ref] = {}
    for index, (spec, shape) in enumerate(zip(specs, shapes, strict=True)):
        dims = [None] * len(spec) if shape is None else list(shape)
        if len(dims) != len(spec):
            raise _refuse("does not name every axis of its operands")
        for axis, (c, d) in enumerate(zip(spec, dims, strict=True)):
            sources.setdefault(c, (index, axis))
            if d is not None and sizes.get(c) is not None and sizes[c] != d:
                raise _refuse("pairs axes of different sizes (broadcasting)")
            sizes[c] = d if sizes.get(c) is None else sizes[c]
    if len(specs) == 1:
        return _one_operand(specs[0], output, sizes)
    return _two_operands(specs[0], specs[1], output, sizes, sources)


def _one_operand(spec: str, output: str, sizes: dict[str, int | None]) -> EinsumSteps:
    reduce = tuple(i for i, c in enumerate(spec) if c not in output)
    kept = "".join(c for c in spec if c in output)
    perm = None if kept == output else tuple(kept.index(c) for c in output)
    known = tuple(sizes[c] for c in kept)
    out = tuple(sizes[c] for c in output)
    return EinsumSteps((OperandSteps(reduce, None, None, False, known, known, known),), (), None, perm, out)


def _operand(spec: str, layouts: tuple[str, str], groups: tuple[str, ...], sizes: dict[str, int | None],
             sources: dict[str, Ref], others: str, output: str) -> OperandSteps:
    """``spec``'s own sums, then a transpose to the plain layout unless it already is in the plain or the swapped
    one (read through adj), then the merging reshape."""
    reduce = tuple(i for i, c in enumerate(spec) if c not in others and c not in output)
    rest = "".join(c for c in spec if c in others or c in output)
    plain, swapped = layouts
    adj = rest == swapped and rest != plain
    perm = None if rest in (plain, swapped) else tuple(rest.index(c) for c in plain)
    layout = swapped if adj else plain
    ordered = groups if not adj else (*groups[:-2], groups[-1], groups[-2])
    reshape = _resolve(ordered, sizes, sources) if _needs_reshape(ordered) else None
    reduced = tuple(sizes[c] for c in rest)
    transposed = reduced if perm is None else tuple(sizes[c] for c in layout)
    return OperandSteps(reduce, perm, reshape, adj, reduced, transposed, reshape.known if reshape else transposed)


def _two_operands(a: str, b: str, output: str, sizes: dict[str, int | None], sources: dict[str, Ref]) -> EinsumSteps:
    a_rest = "".join(c for c in a if c in b or c in output)
    b_rest = "".join(c for c in b if c in a or c in output)
    kept_a = "".join(c for c in a_rest if c not in b)
    kept_b = "".join(c for c in b_rest if c not in a)
    best: tuple[int, EinsumSteps] | None = None
    # batch and summed letters in a's order or in b's: the choice with the fewest transposes
    for batch_from, summed_from in itertools.product((a_rest, b_rest), repeat=2):
        batch = "".join(c for c in batch_from if c in a and c in b and c in output)
        summed = "".join(c for c in summed_from if c in a and c in b and c not in output)
        left = _operand(a, (batch + kept_a + summed, batch + summed + kept_a), (*batch, kept_a, summed), sizes,
                        sources, b, output)
        right = _operand(b, (batch + summed + kept_b, batch + kept_b + summed), (*batch, summed, kept_b), sizes,
                         sources, a, output)
        product = (*(sizes[c] for c in batch), left.known[-2 + left.adj], right.known[-1 - right.adj])
        result = batch + kept_a + kept_b
        split_groups = tuple(result)
        split = _resolve(split_groups, sizes, sources) if len(kept_a) != 1 or len(kept_b) != 1 else None
        perm = None if result == output else tuple(result.index(c) for c in output)
        steps = EinsumSteps((left, right), product, split, perm, tuple(sizes[c] for c in output))
        cost = (left.perm is not None) + (right.perm is not None)
        if best is None or cost < best[0]:
            best = (cost, steps)
    if best is None:
        raise InternalError("no layout was tried")
    return best[1]


T = TypeVar("T")


class EinsumOps(Protocol[T]):
    """What :func:`emit_einsum` needs from a graph builder; ``known`` is the result's static shape."""

    def reduce_sum(self, x: T, axes: Sequence[int], known: Known) -> T: ...

    def transpose(self, x: T, perm: Sequence[int], known: Known) -> T: ...

    def reshape(self, x: T, target: Sequence[int], known: Known) -> T: ...

    def shape_slice(self, operand: int, begin: int, size: int) -> T: ...

    def int_vector(self, values: Sequence[int]) -> T: ...

    def dynamic_reshape(self, x: T, pieces: Sequence[T], known: Known) -> T: ...

    def batch_matmul(self, a: T, b: T, adj_a: bool, adj_b: bool, known: Known) -> T: ...


@dataclass
class _Emitter(Generic[T]):
    ops: EinsumOps[T]

    def reshape(self, x: T, reshape: Reshape) -> T:
        if reshape.static:
            return self.ops.reshape(x, [int(d) for d in reshape.target], reshape.known)  # type: ignore[arg-type]
        pieces: list[T] = []
        numbers: list[int] = []
        refs: list[Ref] = []

        def flush() -> None:
            if numbers:
                pieces.append(self.ops.int_vector(list(numbers)))
                numbers.clear()
            if refs:
                pieces.append(self.ops.shape_slice(refs[0][0], refs[0][1], len(refs)))
                refs.clear()

        for d in reshape.target:
            if isinstance(d, int):
                if refs:
                    flush()
                numbers.append(d)
            else:
                if numbers or (refs and (refs[-1][0] != d[0] or refs[-1][1] + 1 != d[1])):
                    flush()
                refs.append(d)
        flush()
        return self.ops.dynamic_reshape(x, pieces, reshape.known)


def prepare_operand(step: OperandSteps, x: T, ops: EinsumOps[T]) -> T:
    """Operand ``x`` summed, transposed and reshaped as BatchMatMulV2 reads it."""
    if step.reduce:
        x = ops.reduce_sum(x, step.reduce, step.reduced)
    if step.perm is not None:
        x = ops.transpose(x, step.perm, step.transposed)
    if step.reshape is not None:
        x = _Emitter(ops).reshape(x, step.reshape)
    return x


def emit_einsum(steps: EinsumSteps, operands: Sequence[T], ops: EinsumOps[T]) -> T:
    """The ops of ``steps`` over ``operands``; returns the output (an operand itself where nothing is done)."""
    prepared = [prepare_operand(step, x, ops) for x, step in zip(operands, steps.operands, strict=True)]
    return finish_einsum(steps, prepared, ops)


def finish_einsum(steps: EinsumSteps, prepared: Sequence[T], ops: EinsumOps[T]) -> T:
    """The product of the prepared operands, split and transposed to the output's order."""
    if len(prepared) == 2:
        y = ops.batch_matmul(prepared[0], prepared[1], steps.operands[0].adj, steps.operands[1].adj, steps.product)
    else:
        y = prepared[0]
    if steps.split is not None:
        y = _Emitter(ops).reshape(y, steps.split)
    if steps.perm is not None:
        y = ops.transpose(y, steps.perm, steps.output)
    return y
