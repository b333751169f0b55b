"""MultiHeadAttention (self- and cross-attention over axis 1 of ``[batch, steps, features]`` tensors).

As Keras computes it: per-head projections ``x @ W + b`` (one fused MatMul each, heads laid out ``[heads, dim]``),
the query scaled by ``1 / sqrt(key_dim)``, ``softmax(q k^T)`` per head (with a causal mask added as Keras's large
negative number when ``use_causal_mask``), ``scores @ v``, and the output projection over ``heads x value_dim``.
With masks (the query's, the value's and key's), the scores where a masked query step meets a key step, or a step
meets a masked key step (or a later one, causal), are replaced by that large negative number, as Keras's masked
softmax does.
"""

from __future__ import annotations

import math

import numpy as np

from hatch_tfjs.compile.builder import NotCoveredError, Tensor, attr_bool, attr_str, broadcast_shape, known
from hatch_tfjs.compile.registry import LayerCall, layer

LARGE_NEGATIVE = -1e9  # what Keras adds to masked float32 attention logits


def _sublayer_weight(call: LayerCall, sublayer: str, key: str, position: int) -> np.ndarray:
    """``<mha>/<sublayer>/<key>``, or ``vars/<position>`` where the file stores the EinsumDense weights by order."""
    for name in (
        f"{call.name}/{sublayer}/{key}",
        f"{call.name}/{sublayer}/vars/{position}",
        f"{call.name}/{sublayer.replace('_dense', '')}/{key}",
    ):
        if name in call.weights:
            return np.asarray(call.weights[name])
    raise NotCoveredError(f"its weight {call.name}/{sublayer}/{key} is not in the file")


def _flat_dense(call: LayerCall, sublayer: str, flat: Tensor, kernel: np.ndarray) -> Tensor:
    """``flat @ kernel (+ bias)`` for one of the layer's EinsumDense sublayers, its heads merged into 2-D: a MatMul
    and BiasAdd TF.js fuses into ``_FusedMatMul``."""
    b = call.builder
    y = b.op(
        f"{call.scope}/{sublayer}/MatMul",
        "MatMul",
        [flat, b.const(f"{call.scope}/{sublayer}/kernel", kernel)],
        (None, kernel.shape[1]),
        attr={"transpose_a": attr_bool(False), "transpose_b": attr_bool(False)},
    )
    if not call.option("use_bias", True):
        return y
    bias = _sublayer_weight(call, sublayer, "bias", 1).reshape(-1)
    return b.op(
        f"{call.scope}/{sublayer}/BiasAdd",
        "BiasAdd",
        [y, b.const(f"{call.scope}/{sublayer}/bias", bias)],
        y.shape,
        attr={"data_format": attr_str("NHWC")},
    )


def _project(call: LayerCall, x: Tensor, sublayer: str) -> Tensor:
    """``x @ W + b`` with ``W`` ``[features, heads, dim]``, as ``[batch, heads, steps, dim]``."""
    b = call.builder
    kernel = _sublayer_weight(call, sublayer, "kernel", 0)
    features, heads, dim = kernel.shape
    call.require(x.shape[-1] == features, f"its {sublayer} kernel does not match its input")
    flat = b.reshape(f"{call.scope}/{sublayer}/flatten", x, (None, features))
    y = _flat_dense(call, sublayer, flat, kernel.reshape(features, heads * dim))
    y = b.reshape(f"{call.scope}/{sublayer}/heads", y, (None, x.shape[1], heads, dim))
    return b.transpose(f"{call.scope}/{sublayer}", y, [0, 2, 1, 3])


def _causal_mask(call: LayerCall, scores: Tensor, query: Tensor, key: Tensor) -> Tensor:
    """``scores`` with Keras's large negative number added where a query step would see a later key step."""
    steps = (known(query.shape[1], "the query length"), known(key.shape[1], "the key length"))
    mask = np.where(np.tril(np.ones(steps, bool)), 0.0, LARGE_NEGATIVE)
    return call.builder.binary(call.scope, "AddV2", scores, call.builder.const(f"{call.scope}/causal_mask", mask))


