"""Graph models through TensorFlow: SavedModels, and Keras files with reader = "keras" (the TensorFlow-free compiler
is tested in test_compile*.py), converted, optimised, op-checked, and run in real TF.js 4.22 (loadGraphModel +
executeAsync) against TensorFlow."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import graph_zoo
import numpy as np
import pytest
from helpers import assert_parity
from projects import write_app_project

from hatch_tfjs.config import ModelSpec, options_from_table
from hatch_tfjs.describe import describe_model_dir
from hatch_tfjs.convert import convert_model
from hatch_tfjs.errors import HatchTfjsError, ModelReadError, UnsupportedModelError

GRAPH_OPTIONS = {"signature": "serving_default", "tags": ["serve"], "strip-debug-ops": True, "control-flow-v2": False,
                 "structured-outputs": False, "reader": "keras"}


@pytest.fixture(scope="session")
def graph_cases(tmp_path_factory) -> dict[str, graph_zoo.GraphCase]:
    """Every graph-zoo model built, saved and run by TensorFlow once per session."""
    directory = tmp_path_factory.mktemp("graph_zoo")
    cases = {}
    for seed, name in enumerate(graph_zoo.KERAS_BUILDERS):
        cases[name], _ = graph_zoo.build_keras_case(name, directory, seed)
    cases["vocab"] = graph_zoo.build_table_module(directory)
    return cases


@pytest.fixture(scope="session")
def converted(graph_cases, tmp_path_factory):
    """Convert a case once per (name, options) and remember the result."""
    out_root = tmp_path_factory.mktemp("graph_out")
    done: dict = {}

    def get(name: str, **options):
        key = (name, tuple(sorted(options.items())))
        if key not in done:
            case = graph_cases[name]
            spec = ModelSpec(
                name=name, source=case.source, output=out_root / f"{name}-{len(done)}", root=case.source.parent,
                format="graph", options=options_from_table({**GRAPH_OPTIONS, **options}, "graph"),
            )
            result = convert_model(spec)
            done[key] = (spec, result, json.loads((spec.output / "model.json").read_text()))
        return done[key]

    return get


def _fused_ops(node: dict) -> list[str]:
    return [base64.b64decode(s).decode() for s in node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])]


def _ops(document: dict) -> set[str]:
    ops = {n["op"] for n in document["modelTopology"]["node"]}
    for function in document["modelTopology"].get("library", {}).get("function", []):
        ops |= {n["op"] for n in function.get("nodeDef", [])}
    return ops


PARITY_CASES = ["mlp", "two_input_cnn", "conv_bn", "depthwise", "prelu", "lstm", "lstm_keras", "gru", "bilstm",
                "simple_rnn", "lambda", "custom", "gelu_savedmodel"]


@pytest.mark.parametrize("name", PARITY_CASES)
def test_graph_model_matches_tensorflow_in_tfjs(name, graph_cases, converted, tfjs):
    case = graph_cases[name]
    spec, result, document = converted(name)

    assert document["format"] == "graph-model"
    assert sorted(p.name for p in spec.output.iterdir() if not p.name.startswith(".")) == sorted(result.files)
    kwargs = {"input_names": case.input_names} if case.input_names else {}
    if case.input_names:
        assert sorted(document["signature"]["inputs"]) == sorted(case.input_names)
    got, _ = tfjs.run(spec.output, case.inputs, format="graph", **kwargs)
    assert_parity(got, case.expected)
    # Every Const value lives in the shards, none in the topology.
    for node in document["modelTopology"]["node"]:
        if node["op"] == "Const":
            assert set(node["attr"]["value"]["tensor"]) <= {"dtype", "tensorShape"}


@pytest.mark.requires_node
@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_einsum_equations_through_tensorflow_run_on_wasm_too(backend, graph_cases, converted, tfjs):
    """keras-hub's and Keras's attention einsums (two kept axes, two summed ones, sizes known only at run time) have
    no Einsum node left (WASM has no kernel for it) and match TensorFlow on both backends."""
    case = graph_cases["einsum"]
    spec, result, document = converted("einsum")
    ops = _ops(document)
    assert "Einsum" not in ops and "BatchMatMulV2" in ops, ops
    assert describe_model_dir(spec.output)["backends"] == ["webgpu", "webgl", "wasm", "cpu"]
    got, _ = tfjs.run(spec.output, case.inputs, format="graph", backend=backend)
    assert_parity(got, case.expected)


def test_conv_batch_norm_is_folded_into_fused_kernels(converted):
    _, _, document = converted("conv_bn")
    ops = _ops(document)
    assert not {op for op in ops if "BatchNorm" in op}, ops
    assert "_FusedConv2D" in ops
    assert "_FusedMatMul" in ops or "MatMul" in ops
    # BatchNormalization left no Mul/Rsqrt behind: the scale went into the filters.
    assert not ops & {"Mul", "Rsqrt", "Sub"}, ops


def test_depthwise_relu6_becomes_one_fused_kernel(converted):
    _, _, document = converted("depthwise")
    nodes = [n for n in document["modelTopology"]["node"] if n["op"] == "FusedDepthwiseConv2dNative"]
    assert len(nodes) == 2
    assert [_fused_ops(n) for n in nodes] == [["BiasAdd", "Relu6"], ["BiasAdd", "Relu6"]]
    assert "DepthwiseConv2dNative" not in _ops(document) and "Relu6" not in _ops(document)


def test_prelu_is_fused(converted):
    _, _, document = converted("prelu")
    ops = _ops(document)
    assert "Neg" not in ops, ops
    fused = {n["op"]: _fused_ops(n) for n in document["modelTopology"]["node"] if _fused_ops(n)}
    # Conv2D + bias + PReLU and MatMul + bias + PReLU each became one kernel.
    assert fused == {"_FusedConv2D": ["BiasAdd", "Prelu"], "_FusedMatMul": ["BiasAdd", "Prelu"]}, fused


def test_rnn_from_savedmodel_keeps_lowered_loop_and_runs(converted):
    """A Keras 3 LSTM export has a While loop; lowered to Switch/Merge it must still run (see test above)."""
    _, result, document = converted("lstm")
    ops = _ops(document)
    assert {"Enter", "Exit", "Merge", "Switch", "NextIteration"} <= ops
    assert not ops & {"While", "StatelessWhile"}
    spec_keras, result_keras, document_keras = converted("lstm_keras")
    assert not _ops(document_keras) & {"Enter", "While", "StatelessWhile"}  # unrolled from the Keras file
    assert describe_model_dir(spec_keras.output)["execution"] == "sync"  # no loop left: execute() suffices
    assert any("unrolled" in note for note in result_keras.notes)


def test_structured_outputs_are_named_in_tfjs(graph_cases, converted, tfjs):
    case = graph_cases["named_outputs"]
    spec, _, document = converted("named_outputs", **{"structured-outputs": True})
    assert document["userDefinedMetadata"]["structuredOutputKeys"] == ["label", "score"]
    assert list(document["signature"]["outputs"]) == ["label", "score"]
    got, answer = tfjs.run(spec.output, case.inputs, format="graph", predict=True)
    assert answer["names"] == ["label", "score"]
    assert_parity(got, case.expected)

    spec_plain, _, plain = converted("named_outputs")
    assert "userDefinedMetadata" not in plain
    got, answer = tfjs.run(spec_plain.output, case.inputs, format="graph", predict=True)
    assert answer["names"] is None  # a plain array without structured-outputs
    assert_parity(got, case.expected)


def test_hash_table_module_runs_with_its_initializer(graph_cases, converted, tfjs):
    case = graph_cases["vocab"]
    spec, _, document = converted("vocab")
    init_ops = {n["op"] for n in document["modelInitializer"]["node"]}
    assert {"HashTableV2", "LookupTableImportV2"} <= init_ops
    (init_out,) = document["initializerSignature"]["outputs"].values()
    resource_inputs = [v for v in document["signature"]["inputs"].values() if v["dtype"] == "DT_RESOURCE"]
    assert [r["resourceId"] for r in resource_inputs] == [init_out["resourceId"]]
    assert "LookupTableFindV2" in _ops(document)
    got, _ = tfjs.run(spec.output, case.inputs, format="graph", input_names=["words"])
    assert_parity([g.astype(e.dtype) for g, e in zip(got, case.expected)], case.expected)
    assert got[0].tolist() == [1, -1, 3, 0, 2]
    assert describe_model_dir(spec.output)["execution"] == "async"  # the initializer needs executeAsync


def test_control_flow_v2_keeps_functional_loop_and_runs(graph_cases, converted, tfjs):
    spec, _, document = converted("lstm", **{"control-flow-v2": True})
    ops = _ops(document)
    assert ops & {"While", "StatelessWhile"}
    assert not ops & {"Enter", "Exit", "Merge"}
    assert describe_model_dir(spec.output)["execution"] == "async"
    case = graph_cases["lstm"]
    kwargs = {"input_names": case.input_names} if case.input_names else {}
    got, _ = tfjs.run(spec.output, case.inputs, format="graph", **kwargs)
    assert_parity(got, case.expected)


# --- the op check -----------------------------------------------------------------------------------------------------


def test_exact_gelu_runs_in_tfjs_through_erf(graph_cases, converted, tfjs):
    """Keras 3 Dense(activation="gelu") is exact: Erfc, which TF.js lacks, becomes 1 - Erf."""
    spec, result, document = converted("gelu")
    ops = _ops(document)
    assert "Erfc" not in ops and "Erf" in ops
    assert any("erfc_rewritten" in note for note in result.notes)
    got, _ = tfjs.run(spec.output, graph_cases["gelu"].inputs, format="graph")
    assert_parity(got, graph_cases["gelu"].expected)


@pytest.fixture(scope="session")
def unsupported_sources(tmp_path_factory):
    """A model with an op TF.js lacks in a layer (softsign activation) and in a keras.ops call (erfinv), saved
    as a .keras file and as a SavedModel."""
    directory = tmp_path_factory.mktemp("unsupported")
    model = graph_zoo.unsupported_ops_model()
    model.save(directory / "unsupported.keras")
    model.export(str(directory / "unsupported"), verbose=False)
    return directory / "unsupported.keras", directory / "unsupported"


def _refusal(source: Path, tmp_path: Path) -> str:
    """The TensorFlow route's refusal (``reader = "keras"``: the TF-free compiler covers both ops, as Sub/Div/Abs and
    Giles's erfinv, so a .keras file otherwise compiles)."""
    spec = ModelSpec(name="bad", source=source, output=tmp_path / "bad", root=source.parent, format="graph",
                     options=options_from_table({**GRAPH_OPTIONS, "reader": "keras"}, "graph"))
    with pytest.raises(UnsupportedModelError) as info:
        convert_model(spec)
    assert not (tmp_path / "bad").exists()  # nothing half-written
    return str(info.value)


