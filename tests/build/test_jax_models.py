"""Models saved under the JAX backend (issue 20): standard models built and saved by Keras with KERAS_BACKEND=jax
in a subprocess, whose outputs under JAX are the reference, converted in one project by real hatchling with the
default configuration in an environment where TensorFlow cannot be imported: they need none (layers models, or graph
models the compiler writes). Each runs in real TF.js 4.22 and matches JAX's Keras within 1e-4."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import TESTS, ZOOS
from projects import hatchling_build, tensorflow_blocked_env, user_files, write_app_project
from user_models import Case, build_line, check_in_tfjs, load_cases, models_table

OUTPUTS = "src/app/web_models"
STANDARD = ["cnn", "mobilenet_v3", "gru_text", "encoder"]
SAVE = (
    "import sys; from pathlib import Path; import keras, user_models; "
    "assert keras.backend.backend() == 'jax', keras.backend.backend(); "
    "user_models.save_standard_models(Path(sys.argv[1]))"
)


@pytest.fixture(scope="module")
def jax_project(tmp_path_factory) -> tuple[Path, dict[str, Case], str]:
    assert importlib.util.find_spec("jax"), "the JAX backend is not installed: pip install -e '.[test]' (.ci/setup)"
    root = tmp_path_factory.mktemp("jax_models") / "app"
    models = root / "models"
    models.mkdir(parents=True)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), str(ZOOS), os.environ.get("PYTHONPATH")]))}
    saved = subprocess.run([sys.executable, "-c", SAVE, str(models)], env=env, capture_output=True, text=True,
                           timeout=600)
    assert saved.returncode == 0, saved.stdout + saved.stderr
    write_app_project(root, models_table(STANDARD))
    before = user_files(root, OUTPUTS)
    proc = hatchling_build(root, "-t", "wheel", env=tensorflow_blocked_env(root.parent))
    assert user_files(root, OUTPUTS) == before
    return root, load_cases(models, STANDARD), proc.stdout + proc.stderr


@pytest.mark.parametrize("name", STANDARD)
def test_a_model_saved_under_jax_converts_without_tensorflow_and_matches_keras_in_tfjs(
    name, jax_project, tfjs, record_property
):
    root, cases, output = jax_project
    line = build_line(output, name)
    assert line.route != "graph through TensorFlow"
    diff = check_in_tfjs(tfjs, root / OUTPUTS / name, cases[name])
    record_property("route", line.route)
    record_property("seconds", line.seconds)
    record_property("max_abs_diff", diff)
