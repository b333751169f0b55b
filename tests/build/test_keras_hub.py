"""The models users really have, through real hatchling builds with the default configuration: keras-hub backbones
(small configs, random weights, never presets), functional models with dict inputs that go through TensorFlow, and
the user's own registered layers named by ``custom-modules``. Every output runs in real TF.js 4.22 and matches Keras.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from projects import hatchling_build, user_files, write_app_project
from user_models import USER_LAYERS, Case, build_line, check_in_tfjs, cspnet, expected_outputs, text_feed

OUTPUTS = "src/app/web_models"


def _hub_models(rng) -> dict[str, tuple[object, dict[str, np.ndarray]]]:
    import keras_hub

    text = {"vocabulary_size": 50, "num_layers": 2, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16}
    csp = cspnet()
    return {
        "bert": (keras_hub.models.BertBackbone(**text, max_sequence_length=12),
                 text_feed(rng, "token_ids", "segment_ids", "padding_mask")),
        "gpt2": (keras_hub.models.GPT2Backbone(**text, max_sequence_length=12),
                 text_feed(rng, "token_ids", "padding_mask")),
        "vit": (keras_hub.models.ViTBackbone(image_shape=(16, 16, 3), patch_size=4, num_layers=2, num_heads=2,
                                             hidden_dim=8, mlp_dim=16),
                {"images": rng.normal(size=(2, 16, 16, 3)).astype("float32")}),
        # an image backbone whose input layer keras-hub leaves unnamed: the graph's input takes the input layer's
        # name (what model.inputs shows), not its tensor's ("keras_tensor")
        "cspnet": (csp, {_input_layer_name(csp): rng.normal(size=(2, 32, 32, 3)).astype("float32")}),
    }


def _input_layer_name_on_load(path: Path) -> str:
    """The input layer's name a fresh process that loads the file sees (what the build's worker names the input)."""
    script = ("import sys, keras, keras_hub; model = keras.saving.load_model(sys.argv[1]); "
              "print(model.inputs[0]._keras_history.operation.name)")
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    return proc.stdout.strip().splitlines()[-1]


def _input_layer_name(model) -> str:
    (tensor,) = model.inputs
    name = tensor._keras_history.operation.name
    assert name.startswith("input_layer") and not tensor.name.startswith("input_layer"), (name, tensor.name)
    return name


def _dict_model(middle):
    """A functional model on a dict ``{tokens, features}`` whose keys are not in sorted order, with ``middle`` (a
    layer only TensorFlow converts) on the features."""
    import keras
    from keras import layers

    inputs = {"tokens": keras.Input((5,), dtype="int32", name="tokens"), "features": keras.Input((3,), name="features")}
    pooled = layers.GlobalAveragePooling1D()(layers.Embedding(10, 4)(inputs["tokens"]))
    return keras.Model(inputs, layers.Dense(2)(layers.Concatenate()([pooled, middle(inputs["features"])])))


@pytest.fixture(scope="module")
def hub_project(tmp_path_factory) -> tuple[Path, dict[str, Case]]:
    import keras
    from keras import layers

    root = tmp_path_factory.mktemp("keras_hub") / "app"
    write_app_project(root, "")
    (root / "models").mkdir()
    (root / "src" / "app" / "layers.py").write_text(USER_LAYERS)
    sys.path.insert(0, str(root / "src"))
    try:
        from app import layers as user_layers  # noqa: PLC0415 - the project's own module, written above
    finally:
        sys.path.remove(str(root / "src"))
        sys.modules.pop("app", None)
    rng = np.random.default_rng(20)
    keras.utils.set_random_seed(20)
    models = _hub_models(rng)
    features = rng.normal(size=(2, 3)).astype("float32")
    tokens = rng.integers(0, 10, size=(2, 5)).astype("int32")
    models["dict_threshold"] = (_dict_model(lambda x: layers.ReLU(threshold=0.25, name="thresholded")(x)),
                                {"tokens": tokens, "features": features})
    models["dict_custom"] = (_dict_model(lambda x: user_layers.Scale(name="scale")(x)),
                             {"tokens": tokens, "features": features})
    cases = {}
    for name, (model, feed) in models.items():
        model.save(root / "models" / f"{name}.keras")
        call = feed if isinstance(model.input, dict) else next(iter(feed.values()))
        if name == "cspnet":  # a keras-hub backbone is rebuilt on load: its unnamed input is named in that process
            feed = {_input_layer_name_on_load(root / "models" / f"{name}.keras"): call}
        cases[name] = Case(feed, expected_outputs(model(call, training=False)))
    table = "".join(f'{name} = {{ source = "models/{name}.keras" }}\n' for name in sorted(cases) if name != "dict_custom")
    table += 'dict_custom = { source = "models/dict_custom.keras", custom-modules = ["app.layers"] }\n'
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.hatch.build.hooks.tfjs.models]\n" + table)
    return root, cases


@pytest.fixture(scope="module")
def hub_build(hub_project) -> str:
    root, _ = hub_project
    before = user_files(root, OUTPUTS)
    proc = hatchling_build(root, "-t", "wheel")
    assert user_files(root, OUTPUTS) == before
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["bert", "gpt2", "vit", "cspnet", "dict_threshold", "dict_custom"])
def test_the_model_builds_with_the_default_configuration_and_matches_keras_in_tfjs(
    name, hub_project, hub_build, tfjs, record_property
):
    root, cases = hub_project
    line = build_line(hub_build, name)
    assert line.route == "graph through TensorFlow"
    output = root / OUTPUTS / name
    document = json.loads((output / "model.json").read_text())
    case = cases[name]
    # the graph's inputs keep the names the user calls the model with
    assert sorted(document["signature"]["inputs"]) == sorted(case.feed)
    diff = check_in_tfjs(tfjs, output, case)
    record_property("route", line.route)
    record_property("seconds", line.seconds)
    record_property("max_abs_diff", diff)


_DEPENDENCIES = (
    "import json, sys; from hatchling.builders.wheel import WheelBuilder; "
    "print(json.dumps(WheelBuilder(sys.argv[1]).get_build_hooks(sys.argv[1] + '/dist')['tfjs'].dependencies()))"
)


def _blocked_env(tmp_path: Path, *packages: str) -> dict[str, str]:
    """This environment with ``packages`` made unimportable (a sitecustomize), as in a fresh isolated build."""
    import os

    block = tmp_path / "block"
    block.mkdir(parents=True, exist_ok=True)
    (block / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {packages!r}:\n"
        "            raise ImportError(name + ' is blocked by the test')\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(block), os.environ.get("PYTHONPATH")])),
            "HATCH_TFJS_FORCE": "1"}


def test_dependencies_ask_for_keras_hub_from_the_config_like_tensorflow(hub_project, hub_build, tmp_path):
    """Decided from the configs with the standard library: keras-hub (whose classes the backbones name) and
    TensorFlow, only when they are not importable; nothing for keras-hub where it is."""
    import subprocess

    root, _ = hub_project
    run = [sys.executable, "-c", _DEPENDENCIES, str(root)]
    blocked = _blocked_env(tmp_path, "tensorflow", "keras", "tf_keras", "keras_hub")
    proc = subprocess.run(run, cwd=root, env=blocked, capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["tensorflow>=2.16", "keras-hub"]
    importable = _blocked_env(tmp_path / "none")
    proc = subprocess.run(run, cwd=root, env=importable, capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_library_models_get_a_true_note_and_no_advice_to_rebuild(hub_build):
    line = re.search(r"^tfjs: vit: .*$", hub_build, re.MULTILINE).group(0)
    assert "subclassed" not in line and "Rebuild it" not in line
    assert "model class 'ViTBackbone' comes from keras-hub (module 'keras_hub.src.models.vit.vit_backbone')" in line
    assert "comes from keras-hub (module 'keras_hub.src.models.vit.vit_backbone'): TensorFlow traces its code" in line


MISMATCHED_LAYER = '''
import keras


@keras.saving.register_keras_serializable(package="app")
class Scale(keras.layers.Layer):
    """The project's layer changed since the file was saved: it has no weight any more."""

    def __init__(self, offset=0.5, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def call(self, x):
        return x + self.offset

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}
'''


def _write_project(root: Path, source: Path, model_line: str, layers: str | None = None) -> Path:
    import shutil

    write_app_project(root, "\n[tool.hatch.build.hooks.tfjs.models]\n" + model_line)
    (root / "models").mkdir()
    shutil.copy(source, root / "models" / source.name)
    if layers is not None:
        (root / "src" / "app" / "layers.py").write_text(layers)
    return root


def test_a_custom_class_without_custom_modules_is_named_with_its_module_and_the_line_to_add(hub_project, tmp_path):
    source_root, _ = hub_project
    root = _write_project(tmp_path / "app", source_root / "models" / "dict_custom.keras",
                          'dict_custom = { source = "models/dict_custom.keras" }\n', USER_LAYERS)
    before = user_files(root, OUTPUTS)
    proc = hatchling_build(root, "-t", "wheel", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert user_files(root, OUTPUTS) == before
    assert ("class 'Scale' from module 'app.layers' is not registered when Keras loads the file: if module "
            "'app.layers' is part of this project, set custom-modules = [\"app.layers\"] on "
            "[tool.hatch.build.hooks.tfjs.models.dict_custom]") in output
    assert "Traceback" not in output
    assert not (root / OUTPUTS / "dict_custom").exists()


def test_keras_s_whole_reason_is_shown_with_the_savedmodel_fix(hub_project, tmp_path):
    """The user's layer changed since the file was saved: Keras refuses the weights with a reason over several
    lines, and the build shows all of it (never cut at its first colon), then the fix."""
    source_root, _ = hub_project
    root = _write_project(tmp_path / "app", source_root / "models" / "dict_custom.keras",
                          'dict_custom = { source = "models/dict_custom.keras", custom-modules = ["app.layers"] }\n',
                          MISMATCHED_LAYER)
    before = user_files(root, OUTPUTS)
    proc = hatchling_build(root, "-t", "wheel", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert user_files(root, OUTPUTS) == before
    assert "Keras could not load model 'dict_custom': " in output
    assert "expected 0 variables, but received 1 variables during loading" in output, output
    assert "Keras itself cannot load it: export a SavedModel (model.export('models/dict_custom'))" in output
    assert "Traceback" not in output


def test_a_custom_module_outside_the_project_is_refused_by_name(hub_project, tmp_path):
    source_root, _ = hub_project
    root = _write_project(tmp_path / "app", source_root / "models" / "dict_custom.keras",
                          'dict_custom = { source = "models/dict_custom.keras", custom-modules = ["json.decoder"] }\n')
    proc = hatchling_build(root, "-t", "wheel", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert ("custom module 'json.decoder' (set by tool.hatch.build.hooks.tfjs.models.dict_custom.custom-modules in "
            "pyproject.toml): package 'json' is not in the project's source tree") in output, output
    assert "Traceback" not in output


ISOLATED_PYPROJECT = """\
[build-system]
requires = ["hatchling", "hatch-tfjs"]
build-backend = "hatchling.build"

[project]
name = "app"
version = "0.1.0"

[tool.hatch.build.targets.wheel]
packages = ["src/app"]

[tool.hatch.build.hooks.tfjs.models.bert]
source = "models/bert.keras"
"""


@pytest.mark.slow
def test_an_isolated_build_gets_tensorflow_and_keras_hub_from_the_hook_alone(tmp_path, wheelhouse, tfjs, record_property):
    """``python -m build --wheel`` (isolated: a fresh venv with hatchling and hatch-tfjs only) of a project whose hook
    table holds one keras-hub backbone and nothing else: the hook's dependencies() must bring TensorFlow and keras-hub
    into the build environment, and the wheel's model matches Keras in TF.js. Slow: pip installs TensorFlow."""
    import subprocess
    import zipfile

    import keras
    import keras_hub

    from helpers import build_env

    root = tmp_path / "app"
    (root / "src" / "app").mkdir(parents=True)
    (root / "src" / "app" / "__init__.py").write_text("")
    (root / "models").mkdir()
    (root / "pyproject.toml").write_text(ISOLATED_PYPROJECT)
    keras.utils.set_random_seed(21)
    model = keras_hub.models.BertBackbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
                                          intermediate_dim=16, max_sequence_length=12)
    model.save(root / "models" / "bert.keras")
    feed = text_feed(np.random.default_rng(21), "token_ids", "segment_ids", "padding_mask")
    expected = expected_outputs(model(feed, training=False))
    before = user_files(root, OUTPUTS)
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", "dist", "."], cwd=root,
                          env=build_env(wheelhouse), capture_output=True, text=True, timeout=3600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    assert user_files(root, OUTPUTS) == before
    # build installs hatchling and hatch-tfjs, then what the hook's dependencies() asked for
    installs = re.findall(r"^\* Installing packages in isolated environment:\n((?:  - .*\n)+)", output, re.MULTILINE)
    assert len(installs) == 2, output[-6000:]
    assert "hatch-tfjs" in installs[0] and "tensorflow" not in installs[0] and "keras-hub" not in installs[0]
    assert "  - tensorflow>=2.16\n" in installs[1] and "  - keras-hub\n" in installs[1], installs[1]
    line = build_line(output, "bert")
    assert line.route == "graph through TensorFlow"
    (wheel,) = (root / "dist").glob("*.whl")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    diff = check_in_tfjs(tfjs, unpacked / "app" / "web_models" / "bert", Case(feed, expected))
    record_property("route", line.route)
    record_property("seconds", line.seconds)
    record_property("max_abs_diff", diff)
