"""What ``hatch-tfjs inspect`` was pointed at, as the model folders to describe.

It takes what a user has at hand: a model folder (with ``model.json``), the output dir (with the build's
``index.json``: every model it lists), a project (its directory or ``pyproject.toml``, default ``.``: every model the
hook declares), or a model's name in the project of the current directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hatch_tfjs.errors import HatchTfjsError
from hatch_tfjs.suggest import did_you_mean

_WHAT_TO_GIVE = (
    "pass a model folder (with model.json), the output dir (with index.json), the project directory or a model's name"
)


@dataclass(frozen=True)
class Target:
    """One model folder to describe; ``name`` is the model's name where a project or an index gives one, and
    ``missing`` says why the folder is not there to describe (a model not built yet)."""

    path: Path
    name: str | None = None
    missing: str = ""


def inspect_targets(given: str | None) -> tuple[list[Target], bool]:
    """The model folders ``given`` names, and whether it named several (a project or an output dir: described as a
    list, even when it holds one model)."""
    path = Path(given or ".")
    if (path / "model.json").is_file():
        return [Target(path)], False
    if path.is_dir() and (path / "index.json").is_file():
        return _indexed(path), True
    if (path.is_dir() and (path / "pyproject.toml").is_file()) or (path.name == "pyproject.toml" and path.is_file()):
        return _declared(path), True
    if given and not path.exists() and "/" not in given and Path("pyproject.toml").is_file():
        return [_named(given)], False
    if path.is_dir():
        raise HatchTfjsError(f"{path}: no model.json, index.json or pyproject.toml here; {_WHAT_TO_GIVE}")
    raise HatchTfjsError(f"{given}: no such file or directory, nor a model of a pyproject.toml here; {_WHAT_TO_GIVE}")


def _indexed(output_dir: Path) -> list[Target]:
    """Every model the index lists (its paths are relative to the index)."""
    index_file = output_dir / "index.json"
    try:
        entries = json.loads(index_file.read_text(encoding="utf-8"))["models"]
        return [Target(output_dir / str(entry["path"]), str(entry["name"])) for entry in entries]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise HatchTfjsError(
            f"{index_file}: not an index.json written by hatch-tfjs ({type(exc).__name__}: {exc}); build the "
            "project again, or pass a model folder"
        ) from exc


def _declared(project_path: Path) -> list[Target]:
    """Every model the project's hook table declares, where the build puts it."""
    from hatch_tfjs.project import load_project

    project = load_project(project_path)
    return [
        Target(
            spec.output,
            spec.name,
            "" if (spec.output / "model.json").is_file()
            else f"{spec.output_rel}/ has no model.json yet: build the project (pip install ., hatch build) to "
            "convert it",
        )
        for spec in project.settings.models
    ]


def _named(name: str) -> Target:
    """The model called ``name`` in the project of the current directory."""
    targets = _declared(Path())
    for target in targets:
        if target.name == name:
            return target
    names = [t.name for t in targets if t.name]
    hint = did_you_mean(name, names)
    listed = ", ".join(names) or "none"
    raise HatchTfjsError(
        f"{name}: no such file or directory, and pyproject.toml declares no model {name!r}"
        + (f" ({hint})" if hint else "")
        + f"; its models: {listed}"
    )
