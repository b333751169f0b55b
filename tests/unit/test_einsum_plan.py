"""The einsum plan shared by the compiler and the graph route, followed with numpy's ops and compared with
``numpy.einsum`` (the TF.js side is in tests/parity/test_graph_rewrites.py and the compiler's op tests)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from hatch_tfjs.einsum_plan import EinsumRefusedError, Known, emit_einsum, lower_einsum


class NumpyOps:
    """The plan's ops in numpy; each result's shape checked against the plan's static shape."""

    def __init__(self, operands: Sequence[np.ndarray]) -> None:
        self.operands = operands
        self.ops: list[str] = []

    def _checked(self, op: str, y: np.ndarray, known: Known) -> np.ndarray:
        self.ops.append(op)
        assert len(known) == y.ndim and all(k is None or k == d for k, d in zip(known, y.shape, strict=True)), (
            op, known, y.shape)
        return y

    def reduce_sum(self, x: np.ndarray, axes: Sequence[int], known: Known) -> np.ndarray:
        return self._checked("Sum", x.sum(axis=tuple(axes)), known)

    def transpose(self, x: np.ndarray, perm: Sequence[int], known: Known) -> np.ndarray:
        return self._checked("Transpose", x.transpose(perm), known)

    def reshape(self, x: np.ndarray, target: Sequence[int], known: Known) -> np.ndarray:
        return self._checked("Reshape", x.reshape(target), known)

    def shape_slice(self, operand: int, begin: int, size: int) -> np.ndarray:
        return np.array(self.operands[operand].shape[begin : begin + size])

    def int_vector(self, values: Sequence[int]) -> np.ndarray:
        return np.array(values)

    def dynamic_reshape(self, x: np.ndarray, pieces: Sequence[np.ndarray], known: Known) -> np.ndarray:
        return self._checked("Reshape(dynamic)", x.reshape(np.concatenate(pieces)), known)

    def batch_matmul(self, a: np.ndarray, b: np.ndarray, adj_a: bool, adj_b: bool, known: Known) -> np.ndarray:
        a = np.swapaxes(a, -1, -2) if adj_a else a
        b = np.swapaxes(b, -1, -2) if adj_b else b
        assert a.shape[:-2] == b.shape[:-2], "TF.js's BatchMatMul broadcasts only equal batch axes"
        return self._checked("BatchMatMulV2", a @ b, known)


EQUATIONS = [
    # keras-hub / Keras attention and EinsumDense projections
    ("abc,cde->abde", [(2, 3, 4), (4, 5, 6)]),
    ("abcd,cde->abe", [(2, 3, 4, 5), (4, 5, 6)]),
    ("aecd,abcd->acbe", [(2, 3, 4, 5), (2, 6, 4, 5)]),
    ("acbe,aecd->abcd", [(2, 4, 6, 3), (2, 3, 4, 5)]),
    ("btnh,bsnh->bnts", [(2, 3, 4, 5), (2, 6, 4, 5)]),
    ("bnts,bsnh->btnh", [(2, 4, 3, 6), (2, 6, 4, 5)]),
    ("btd,dnh->btnh", [(2, 3, 4), (4, 5, 6)]),
    ("...a,ab->...b", [(2, 3, 4), (4, 5)]),
    ("ab,bc->ac", [(2, 3), (3, 4)]),
    ("ab,cb->ac", [(2, 3), (4, 3)]),
    ("ba,bc->ac", [(3, 2), (3, 4)]),
    # outer products, own sums, scalars out, one operand
    ("a,b->ab", [(2,), (3,)]),
    ("abc,bd->ad", [(2, 3, 4), (3, 5)]),
    ("ab,ab->", [(2, 3), (2, 3)]),
    ("ab,ab->a", [(2, 3), (2, 3)]),
    ("abcd,dcbe->ae", [(2, 3, 4, 5), (5, 4, 3, 6)]),
    ("bij,bjk->bki", [(2, 3, 4), (2, 4, 5)]),
    ("abc->cba", [(2, 3, 4)]),
    ("abc->ca", [(2, 3, 4)]),
    ("abc->", [(2, 3, 4)]),
]


@pytest.mark.parametrize(("equation", "shapes"), EQUATIONS, ids=[e for e, _ in EQUATIONS])
@pytest.mark.parametrize("known", ["static", "batch_unknown", "ranks_only"])
def test_plan_matches_numpy_einsum(equation: str, shapes: list[tuple[int, ...]], known: str) -> None:
    rng = np.random.default_rng(0)
    operands = [rng.standard_normal(s).astype(np.float64) for s in shapes]
    if known == "static":
        given: list[tuple[int | None, ...] | None] = list(shapes)
    elif known == "batch_unknown":  # the first two axes of the first operand known only at run time
        given = [tuple(None if i < 2 else d for i, d in enumerate(shapes[0])), *shapes[1:]]
    else:  # the graph route: nothing known but the last operand (a constant kernel)
        given = [None] * (len(shapes) - 1) + [shapes[-1]] if len(shapes) == 2 else [None]
    try:
        steps = lower_einsum(equation, given)
    except EinsumRefusedError as refused:
        assert known != "static", refused
        assert "..." in equation or "known only at run time" in str(refused)
        return
    ops = NumpyOps(operands)
    result = emit_einsum(steps, operands, ops)
    np.testing.assert_allclose(result, np.einsum(equation, *operands), rtol=1e-12, atol=1e-12)
    assert "Einsum" not in ops.ops


def test_plain_attention_needs_no_transpose_of_the_operands() -> None:
    """``aecd,abcd->acbe`` (query-key scores) is read through adj_y: one BatchMatMulV2 and the output's transpose."""
    steps = lower_einsum("btnh,bsnh->bnts", [None, None])
    assert [s.perm is not None for s in steps.operands].count(True) == 2
    steps = lower_einsum("bnth,bnsh->bnts", [None, None])
    assert all(s.perm is None and s.reshape is None for s in steps.operands) and steps.operands[1].adj
    assert steps.perm is None and steps.split is None


@pytest.mark.parametrize("equation", ["aa->a", "ab,bc", "ab,bc,cd->ad", "ab,bc->ad"])
def test_refused(equation: str) -> None:
    with pytest.raises(EinsumRefusedError):
        lower_einsum(equation, [(2, 2)] * (equation.split("->")[0].count(",") + 1))
