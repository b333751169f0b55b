"""Real Keras 3 architectures (every keras.applications family and typical keras.io models, see real_zoo.py),
declared in one project with nothing but their source -- the default configuration -- built by one
``hatchling build``, then each output loaded by real TF.js 4.22 and compared with Keras. When the build fails, each
model's test fails with what the build said about that model (and the models it did not name are still checked)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import real_zoo
from helpers import assert_parity

pytestmark = pytest.mark.slow

PARITY_ATOL = 1e-4  # outputs are standardised to order 1 (real_zoo.standardize_outputs)
TFJS_FORMATS = {"layers-model": "layers", "graph-model": "graph"}
# format = "layers" forced on models whose layers translation needs rewrites (MobileNetV3's hard_silu, EfficientNet's
# Rescaling + Normalization, ConvNeXt's LayerScale and grouped convolutions, exact GELU), and on plain ones.
FORCED_LAYERS = ["mobilenet_v3_small", "efficientnet_b0", "convnext_tiny", "exact_gelu", "resnet50"]
GRAPH_OPTIONS = {"signature": "serving_default", "tags": ["serve"], "strip-debug-ops": True, "control-flow-v2": False,
                 "structured-outputs": False}


@pytest.fixture(scope="session")
def real_project(tmp_path_factory) -> tuple[Path, dict[str, real_zoo.RealCase]]:
    """The zoo project, every model saved once per session with its inputs and Keras's outputs."""
    root = tmp_path_factory.mktemp("real_models") / "realzoo"
    return root, real_zoo.write_zoo_project(root)


@pytest.fixture(scope="session")
def real_build(real_project) -> real_zoo.BuildOutcome:
    root, _ = real_project
    return real_zoo.build_wheel(root)


def _converted(real_project, real_build, name: str) -> tuple[Path, dict]:
    """The model's output folder and model.json, or a failure carrying what the build said about the model."""
    root, _ = real_project
    document_path = root / real_zoo.OUTPUT_DIR / name / "model.json"
    if real_build.returncode != 0 and (real_build.complaints_about(name) or not document_path.is_file()):
        pytest.fail(f"the build failed (exit {real_build.returncode}):\n{real_build.failure_for(name)}", pytrace=False)
    assert document_path.is_file(), f"no {real_zoo.OUTPUT_DIR}/{name}/model.json after a successful build"
    return document_path.parent, json.loads(document_path.read_text())


@pytest.mark.parametrize("name", list(real_zoo.REAL_MODELS))
def test_zoo_model_outputs_are_of_order_one_and_depend_on_the_input(name, real_project):
    """The zoo itself: deep random networks must neither overflow nor collapse to a constant, or parity means
    nothing: outputs of order 1 (so the tolerance is relative too), which change from one input to the next by far
    more than the tolerance (so a converted model that lost the input's path fails)."""
    _, cases = real_project
    for index, value in enumerate(cases[name].expected):
        assert np.all(np.isfinite(value)), f"output {index} is not finite"
        assert 0.2 <= value.std() <= 5 and np.abs(value).max() <= 20, f"output {index}: std {value.std():.3g}"
        across_inputs = value.std(axis=0).mean()
        assert across_inputs >= 100 * PARITY_ATOL, f"output {index} barely depends on the input ({across_inputs:.3g})"


@pytest.mark.parametrize("name", list(real_zoo.REAL_MODELS))
def test_real_model_builds_by_default_and_matches_keras_in_tfjs(name, real_project, real_build, tfjs):
    _, cases = real_project
    case = cases[name]
    folder, document = _converted(real_project, real_build, name)

    tfjs_format = TFJS_FORMATS[document["format"]]
    assert real_build.formats.get(name) == tfjs_format, f"build line says {real_build.formats.get(name)!r}"
    assert real_build.reasons.get(name), f"no reason on the build line of {name}"  # auto says why this form
    got, _ = tfjs.run(folder, case.inputs, format=tfjs_format, input_names=_input_names(case, tfjs_format))
    assert_parity(got, case.expected, atol=PARITY_ATOL)


@pytest.mark.parametrize("name", list(real_zoo.REAL_MODELS))
def test_real_model_default_output_matches_keras_on_the_wasm_backend(name, real_project, real_build, tfjs):
    """What browsers run (WASM, here through @tensorflow/tfjs-backend-wasm's own .wasm files): every default output
    must run on it, with Keras's numbers."""
    _, cases = real_project
    case = cases[name]
    folder, document = _converted(real_project, real_build, name)
    tfjs_format = TFJS_FORMATS[document["format"]]
    got, _ = tfjs.run(folder, case.inputs, format=tfjs_format, backend="wasm",
                      input_names=_input_names(case, tfjs_format))
    assert_parity(got, case.expected, atol=PARITY_ATOL)


@pytest.mark.parametrize("name", list(real_zoo.REAL_MODELS))
def test_real_model_default_output_matches_keras_on_webgl(name, real_project, real_build, chromium):
    """What most browsers run: every default output on TF.js's WebGL backend, in Chromium (SwiftShader's software
    rendering here, float32 textures), with Keras's numbers."""
    _run_in_chromium(name, real_project, real_build, chromium, "webgl")


# WebGPU through SwiftShader is slow (a second or more per call of the larger models): a sample of the forms the
# compiler emits (depthwise and pointwise convolutions with folded batch norms, attention, masked recurrent layers,
# several inputs and outputs).
WEBGPU_SAMPLE = ["mobilenet_v2", "efficientnet_b0", "transformer", "masked_gru", "masked_lstm", "multi_io"]


