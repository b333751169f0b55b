"""End to end through real frontends: sample_project built with `python -m build` (sdist, then the wheel from the
sdist, in isolated environments that get hatch-tfjs from a local wheel) and with `hatchling build`."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, assert_parity, build_env, copy_sample_project, keras_predict

SAMPLE = REPO / "sample_project"
MODEL_FILES = {
    "sample_app/web_models/iris/model.json",
    "sample_app/web_models/iris/group1-shard1of1.bin",
    "sample_app/web_models/digits/model.json",
    "sample_app/web_models/digits/group1-shard1of2.bin",
    "sample_app/web_models/digits/group1-shard2of2.bin",
}
INDEX = "sample_app/web_models/index.json"  # the package index hatch_tfjs.runtime reads
STAMPS = {"sample_app/web_models/iris/.hatch-tfjs-stamp.json", "sample_app/web_models/digits/.hatch-tfjs-stamp.json"}
APP_FILES = {  # the web app around the models: server, page, and TF.js served from the package (no CDN)
    "sample_app/__main__.py",
    "sample_app/server.py",
    "sample_app/static/index.html",
    "sample_app/static/app.js",
    "sample_app/static/style.css",
    "sample_app/static/vendor/tf.min.js",
    "sample_app/static/vendor/LICENSE-tfjs.txt",
}

pytestmark = pytest.mark.slow


@pytest.fixture
def sample_tree(tmp_path) -> Path:
    return copy_sample_project(tmp_path / "sample_project")


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def check_models_run_like_keras(unpacked: Path, tfjs) -> None:
    import keras

    rng = np.random.default_rng(0)
    cases = {  # iris: the default (a graph model); digits: format = "layers"
        "iris": (SAMPLE / "models" / "iris.keras", [rng.normal(5.0, 1.5, size=(5, 4)).astype("float32")], "graph"),
        "digits": (SAMPLE / "models" / "digits.h5", [rng.uniform(0, 1, size=(3, 8, 8, 1)).astype("float32")], "layers"),
    }
    for name, (source, inputs, fmt) in cases.items():
        expected = keras_predict(keras.saving.load_model(source, compile=False), inputs)
        got, _ = tfjs.run(unpacked / "sample_app" / "web_models" / name, inputs, format=fmt)
        assert_parity(got, expected)


def check_index(index: dict, unpacked: Path) -> None:
    """index.json lists both models with paths relative to itself, their files (sizes, sha256) and metadata."""
    assert index["generator"] == "hatch-tfjs" and [m["name"] for m in index["models"]] == ["digits", "iris"]
    for entry in index["models"]:
        folder = unpacked / "sample_app" / "web_models" / entry["path"]
        assert entry["path"] == entry["name"] and (folder / "model.json").is_file()
        files = {f["path"]: f for f in entry["files"]}
        assert set(files) == {n.rsplit("/", 1)[1] for n in MODEL_FILES if f"/{entry['name']}/" in n}
        for name, item in files.items():
            assert item["bytes"] == (folder / name).stat().st_size
            assert item["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
    iris = index["models"][1]
    assert iris["inputs"] == [{"name": "measurements", "shape": [None, 4], "dtype": "float32"}]
    assert iris["outputs"] == [{"name": "output_0", "shape": [None, 3], "dtype": "float32"}]
    assert iris["metadata"]["labels"] == ["setosa", "versicolor", "virginica"]


def test_python_m_build_sdist_then_wheel_from_sdist(sample_tree, wheelhouse, tfjs, tmp_path):
    proc = run([sys.executable, "-m", "build", "--outdir", "dist", "."], sample_tree, build_env(wheelhouse))
    assert "Building wheel from sdist" in proc.stdout + proc.stderr
    assert "tfjs: iris: graph model (auto: the faster form in TF.js, compiled exactly) -> src/sample_app/web_models/iris/" in proc.stdout + proc.stderr

    (sdist,) = (sample_tree / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        sdist_names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {f"src/{n}" for n in MODEL_FILES | {INDEX}} <= sdist_names  # gitignored outputs still ship
    assert {"models/iris.keras", "models/digits.h5", ".gitignore"} <= sdist_names

    (wheel,) = (sample_tree / "dist").glob("*.whl")
    assert wheel.name == "tfjs_sample_app-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert "Tag: py3-none-any" in zf.read("tfjs_sample_app-0.1.0.dist-info/WHEEL").decode()
        zf.extractall(tmp_path / "unpacked")
    assert MODEL_FILES | {INDEX} | APP_FILES <= names
    check_index(json.loads((tmp_path / "unpacked" / INDEX).read_text()), tmp_path / "unpacked")
    assert not any(n.startswith("models/") or "staging" in n or n.endswith(".tfjs-old") for n in names)
    check_models_run_like_keras(tmp_path / "unpacked", tfjs)


def test_hatchling_build_from_the_tree(sample_tree, tfjs, tmp_path):
    proc = run([sys.executable, "-m", "hatchling", "build"], sample_tree)
    output = proc.stdout + proc.stderr
    assert "tfjs: converting 2 models to TensorFlow.js" in output
    assert "tfjs: 2 models converted" in output
    (wheel,) = (sample_tree / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "unpacked")
    assert MODEL_FILES <= names
    assert "sample_app/__init__.py" in names
    assert all(n.startswith(("sample_app/", "tfjs_sample_app-0.1.0.dist-info/")) for n in names)
    assert {n for n in names if n.startswith("sample_app/web_models/")} == MODEL_FILES | {INDEX} | STAMPS
    assert APP_FILES <= names
    check_index(json.loads((tmp_path / "unpacked" / INDEX).read_text()), tmp_path / "unpacked")
    check_models_run_like_keras(tmp_path / "unpacked", tfjs)


def test_configuration_error_fails_the_build_cleanly(sample_tree):
    pyproject = sample_tree / "pyproject.toml"
    text = pyproject.read_text().replace('source = "models/iris.keras"', 'source = "models/iris.keras"\nshard-size = "big"')
    text = text.replace('source = "models/digits.h5"', 'source = "models/missing.h5"')
    pyproject.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=sample_tree, capture_output=True, text=True)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "2 problems in the tfjs build hook configuration" in output
    assert "tool.hatch.build.hooks.tfjs.models.iris.shard-size: must be a positive number of bytes" in output
    assert "tool.hatch.build.hooks.tfjs.models.digits.source: file not found: models/missing.h5" in output
    assert "Traceback" not in output
    assert not (sample_tree / "src" / "sample_app" / "web_models").exists()
    assert not list(sample_tree.glob("dist/*.whl"))


def test_auto_makes_a_graph_model_of_what_tfjs_layers_cannot_run_and_says_why(sample_tree, tfjs):
    import keras
    from zoo import randomize

    inp = keras.Input((5, 2))
    model = keras.Model(inp, keras.layers.GRU(3, name="recurrent")(inp))
    randomize(model, 5)
    model.save(sample_tree / "models" / "iris.keras")
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=sample_tree, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "tfjs: iris: graph model (auto: the faster form in TF.js, compiled exactly) -> " in proc.stderr
    assert "tfjs: digits: layers model -> " in proc.stderr
    index = json.loads((sample_tree / "src" / "sample_app" / "web_models" / "index.json").read_text())
    assert {m["name"]: m["format"] for m in index["models"]} == {"digits": "layers", "iris": "graph"}
    x = np.random.default_rng(1).normal(size=(2, 5, 2)).astype("float32")
    got, _ = tfjs.run(sample_tree / "src" / "sample_app" / "web_models" / "iris", [x], format="graph")
    assert_parity(got, keras_predict(model, [x]))


def test_unsupported_model_fails_the_build_with_the_reason(sample_tree):
    import keras
    from keras import layers

    inp = keras.Input((5, 2))
    keras.Model(inp, layers.GRU(3, name="recurrent")(inp)).save(sample_tree / "models" / "iris.keras")
    pyproject = sample_tree / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('[tool.hatch.build.hooks.tfjs.models.iris]\n', '[tool.hatch.build.hooks.tfjs.models.iris]\nformat = "layers"\n'))
    proc = subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=sample_tree, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "model 'iris' (models/iris.keras) cannot be converted to a TF.js layers model" in output
    assert "layer 'recurrent' (GRU): uses reset_after=True" in output
    assert "Traceback" not in output