def test_unsupported_ops_name_the_keras_layer_and_the_keras_ops_call(unsupported_sources, tmp_path):
    message = _refusal(unsupported_sources[0], tmp_path)
    lines = message.splitlines()
    assert lines[0] == "model 'bad' (unsupported.keras) cannot be converted to a TF.js graph model:"
    # Keras numbers a call's name in its process ('erfinv_1' once another test built the same model)
    assert re.match(r"  - op Erfinv \(not in TF\.js 4\.22\.0\) in keras\.ops call 'erfinv(_\d+)?';", lines[1]), lines[1]
    assert lines[2].startswith("  - op Softsign (not in TF.js 4.22.0) in layer 'squash' (Dense), layer 'squash_2' (Activation); hint:")
    assert len(lines) == 3


def test_unsupported_ops_in_a_savedmodel_name_the_name_scope(unsupported_sources, tmp_path):
    message = _refusal(unsupported_sources[1], tmp_path)
    assert "op Softsign (not in TF.js 4.22.0) in name scope 'unsupported_1/squash_1', name scope 'unsupported_1/squash_2_1'" in message
    assert "op Erfinv (not in TF.js 4.22.0) in name scope 'unsupported_1/erfinv'" in message


# --- errors -----------------------------------------------------------------------------------------------------------


