"""The TF-free graph compiler (hatch_tfjs.compile): every zoo model in tests/zoos/compile_zoo.py is compiled in a process
where TensorFlow and Keras cannot be imported, loaded by real TF.js 4.22 and compared with Keras's predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from browser import BrowserError
from helpers import assert_parity, keras_predict
from zoo import randomize

import compile_zoo
import compile_zoo_nn  # noqa: F401 - adds the nn / image / core / linalg keras.ops cases to compile_zoo.CASES

from hatch_tfjs.describe import describe_model_dir


@dataclass
class Compiled:
    name: str
    inputs: list[np.ndarray]
    expected: list[np.ndarray]
    output: Path
    report: dict
    source: Path


@pytest.fixture(scope="session")
def compiled(tmp_path_factory) -> dict[str, Compiled]:
    """Every zoo case (and every model the compiler must refuse) saved as .keras (some also as .h5; the Keras 2 ones
    as tf_keras .h5), with Keras's outputs, compiled in one TensorFlow-free process."""
    directory = tmp_path_factory.mktemp("compile_zoo")
    cases: dict[str, Compiled] = {}
    jobs = []

    def add(name: str, source: Path, inputs: list[np.ndarray], expected: list[np.ndarray]) -> None:
        cases[name] = Compiled(name, inputs, expected, directory / name, {}, source)
        jobs.append({"name": name, "source": str(source), "output": str(directory / name)})

    for seed, (name, case) in enumerate({**compile_zoo.CASES, **compile_zoo.UNCOVERED}.items()):
        model = compile_zoo.build_case(case, seed)
        inputs = compile_zoo.case_inputs(case, seed)
        expected = compile_zoo.keras_outputs(model, inputs)
        model.save(directory / f"{name}.keras")
        add(name, directory / f"{name}.keras", inputs, expected)
        if name in compile_zoo.H5_CASES:
            model.save(directory / f"{name}.h5")
            add(f"{name}@h5", directory / f"{name}.h5", inputs, expected)
    for seed, (name, case) in enumerate(compile_zoo.KERAS2.items()):
        model = case.build()
        randomize(model, seed)
        inputs = compile_zoo.case_inputs(case, seed)
        model.save(directory / f"{name}.h5")
        add(name, directory / f"{name}.h5", inputs, keras_predict(model, inputs))
    for name, report in compile_zoo.compile_without_tensorflow(jobs, directory).items():
        cases[name].report = report
    return cases


def _check_parity(case: Compiled, tfjs, backend: str = "cpu") -> None:
    assert "error" not in case.report, case.report["error"]
    assert "uncovered" not in case.report, case.report["uncovered"]
    got, _ = tfjs.run(case.output, case.inputs, format="graph", backend=backend)
    assert_parity(got, case.expected)


@pytest.mark.parametrize("name", sorted(compile_zoo.CASES))
def test_compiled_graph_matches_keras_in_tfjs(name, compiled, tfjs):
    case = compiled[name]
    _check_parity(case, tfjs)
    for op in compile_zoo.CASES[name].fused:
        assert op in case.report["ops"], f"{op} not in {case.report['ops']}"


# TF.js 4.22's WASM backend has two kernels the compiler works around (issue 22): MaxPool3D (wrong maxima: emitted as
# two 2-D MaxPools) and ReverseV2 on bool tensors (a go_backwards RNN's mask: reversed as int32; the bool kernel
# writes out of bounds and breaks later calls in the same process).
@pytest.mark.parametrize("name", sorted(compile_zoo.CASES))
def test_compiled_graph_matches_keras_on_the_wasm_backend(name, compiled, tfjs):
    """Every op and fusion the compiler emits has a kernel on TF.js's WASM backend, with the same numbers."""
    _check_parity(compiled[name], tfjs, backend="wasm")


# WebGL in Chromium (SwiftShader here): every eighth case in name order, a sample across the op families.
WEBGL_SAMPLE = sorted(compile_zoo.CASES)[::8]


@pytest.mark.parametrize("name", WEBGL_SAMPLE)
def test_compiled_graph_matches_keras_on_webgl(name, compiled, chromium):
    """What most browsers run: the compiled graph on TF.js's WebGL backend (float32 textures), with Keras's numbers."""
    case = compiled[name]
    assert "error" not in case.report, case.report["error"]
    got = chromium.run(case.output, case.inputs, format="graph", backend="webgl")
    assert_parity(got, case.expected)


# backends.WRONG_ON in action: the kernels TF.js 4.22's WebGPU backend gets wrong (SwiftShader's adapter here).
WEBGPU_WRONG = ["conv3d", "conv3d_transpose_valid_s2_k2", "variable_length_bidirectional_None_seq0"]


