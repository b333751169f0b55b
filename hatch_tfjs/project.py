"""A project's hook configuration as the build hook sees it, for the command line (``check``, ``list``).

The table comes from hatchling's own wheel-target configuration (so ``[tool.hatch.build.targets.wheel.hooks.tfjs]``
replaces ``[tool.hatch.build.hooks.tfjs]`` exactly as in a build, and ``hatch.toml`` counts), and the wheel's packages
are computed as the hook computes them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatch_tfjs.config import DEFAULT_TABLE, HookSettings, load_settings
from hatch_tfjs.errors import HatchTfjsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Project:
    root: Path
    pyproject: Path
    table: str
    packages: list[str]
    settings: HookSettings


def wheel_packages(root: str | Path, metadata: Any = None) -> list[str]:
    """The top-level directories (relative to ``root``) that the wheel ships, as hatchling's wheel target selects
    them, whichever target is being built; empty when hatchling cannot tell (see :func:`wheel_selection_problem`)."""
    from hatchling.builders.wheel import WheelBuilder

    root = Path(root)
    try:
        config = WheelBuilder(str(root), metadata=metadata).config
        return sorted(
            {p.strip("/") for p in config.packages}
            | {str(rel).strip("/") for rel in config.only_include.values() if (root / rel).is_dir()}
        )
    except Exception:  # noqa: BLE001 - hatchling reports its own wheel configuration errors when it builds
        return []


def wheel_selection_problem(root: str | Path, metadata: Any = None) -> str | None:
    """hatchling's own message when it cannot tell which files the wheel ships, or None.

    Without this hook hatchling refuses such a build with that message; with it, the model outputs (build
    artifacts) would make hatchling ship a wheel of models and no Python code, silently."""
    from hatchling.builders.wheel import WheelBuilder

    try:
        WheelBuilder(str(root), metadata=metadata).config.default_file_selection_options  # noqa: B018 - raises
    except ValueError as exc:
        return str(exc)
    except Exception:  # noqa: BLE001 - other configuration errors are hatchling's to report
        return None
    return None


def hook_table(pyproject: dict[str, Any], target: str) -> str:
    """The TOML path of the table hatchling takes this hook's configuration from when it builds ``target``: the
    target's own ``hooks.tfjs`` table replaces the build-wide one (it is not merged with it)."""
    targets = pyproject.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
    if "tfjs" in targets.get(target, {}).get("hooks", {}):
        return f"tool.hatch.build.targets.{target}.hooks.tfjs"
    return DEFAULT_TABLE


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise HatchTfjsError(f"{path}: invalid TOML: {exc}") from exc
    except OSError as exc:
        raise HatchTfjsError(f"{path}: cannot be read: {exc.strerror}") from exc


def load_project(path: str | Path = ".") -> Project:
    """Validate the tfjs hook configuration of the project at ``path`` (its directory or its pyproject.toml)."""
    path = Path(path)
    root = path.parent if path.name == "pyproject.toml" else path
    pyproject = root / "pyproject.toml"
    if not root.is_dir():
        raise HatchTfjsError(f"{root}: no such directory; pass the directory that holds pyproject.toml")
    if not pyproject.is_file():
        raise HatchTfjsError(
            f"{root}: no pyproject.toml here; pass the project directory (the one with pyproject.toml)"
        )
    data = _read_toml(pyproject)

    from hatchling.builders.wheel import WheelBuilder

    try:
        builder = WheelBuilder(str(root.resolve()))
        hook_config = builder.config.hook_config
    except Exception as exc:
        raise HatchTfjsError(f"{pyproject}: hatchling cannot read the build hook configuration: {exc}") from exc
    packages = wheel_packages(root.resolve())
    if "tfjs" not in hook_config:
        raise HatchTfjsError(
            f"{pyproject}: no tfjs build hook configured; add a [{DEFAULT_TABLE}] table with "
            '[tool.hatch.build.hooks.tfjs.models.<name>] source = "models/<name>.keras"'
        )
    table = hook_table(data, "wheel")
    settings = load_settings(root, hook_config["tfjs"], table=table, wheel_packages=packages, source=str(pyproject))
    return Project(root=settings.root, pyproject=pyproject, table=table, packages=packages, settings=settings)