@pytest.mark.parametrize("name", WEBGPU_SAMPLE)
def test_real_model_default_output_matches_keras_on_webgpu(name, real_project, real_build, chromium):
    """The default output on TF.js's WebGPU backend (@tensorflow/tfjs-backend-webgpu 4.22, SwiftShader's adapter
    here) gives Keras's numbers; a Chromium without an adapter fails this test, saying so."""
    _run_in_chromium(name, real_project, real_build, chromium, "webgpu")


def _run_in_chromium(name, real_project, real_build, chromium, backend: str) -> None:
    _, cases = real_project
    case = cases[name]
    folder, document = _converted(real_project, real_build, name)
    tfjs_format = TFJS_FORMATS[document["format"]]
    got = chromium.run(folder, case.inputs, format=tfjs_format, backend=backend,
                       input_names=_input_names(case, tfjs_format))
    assert_parity(got, case.expected, atol=PARITY_ATOL)


def _input_names(case: real_zoo.RealCase, tfjs_format: str) -> list[str] | None:
    """A graph model with several inputs is fed by name (a layers model, or one input, by position)."""
    return case.input_names if tfjs_format == "graph" and len(case.inputs) > 1 else None


@pytest.mark.parametrize("name", list(real_zoo.REAL_MODELS))
def test_default_configuration_makes_the_faster_compiled_graph_model(name, real_project, real_build):
    """The compiler covers every zoo model: the default is the graph model compiled without TensorFlow, the form
    that runs fastest in TF.js (benchmarks/results/backends.md), and the build line says so."""
    _, document = _converted(real_project, real_build, name)
    assert document["format"] == "graph-model", f"{name} came out as a {document['format']}"
    assert real_build.reasons.get(name) == "the faster form in TF.js, compiled exactly", real_build.reasons.get(name)


def test_the_default_build_ships_every_model_in_the_wheel(real_project, real_build):
    assert real_build.returncode == 0, real_build.log[-6000:]
    assert real_build.wheel is not None
    with zipfile.ZipFile(real_build.wheel) as wheel:
        names = set(wheel.namelist())
    package_dir = real_zoo.OUTPUT_DIR.removeprefix("src/")
    missing = [n for n in real_zoo.REAL_MODELS if f"{package_dir}/{n}/model.json" not in names]
    assert not missing, f"not in the wheel: {missing}"

    output_dir = real_project[0] / real_zoo.OUTPUT_DIR
    index = json.loads((output_dir / "index.json").read_text())
    assert sorted(m["name"] for m in index["models"]) == sorted(real_zoo.REAL_MODELS)
    for entry in index["models"]:  # a page that does not know a model's format in advance reads it here
        document = json.loads((output_dir / entry["name"] / "model.json").read_text())
        assert entry["format"] == TFJS_FORMATS[document["format"]] == real_build.formats[entry["name"]], entry["name"]
    # Every output's shape is in the index, as Keras has it (batch: None): layers models' worked out from model.json.
    cases = real_project[1]
    shapes = {entry["name"]: [o["shape"] for o in entry["outputs"]] for entry in index["models"]}
    expected = {name: [[None, *e.shape[1:]] for e in case.expected] for name, case in cases.items()}
    assert shapes == expected
    # every default output uses only ops every TF.js backend has a kernel for (the loader may pick any of them)
    partial = {e["name"]: e["backends"] for e in index["models"] if e["backends"] != ["webgpu", "webgl", "wasm", "cpu"]}
    assert not partial, partial


@pytest.mark.parametrize("name", FORCED_LAYERS)
def test_forced_layers_route_matches_keras_in_tfjs(name, real_project, tfjs, tmp_path):
    """The default makes graph models; ``format = "layers"`` (for apps that train in the browser) must still work."""
    from hatch_tfjs.config import ModelSpec
    from hatch_tfjs.convert import convert_model

    _, cases = real_project
    case = cases[name]
    spec = ModelSpec(name=name, source=case.source, output=tmp_path / name, root=case.source.parent.parent,
                     format="layers")

    convert_model(spec)

    assert json.loads((spec.output / "model.json").read_text())["format"] == "layers-model"
    for backend in ("cpu", "wasm"):
        got, _ = tfjs.run(spec.output, case.inputs, format="layers", backend=backend)
        assert_parity(got, case.expected, atol=PARITY_ATOL)


def test_transformer_through_tensorflow_runs_on_wasm(real_project, tfjs, tmp_path):
    """TensorFlow traces MultiHeadAttention's products as Einsum, which the WASM backend lacks: the TF route rewrites
    them into BatchMatMulV2, and the output runs there with Keras's numbers."""
    from hatch_tfjs.config import ModelSpec, options_from_table
    from hatch_tfjs.convert import convert_model
    from hatch_tfjs.describe import describe_model_dir

    _, cases = real_project
    case = cases["transformer"]
    spec = ModelSpec(name="transformer", source=case.source, output=tmp_path / "transformer",
                     root=case.source.parent.parent, format="graph",
                     options=options_from_table({**GRAPH_OPTIONS, "reader": "keras"}, "graph"))

    result = convert_model(spec)

    info = describe_model_dir(spec.output)
    assert "Einsum" not in info["ops"] and info["backends"] == ["webgpu", "webgl", "wasm", "cpu"], info["ops"]
    assert any("einsum_rewritten x2" in note for note in result.notes), result.notes
    for backend in ("cpu", "wasm"):
        got, _ = tfjs.run(spec.output, case.inputs, format="graph", backend=backend)
        assert_parity(got, case.expected, atol=PARITY_ATOL)
