"""A constant pad above rank 4 is emitted on a rank-4 view (TF.js 4.22's packed WebGL pad shader does not compile for
rank 5 or 6): padding the view and reshaping back must give exactly numpy's pad of the original array."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hatch_tfjs.compile.builder import rank4_padding


def _padded_through_view(x: np.ndarray, paddings: list[tuple[int, int]], unknown_batch: bool) -> np.ndarray | None:
    shape = (None, *x.shape[1:]) if unknown_batch else x.shape
    found = rank4_padding(shape, paddings)
    if found is None:
        return None
    view_shape, view_paddings = found
    assert len(view_shape) == 4
    view = x.reshape([-1 if d is None else d for d in view_shape])
    out_shape = [d + a + b for d, (a, b) in zip(x.shape, paddings, strict=True)]
    return np.pad(view, view_paddings).reshape(out_shape)


@pytest.mark.parametrize("rank", [5, 6])
@pytest.mark.parametrize("unknown_batch", [False, True])
def test_every_padding_pattern_through_the_view_equals_numpy(rank, unknown_batch):
    rng = np.random.default_rng(rank)
    x = rng.normal(size=(2, 3, 1, 4, 2, 3)[:rank]).astype("float32")
    converted = 0
    for padded_axes in itertools.product([False, True], repeat=rank):
        paddings = [(1, 2) if p else (0, 0) for p in padded_axes]
        got = _padded_through_view(x, paddings, unknown_batch)
        if got is None:
            continue
        converted += 1
        np.testing.assert_array_equal(got, np.pad(x, paddings))
    assert converted > 0


def test_the_patterns_the_compiler_emits_find_a_view():
    """Conv3DTranspose's full padding of a [batch, d, h, w, c] input and a stride's zero insertion on a
    [batch, d, 1, h, w, c] one, with the batch size unknown."""
    assert rank4_padding((None, 3, 3, 3, 2), [(0, 0), (1, 1), (1, 1), (1, 1), (0, 0)]) == (
        (None, 3, 3, 6), [(0, 0), (1, 1), (1, 1), (2, 2)])
    assert rank4_padding((None, 3, 1, 3, 3, 2), [(0, 0), (0, 0), (0, 1), (0, 0), (0, 0), (0, 0)]) == (
        (None, 3, 1, 18), [(0, 0), (0, 0), (0, 1), (0, 0)])


def test_no_view_when_every_inner_axis_is_padded_or_two_sizes_are_unknown():
    assert rank4_padding((None, 3, 3, 3, 2), [(1, 1)] * 5) is None
    assert rank4_padding((None, None, 3, 3, 2), [(0, 0), (1, 1), (1, 1), (1, 1), (0, 0)]) is None
