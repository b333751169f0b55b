"""What several test modules share besides fixtures: paths, running a Keras model, comparing outputs with TF.js's,
and the environment and sample project of the build tests. (tests/ is on pytest's ``pythonpath``.)"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

TESTS = Path(__file__).parent
REPO = TESTS.parent
ZOOS = TESTS / "zoos"  # the model zoos (on pytest's pythonpath, as tests/ is)
PARITY_ATOL = 1e-5


def keras_predict(model: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
    out = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


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
    shutil.copytree(SAMPLE_PROJECT, destination, ignore=shutil.ignore_patterns("dist", "web_models", "__pycache__"))
    return destination


def assert_parity(got: list[np.ndarray], expected: list[np.ndarray], atol: float = PARITY_ATOL) -> None:
    assert len(got) == len(expected), f"TF.js returned {len(got)} outputs, Keras {len(expected)}"
    for index, (g, e) in enumerate(zip(got, expected)):
        assert g.shape == e.shape, f"output {index}: TF.js shape {g.shape} != Keras shape {e.shape}"
        diff = float(np.max(np.abs(g.astype(np.float64) - e.astype(np.float64)))) if e.size else 0.0
        assert diff <= atol, f"output {index}: max abs difference {diff:.3g} > {atol}"


_OPENED: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _OPENED is not None and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # an audit hook cannot be removed: it records only inside opened_files()


@contextmanager
def opened_files() -> Iterator[list[str]]:
    """Every path this process opens inside the block (Python's "open" audit event: open(), os.open(), ...)."""
    global _OPENED
    _OPENED = []
    try:
        yield _OPENED
    finally:
        _OPENED = None