@pytest.mark.parametrize("name", WEBGPU_WRONG)
def test_graphs_webgpu_gets_wrong_are_not_listed_for_it_and_run_right_on_webgl(name, compiled, chromium):
    """Conv3D (wrong values) and two loops in one call (a lost device): the index does not list webgpu for such a
    graph, so the loader's "auto" picks WebGL, where it matches Keras. When TF.js fixes the kernel this test fails
    on its first check: then drop the entry from backends.WRONG_ON."""
    case = compiled[name]
    try:
        on_webgpu = chromium.run(case.output, case.inputs, format="graph", backend="webgpu")
        right = all(np.allclose(g, e, atol=1e-4) for g, e in zip(on_webgpu, case.expected, strict=True))
    except BrowserError:
        right = False
    assert not right, "TF.js's WebGPU backend now runs this graph right: drop its entry from backends.WRONG_ON"
    assert describe_model_dir(case.output)["backends"] == ["webgl", "wasm", "cpu"]
    assert_parity(chromium.run(case.output, case.inputs, format="graph", backend="webgl"), case.expected)


def test_fusion_leaves_no_separate_bias_or_activation_after_kernels(compiled):
    """Dense/conv + bias + fusable activation, and folded batch norms, are one kernel node each."""
    for name in ("dense_relu", "bn_after_conv", "bn_after_depthwise", "bn_after_dense", "conv2d_same_s1_d1_g1"):
        ops = compiled[name].report["ops"]
        assert not {"BiasAdd", "Relu", "Mul", "AddV2", "Conv2D", "MatMul", "DepthwiseConv2dNative"} & set(ops), (name, ops)


def test_zero_padding_before_a_valid_convolution_is_its_explicit_padding(compiled):
    """ZeroPadding2D + a VALID (strided) convolution: one fused kernel with explicit padding, no Pad (the parity
    tests above run it on cpu and wasm); a ZeroPadding2D alone stays a Pad."""
    for name in ("zero_padding2d_conv", "zero_padding2d_depthwise_bn"):
        assert "Pad" not in compiled[name].report["ops"], compiled[name].report["ops"]
    assert "Pad" in compiled["zero_padding2d"].report["ops"]


def test_batch_norm_that_cannot_fold_stays_as_scale_and_offset(compiled):
    ops = compiled["bn_after_activation"].report["ops"]
    assert ops.get("_FusedConv2D") == 1 and ops.get("Mul") == 1


def test_signature_names_inputs_and_outputs_as_the_tensorflow_route(compiled):
    signature = compiled["shared_layer_two_outputs"].report["signature"]
    assert list(signature["inputs"]) == ["left", "right"]
    assert signature["inputs"]["left"]["name"] == "left:0"
    assert list(signature["outputs"]) == ["out_a", "out_b"]
    assert [o["name"] for o in signature["outputs"].values()] == ["Identity:0", "Identity_1:0"]
    assert signature["inputs"]["left"]["tensorShape"] == {"dim": [{"size": "-1"}, {"size": "5"}]}


@pytest.mark.parametrize("name", sorted(compile_zoo.UNCOVERED))
def test_uncovered_layers_are_listed_not_compiled(name, compiled):
    report = compiled[name].report
    assert "uncovered" in report and not compiled[name].output.exists()
    assert [u[0] for u in report["uncovered"]] == compile_zoo.UNCOVERED_LAYERS[name]



@pytest.mark.parametrize("name", [f"{n}@h5" for n in compile_zoo.H5_CASES])
def test_legacy_h5_of_a_keras3_model_compiles_the_same(name, compiled, tfjs):
    _check_parity(compiled[name], tfjs)


@pytest.mark.parametrize("name", sorted(compile_zoo.KERAS2))
def test_keras2_h5_compiles_and_matches_tf_keras(name, compiled, tfjs):
    _check_parity(compiled[name], tfjs)


# The TensorFlow route (hatch_tfjs.read.savedmodel) is the second oracle: same signature, same fused kernels.
ORACLE_CASES = ("dict_outputs", "resnet_block", "shared_layer_two_outputs", "dense_relu", "depthwise_same_s1_d1_m2", "nested_models",
                "bn_after_dense", "separable_same_s2_d1_m1", "conv1d_causal_s1_d2_g1", "layer_prelu")
FUSED_KERNELS = ("_FusedConv2D", "_FusedMatMul", "FusedDepthwiseConv2dNative")