def _batch_matmul(call: LayerCall, a: Tensor, c: Tensor, *, adj_y: bool, name: str) -> Tensor:
    shape = (*a.shape[:-1], c.shape[-2] if adj_y else c.shape[-1])
    return call.builder.op(
        f"{call.scope}/{name}",
        "BatchMatMulV2",
        [a, c],
        shape,
        attr={"adj_x": attr_bool(False), "adj_y": attr_bool(adj_y)},
    )


def _attention_mask(call: LayerCall, query: Tensor, key: Tensor, has_key: bool) -> Tensor | None:
    """Keras's ``_compute_attention_mask`` from the query's mask, the value's and key's (``value_mask=`` /
    ``key_mask=``, or the tensors' own), and the causal mask: ``[batch or 1, query steps, key steps]`` bool, None
    without any padding mask (the causal mask alone is added as before)."""
    b = call.builder
    masks = [*call.input_masks, None, None, None]
    query_mask = masks[0]
    value_mask = call.kwargs.get("value_mask", masks[1])
    key_mask = call.kwargs.get("key_mask", masks[2]) if has_key else None
    parts = []
    if query_mask is not None:
        parts.append(b.expand_dims(f"{call.scope}/query_mask", query_mask, -1))
    for name, mask in (("value_mask", value_mask), ("key_mask", key_mask)):
        if mask is not None:
            call.require(isinstance(mask, Tensor) and mask.dtype == "DT_BOOL", f"its {name} is not a bool tensor")
            parts.append(b.expand_dims(f"{call.scope}/{name}", mask, -2))
    if not parts:
        return None
    if call.kwargs.get("use_causal_mask"):
        steps = (known(query.shape[1], "the query length"), known(key.shape[1], "the key length"))
        parts.append(b.const(f"{call.scope}/causal", np.tril(np.ones(steps, np.int32))[None], "DT_INT32"))
        parts[-1] = b.op(
            f"{call.scope}/causal/Cast",
            "Cast",
            [parts[-1]],
            parts[-1].shape,
            dtype="DT_BOOL",
            typed=False,
            attr={"SrcT": {"type": "DT_INT32"}, "DstT": {"type": "DT_BOOL"}, "Truncate": attr_bool(False)},
        )
    mask = parts[0]
    for part in parts[1:]:
        mask = b.op(
            f"{call.scope}/LogicalAnd",
            "LogicalAnd",
            [mask, part],
            broadcast_shape(mask.shape, part.shape),
            dtype="DT_BOOL",
            typed=False,
        )
    return mask


def _masked_scores(call: LayerCall, scores: Tensor, mask: Tensor) -> Tensor:
    """Keras's masked softmax input: the scores where ``mask`` (per batch, shared by the heads), else its large
    negative number."""
    b = call.builder
    keep = b.expand_dims(f"{call.scope}/heads_mask", mask, 1)
    return b.op(
        f"{call.scope}/SelectV2", "SelectV2", [keep, scores, b.scalar(call.scope, LARGE_NEGATIVE)], scores.shape
    )


