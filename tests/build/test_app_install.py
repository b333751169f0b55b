"""An app pays nothing at run time: installing an app that serves its bundled models pulls no numpy, h5py,
hatchling, TensorFlow or Keras; a build installs numpy and h5py only when a model must be converted."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import build_env, copy_sample_project

CONVERSION_ONLY = {"numpy", "h5py", "hatchling", "tensorflow", "tensorflow-cpu", "keras", "tf-keras", "tomli"}


def test_installing_the_sample_app_pulls_no_conversion_dependency(sample_venv):
    listed = subprocess.run(
        [str(sample_venv), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True,
    )
    installed = {entry["name"].lower() for entry in json.loads(listed.stdout)}
    assert {"hatch-tfjs", "tfjs-sample-app"} <= installed
    assert not installed & CONVERSION_ONLY, sorted(installed)

    # ... and the runtime, the server helpers and the app work there.
    script = (
        "from hatch_tfjs import runtime, serve; import sample_app.server; "
        "print(sorted(m.name for m in runtime.models('sample_app')))"
    )
    ran = subprocess.run([str(sample_venv), "-c", script], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "['digits', 'iris']"


def test_the_command_line_without_its_extra_says_what_to_install(sample_venv, tmp_path):
    cli = Path(sample_venv).parent / "hatch-tfjs"
    source = copy_sample_project(tmp_path / "proj") / "models" / "iris.keras"
    proc = subprocess.run([str(cli), "convert", str(source), str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "pip install 'hatch-tfjs[convert]'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_an_isolated_build_installs_numpy_and_h5py_only_to_convert(tmp_path, wheelhouse):
    """python -m build: the sdist converts (numpy and h5py asked for, no TensorFlow: iris is a compiled graph model, digits a layers model);
    the wheel built from the sdist finds its models fresh and installs nothing beyond the build requirements."""
    project = copy_sample_project(tmp_path / "proj")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", "dist", "."],
        cwd=project, env=build_env(wheelhouse), capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = proc.stderr + proc.stdout  # build reports its steps on stderr when not on a terminal
    sections = re.split(r"\* Getting build dependencies for (sdist|wheel)\.\.\.\n", log)
    # sections: [before, "sdist", after-sdist-deps, "wheel", after-wheel-deps]
    sdist_step, wheel_step = sections[2], sections[4]
    sdist_installs = sdist_step.split("* Installed build dependency versions")[0]
    assert "* Installing packages in isolated environment:" in sdist_installs
    assert "numpy" in sdist_installs and "h5py" in sdist_installs and "tensorflow" not in sdist_installs
    assert "* Installing packages in isolated environment:" not in wheel_step.split("* Building wheel")[0]
    assert "tfjs: 2 models up to date" in log
