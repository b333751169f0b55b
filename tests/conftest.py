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


def assert_parity(got: list[np.ndarray], expected: list[np.ndarray], atol: float = PARITY_ATOL) -> None:
    assert len(got) == len(expected), f"TF.js returned {len(got)} outputs, Keras {len(expected)}"
    for index, (g, e) in enumerate(zip(got, expected)):
        assert g.shape == e.shape, f"output {index}: TF.js shape {g.shape} != Keras shape {e.shape}"
        diff = float(np.max(np.abs(g.astype(np.float64) - e.astype(np.float64)))) if e.size else 0.0
        assert diff <= atol, f"output {index}: max abs difference {diff:.3g} > {atol}"
