"""The default graph route for Keras files, through real hatchling builds: compiled without TensorFlow (the build
environment cannot import it, and dependencies() does not ask for it); TensorFlow only for what the compiler cannot
translate (a custom layer, a layer option the compiler refuses), named on the build line; outputs run in real
TF.js 4.22 and match Keras."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_parity, keras_predict
from projects import hatchling_build, replace_in_pyproject, tensorflow_blocked_env, user_files, write_app_project

CUSTOM_LAYERS = '''
import keras


@keras.saving.register_keras_serializable(package="userlayers")
class Doubler(keras.layers.Layer):
    def call(self, x):
        return x * 2.0
'''

OUTPUTS = "src/app/web_models"  # where the project's outputs go: all else is the user's
ATTENTION = 'attention = { source = "models/attention.keras", format = "graph" }\n'
_DEPENDENCIES = (
    "import json, sys; from hatchling.builders.wheel import WheelBuilder; "
    "print(json.dumps(WheelBuilder(sys.argv[1]).get_build_hooks(sys.argv[1] + '/dist')['tfjs'].dependencies()))"
)


@dataclass
class Case:
    inputs: list[np.ndarray]
    expected: list[np.ndarray]
    input_names: list[str]


def _models(models_dir: Path, modules_dir: Path) -> dict[str, Case]:
    """gru: a GRU with reset_after=True (auto -> graph); varlen: a GRU over sequences of any length; attention: a Transformer-style block (format = "graph");
    threshold: a ReLU with a threshold (covered class, option the compiler refuses); custom: a registered custom
    layer from the user's own module."""
    import keras
    from keras import layers

    sys.path.insert(0, str(modules_dir))
    try:
        import userlayers  # noqa: PLC0415 - written by the fixture
    finally:
        sys.path.remove(str(modules_dir))
    rng = np.random.default_rng(7)
    cases: dict[str, Case] = {}

    def save(name: str, model, inputs: list[np.ndarray]) -> None:
        model.save(models_dir / f"{name}.keras")
        cases[name] = Case(inputs, keras_predict(model, inputs), [t.name for t in model.inputs])

    seq = keras.Input((6, 4), name="steps")
    save("gru", keras.Model(seq, layers.Dense(3)(layers.GRU(5, name="recurrent")(seq))),
         [rng.normal(size=(2, 6, 4)).astype("float32")])
    anylength = keras.Input((None, 4), name="steps")
    save("varlen", keras.Model(anylength, layers.GRU(3, name="recurrent")(anylength)),
         [rng.normal(size=(2, 7, 4)).astype("float32")])
    tokens = keras.Input((5, 8), name="tokens")
    attended = layers.MultiHeadAttention(2, 4, name="mha")(tokens, tokens)
    block = layers.LayerNormalization()(layers.Add()([tokens, attended]))
    save("attention", keras.Model(tokens, layers.Dense(2)(layers.GlobalAveragePooling1D()(block))),
         [rng.normal(size=(2, 5, 8)).astype("float32")])
    x = keras.Input((6,), name="x")
    save("threshold", keras.Model(x, layers.Dense(3)(layers.ReLU(threshold=0.25, name="thresholded")(x))),
         [rng.normal(size=(3, 6)).astype("float32")])
    save("custom", keras.Model(x, layers.Dense(3)(userlayers.Doubler(name="doubler")(x))),
         [rng.normal(size=(3, 6)).astype("float32")])
    return cases


@pytest.fixture(scope="module")
def default_graph_project(tmp_path_factory) -> tuple[Path, Path, dict[str, Case]]:
    """A project whose models take the TensorFlow-free graph route (gru, attention), and the user's module of
    custom layers (importable in the build, as an installed package of theirs would be)."""
    root = tmp_path_factory.mktemp("default_graph") / "app"
    (root / "models").mkdir(parents=True)
    modules = root.parent / "site"
    modules.mkdir()
    (modules / "userlayers.py").write_text(CUSTOM_LAYERS)
    cases = _models(root / "models", modules)
    write_app_project(root, 'tensorflow-requirement = "tensorflow-cpu>=2.16"\n\n[tool.hatch.build.hooks.tfjs.models]\n'
                      'gru = { source = "models/gru.keras" }\nvarlen = { source = "models/varlen.keras" }\n' + ATTENTION)
    return root, modules, cases


