"""Shared fixtures: one TF.js (Node) process and one zoo of Keras models for the whole session."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

TESTS = Path(__file__).parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))

from tfjs import TfjsRunner  # noqa: E402

PARITY_ATOL = 1e-5


@pytest.fixture(scope="session")
def tfjs():
    runner = TfjsRunner()
    yield runner
    runner.close()


@dataclass
class ZooCase:
    name: str
    keras_path: Path
    h5_path: Path
    inputs: list[np.ndarray]
    expected: list[np.ndarray]


def keras_predict(model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    out = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> dict[str, ZooCase]:
    """Every zoo model saved as .keras and as .h5, with fixed inputs and Keras's outputs for them."""
    import zoo as zoo_module

    directory = tmp_path_factory.mktemp("zoo")
    cases: dict[str, ZooCase] = {}
    for name, entry in zoo_module.ZOO.items():
        model = zoo_module.build(entry)
        keras_path, h5_path = directory / f"{name}.keras", directory / f"{name}.h5"
        model.save(keras_path)
        model.save(h5_path)
        inputs = zoo_module.inputs_for(entry)
        cases[name] = ZooCase(name, keras_path, h5_path, inputs, keras_predict(model, inputs))
    return cases


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """A hatch-tfjs wheel built from this checkout: isolated builds must never take the plugin from an index."""
    import subprocess

    directory = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(directory), str(REPO)],
        check=True,
    )
    assert len(list(directory.glob("hatch_tfjs-*.whl"))) == 1
    return directory


def build_env(wheelhouse: Path, **extra: str) -> dict[str, str]:
    """The environment for a build frontend: the local hatch-tfjs wheel offered to pip and uv."""
    env = dict(os.environ)
    env["PIP_FIND_LINKS"] = " ".join(filter(None, [str(wheelhouse), os.environ.get("PIP_FIND_LINKS", "")]))
    env["UV_FIND_LINKS"] = ",".join(filter(None, [str(wheelhouse), os.environ.get("UV_FIND_LINKS", "")]))
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.update(extra)
    return env


SAMPLE_PROJECT = REPO / "sample_project"


def copy_sample_project(destination: Path) -> Path:
    """A copy of sample_project without build outputs."""
    import shutil

    shutil.copytree(SAMPLE_PROJECT, destination, ignore=shutil.ignore_patterns("dist", "web_models", "__pycache__"))
    return destination


@pytest.fixture(scope="session")
def sample_wheel(tmp_path_factory) -> Path:
    """sample_project's wheel, built once by hatchling (this checkout's hook) from a copy of the project."""
    import subprocess

    tree = copy_sample_project(tmp_path_factory.mktemp("sample_wheel") / "sample_project")
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=tree, check=True, capture_output=True)
    (wheel,) = (tree / "dist").glob("*.whl")
    return wheel


@pytest.fixture(scope="session")
def sample_venv(tmp_path_factory, sample_wheel, wheelhouse) -> Path:
    """A fresh venv with the sample wheel installed as a user would (hatch-tfjs from the local wheelhouse, the rest
    from the package index); returns the venv's python."""
    import subprocess

    venv = tmp_path_factory.mktemp("sample_venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(sample_wheel)],
        env=build_env(wheelhouse),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return python


def assert_parity(got: list[np.ndarray], expected: list[np.ndarray], atol: float = PARITY_ATOL) -> None:
    assert len(got) == len(expected), f"TF.js returned {len(got)} outputs, Keras {len(expected)}"
    for index, (g, e) in enumerate(zip(got, expected)):
        assert g.shape == e.shape, f"output {index}: TF.js shape {g.shape} != Keras shape {e.shape}"
        diff = float(np.max(np.abs(g.astype(np.float64) - e.astype(np.float64)))) if e.size else 0.0
        assert diff <= atol, f"output {index}: max abs difference {diff:.3g} > {atol}"
