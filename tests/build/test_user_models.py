"""More of the models users really have (issue 20), all in one project built once by real hatchling with the
default configuration (each model declares only its source): keras-hub families with small configs and random
weights (Whisper, DeiT, MobileNet, EfficientNet, CSPNet, a BertTextClassifier task model) and keras.io-style
functional models (two input dtypes, a U-Net, a Conv1D + LSTM forecaster). Every output runs in real
TF.js 4.22 and matches Keras within 1e-4. The route each took, its conversion time and the largest difference are
recorded as test properties (``--junitxml``) for the results table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from projects import hatchling_build, user_files, write_app_project
from user_models import (
    Case,
    build_line,
    check_in_tfjs,
    efficientnet,
    hub_families,
    keras_io_models,
    models_table,
    save_cases,
)

OUTPUTS = "src/app/web_models"
HUB = ["whisper", "deit", "mobilenet", "efficientnet", "cspnet", "bert_classifier"]
KERAS_IO = ["two_dtypes", "unet", "forecaster"]


@pytest.fixture(scope="module")
def user_project(tmp_path_factory) -> tuple[Path, dict[str, Case], str]:
    """The project, its cases and the build's output."""
    import keras

    root = tmp_path_factory.mktemp("user_models") / "app"
    (root / "models").mkdir(parents=True)
    keras.utils.set_random_seed(20)
    rng = np.random.default_rng(20)
    cases = save_cases({**hub_families(rng), **keras_io_models(rng)}, root / "models")
    write_app_project(root, models_table(list(cases)))
    before = user_files(root, OUTPUTS)
    proc = hatchling_build(root, "-t", "wheel")
    assert user_files(root, OUTPUTS) == before
    return root, cases, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", HUB)
def test_a_keras_hub_family_converts_with_the_default_configuration_and_matches_keras_in_tfjs(
    name, user_project, tfjs, record_property
):
    root, cases, output = user_project
    line = build_line(output, name)
    assert line.route == "graph through TensorFlow"  # keras-hub classes build their layers in code
    diff = check_in_tfjs(tfjs, root / OUTPUTS / name, cases[name])
    record_property("route", line.route)
    record_property("seconds", line.seconds)
    record_property("max_abs_diff", diff)


@pytest.mark.parametrize("name", HUB)
def test_a_keras_hub_family_runs_on_the_wasm_backend_too(name, user_project, tfjs):
    """TensorFlow's Einsum nodes (Whisper's and the BERT classifier's attention and EinsumDense projections) are
    rewritten into ops the WASM backend has (it has no Einsum kernel): every family runs there and matches Keras."""
    root, cases, _ = user_project
    document = json.loads((root / OUTPUTS / name / "model.json").read_text())
    assert "Einsum" not in {n["op"] for n in document["modelTopology"]["node"]}
    check_in_tfjs(tfjs, root / OUTPUTS / name, cases[name], backend="wasm")


@pytest.mark.parametrize("name", KERAS_IO)
def test_a_keras_io_style_model_converts_with_the_default_configuration_and_matches_keras_in_tfjs(
    name, user_project, tfjs, record_property
):
    root, cases, output = user_project
    line = build_line(output, name)
    assert line.route != "graph through TensorFlow"  # Keras's own layers: converted without TensorFlow
    diff = check_in_tfjs(tfjs, root / OUTPUTS / name, cases[name])
    record_property("route", line.route)
    record_property("seconds", line.seconds)
    record_property("max_abs_diff", diff)


def test_an_efficientnet_keras_cannot_reload_fails_with_keras_s_whole_reason_and_the_savedmodel_fix(tmp_path):
    """keras-hub 0.32's EfficientNetBackbone does not record num_features in its config: Keras rebuilds the model
    with the default and refuses the saved weights. The build shows Keras's whole reason (the shapes after its colon
    too), then the SavedModel export, and touches nothing of the user's."""
    import keras

    root = write_app_project(tmp_path / "app", models_table(["efficientnet_narrow"]))
    (root / "models").mkdir()
    keras.utils.set_random_seed(4)
    efficientnet(num_features=32).save(root / "models" / "efficientnet_narrow.keras")
    before = user_files(root, OUTPUTS)
    proc = hatchling_build(root, "-t", "wheel", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert user_files(root, OUTPUTS) == before
    assert "Keras could not load model 'efficientnet_narrow': " in output, output
    assert "A total of 2 objects could not be loaded. Example error message for object <Conv2D name=top_conv" in output
    assert "variable.shape=(1, 1, 16, 1280), Received: value.shape=(1, 1, 16, 32)" in output, output
    assert ("Keras itself cannot load it: export a SavedModel (model.export('models/efficientnet_narrow'))"
            in output), output
    assert "Traceback" not in output
    assert not (root / OUTPUTS / "efficientnet_narrow").exists()