def _dependencies(root: Path, env: dict[str, str]) -> list[str]:
    import subprocess

    proc = subprocess.run([sys.executable, "-c", _DEPENDENCIES, str(root)], cwd=root, env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check_outputs(root: Path, names: list[str], cases: dict[str, Case], tfjs) -> None:
    for name in names:
        output = root / "src" / "app" / "web_models" / name
        document = json.loads((output / "model.json").read_text())
        assert document["format"] == "graph-model", name
        case = cases[name]
        got, _ = tfjs.run(output, case.inputs, format="graph", input_names=case.input_names)
        assert_parity(got, case.expected)


def test_keras_graph_models_build_without_tensorflow(default_graph_project, tfjs, tmp_path):
    root, _, cases = default_graph_project
    blocked = tensorflow_blocked_env(tmp_path)
    assert _dependencies(root, blocked) == []  # nothing to install: numpy and h5py are here, TensorFlow is not needed
    before = user_files(root, OUTPUTS)
    proc = hatchling_build(root, "-t", "wheel", env=blocked)
    assert user_files(root, OUTPUTS) == before
    output = proc.stdout + proc.stderr
    assert "gru: graph model (auto: the faster form in TF.js, compiled exactly) -> " in output
    assert "retrain" not in output  # a model that converted: why it is a graph model, no advice to change it
    # the note the README promises; the variable-length GRU keeps its loop, so no such note for it
    assert "gru: unrolled RNN layer(s) recurrent (6 steps) over their fixed sequence length (no While loop in TF.js)" in output
    assert "varlen: unrolled" not in output
    assert "attention: graph model -> " in output
    assert "varlen: graph model (auto: " in output
    assert "through TensorFlow" not in output
    _check_outputs(root, ["gru", "attention", "varlen"], cases, tfjs)
    index = json.loads((root / "src" / "app" / "web_models" / "index.json").read_text())
    execution = {entry["name"]: (entry["format"], entry["execution"]) for entry in index["models"]}
    # a variable-length GRU runs as a While loop (executeAsync); fixed-length RNNs are unrolled (execute)
    assert execution == {"attention": ("graph", "sync"), "gru": ("graph", "sync"), "varlen": ("graph", "async")}


def test_a_custom_layer_asks_for_tensorflow_and_its_failure_says_what_to_do(default_graph_project, tmp_path):
    """A custom layer's code must be traced: the build asks for TensorFlow. Keras loads a custom class only from its
    registry, never by importing the module a file names, so the TensorFlow route refuses the .keras file with the
    fix (export a SavedModel), and nothing is written."""
    root, modules, _ = default_graph_project
    replace_in_pyproject(root, ATTENTION, ATTENTION + 'custom = { source = "models/custom.keras", format = "graph" }\n')
    blocked = tensorflow_blocked_env(tmp_path)
    assert _dependencies(root, blocked) == ["tensorflow-cpu>=2.16"]  # only the custom model is stale, and needs it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(modules), os.environ.get("PYTHONPATH")]))}
    before = user_files(root, OUTPUTS)
    proc = hatchling_build(root, "-t", "wheel", env=env, check=False)
    assert user_files(root, OUTPUTS) == before
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "tfjs: converting 1 model to TensorFlow.js (3 up to date)" in output
    assert "Keras could not load model 'custom'" in output
    assert "export a SavedModel (model.export('models/custom')) and set source to that directory" in output
    assert "Traceback" not in output
    assert not (root / "src" / "app" / "web_models" / "custom").exists()
    replace_in_pyproject(root, 'custom = { source = "models/custom.keras", format = "graph" }\n', "")


def test_an_option_the_compiler_refuses_falls_back_to_tensorflow_or_says_what_to_do(default_graph_project, tfjs, tmp_path):
    root, _, cases = default_graph_project
    replace_in_pyproject(root, ATTENTION, ATTENTION + 'threshold = { source = "models/threshold.keras", format = "graph" }\n')
    before = user_files(root, OUTPUTS)
    refused = hatchling_build(root, "-t", "wheel", env=tensorflow_blocked_env(tmp_path), check=False)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "tfjs: model 'threshold' (models/threshold.keras) cannot be converted to a TF.js graph model:" in output
    assert "tfjs:   - layer 'thresholded' (ReLU): ReLU with a threshold is not translated yet" in output
    assert 'set reader = "keras" on [tool.hatch.build.hooks.tfjs.models.threshold]' in output
    assert "Traceback" not in output
    assert not (root / "src" / "app" / "web_models" / "threshold").exists()

    proc = hatchling_build(root, "-t", "wheel")  # TensorFlow importable: it converts what the compiler refused
    assert user_files(root, OUTPUTS) == before
    output = proc.stdout + proc.stderr
    assert ("; graph through TensorFlow: layer 'thresholded' (ReLU): ReLU with a threshold is not translated yet"
            in output), output
    _check_outputs(root, ["threshold"], cases, tfjs)


def test_the_command_line_converts_a_refused_option_in_a_worker_not_in_its_own_process(default_graph_project, tfjs, tmp_path):
    """``hatch-tfjs convert`` compiles in its own process; when the compiler refuses a layer only at conversion, the
    model goes to a TensorFlow worker and the command's own process never imports TensorFlow."""
    import subprocess

    root, _, cases = default_graph_project
    before = user_files(root, OUTPUTS)
    output = tmp_path / "threshold"
    script = ("import sys; from hatch_tfjs.cli import main; code = main(['convert', sys.argv[1], sys.argv[2], "
              "'--format', 'graph']); print('tensorflow imported:', 'tensorflow' in sys.modules); raise SystemExit(code)")
    proc = subprocess.run([sys.executable, "-c", script, str(root / "models" / "threshold.keras"), str(output)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "; graph through TensorFlow: layer 'thresholded' (ReLU): ReLU with a threshold is not translated yet" in proc.stdout
    assert "tensorflow imported: False" in proc.stdout
    assert user_files(root, OUTPUTS) == before
    case = cases["threshold"]
    got, _ = tfjs.run(output, case.inputs, format="graph", input_names=case.input_names)
    assert_parity(got, case.expected)
