"""The TF-free graph compiler (hatch_tfjs.compile): every zoo model in tests/compile_zoo.py is compiled in a process
where TensorFlow and Keras cannot be imported, loaded by real TF.js 4.22 and compared with Keras's predictions."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_parity, keras_predict
from projects import tensorflow_blocked_env

import compile_zoo

TESTS = Path(__file__).parent


@dataclass
class Compiled:
    name: str
    inputs: list[np.ndarray]
    expected: list[np.ndarray]
    output: Path
    report: dict


def _compile_without_tensorflow(jobs: list[dict[str, str]], tmp: Path) -> dict[str, dict]:
    """Run compile_zoo.py's compiler over ``jobs`` in a subprocess where TensorFlow and Keras are blocked."""
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run([sys.executable, str(TESTS / "compile_zoo.py"), str(tmp / "jobs.json")], cwd=TESTS,
                          env=tensorflow_blocked_env(tmp), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines[-1] == {"tensorflow_imported": False, "keras_imported": False}
    return {line["name"]: line for line in lines[:-1]}


@pytest.fixture(scope="session")
def compiled(tmp_path_factory) -> dict[str, Compiled]:
    """Every zoo case (and every model the compiler must refuse) saved as .keras, with Keras's outputs, compiled."""
    directory = tmp_path_factory.mktemp("compile_zoo")
    cases: dict[str, Compiled] = {}
    jobs = []
    all_cases = {**compile_zoo.CASES, **compile_zoo.UNCOVERED}
    for seed, (name, case) in enumerate(all_cases.items()):
        model = compile_zoo.build_case(case, seed)
        source = directory / f"{name}.keras"
        model.save(source)
        inputs = compile_zoo.case_inputs(case, seed)
        cases[name] = Compiled(name, inputs, keras_predict(model, inputs), directory / name, {})
        jobs.append({"name": name, "source": str(source), "output": str(directory / name)})
    for name, report in _compile_without_tensorflow(jobs, directory).items():
        cases[name].report = report
    return cases


@pytest.mark.parametrize("name", sorted(compile_zoo.CASES))
def test_compiled_graph_matches_keras_in_tfjs(name, compiled, tfjs):
    case = compiled[name]
    assert "error" not in case.report, case.report["error"]
    assert "uncovered" not in case.report, case.report["uncovered"]
    got, _ = tfjs.run(case.output, case.inputs, format="graph")
    assert_parity(got, case.expected)
    for op in compile_zoo.CASES[name].fused:
        assert op in case.report["ops"], f"{op} not in {case.report['ops']}"


def test_fusion_leaves_no_separate_bias_or_activation_after_kernels(compiled):
    """Dense/conv + bias + fusable activation, and folded batch norms, are one kernel node each."""
    for name in ("dense_relu", "bn_after_conv", "bn_after_depthwise", "bn_after_dense", "conv2d_same_s1_d1_g1"):
        ops = compiled[name].report["ops"]
        assert not {"BiasAdd", "Relu", "Mul", "AddV2", "Conv2D", "MatMul", "DepthwiseConv2dNative"} & set(ops), (name, ops)


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


def test_compiling_is_fast(compiled):
    seconds = [c.report["seconds"] for c in compiled.values()]
    assert max(seconds) < 1.0, max(seconds)