@pytest.fixture(scope="module")
def tensorflow_route(compiled, tmp_path_factory):
    from hatch_tfjs.graph_route import convert_tf_graph
    from hatch_tfjs.options import GraphOptions
    from hatch_tfjs.write import graph_model_json, write_model_dir

    directory = tmp_path_factory.mktemp("tf_route")
    routes = {}
    for name in ORACLE_CASES:
        data = convert_tf_graph(compiled[name].source, model_name=name, source_rel=name, options=GraphOptions())
        document = graph_model_json(data.topology, data.signature, generated_by=data.generated_by)
        write_model_dir(directory / name, document, data.weights, shard_size=0)
        routes[name] = (data, directory / name)
    return routes


@pytest.mark.parametrize("name", ORACLE_CASES)
def test_same_signature_fused_kernels_and_outputs_as_the_tensorflow_route(name, compiled, tensorflow_route, tfjs):
    ours, (theirs, theirs_dir) = compiled[name].report, tensorflow_route[name]
    assert ours["signature"] == theirs.signature
    for op in FUSED_KERNELS:  # fused wherever TensorFlow fuses (and more: a causal dilated Conv1D, Dense on rank 4)
        assert ours["ops"].get(op, 0) >= theirs.op_counts.get(op, 0), (op, ours["ops"], theirs.op_counts)
    got, _ = tfjs.run(compiled[name].output, compiled[name].inputs, format="graph")
    reference, _ = tfjs.run(theirs_dir, compiled[name].inputs, format="graph")
    assert_parity(got, reference, atol=2e-6)


# --- the real-architecture zoo (tests/zoos/real_zoo.py) through the TF-free compiler ----------------------------------

REAL_PARITY_ATOL = 1e-4  # as tests/parity/test_real_models.py: deep networks, outputs standardised to order 1


@pytest.fixture(scope="module")
def real_compiled(tmp_path_factory):
    import real_zoo

    root = tmp_path_factory.mktemp("real_compile") / "realzoo"
    cases = real_zoo.write_zoo_project(root)
    jobs = [{"name": name, "source": str(case.source), "output": str(root / "graph" / name)} for name, case in cases.items()]
    return root, cases, compile_zoo.compile_without_tensorflow(jobs, root)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(__import__("real_zoo").REAL_MODELS))
def test_real_zoo_model_compiles_without_tensorflow_and_matches_keras(name, real_compiled, tfjs):
    root, cases, reports = real_compiled
    report = reports[name]
    assert "error" not in report, report["error"]
    assert "uncovered" not in report, report["uncovered"]
    got, _ = tfjs.run(root / "graph" / name, cases[name].inputs, format="graph")
    assert_parity(got, cases[name].expected, atol=REAL_PARITY_ATOL)


def test_a_subclassed_model_is_reported_uncovered_by_name():
    from hatch_tfjs.compile import Uncovered, compile_keras_model
    from hatch_tfjs.neutral import KerasModel

    model = KerasModel(config={"class_name": "MyModel", "config": {"name": "mine"}}, weights=[], keras_version="3.15.1",
                       source="mine.keras")
    result = compile_keras_model(model, model_name="m", source_rel="models/mine.keras")
    assert isinstance(result, Uncovered)
    assert [(u.name, u.class_name) for u in result.layers] == [("mine", "MyModel")]
    assert "subclassed" in result.describe()


def test_structured_outputs_name_the_outputs_in_metadata(compiled):
    from hatch_tfjs.compile import CompiledGraph, compile_keras_model
    from hatch_tfjs.read import read_keras_model

    source = compiled["shared_layer_two_outputs"].source
    result = compile_keras_model(read_keras_model(source, model_name="m"), model_name="m", source_rel=source.name,
                                 structured_outputs=True)
    assert isinstance(result, CompiledGraph)
    assert result.metadata == {"structuredOutputKeys": ["out_a", "out_b"]}


def test_a_config_the_translation_cannot_read_is_reported_not_raised():
    """A Reshape without ``target_shape`` (a damaged or hand-edited config) is listed as uncovered, no traceback."""
    from hatch_tfjs.compile import Uncovered, compile_keras_model
    from hatch_tfjs.neutral import KerasModel

    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 3], "dtype": "float32"}},
        {"class_name": "Reshape", "config": {"name": "reshape"}},
    ]}}
    result = compile_keras_model(KerasModel(config, [], "3.15.1", "s.keras"), model_name="s", source_rel="s.keras")
    assert isinstance(result, Uncovered)
    assert [(u.name, u.class_name) for u in result.layers] == [("reshape", "Reshape")]
    assert "could not be read" in result.layers[0].reason
