"""The graph rewrites (hatch_tfjs.translate.graph) on hand-written graphs, each edge case checked by running the graph
before and after in a small numpy interpreter; then the smallest Keras models that trigger each rewrite, converted
as graph models and run in real TF.js 4.22 against Keras."""

from __future__ import annotations

import base64
import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_parity

from hatch_tfjs.config import ModelSpec, options_from_table
from hatch_tfjs.convert import convert_model
from hatch_tfjs.errors import UnsupportedModelError
from hatch_tfjs.translate import graph as gt
from hatch_tfjs.translate.ops import fused_ops_of

RNG = np.random.default_rng(0)


# --- a numpy interpreter for the ops the rewrites touch (VALID padding, stride 1) -------------------------------------


def _windows(x: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """[N, H', W', kh, kw, C] sliding windows of an NHWC tensor."""
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    return np.stack([np.stack([x[:, i:i + h, j:j + w, :] for j in range(kw)], axis=3) for i in range(kh)], axis=3)


def _conv(x, f):
    return np.einsum("nhwabc,abco->nhwo", _windows(x, f.shape[0], f.shape[1]), f)


def _depthwise(x, f):
    out = np.einsum("nhwabc,abcm->nhwcm", _windows(x, f.shape[0], f.shape[1]), f)
    return out.reshape(*out.shape[:3], -1)


_erf = np.vectorize(math.erf)
_ACTIVATIONS = {
    "Relu": lambda x, a: np.maximum(x, 0), "Relu6": lambda x, a: np.clip(x, 0, 6), "Tanh": lambda x, a: np.tanh(x),
    "Sigmoid": lambda x, a: 1 / (1 + np.exp(-x)), "Elu": lambda x, a: np.where(x > 0, x, np.expm1(x)),
    "Prelu": lambda x, a: np.where(x > 0, x, a * x), "LeakyRelu": lambda x, a: np.where(x > 0, x, a * x),
}
_PLAIN = {"Conv2D": _conv, "DepthwiseConv2dNative": _depthwise, "MatMul": lambda a, b: a @ b}
_BINARY = {"BiasAdd": np.add, "Add": np.add, "AddV2": np.add, "Sub": np.subtract, "Mul": np.multiply,
           "RealDiv": np.divide, "FloorDiv": np.floor_divide}


def _alpha(node: dict, args: list) -> float | np.ndarray:
    if node["op"] == "Prelu" or fused_ops_of(node)[-1:] == ["Prelu"]:
        return args[-1]
    for key in ("alpha", "leakyrelu_alpha"):
        if key in node.get("attr", {}):
            return node["attr"][key]["f"]
    return 0.0


def _explicitly_padded(node: dict, args: list) -> list:
    """A convolution's input with its EXPLICIT padding applied (the interpreter's kernels are VALID)."""
    padding = node.get("attr", {}).get("padding", {}).get("s")
    if padding is None or base64.b64decode(padding) != b"EXPLICIT":
        return args
    pads = [int(v) for v in node["attr"]["explicit_paddings"]["list"]["i"]]
    return [np.pad(args[0], [(pads[2 * i], pads[2 * i + 1]) for i in range(4)]), *args[1:]]


def _eval(node: dict, args: list, feeds: dict) -> np.ndarray:
    op = node["op"]
    args = _explicitly_padded(node, args)
    if op in ("Pad", "PadV2"):
        return np.pad(args[0], args[1].astype(int), constant_values=args[2] if op == "PadV2" else 0)
    if op == "Placeholder":
        return feeds[node["name"]]
    if op == "Const":
        return gt.decode_tensor(node["attr"]["value"]["tensor"]).astype(np.float64)
    if op == "Identity":
        return args[0]
    if op in _PLAIN:
        return _PLAIN[op](*args)
    if op in _BINARY:
        return _BINARY[op](*args)
    if op == "Einsum":
        return np.einsum(base64.b64decode(node["attr"]["equation"]["s"]).decode(), *args)
    if op == "Transpose":
        return np.transpose(args[0], args[1].astype(int))
    if op == "Reshape":
        return args[0].reshape(args[1].astype(int))
    if op == "Sum":
        return args[0].sum(axis=tuple(args[1].astype(int).reshape(-1)))
    if op == "Shape":
        return np.array(args[0].shape, np.int64)
    if op == "Slice":
        return args[0][int(args[1][0]) : int(args[1][0]) + int(args[2][0])]
    if op == "ConcatV2":
        return np.concatenate(args[:-1])
    if op == "BatchMatMulV2":
        a, b = (np.swapaxes(x, -1, -2) if node["attr"][flag]["b"] else x for x, flag in zip(args, ("adj_x", "adj_y")))
        return a @ b
    if op in ("Erf", "Erfc"):
        return _erf(args[0]) if op == "Erf" else 1 - _erf(args[0])
    if op == "Neg":
        return -args[0]
    if op == "Floor":
        return np.floor(args[0])
    if op in _ACTIVATIONS:
        return _ACTIVATIONS[op](args[0], _alpha(node, args))
    plain = {"_FusedConv2D": "Conv2D", "_FusedMatMul": "MatMul", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative"}[op]
    fused = fused_ops_of(node)
    out = _PLAIN[plain](args[0], args[1]) + (args[2] if fused[:1] == ["BiasAdd"] else 0)
    return _ACTIVATIONS[fused[1]](out, _alpha(node, args)) if len(fused) > 1 else out


def run(graph: dict, feeds: dict, outputs: list[str]) -> list[np.ndarray]:
    nodes = {n["name"]: n for n in graph["node"]}
    values: dict[str, np.ndarray] = {}

    def value(name: str) -> np.ndarray:
        if name not in values:
            node = nodes[name]
            args = [value(gt.parse_input(i)[0]) for i in gt.data_inputs(node)]
            values[name] = _eval(node, args, feeds)
        return values[name]

    return [value(o) for o in outputs]


# --- hand-written graphs --------------------------------------------------------------------------------------------


def _node(name, op, inputs=(), **attr):
    return {"name": name, "op": op, "input": list(inputs), "attr": attr}


def _const(name, array, dtype="DT_FLOAT"):
    return _node(name, "Const", value={"tensor": gt.encode_tensor(np.asarray(array), dtype)}, dtype={"type": dtype})


def _rand(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def _rewrite(nodes: list[dict], keep: set[str], outputs: list[str], *rewrites, feeds=None):
    """Run ``rewrites`` on a copy of the graph; assert the outputs did not change; return (view, report)."""
    graph = {"node": nodes}
    feeds = feeds or {"x": RNG.normal(size=(2, 5, 5, 4))}
    before = run(copy.deepcopy(graph), feeds, outputs)
    view, report = gt.Graph(graph, keep), gt.RewriteReport()
    for rewrite in rewrites:
        rewrite(view, report)
        _assert_indexes_are_current(view)
    view.remove_unreachable(outputs)
    for b, a in zip(before, run(view.graph, feeds, outputs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    return view, report


def _assert_indexes_are_current(view: gt.Graph) -> None:
    """The rewrites keep the name and consumer indexes up to date as they go: they equal freshly built ones."""
    def consumers(g: gt.Graph) -> dict[str, list[int]]:
        return {k: sorted(map(id, v)) for k, v in g.consumers.items() if v}

    fresh = gt.Graph(view.graph, view.keep)
    assert view.by_name == fresh.by_name and consumers(view) == consumers(fresh)


def _ops(view: gt.Graph) -> dict[str, str]:
    return {n["name"]: n["op"] for n in view.nodes}


def _depthwise_graph(activation: str | None, **controls) -> list[dict]:
    nodes = [_node("x", "Placeholder"), _const("w", _rand(3, 3, 4, 2)), _const("b", _rand(8)),
             _node("dw", "DepthwiseConv2dNative", ["x", "w", *controls.get("dw", [])]),
             _node("bias", "BiasAdd", ["dw", "b"])]
    if activation:
        nodes.append(_node("act", activation, ["bias"]))
    return nodes


@pytest.mark.parametrize("activation, fused, named", [
    ("Tanh", ["BiasAdd"], "bias"),  # the crash: BiasAdd cleared before its bias was read
    ("Relu6", ["BiasAdd", "Relu6"], "act"),
    ("Sigmoid", ["BiasAdd", "Sigmoid"], "act"),
    (None, ["BiasAdd"], "bias"),
])
def test_depthwise_bias_fuses_with_or_without_a_following_activation(activation, fused, named):
    out = "act" if activation else "bias"
    view, report = _rewrite(_depthwise_graph(activation), {"x", out}, [out], gt.fuse_kernels)
    assert _ops(view)[named] == "FusedDepthwiseConv2dNative" and fused_ops_of(view.by_name[named]) == fused
    assert "dw" not in view.by_name and report.counts == {"DepthwiseConv2dNative_fused": 1}


def test_a_bias_add_that_is_a_graph_output_keeps_its_name_and_the_activation_stays_apart():
    view, _ = _rewrite(_depthwise_graph("Relu"), {"x", "bias", "act"}, ["bias", "act"], gt.fuse_kernels)
    assert _ops(view) == {"x": "Placeholder", "w": "Const", "b": "Const", "bias": "FusedDepthwiseConv2dNative", "act": "Relu"}
    assert fused_ops_of(view.by_name["bias"]) == ["BiasAdd"]


def test_a_kernel_read_twice_is_not_fused():
    nodes = _depthwise_graph("Relu") + [_node("other", "Tanh", ["dw"]), _node("sum", "AddV2", ["act", "other"])]
    view, report = _rewrite(nodes, {"x", "sum"}, ["sum"], gt.fuse_kernels)
    assert _ops(view)["dw"] == "DepthwiseConv2dNative" and not report.counts


def test_fused_kernels_keep_the_control_inputs_of_what_they_absorb():
    nodes = _depthwise_graph("Relu", dw=["^ready"]) + [_node("ready", "NoOp")]
    graph = {"node": nodes}
    view = gt.Graph(graph, {"x", "act"})
    gt.fuse_kernels(view, gt.RewriteReport())
    assert view.by_name["act"]["input"] == ["x", "w", "b", "^ready"]


def test_leaky_relu_keeps_its_alpha_in_the_fused_matmul():
    nodes = [_node("x", "Placeholder"), _const("w", _rand(4, 3)), _const("b", _rand(3)), _node("mm", "MatMul", ["x", "w"]),
             _node("bias", "BiasAdd", ["mm", "b"]), _node("act", "LeakyRelu", ["bias"], alpha={"f": 0.3})]
    view, _ = _rewrite(nodes, {"x", "act"}, ["act"], gt.fuse_kernels, feeds={"x": RNG.normal(size=(3, 4))})
    assert fused_ops_of(view.by_name["act"]) == ["BiasAdd", "LeakyRelu"]
    assert view.by_name["act"]["attr"]["leakyrelu_alpha"] == {"f": 0.3}


def test_a_filter_shared_by_two_kernels_is_scaled_per_kernel_and_never_in_place():
    w = _rand(3, 3, 4, 2)
    nodes = [_node("x", "Placeholder"), _const("w", w), _const("s1", _rand(2)), _const("s2", _rand(2)),
             _node("conv_a", "Conv2D", ["x", "w"]), _node("conv_b", "Conv2D", ["x", "w"]),
             _node("mul_a", "Mul", ["conv_a", "s1"]), _node("mul_b", "Mul", ["s2", "conv_b"]),
             _node("sum", "AddV2", ["mul_a", "mul_b"])]
    shared = nodes[1]
    view, report = _rewrite(nodes, {"x", "sum"}, ["sum"], gt.fold_batch_norms)
    assert report.counts == {"scale_folded": 2}
    assert len({view.by_name["conv_a"]["input"][1], view.by_name["conv_b"]["input"][1], "w"}) == 3
    assert np.array_equal(gt.decode_tensor(shared["attr"]["value"]["tensor"]), w)


def test_a_scale_that_would_broadcast_the_output_to_a_higher_rank_is_not_folded():
    nodes = [_node("x", "Placeholder"), _const("w", _rand(4, 3)), _const("s", _rand(1, 1, 3)),
             _node("mm", "MatMul", ["x", "w"]), _node("mul", "Mul", ["mm", "s"])]
    view, report = _rewrite(nodes, {"x", "mul"}, ["mul"], gt.fold_batch_norms, feeds={"x": RNG.normal(size=(3, 4))})
    assert not report.counts and _ops(view)["mul"] == "Mul"


def test_a_scale_that_is_a_graph_output_becomes_an_identity_under_its_name():
    nodes = [_node("x", "Placeholder"), _const("w", _rand(3, 3, 4, 2)), _const("s", _rand(2)),
             _node("conv", "Conv2D", ["x", "w"]), _node("mul", "Mul", ["conv", "s"])]
    view, report = _rewrite(nodes, {"x", "mul"}, ["mul"], gt.fold_batch_norms)
    assert report.counts == {"scale_folded": 1} and _ops(view)["mul"] == "Identity"


def test_merged_biases_keep_the_control_inputs_of_the_bias_add_they_absorb():
    nodes = [_node("x", "Placeholder"), _node("ready", "NoOp"), _const("w", _rand(3, 3, 4, 2)), _const("b", _rand(2)),
             _const("c", _rand(1, 1, 1, 2)), _node("conv", "Conv2D", ["x", "w"]),
             _node("bias", "BiasAdd", ["conv", "b", "^ready"]), _node("add", "AddV2", ["c", "bias"])]
    view, report = _rewrite(nodes, {"x", "add"}, ["add"], gt.fold_batch_norms)
    assert report.counts == {"bias_merged": 1}
    assert view.by_name["add"]["op"] == "BiasAdd" and view.by_name["add"]["input"][0] == "conv"
    assert "^ready" in view.by_name["add"]["input"] and "bias" not in view.by_name


def test_a_batch_norm_is_not_folded_into_a_kernel_read_twice():
    stats = [_const("gamma", RNG.uniform(0.5, 1.5, 2)), _const("beta", _rand(2)), _const("mean", _rand(2)),
             _const("var", RNG.uniform(0.5, 2, 2))]
    nodes = [_node("x", "Placeholder"), _const("w", _rand(3, 3, 4, 2)), *stats, _node("conv", "Conv2D", ["x", "w"]),
             _node("bn", "FusedBatchNormV3", ["conv", "gamma", "beta", "mean", "var"], epsilon={"f": 0.001},
                   is_training={"b": False}),
             _node("other", "Relu", ["conv"])]
    graph = {"node": nodes}
    view, report = gt.Graph(graph, {"x", "bn", "other"}), gt.RewriteReport()
    gt.fold_batch_norms(view, report)
    assert not report.counts and view.by_name["bn"]["op"] == "FusedBatchNormV3"


_PRELU_KERNELS = {  # kernel op: (filter shape, channels, input)
    "Conv2D": ((3, 3, 4, 2), 2, (2, 5, 5, 4)),
    "DepthwiseConv2dNative": ((3, 3, 4, 1), 4, (2, 5, 5, 4)),
    "MatMul": ((4, 2), 2, (3, 4)),
}


def _prelu_graph(extra_reader: bool, kernel: str = "Conv2D") -> list[dict]:
    shape, channels, _ = _PRELU_KERNELS[kernel]
    nodes = [_node("x", "Placeholder"), _const("w", _rand(*shape)), _const("b", _rand(channels)),
             _const("c", -RNG.uniform(0.1, 0.5, channels)),
             _node("conv", kernel, ["x", "w"]), _node("bias", "BiasAdd", ["conv", "b"]),
             _node("relu", "Relu", ["bias"]), _node("neg", "Neg", ["bias"]), _node("neg_relu", "Relu", ["neg"]),
             _node("mul", "Mul", ["c", "neg_relu"]), _node("out", "AddV2", ["relu", "mul"])]
    if extra_reader:
        nodes.append(_node("also", "Tanh", ["relu"]))
    return nodes


@pytest.mark.parametrize("kernel", list(_PRELU_KERNELS))
def test_prelu_fuses_into_the_kernel_and_the_absorbed_nodes_go(kernel):
    feeds = {"x": RNG.normal(size=_PRELU_KERNELS[kernel][2])}
    view, report = _rewrite(_prelu_graph(False, kernel), {"x", "out"}, ["out"], gt.fuse_prelu, gt.fuse_kernels,
                            gt.fuse_prelu_into_kernels, feeds=feeds)
    assert report.counts == {"prelu_fused": 1, f"{kernel}_fused": 1, "prelu_fused_into_kernel": 1}
    assert _ops(view)["out"] == gt.FUSED_KERNEL_OF[kernel] and fused_ops_of(view.by_name["out"]) == ["BiasAdd", "Prelu"]
    assert view.by_name["out"]["attr"]["num_args"] == {"i": "2"}
    assert not {"relu", "neg", "neg_relu", "mul", "conv", "bias"} & set(view.by_name)


def test_prelu_is_not_fused_when_one_of_its_parts_is_read_elsewhere():
    view, report = _rewrite(_prelu_graph(True), {"x", "out", "also"}, ["out", "also"], gt.fuse_prelu)
    assert not report.counts and _ops(view)["out"] == "AddV2"


@pytest.mark.parametrize("dtype", ["DT_FLOAT", "DT_DOUBLE"])
def test_erfc_becomes_one_minus_erf_of_the_same_dtype(dtype):
    nodes = [_node("x", "Placeholder"), _node("e", "Erfc", ["x", "^x"], T={"type": dtype}), _node("out", "Identity", ["e"])]
    view, report = _rewrite(nodes, {"x", "out"}, ["out"], gt.rewrite_erfc, feeds={"x": np.linspace(-4, 4, 17)})
    node = view.by_name["e"]
    assert node["op"] == "Sub" and node["input"][2:] == ["^x"] and report.counts == {"erfc_rewritten": 1}
    one, erf = (view.by_name[i] for i in node["input"][:2])
    assert erf["op"] == "Erf" and erf["input"] == ["x"]
    assert one["attr"]["value"]["tensor"]["dtype"] == dtype and gt.decode_tensor(one["attr"]["value"]["tensor"]) == 1


# (equation, operand shapes, which operands are constants): Keras MultiHeadAttention's scores and attended values as
# TensorFlow traces them (BTNH,BSNH->BNTS and BNTS,BSNH->BTNH: one adj_y, one plain), keras-hub's attention
# ("aecd,abcd->acbe", "acbe,aecd->abcd"), EinsumDense projections with a constant kernel ("abc,cde->abde": two kept
# axes, "abcd,cde->abe": two summed axes, both read at run time), operands that both need a transpose, no batch axis,
# an axis summed in one operand only, an outer product, one operand.
EINSUM_PRODUCTS = [
    ("BTNH,BSNH->BNTS", [(2, 5, 3, 4), (2, 6, 3, 4)], ()),
    ("BNTS,BSNH->BTNH", [(2, 3, 5, 6), (2, 6, 3, 4)], ()),
    ("aecd,abcd->acbe", [(2, 5, 3, 4), (2, 6, 3, 4)], ()),
    ("acbe,aecd->abcd", [(2, 3, 6, 5), (2, 5, 3, 4)], ()),
    ("abc,cde->abde", [(2, 5, 4), (4, 3, 6)], (1,)),
    ("abcd,cde->abe", [(2, 5, 3, 4), (3, 4, 6)], (1,)),
    ("abc,cde->abde", [(2, 5, 4), (4, 3, 6)], ()),
    ("tbh,nbt->bhn", [(5, 2, 4), (3, 2, 5)], ()),
    ("ij,jk->ki", [(3, 4), (4, 5)], ()),
    ("abc,bd->ad", [(2, 3, 4), (3, 5)], ()),
    ("a,b->ab", [(2,), (3,)], ()),
    ("abc->ca", [(2, 3, 4)], ()),
]


@pytest.mark.parametrize(("equation", "shapes", "constants"), EINSUM_PRODUCTS)
def test_an_einsum_becomes_ops_every_backend_has_with_the_same_values(equation, shapes, constants):
    attr = {"equation": {"s": base64.b64encode(equation.encode()).decode()}, "N": {"i": str(len(shapes))},
            "T": {"type": "DT_FLOAT"}}
    names = [f"x{i}" for i in range(len(shapes))]
    values = {n: RNG.normal(size=s) for n, s in zip(names, shapes)}
    operands = [_const(n, values[n]) if i in constants else _node(n, "Placeholder") for i, n in enumerate(names)]
    nodes = [*operands, _node("out", "Einsum", names, **attr)]
    feeds = {n: v for i, (n, v) in enumerate(values.items()) if i not in constants}
    view, report = _rewrite(nodes, {*feeds, "out"}, ["out"], gt.rewrite_einsum, feeds=feeds)
    assert report.counts == {"einsum_rewritten": 1}
    ops = set(_ops(view).values())
    assert "Einsum" not in ops and ops <= {"Placeholder", "Const", "Identity", "Transpose", "Reshape", "Sum", "Shape",
                                           "Slice", "ConcatV2", "BatchMatMulV2"}, ops
    if constants:  # the kernel rearranged once, here: nothing done to it at run time
        assert "x1" not in _ops(view)


@pytest.mark.parametrize("equation", ["...h,hd->...d", "ii,ij->j", "ab,bc,cd->ad"])
def test_an_einsum_the_plan_does_not_cover_is_left_alone(equation):
    """An ellipsis on operands of unknown rank, a repeated letter (a diagonal), three operands: not rewritten (the op
    check names the backends that lack Einsum)."""
    attr = {"equation": {"s": base64.b64encode(equation.encode()).decode()}, "T": {"type": "DT_FLOAT"}}
    count = equation.split("->", maxsplit=1)[0].count(",") + 1
    names = ["a", "b", "c"][:count]
    nodes = [*(_node(n, "Placeholder") for n in names), _node("out", "Einsum", names, **attr)]
    view, report = gt.Graph({"node": nodes}, {"out"}), gt.RewriteReport()
    gt.rewrite_einsum(view, report)
    assert not report.counts and _ops(view)["out"] == "Einsum"


@pytest.mark.parametrize("kernel", ["Conv2D", "DepthwiseConv2dNative"])
def test_a_zero_pad_before_a_valid_convolution_becomes_its_explicit_padding(kernel):
    filt = _rand(3, 3, 4, 2) if kernel == "Conv2D" else _rand(3, 3, 4, 1)
    pads = np.array([[0, 0], [1, 2], [0, 1], [0, 0]], np.int32)
    valid = {"padding": {"s": base64.b64encode(b"VALID").decode()}, "data_format": {"s": base64.b64encode(b"NHWC").decode()}}
    nodes = [_node("x", "Placeholder"), _const("w", filt), _const("p", pads, "DT_INT32"), _node("pad", "Pad", ["x", "p"]),
             _node("conv", kernel, ["pad", "w"], **valid), _node("out", "Identity", ["conv"])]
    view, report = _rewrite(nodes, {"x", "out"}, ["out"], gt.fold_pads_into_convs)
    conv = view.by_name["conv"]
    assert report.counts == {"pad_folded_into_conv": 1} and "pad" not in view.by_name and conv["input"][0] == "x"
    assert conv["attr"]["explicit_paddings"]["list"]["i"] == ["0", "0", "1", "2", "0", "1", "0", "0"]


@pytest.mark.parametrize("case", ["channels padded", "read elsewhere", "same padding", "nonzero PadV2"])
def test_a_pad_that_is_not_a_convolution_s_zero_border_is_kept(case):
    pads = np.array([[0, 0], [1, 1], [1, 1], [0, 1 if case == "channels padded" else 0]], np.int32)
    padding = b"SAME" if case == "same padding" else b"VALID"
    attr = {"padding": {"s": base64.b64encode(padding).decode()}, "data_format": {"s": base64.b64encode(b"NHWC").decode()}}
    pad = (_node("pad", "PadV2", ["x", "p", "v"]) if case == "nonzero PadV2" else _node("pad", "Pad", ["x", "p"]))
    nodes = [_node("x", "Placeholder"), _const("w", _rand(3, 3, 5 if case == "channels padded" else 4, 2)),
             _const("p", pads, "DT_INT32"), _const("v", np.float32(0.5)), pad, _node("conv", "Conv2D", ["pad", "w"], **attr),
             _node("out", "Identity", ["conv"]), _node("also", "Identity", ["pad"])]
    outputs = ["out", "also"] if case == "read elsewhere" else ["out"]
    view, report = gt.Graph({"node": nodes}, {"x", *outputs}), gt.RewriteReport()
    gt.fold_pads_into_convs(view, report)
    assert not report.counts and view.by_name["conv"]["input"][0] == "pad"


def _grouped_reference(x: np.ndarray, f: np.ndarray, groups: int) -> np.ndarray:
    """A grouped convolution as TensorFlow defines it: input and output channels split into ``groups`` blocks."""
    cin, cout = x.shape[-1] // groups, f.shape[-1] // groups
    return np.concatenate([_conv(x[..., g * cin:(g + 1) * cin], f[..., g * cout:(g + 1) * cout]) for g in range(groups)], axis=-1)


def test_a_depthwise_grouped_convolution_becomes_a_depthwise_one_and_others_are_named():
    f = _rand(3, 3, 1, 8)  # 4 input channels, groups = 4, 2 outputs per group
    f2 = _rand(3, 3, 2, 4)  # 4 input channels, groups = 2: no TF.js equivalent
    nodes = [_node("x", "Placeholder"), _const("w", f), _const("w2", f2), _node("g", "Conv2D", ["x", "w"]),
             _node("g2", "Conv2D", ["x", "w2"])]
    x = RNG.normal(size=(2, 5, 5, 4))
    view, report = gt.Graph({"node": nodes}, {"x", "g", "g2"}), gt.RewriteReport()
    left = gt.grouped_convs_to_depthwise(view, {"g": 4, "g2": 4}, report)
    assert left == ["g2"] and report.counts == {"grouped_conv_to_depthwise": 1}
    assert view.by_name["g"]["op"] == "DepthwiseConv2dNative"
    (got,) = run(view.graph, {"x": x}, ["g"])
    np.testing.assert_allclose(got, _grouped_reference(x, f, 4), rtol=1e-5, atol=1e-5)


def test_maps_are_sorted_so_model_json_is_the_same_on_every_run():
    graph = {"node": [_node("n", "Conv2D", [], strides={"list": {"i": ["1"]}}, T={"type": "DT_FLOAT"},
                            padding={"s": base64.b64encode(b"SAME").decode()})],
             "library": {"function": [{"signature": {"name": "f"}, "ret": {"z": "a:0", "b": "c:0"}, "nodeDef": []}]}}
    gt.sort_maps(graph)
    assert list(graph["node"][0]["attr"]) == ["T", "padding", "strides"]
    assert list(graph["library"]["function"][0]["ret"]) == ["b", "z"]


# --- the smallest Keras models that trigger each rewrite, run in TF.js ----------------------------------------------

# reader = "keras": Keras files take the TensorFlow route, whose rewrites these tests are about (the TensorFlow-free
# compiler, the default for Keras files, is tested in test_compile*.py).
GRAPH_OPTIONS = {"signature": "serving_default", "tags": ["serve"], "strip-debug-ops": True, "control-flow-v2": False,
                 "structured-outputs": False, "reader": "keras"}


def _depthwise_bn(activation: str):
    """DepthwiseConv2D -> BatchNormalization -> an activation other than ReLU/ReLU6 (crashed fuse_depthwise)."""
    import keras
    from keras import layers

    inp = keras.Input((8, 8, 3), name="image")
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(inp)
    x = layers.BatchNormalization()(x)
    x = layers.Activation(activation)(x)
    return keras.Model(inp, layers.GlobalAveragePooling2D()(x))


def _conv_bn_hard_swish():
    """MobileNetV3's Conv2D -> BatchNormalization -> hard_swish (grappler's oneDNN remapper fused it into a kernel)."""
    import keras
    from keras import layers

    inp = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(6, 3, padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("hard_swish")(x)
    return keras.Model(inp, layers.Conv2D(2, 1)(x))


def _grouped_conv(groups: int):
    """ConvNeXt's depthwise convolution is a Conv2D with groups = channels (compiled with XLA by Keras)."""
    import keras
    from keras import layers

    inp = keras.Input((8, 8, 4), name="image")
    x = layers.Conv2D(8, 3, padding="same", groups=groups, name="grouped")(inp)
    x = layers.LayerNormalization()(x)
    return keras.Model(inp, layers.Dense(3, activation="gelu")(x))


def _shared_conv_two_norms():
    """One Conv2D layer applied twice (one filter constant, two kernels), each followed by its own BatchNormalization,
    and a BatchNormalization whose output is the model's output."""
    import keras
    from keras import layers

    a, b = keras.Input((6, 6, 3), name="a"), keras.Input((6, 6, 3), name="b")
    conv = layers.Conv2D(4, 3, use_bias=False)
    x = layers.BatchNormalization()(conv(a))
    y = layers.BatchNormalization()(conv(b))
    return keras.Model([a, b], [layers.Add()([x, y]), x])


def _depthwise_prelu():
    import keras
    from keras import layers

    inp = keras.Input((8, 8, 3), name="image")
    x = layers.DepthwiseConv2D(3, depth_multiplier=2)(inp)
    x = layers.PReLU(shared_axes=[1, 2])(x)
    return keras.Model(inp, layers.GlobalAveragePooling2D()(x))


def _dense_activations():
    import keras
    from keras import layers

    inp = keras.Input((6,), name="features")
    x = layers.LeakyReLU(negative_slope=0.3)(layers.Dense(8)(inp))
    x = layers.Dense(8, activation="elu")(x)
    x = layers.Dense(8, activation="sigmoid")(x)
    return keras.Model(inp, layers.Dense(2)(x))


KERAS_CASES = {
    "depthwise_bn_swish": (lambda: _depthwise_bn("swish"), "keras"),
    "depthwise_bn_swish_savedmodel": (lambda: _depthwise_bn("swish"), "savedmodel"),
    "depthwise_bn_tanh": (lambda: _depthwise_bn("tanh"), "keras"),
    "conv_bn_hard_swish": (_conv_bn_hard_swish, "keras"),
    "grouped_conv": (lambda: _grouped_conv(4), "keras"),
    "shared_conv": (_shared_conv_two_norms, "keras"),
    "dense_activations": (_dense_activations, "keras"),
    "depthwise_prelu": (_depthwise_prelu, "keras"),
}


@pytest.fixture(scope="session")
def rewrite_cases(tmp_path_factory):
    import graph_zoo

    directory = tmp_path_factory.mktemp("rewrite_cases")
    cases = {}
    for seed, name in enumerate(KERAS_CASES):
        builder, kind = KERAS_CASES[name]
        cases[name] = graph_zoo.save_keras_case(name, builder(), kind, directory, seed)
    return cases


def _convert(source: Path, output: Path):
    spec = ModelSpec(name="m", source=source, output=output, root=source.parent, format="graph", options=options_from_table(GRAPH_OPTIONS, "graph"))
    result = convert_model(spec)
    return spec, result, json.loads((output / "model.json").read_text())


@pytest.mark.parametrize("name", list(KERAS_CASES))
def test_rewritten_models_match_keras_in_tfjs(name, rewrite_cases, tfjs, tmp_path):
    case = rewrite_cases[name]
    spec, result, document = _convert(case.source, tmp_path / name)
    nodes = document["modelTopology"]["node"]
    assert not {n["op"] for n in nodes} & {"Erfc", "StatefulPartitionedCall", "FusedBatchNormV3"}
    for node in nodes:  # every fused kernel in a shape TF.js applies in full
        fused = fused_ops_of(node)
        assert fused in ([], ["BiasAdd"]) or (fused[0] == "BiasAdd" and len(fused) == 2), (node["name"], fused)
    got, _ = tfjs.run(spec.output, case.inputs, format="graph",
                      **({"input_names": case.input_names} if case.input_names else {}))
    assert_parity(got, case.expected, atol=1e-4)


def test_a_grouped_convolution_that_is_not_depthwise_is_refused_naming_its_layer(tmp_path):
    model = _grouped_conv(2)
    model.save(tmp_path / "grouped2.keras")
    with pytest.raises(UnsupportedModelError) as info:
        _convert(tmp_path / "grouped2.keras", tmp_path / "out")
    assert "Conv2D with groups (not in TF.js 4.22.0) in layer 'grouped' (Conv2D); hint: TF.js has no grouped convolution" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_tracing_records_origins_once_per_layer_and_leaves_the_model_as_it_was(tmp_path):
    """The op check learns each node's layer by wrapping every layer's call while the model is traced: the
    innermost layer wins inside a nested model called twice, and the model is unwrapped after."""
    import keras
    from keras import layers

    from hatch_tfjs.options import GraphOptions
    from hatch_tfjs.read.savedmodel import keras_serving_function

    inner = keras.Sequential([keras.Input((6,)), layers.Dense(6, activation="relu", name="shared"),
                              layers.Dense(6, name="inner_head")], name="inner")
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    keras.Model([a, b], layers.Add()([inner(a), inner(b)])).save(tmp_path / "nested.keras")
    serving = keras_serving_function(tmp_path / "nested.keras", "m", GraphOptions())
    labels = set(serving.origins.by_node.values())
    assert {"layer 'shared' (Dense)", "layer 'inner_head' (Dense)", "layer 'add' (Add)"} <= labels
    layers = [serving.model, *serving.model.layers, *serving.model.get_layer("inner").layers]
    assert all("call" not in vars(layer) for layer in layers)
    assert "layer 'inner' (Sequential)" not in labels  # every node of the nested model has an inner layer
    x = np.ones((2, 6), "float32")
    # the serving function takes the model's own input structure (a list here)
    np.testing.assert_allclose(serving.concrete([x, x])[0], serving.model([x, x]), rtol=1e-6)


def test_float_floor_division_becomes_floor_of_the_quotient_and_int_division_stays():
    """TensorFlow's float FloorDiv is floor(x / y); TF.js 4.22's WebGL FloorDiv rounds its operands to ints."""
    nodes = [_node("x", "Placeholder"), _const("y", np.array([0.3, -0.7, 2.5], np.float32)),
             _node("q", "FloorDiv", ["x", "y", "^x"], T={"type": "DT_FLOAT"}), _node("out", "Identity", ["q"])]
    view, report = _rewrite(nodes, {"x", "out"}, ["out"], gt.rewrite_float_floor_div,
                            feeds={"x": RNG.normal(size=(4, 3)) * 5})
    node = view.by_name["q"]
    assert node["op"] == "Floor" and node["input"][1:] == ["^x"] and report.counts == {"float_floor_div_rewritten": 1}
    assert view.by_name[node["input"][0]]["op"] == "RealDiv" and view.by_name[node["input"][0]]["input"] == ["x", "y"]
    ints = [_node("x", "Placeholder", T={"type": "DT_INT32"}), _node("q", "FloorDiv", ["x", "x"], T={"type": "DT_INT32"}),
            _node("out", "Identity", ["q"], T={"type": "DT_INT32"})]
    view = gt.Graph({"node": ints}, {"x", "out"})
    gt.rewrite_float_floor_div(view, gt.RewriteReport())
    assert view.by_name["q"]["op"] == "FloorDiv"
