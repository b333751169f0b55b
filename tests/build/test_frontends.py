"""Every build frontend builds sample_project with its models: hatch, python -m build (isolated and not), pip wheel,
pip install (normal and editable), uv build; the artifacts pass twine check and check-wheel-contents; TensorFlow is
requested only while a model that needs it is stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers import REPO, build_env, copy_sample_project
from projects import tensorflow_blocked_env

SAMPLE = REPO / "sample_project"
BIN = Path(sys.executable).parent
MODEL_JSONS = {"sample_app/web_models/iris/model.json", "sample_app/web_models/digits/model.json"}

pytestmark = pytest.mark.slow


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    return copy_sample_project(tmp_path / "proj")


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc.stdout + proc.stderr


def wheel_names(directory: Path) -> set[str]:
    (wheel,) = directory.glob("*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


@pytest.mark.parametrize(
    "frontend",
    [
        pytest.param(["{bin}/hatch", "build", "-t", "wheel"], id="hatch-build"),
        pytest.param([sys.executable, "-m", "build", "--wheel", "--outdir", "dist"], id="build-isolated"),
        pytest.param([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist"], id="build-no-isolation"),
        pytest.param([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", "dist", "."], id="pip-wheel"),
        pytest.param(["{bin}/uv", "build", "--wheel", "--out-dir", "dist"], id="uv-build"),
    ],
)
def test_frontend_builds_wheel_with_models(frontend, sample_copy, wheelhouse):
    cmd = [part.format(bin=BIN) for part in frontend]
    output = run(cmd, sample_copy, build_env(wheelhouse, HATCH_ENV_TYPE_VIRTUAL_UV_PATH=str(BIN / "uv")))
    assert MODEL_JSONS <= wheel_names(sample_copy / "dist"), output


def test_hatch_clean_and_build_c_remove_outputs(sample_copy, wheelhouse):
    env = build_env(wheelhouse)
    run([str(BIN / "hatch"), "build", "-t", "wheel"], sample_copy, env)
    outputs = sample_copy / "src" / "sample_app" / "web_models"
    assert (outputs / "iris" / "model.json").is_file()
    run([str(BIN / "hatch"), "clean"], sample_copy, env)
    assert not (outputs / "iris").exists() and not (outputs / "digits").exists()
    run([str(BIN / "hatch"), "build", "-t", "wheel"], sample_copy, env)
    before = sorted(p.name for p in (outputs / "iris").iterdir())
    for path in (outputs / "iris").iterdir():
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # dated 1970: a file written anew shows in its mtime
    output = run([str(BIN / "hatch"), "build", "-c", "-t", "wheel"], sample_copy, env)
    assert "tfjs: 2 models converted" in output  # -c cleaned, then the hook converted again
    assert sorted(p.name for p in (outputs / "iris").iterdir()) == before
    assert all(p.stat().st_mtime_ns > 1_000_000_000 for p in (outputs / "iris").iterdir())  # every file written anew
    # A file of the user's inside an output is never deleted: clean keeps that output, and the build refuses it.
    user_file = outputs / "iris" / "notes.txt"
    user_file.write_text("mine")
    proc = subprocess.run([str(BIN / "hatch"), "build", "-c", "-t", "wheel"], cwd=sample_copy, env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "kept src/sample_app/web_models/iris/" in proc.stderr + proc.stdout
    assert user_file.read_text() == "mine"


def test_pip_install_and_editable_install_expose_the_models(sample_copy, wheelhouse, tmp_path):
    env = build_env(wheelhouse)
    python = make_venv(tmp_path / "venv")
    run([str(python), "-m", "pip", "install", "--quiet", str(sample_copy)], tmp_path, env)
    check = (
        "import importlib.resources as r, json; "
        "root = r.files('sample_app') / 'web_models'; "
        "print(sorted(p.name for p in root.iterdir() if p.is_dir())); "
        "print(json.loads((root / 'iris' / 'model.json').read_text())['format'])"
    )
    assert run([str(python), "-c", check], tmp_path, env).split() == ["['digits',", "'iris']", "graph-model"]

    editable_python = make_venv(tmp_path / "venv-editable")
    run([str(editable_python), "-m", "pip", "install", "--quiet", "-e", str(sample_copy)], tmp_path, env)
    out = run([str(editable_python), "-c", check + "; import sample_app; print(sample_app.__file__)"], tmp_path, env)
    assert out.split()[:3] == ["['digits',", "'iris']", "graph-model"]
    assert out.split()[3].startswith(str(sample_copy))  # served from the project tree, where the hook wrote the models


def test_sdist_installs_on_a_machine_without_tensorflow(sample_copy, wheelhouse, tmp_path):
    """The sdist ships fresh outputs: `pip install <sdist>` builds the wheel without installing TensorFlow, even for
    a model whose conversion needs it (reader = "keras")."""
    pyproject = sample_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('source = "models/iris.keras"', 'source = "models/iris.keras"\nreader = "keras"'))
    run([sys.executable, "-m", "hatchling", "build", "-t", "sdist"], sample_copy, build_env(wheelhouse))
    (sdist,) = (sample_copy / "dist").glob("*.tar.gz")
    python = make_venv(tmp_path / "venv")
    output = run([str(python), "-m", "pip", "install", "-v", str(sdist)], tmp_path, build_env(wheelhouse))
    assert "tensorflow" not in output.lower().replace("tensorflow.js", "")
    assert "tfjs: 2 models up to date" in output
    assert run([str(python), "-c", "import importlib.resources as r; print((r.files('sample_app') / 'web_models/iris/model.json').is_file())"], tmp_path, os.environ.copy()).strip() == "True"


_HOOK_DEPENDENCIES = (
    "import json, sys; from hatchling.builders.wheel import WheelBuilder; "
    "print(json.dumps(WheelBuilder(sys.argv[1]).get_build_hooks(sys.argv[1] + '/dist')['tfjs'].dependencies()))"
)


def test_dependencies_ask_for_tensorflow_only_for_stale_models_that_need_it(sample_copy, monkeypatch, tmp_path):
    """As in an isolated build environment, where TensorFlow is not installed (a sitecustomize blocks it)."""

    def hook_dependencies(*, tensorflow_installed: bool = False) -> list[str]:
        env = dict(os.environ) if tensorflow_installed else tensorflow_blocked_env(tmp_path)
        out = run([sys.executable, "-c", _HOOK_DEPENDENCIES, str(sample_copy)], sample_copy, env)
        return json.loads(out.strip().splitlines()[-1])

    pyproject = sample_copy / "pyproject.toml"
    assert hook_dependencies() == []  # stale, but neither needs TensorFlow (iris: compiled graph; digits: layers)
    pyproject.write_text(pyproject.read_text().replace('source = "models/iris.keras"', 'source = "models/iris.keras"\nreader = "keras"'))
    assert hook_dependencies() == ["tensorflow-cpu>=2.16"]  # iris is stale and its reader needs TensorFlow
    run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], sample_copy, dict(os.environ))
    assert hook_dependencies() == []  # fresh now
    (sample_copy / "models" / "iris.keras").write_bytes((sample_copy / "models" / "iris.keras").read_bytes() + b"\0")
    assert hook_dependencies() == ["tensorflow-cpu>=2.16"]
    assert hook_dependencies(tensorflow_installed=True) == []  # TensorFlow importable (tensorflow-cpu here): nothing to ask for
    monkeypatch.setenv("HATCH_TFJS_SKIP", "1")
    assert hook_dependencies() == []


def test_artifacts_pass_twine_and_check_wheel_contents(sample_copy, wheelhouse):
    run([sys.executable, "-m", "build", "--outdir", "dist", "."], sample_copy, build_env(wheelhouse))
    (sdist,) = (sample_copy / "dist").glob("*.tar.gz")
    (wheel,) = (sample_copy / "dist").glob("*.whl")
    run([str(BIN / "twine"), "check", "--strict", str(sdist), str(wheel)], sample_copy, dict(os.environ))
    run([str(BIN / "check-wheel-contents"), str(wheel)], sample_copy, dict(os.environ))
    with tarfile.open(sdist) as tar:
        assert any(n.endswith("src/sample_app/web_models/iris/model.json") for n in tar.getnames())