def _spec(source: Path, tmp_path: Path, **options) -> ModelSpec:
    return ModelSpec(name="m", source=source, output=tmp_path / "out", root=tmp_path, format="graph",
                     options=options_from_table({**GRAPH_OPTIONS, **options}, "graph"))


def test_user_metadata_may_not_override_structured_output_keys(graph_cases, tmp_path):
    spec = _spec(graph_cases["named_outputs"].source, tmp_path, **{"structured-outputs": True, "metadata": {"structuredOutputKeys": ["x"]}})
    with pytest.raises(HatchTfjsError) as info:
        convert_model(spec)
    assert "model 'm'" in str(info.value) and "'structuredOutputKeys'" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_missing_signature_lists_the_ones_there(graph_cases, tmp_path):
    source = graph_cases["two_input_cnn"].source
    with pytest.raises(ModelReadError) as info:
        convert_model(_spec(source, tmp_path, signature="predict"))
    message = str(info.value)
    assert "model 'm'" in message and "no signature 'predict'" in message
    assert "tool.hatch.build.hooks.tfjs.models.m.signature" in message
    assert "'serve'" in message and "'serving_default'" in message  # what Model.export writes


def test_missing_tags_lists_the_tag_sets(graph_cases, tmp_path):
    with pytest.raises(ModelReadError) as info:
        convert_model(_spec(graph_cases["lambda"].source, tmp_path, tags=["train"]))
    assert "no MetaGraph with tags ['train']" in str(info.value) and "['serve']" in str(info.value)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: (d / "frozen.pb").write_bytes(b"\x0a\x00") and d / "frozen.pb", "is a .pb file (a frozen GraphDef), not a SavedModel"),
        (lambda d: (d / "model.ckpt.index").write_bytes(b"") or d / "model.ckpt.index", "is a TensorFlow checkpoint"),
        (lambda d: ((d / "ckpt").mkdir(), (d / "ckpt" / "checkpoint").write_text(""), d / "ckpt")[-1], "holds a TensorFlow checkpoint"),
        (lambda d: ((d / "empty").mkdir(), d / "empty")[-1], "is a directory without saved_model.pb, so not a SavedModel"),
    ],
)
def test_wrong_kind_of_source_is_named(make, expected, tmp_path):
    source = make(tmp_path)
    with pytest.raises(ModelReadError) as info:
        convert_model(_spec(source, tmp_path))
    message = str(info.value)
    assert expected in message
    assert "model 'm'" in message and "models.m.source" in message
    assert "Model.export" in message or "point source" in message
    assert isinstance(info.value, HatchTfjsError)


