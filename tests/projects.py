"""Helpers for tests that build whole projects through real hatchling: a project from sample_project, builds, and a
record of every file a test must find untouched afterwards."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = Path("src") / "sample_app"
WEB_MODELS = PACKAGE / "web_models"


def hatchling_build(
    project: Path, *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``python -m hatchling build ARGS`` in ``project`` (this checkout's hook, through the editable install)."""
    proc = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"hatchling build {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def hatch_tfjs(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The ``hatch-tfjs`` command line, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "hatch_tfjs", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def file_digests(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` (symlinks not followed), by relative path; directories as ``/``."""
    digests: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if path.is_symlink():
            digests[relative] = f"-> {os.readlink(path)}"
        elif path.is_dir():
            digests[relative + "/"] = ""
        else:
            digests[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def user_files(project: Path, outputs: str) -> dict[str, str]:
    """Every file of ``project`` but what builds write (``outputs``, the model outputs' folder, and ``dist/``), by
    sha256: a build must leave them byte for byte as they were."""
    return {path: digest for path, digest in file_digests(project).items() if not path.startswith((outputs, "dist"))}


def wheel_names(project: Path, dist: str = "dist") -> list[str]:
    (wheel,) = (project / dist).glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return sorted(archive.namelist())


def replace_in_pyproject(project: Path, old: str, new: str) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text("utf-8")
    assert old in text, f"{old!r} is not in {pyproject}"
    pyproject.write_text(text.replace(old, new), "utf-8")


def tensorflow_blocked_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment plus a sitecustomize that makes ``import tensorflow`` / ``keras`` / ``tf_keras``
    fail, in the process started with it and in every process it starts: an environment without TensorFlow."""
    block = tmp_path / "block_tf"
    block.mkdir(exist_ok=True)
    (block / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'):\n"
        "            raise ImportError(name + ' is blocked by the test')\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(block), env.get("PYTHONPATH", "")]))
    return env


def write_app_project(root: Path, hook_table: str) -> Path:
    """A minimal project at ``root``: package ``src/app`` and a pyproject.toml whose tfjs hook table sends outputs to
    ``src/app/web_models`` and holds ``hook_table`` (TOML lines: models, options)."""
    (root / "src" / "app").mkdir(parents=True, exist_ok=True)
    (root / "src" / "app" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["hatchling", "hatch-tfjs"]\n'
        'build-backend = "hatchling.build"\n\n'
        "[project]\n"
        'name = "app"\n'
        'version = "0.1.0"\n\n'
        "[tool.hatch.build.targets.wheel]\n"
        'packages = ["src/app"]\n\n'
        "[tool.hatch.build.hooks.tfjs]\n"
        'output-dir = "src/app/web_models"\n' + hook_table
    )
    return root
