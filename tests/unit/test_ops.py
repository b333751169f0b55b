"""The op check and the pure graph rewrites (no TensorFlow): op list data, unsupported ops and fused activations,
batch-norm folding numerics, the Switch control-edge fix, tensor encoding; graph options in the configuration."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hatch_tfjs.config import load_settings, spec_to_json
from hatch_tfjs.config.wire import stamped_options
from hatch_tfjs.errors import ConfigError
from hatch_tfjs.route import needs_tensorflow
from hatch_tfjs.tools.generate_op_list import build_document, read_op_list
from hatch_tfjs.translate import graph as gt
from hatch_tfjs.neutral import NodeOrigins
from hatch_tfjs.translate.ops import check_ops, op_list, scope_origin, supported_ops, tfjs_can_fuse

REPO = Path(__file__).resolve().parents[2]
CONVERTER = REPO / "tests" / "js" / "node_modules" / "@tensorflow" / "tfjs-converter"


def test_shipped_op_list_matches_the_installed_tfjs_converter():
    version, categories = read_op_list(CONVERTER)
    regenerated = build_document(version, categories)
    shipped = op_list()
    assert shipped["tfjs_version"] == version == "4.22.0"
    assert shipped["ops"] == regenerated["ops"], "run: python -m hatch_tfjs.tools.generate_op_list " + str(CONVERTER)
    ops = set(shipped["ops"])
    assert {"_FusedConv2D", "_FusedMatMul", "FusedDepthwiseConv2dNative", "Prelu", "HashTableV2", "Enter"} <= ops
    assert "Erfc" not in ops and "Erf" in ops


def test_op_list_ships_in_the_wheel(tmp_path):
    from hatchling.builders.wheel import WheelBuilder

    wheel = next(iter(WheelBuilder(str(REPO)).build(directory=str(tmp_path), versions=["standard"])))
    with zipfile.ZipFile(wheel) as archive:
        data = json.loads(archive.read("hatch_tfjs/data/tfjs_ops.json"))
        assert "hatch_tfjs/tools/generate_op_list.py" in archive.namelist()
    assert data["ops"] == op_list()["ops"]


def _node(name, op, inputs=(), **attr):
    return {"name": name, "op": op, "input": list(inputs), "attr": attr}


def _s(*values):
    return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in values]}}


def test_check_ops_names_every_unsupported_op_and_node_including_functions():
    graph = {
        "node": [
            _node("x", "Placeholder"),
            _node("model/dense/Softsign", "Softsign", ["x"]),
            _node("model/dense_1/Softsign", "Softsign", ["x"]),
            _node("model/fused", "_FusedMatMul", ["x", "w", "b"], fused_ops=_s("BiasAdd", "Tanh")),
            _node("ok", "_FusedConv2D", ["x", "w", "b"], fused_ops=_s("BiasAdd", "Relu6")),
            _node("assert", "Assert", ["x"]),
        ],
        "library": {"function": [{"signature": {"name": "while_body_7"}, "nodeDef": [_node("lgamma", "Lgamma", ["x"])]}]},
    }
    problems = check_ops([graph])
    described = {p.op: p for p in problems}
    assert sorted(described) == ["Lgamma", "Softsign", "_FusedMatMul with fused BiasAdd+Tanh"]
    assert described["Softsign"].nodes == ["model/dense/Softsign", "model/dense_1/Softsign"]
    assert described["Softsign"].describe().startswith(
        "op Softsign (not in TF.js 4.22.0) in node model/dense/Softsign, node model/dense_1/Softsign; hint: ")
    assert described["Lgamma"].nodes == ["while_body_7/lgamma"]
    assert described["_FusedMatMul with fused BiasAdd+Tanh"].nodes == ["model/fused"]
    # Debug ops only pass when they are stripped.
    assert "Assert" in {p.op for p in check_ops([graph], strip_debug_ops=False)}
    assert "Assert" in supported_ops(strip_debug_ops=True) and "Assert" not in supported_ops(strip_debug_ops=False)


@pytest.mark.parametrize(
    "fused, runs",
    [([], True), (["BiasAdd"], True), (["BiasAdd", "Relu"], True), (["BiasAdd", "LeakyRelu"], True),
     # TF.js reads [extra op, activation]: a lone activation is taken for the extra op and never applied,
     # and a third entry is ignored.
     (["Relu"], False), (["Prelu"], False), (["BiasAdd", "Relu", "Sigmoid"], False), (["BiasAdd", "Tanh"], False),
     (["FusedBatchNorm", "Relu"], False), (["BiasAdd", "_FusedHardSwish"], False)],
)
def test_fused_kernels_pass_the_check_only_in_the_shapes_tfjs_applies_in_full(fused, runs):
    graph = {"node": [_node("k", "_FusedConv2D", ["x", "w", "b"], fused_ops=_s(*fused))]}
    assert tfjs_can_fuse(fused) is runs
    assert (check_ops([graph]) == []) is runs


def test_refusals_name_each_layer_once_and_stay_one_line():
    """Forty nodes of one op in twelve layers: one line naming three layers and how many more."""
    origins = NodeOrigins(by_scope={f"functional_1/block_{i}_1": f"layer 'block_{i}' (Activation)" for i in range(12)})
    graph = {"node": [_node(f"functional_1/block_{i % 12}_1/Softsign_{i}", "Softsign", ["x"]) for i in range(40)]}
    (problem,) = check_ops([graph], origin=origins)
    line = problem.describe()
    assert "\n" not in line and len(problem.nodes) == 40
    assert line.startswith("op Softsign (not in TF.js 4.22.0) in layer 'block_0' (Activation), layer 'block_1' "
                           "(Activation), layer 'block_2' (Activation) and 9 more; hint: ")


def test_node_origins_prefer_recorded_nodes_then_the_longest_layer_scope():
    origins = NodeOrigins(
        by_node={"functional_1/Add": "keras.ops call 'add'"},
        by_scope={"functional_1/outer_1": "layer 'outer' (Functional)", "functional_1/outer_1/dense_1": "layer 'dense' (Dense)"},
    )
    assert origins("functional_1/Add") == "keras.ops call 'add'"
    assert origins("functional_1/outer_1/dense_1/Gelu/mul") == "layer 'dense' (Dense)"
    assert origins("functional_1/outer_1/other/Mul") == "layer 'outer' (Functional)"
    # grappler prefixes the nodes it creates with its own scope
    assert origins("ArithmeticOptimizer/AddOpsRewrite_x/functional_1/outer_1/dense_1/add") == "layer 'dense' (Dense)"
    assert origins("unrelated/Mul") is None


def test_savedmodel_nodes_are_named_by_their_scope_without_call_wrappers():
    assert scope_origin("StatefulPartitionedCall/functional_1/dense_1/Softsign") == "name scope 'functional_1/dense_1'"
    assert scope_origin("StatefulPartitionedCall_2/PartitionedCall/model/Erfinv") == "name scope 'model'"
    assert scope_origin("Erfinv") is None


@pytest.mark.parametrize(
    "array, dtype",
    [
        (np.arange(6, dtype=np.float32).reshape(2, 3) / 7, "DT_FLOAT"),
        (np.array([-3, 0, 2**40], dtype=np.int64), "DT_INT64"),
        (np.array([True, False]), "DT_BOOL"),
        (np.array([b"cat", "\u00e9t\u00e9".encode()], dtype=object), "DT_STRING"),
        (np.float32(2.5).reshape(()), "DT_FLOAT"),
    ],
)
def test_tensor_encoding_round_trips(array, dtype):
    back = gt.decode_tensor(gt.encode_tensor(array, dtype))
    assert back.shape == array.shape and back.tolist() == array.tolist()


def test_tensor_decoding_repeats_the_last_value_like_tensorflow():
    tensor = {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "2"}, {"size": "2"}]}, "floatVal": [1.5]}
    assert gt.decode_tensor(tensor).tolist() == [[1.5, 1.5], [1.5, 1.5]]
    halves = {"dtype": "DT_INT32", "tensorShape": {"dim": [{"size": "3"}]}, "intVal": [4, 5]}
    assert gt.decode_tensor(halves).tolist() == [4, 5, 5]


def _const(name, array, dtype="DT_FLOAT"):
    return _node(name, "Const", value={"tensor": gt.encode_tensor(array, dtype)}, dtype={"type": dtype})


def _conv_nhwc(x, w):
    """A VALID, stride-1 NHWC convolution in numpy (the reference the folded graph must reproduce)."""
    kh, kw, _, out = w.shape
    h, wd = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    y = np.zeros((x.shape[0], h, wd, out))
    for i in range(h):
        for j in range(wd):
            y[:, i, j, :] = np.tensordot(x[:, i:i + kh, j:j + kw, :], w, axes=([1, 2, 3], [0, 1, 2]))
    return y


def test_fused_batch_norm_folds_into_conv_filter_and_bias():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 1.5, 4).astype(np.float32), rng.normal(size=4).astype(np.float32)
    mean, var = rng.normal(size=4).astype(np.float32), rng.uniform(0.5, 2, 4).astype(np.float32)
    graph = {"node": [
        _node("x", "Placeholder"), _const("w", w), _const("gamma", gamma), _const("beta", beta), _const("mean", mean),
        _const("var", var),
        _node("conv", "Conv2D", ["x", "w"], padding={"s": base64.b64encode(b"VALID").decode()}),
        _node("bn", "FusedBatchNormV3", ["conv", "gamma", "beta", "mean", "var"], epsilon={"f": 0.001}, is_training={"b": False}),
        _node("out", "Relu", ["bn"]),
    ]}
    view = gt.Graph(graph, keep={"x", "out"})
    report = gt.RewriteReport()
    gt.fold_batch_norms(view, report)
    view.remove_unreachable(["out"])
    ops = {n["name"]: n["op"] for n in view.nodes}
    assert report.counts == {"batch_norm_folded": 1}
    assert "FusedBatchNormV3" not in ops.values() and ops["bn"] == "BiasAdd"

    x = rng.normal(size=(2, 5, 5, 2))
    reference = (_conv_nhwc(x, w) - mean) / np.sqrt(var + 0.001) * gamma + beta
    conv = view.by_name["conv"]
    folded = _conv_nhwc(x, view.const(conv["input"][1])) + view.const(view.by_name["bn"]["input"][1])
    np.testing.assert_allclose(folded, reference, atol=1e-4)


def test_switch_control_inputs_are_dropped_and_data_inputs_kept():
    graph = {"node": [
        _node("sw", "Switch", ["v", "pred"]),
        _node("body_control", "NoOp", ["^sw", "^enter"]),
        _node("body_in", "Identity", ["sw:1", "^body_control"]),
    ]}
    view = gt.Graph(graph)
    report = gt.RewriteReport()
    gt.drop_switch_control_inputs(view, report)
    assert view.by_name["body_control"]["input"] == ["^enter"]
    assert view.by_name["body_in"]["input"] == ["sw:1", "^body_control"]
    assert report.counts == {"switch_control_inputs_dropped": 1}


# --- configuration ----------------------------------------------------------------------------------------------------


@pytest.fixture
def graph_sources_project(tmp_path):
    (tmp_path / "pkg").mkdir()
    saved = tmp_path / "models" / "sm"
    saved.mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(b"")
    (tmp_path / "models" / "net.keras").write_bytes(b"")
    (tmp_path / "models" / "frozen.pb").write_bytes(b"")
    (tmp_path / "models" / "plain").mkdir()
    return tmp_path


def _load(graph_sources_project, config):
    return load_settings(graph_sources_project, config, wheel_packages=["pkg"])


def test_directories_default_to_graph_and_graph_options_reach_the_worker(graph_sources_project):
    settings = _load(graph_sources_project, {
        "strip-debug-ops": False,
        "models": {
            "sm": {"source": "models/sm", "signature": "serve_fn", "tags": ["serve", "gpu"]},
            "net": {"source": "models/net.keras"},
            "net_layers": {"source": "models/net.keras", "format": "layers"},
            "net_graph": {"source": "models/net.keras", "format": "graph", "structured-outputs": True},
        },
    })
    specs = {s.name: s for s in settings.models}
    assert specs["sm"].format == "graph" and specs["net_graph"].format == "graph"
    assert specs["net"].format == "auto" and specs["net_layers"].format == "layers"  # auto may become a graph model
    assert stamped_options(specs["sm"]) == {"signature": "serve_fn", "tags": ["serve", "gpu"], "strip-debug-ops": False,
                                             "control-flow-v2": False, "structured-outputs": False}
    assert specs["net_graph"].options.graph.structured_outputs is True
    assert specs["net"].options.graph.signature == "serving_default" and specs["net_layers"].options.graph is None
    assert needs_tensorflow(specs["sm"])  # a SavedModel goes through TensorFlow whatever its options
    assert spec_to_json(specs["sm"])["options"]["tags"] == ["serve", "gpu"]


def test_graph_options_are_validated_and_rejected_on_layers_models(graph_sources_project):
    with pytest.raises(ConfigError) as info:
        _load(graph_sources_project, {"models": {
            "sm": {"source": "models/sm", "tags": "serve", "control-flow-v2": "yes", "signature": ""},
            "net": {"source": "models/net.keras", "format": "layers", "structured-outputs": True},
            "pb": {"source": "models/frozen.pb"},
            "plain": {"source": "models/plain"},
        }})
    problems = info.value.problems
    table = "tool.hatch.build.hooks.tfjs.models"
    assert f'{table}.sm.tags: must be a non-empty array of MetaGraph tags, e.g. ["serve"], not a string \'serve\' (write tags = ["serve"])' in problems
    assert f"{table}.sm.control-flow-v2: must be true or false, not a string 'yes'" in problems
    assert any(p.startswith(f"{table}.sm.signature: must be the name of a SavedModel signature") for p in problems)
    assert any(p.startswith(f"{table}.net.structured-outputs: only applies to graph models, and model 'net' is a layers model") for p in problems)
    assert any(p.startswith(f"{table}.pb.source: models/frozen.pb is a .pb file (a frozen GraphDef), not a SavedModel") for p in problems)
    assert any(p.startswith(f"{table}.plain.source: models/plain is a directory without saved_model.pb") for p in problems)
    assert len(problems) == 6