@layer(
    "MultiHeadAttention",
    kwargs=("use_causal_mask", "return_attention_scores", "query_mask", "value_mask", "key_mask"),
)
def multi_head_attention(call: LayerCall) -> list[Tensor]:
    b = call.builder
    call.require(len(call.inputs) in (2, 3), "it is called without separate query and value tensors")
    query, value = call.inputs[0], call.inputs[1]
    key = call.inputs[2] if len(call.inputs) == 3 else value
    call.require(
        all(t.rank == 3 for t in (query, value, key)),
        "attention over inputs of rank other than 3 is not translated yet",
    )
    call.require(call.option("attention_axes") in (None, [1], (1,)), "attention_axes other than the sequence axis")
    call.require(
        not call.option("use_gate") and call.option("sliding_window") is None, "gated or sliding-window attention"
    )
    call.require(call.option("output_shape") is None, "a custom output_shape is not translated yet")
    call.require(not call.kwargs.get("return_attention_scores"), "return_attention_scores is not translated yet")
    q = _project(call, query, "query_dense")
    k = _project(call, key, "key_dense")
    v = _project(call, value, "value_dense")
    key_dim = int(call.option("key_dim"))
    q = b.binary(call.scope, "Mul", q, b.scalar(call.scope, 1.0 / math.sqrt(key_dim)))
    scores = _batch_matmul(call, q, k, adj_y=True, name="scores")
    # The query's own mask, whatever query_mask= says (Keras reads it from the query); the output keeps it.
    mask = _attention_mask(call, query, key, has_key=len(call.inputs) == 3)
    if mask is not None:
        scores = _masked_scores(call, scores, mask)
    elif call.kwargs.get("use_causal_mask"):
        scores = _causal_mask(call, scores, query, key)
    if call.input_masks and call.input_masks[0] is not None:
        call.output_masks = [call.input_masks[0]]
    probabilities = b.op(f"{call.scope}/Softmax", "Softmax", [scores], scores.shape)
    attended = _batch_matmul(call, probabilities, v, adj_y=False, name="attended")  # [batch, heads, steps, value_dim]
    attended = b.transpose(f"{call.scope}/merge", attended, [0, 2, 1, 3])
    out_kernel = _sublayer_weight(call, "output_dense", "kernel", 0)
    heads, value_dim, out_dim = out_kernel.shape
    flat = b.reshape(f"{call.scope}/output_dense/flatten", attended, (None, heads * value_dim))
    y = _flat_dense(call, "output_dense", flat, out_kernel.reshape(heads * value_dim, out_dim))
    return [b.reshape(f"{call.scope}/output", y, (None, query.shape[1], out_dim))]


def _dot_scores(call: LayerCall, query: Tensor, key: Tensor) -> Tensor:
    """Luong: ``q k^T``, times the learned ``scale`` with ``use_scale``."""
    scores = _batch_matmul(call, query, key, adj_y=True, name="scores")
    if not call.option("use_scale"):
        return scores
    scale = call.weight("scale") if call.has_weight("scale") else call.weight("vars/0")
    return call.builder.binary(call.scope, "Mul", scores, call.builder.const(f"{call.scope}/scale", scale))


def _additive_scores(call: LayerCall, query: Tensor, key: Tensor) -> Tensor:
    """Bahdanau: ``sum(scale * tanh(q[:, :, None] + k[:, None]), axis=-1)``, ``scale`` learned per feature with
    ``use_scale`` (else 1, which changes nothing)."""
    b = call.builder
    pairs = b.binary(
        call.scope,
        "AddV2",
        b.expand_dims(f"{call.scope}/query", query, 2),
        b.expand_dims(f"{call.scope}/key", key, 1),
    )
    features = b.unary(call.scope, "Tanh", pairs)
    if call.option("use_scale", True):
        features = b.binary(call.scope, "Mul", b.const(f"{call.scope}/scale", call.weight("scale")), features)
    return b.reduce(call.scope, "Sum", features, [-1], False)


@layer("Attention", "AdditiveAttention", kwargs=("use_causal_mask", "return_attention_scores"))
def score_attention(call: LayerCall) -> list[Tensor]:
    """Keras's ``Attention`` (Luong, ``score_mode="dot"``) and ``AdditiveAttention`` (Bahdanau):
    ``softmax(scores [causal mask]) v``."""
    b = call.builder
    call.require(len(call.inputs) in (2, 3), "it is called on other than [query, value(, key)]")
    call.require(call.option("score_mode", "dot") == "dot", "score_mode 'concat' is not translated yet")
    call.require(not call.kwargs.get("return_attention_scores"), "return_attention_scores is not translated yet")
    query, value = call.inputs[0], call.inputs[1]
    key = call.inputs[2] if len(call.inputs) == 3 else value
    call.require(all(t.rank == 3 for t in (query, value, key)), "attention over inputs of rank other than 3")
    additive = call.class_name == "AdditiveAttention"
    scores = _additive_scores(call, query, key) if additive else _dot_scores(call, query, key)
    if call.kwargs.get("use_causal_mask"):
        scores = _causal_mask(call, scores, query, key)
    probabilities = b.op(f"{call.scope}/Softmax", "Softmax", [scores], scores.shape)
    return [_batch_matmul(call, probabilities, value, adj_y=False, name="attended")]