def test_saved_model_pb_file_points_to_its_directory(graph_cases, tmp_path):
    source = graph_cases["lambda"].source / "saved_model.pb"
    with pytest.raises(ModelReadError) as info:
        convert_model(_spec(source, tmp_path))
    assert "set source to its directory" in str(info.value)


def test_graph_model_weights_are_float32_and_sharded(converted):
    spec, result, document = converted("conv_bn")
    manifest = document["weightsManifest"]
    assert manifest[0]["paths"] == result.files[1:]
    dtypes = {w["dtype"] for w in manifest[0]["weights"]}
    assert dtypes <= {"float32", "int32"}
    sizes = sum((spec.output / p).stat().st_size for p in manifest[0]["paths"])
    expected = sum(int(np.prod(w["shape"])) * 4 for w in manifest[0]["weights"])
    assert sizes == expected


# --- through a real build -------------------------------------------------------------------------------------------


def _graph_project(tmp_path: Path, case: graph_zoo.GraphCase, extra: str = "") -> Path:
    import shutil

    project = write_app_project(tmp_path / "proj", f'models = {{ net = {{ source = "models/net"{extra} }} }}\n')
    shutil.copytree(case.source, project / "models" / "net")
    return project


def test_savedmodel_builds_into_a_wheel_that_runs_in_tfjs(graph_cases, tfjs, tmp_path):
    import subprocess
    import sys
    import zipfile

    case = graph_cases["two_input_cnn"]
    project = _graph_project(tmp_path, case)
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=project,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (project / "dist").glob("*.whl")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith("app/web_models/net/")]
        assert "app/web_models/net/model.json" in names and any(n.endswith(".bin") for n in names)
        archive.extractall(unpacked)
    document = json.loads((unpacked / "app/web_models/net/model.json").read_text())
    assert document["format"] == "graph-model"
    got, _ = tfjs.run(unpacked / "app/web_models/net", case.inputs, format="graph", input_names=case.input_names)
    assert_parity(got, case.expected)


def test_build_with_a_missing_signature_fails_cleanly(graph_cases, tmp_path):
    import subprocess
    import sys

    project = _graph_project(tmp_path, graph_cases["lambda"], extra=', signature = "predict"')
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=project,
                          capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "no signature 'predict'" in output and "'serving_default'" in output
    assert "tool.hatch.build.hooks.tfjs.models.net.signature" in output
    assert "Traceback" not in output


# --- many models in one process -------------------------------------------------------------------------------------


def test_converting_other_models_in_between_changes_nothing(graph_cases, converted, tmp_path):
    """A worker converts all graph models of a build in one process: a model comes out byte for byte the same
    whatever was converted before it."""
    first_spec, _, _ = converted("gelu")
    for name in ("two_input_cnn", "mlp", "prelu"):
        convert_model(_spec(graph_cases[name].source, tmp_path / name))
    again = _spec(graph_cases["gelu"].source, tmp_path / "again")
    convert_model(again)
    files = sorted(p.name for p in first_spec.output.iterdir() if not p.name.startswith("."))
    assert files == sorted(p.name for p in again.output.iterdir() if not p.name.startswith("."))
    for name in files:
        assert (first_spec.output / name).read_bytes() == (again.output / name).read_bytes(), name
