"""A project's hook configuration as the build hook sees it, for the command line (``check``, ``list``).

The table comes from hatchling's own wheel-target configuration (so ``[tool.hatch.build.targets.wheel.hooks.tfjs]``
replaces ``[tool.hatch.build.hooks.tfjs]`` exactly as in a build, and ``hatch.toml`` counts), and the wheel's packages
are computed as the hook computes them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatch_tfjs.config import DEFAULT_TABLE, HookSettings, load_settings
from hatch_tfjs.errors import HatchTfjsError

if TYPE_CHECKING:
    from hatch_tfjs.orphans import Orphan

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
    near_misses: tuple[NearMiss, ...] = ()  # tables meant for the hook that hatchling never hands it


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


def hook_tables(pyproject: dict[str, Any]) -> dict[str, Any]:
    """Every tfjs hook table of ``pyproject``, by TOML path: the build-wide one and each target's own."""
    build = pyproject.get("tool", {}).get("hatch", {}).get("build", {})
    tables = {DEFAULT_TABLE: build.get("hooks", {}).get("tfjs")}
    for target, target_config in (build.get("targets") or {}).items():
        if isinstance(target_config, dict):
            tables[f"tool.hatch.build.targets.{target}.hooks.tfjs"] = (target_config.get("hooks") or {}).get("tfjs")
    return {name: table for name, table in tables.items() if isinstance(table, dict)}


def paths_of_other_tables(root: Path, pyproject: dict[str, Any], table: str, packages: list[str]) -> list[Path] | None:
    """The outputs and indexes that the project's other tfjs hook tables declare (a build from ``table`` must not take
    them for orphans); None when one of those tables is invalid, so that what it declares cannot be told."""
    from hatch_tfjs.build import declared_paths

    paths: list[Path] = []
    for name, config in hook_tables(pyproject).items():
        if name == table:
            continue
        try:
            settings = load_settings(root, config, table=name, wheel_packages=packages, guard_outputs=False)
        except HatchTfjsError:
            return None
        paths += declared_paths(settings, packages)
    return paths


_HOOK_NAME = "tfjs"
_HOOK_ALIASES = frozenset({"hatch-tfjs", "tensorflowjs", "tensorflow-js", "tf-js", "tfjs"})  # "_" folded to "-"
_TABLE_DEPTH = 8  # how deep near_miss_tables looks: [tool.hatch.build.targets.<t>.hooks.tfjs.models] is 7 deep


@dataclass(frozen=True)
class NearMiss:
    """A table that looks meant for this hook but that hatchling never hands it."""

    table: str  # its TOML path
    proper: str  # the hook table it was most likely meant to be
    fatal: bool  # a build hook hatchling looks up by that name and, finding none installed, fails the build

    def __str__(self) -> str:
        return f"[{self.table}] (did you mean [{self.proper}]?)"

    @property
    def consequence(self) -> str:
        if self.fatal:
            return f"hatchling fails every build: no build hook named {self.table.rsplit('.', 1)[-1]!r} is installed"
        return "hatchling does not read it, so its settings are ignored"


def near_miss_tables(pyproject: dict[str, Any]) -> list[NearMiss]:
    """Tables that look meant for this hook but that hatchling never hands it, each with the table it should be. A
    misspelt hook name (``[tool.hatch.build.hooks.tfj]``) makes hatchling fail the build ("Unknown build hook") before
    this hook is loaded; a table at the wrong depth (``[tool.hatch.build.hook.tfjs]``, ``[tool.tfjs]``) is ignored by
    hatchling without a word."""
    found: list[NearMiss] = []
    for path in _table_paths(pyproject, (), _TABLE_DEPTH):
        proper = _proper_table(path)
        table = ".".join(path)
        if proper is not None and proper != table:
            found.append(NearMiss(table, proper, fatal=_is_hook_slot(path)))
    return found


def _is_hook_slot(path: tuple[str, ...]) -> bool:
    """Whether ``path`` is where hatchling looks up a build hook by name (``tool.hatch.build[.targets.T].hooks.X``)."""
    if path[:3] != ("tool", "hatch", "build") or len(path) < 5 or path[-2] != "hooks":
        return False
    return len(path) == 5 or (len(path) == 7 and path[3] == "targets")


def _table_paths(table: dict[str, Any], prefix: tuple[str, ...], depth: int) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in table.items():
        if isinstance(value, dict) and depth > 0:
            paths.append((*prefix, key))
            paths += _table_paths(value, (*prefix, key), depth - 1)
    return paths


def _proper_table(path: tuple[str, ...]) -> str | None:
    """The hook table ``path`` was most likely meant to be, when its last key names this hook (or nearly)."""
    from hatch_tfjs.suggest import closest

    last = path[-1]
    named = last.lower().replace("_", "-") in _HOOK_ALIASES or closest(last, [_HOOK_NAME]) is not None
    if not named or last in ("models", "targets"):
        return None
    if len(path) >= 2 and path[-2] == "models":  # a model named like the hook: [....tfjs.models.tfjs]
        return None
    target = next((path[i + 1] for i, key in enumerate(path[:-1]) if key in ("targets", "target")), None)
    if target is not None:
        return f"tool.hatch.build.targets.{target}.hooks.{_HOOK_NAME}"
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
        found = "".join(f"; found {miss}" for miss in near_miss_tables(data))
        raise HatchTfjsError(
            f"{pyproject}: no tfjs build hook configured{found}; add a [{DEFAULT_TABLE}] table with "
            '[tool.hatch.build.hooks.tfjs.models.<name>] source = "models/<name>.keras"'
        )
    table = hook_table(data, "wheel")
    settings = load_settings(root, hook_config["tfjs"], table=table, wheel_packages=packages, source=str(pyproject))
    return Project(
        root=settings.root,
        pyproject=pyproject,
        table=table,
        packages=packages,
        settings=settings,
        near_misses=tuple(near_miss_tables(data)),
    )


def project_orphans(project: Project) -> list[Orphan]:
    """What earlier builds of ``project`` wrote that no model declares any more (see orphans.py); the next build
    removes them. Read-only."""
    from hatch_tfjs.build import orphaned_outputs

    others = paths_of_other_tables(project.root, _read_toml(project.pyproject), project.table, project.packages)
    if others is None:
        return []
    return orphaned_outputs(project.settings, project.packages, others)[0]
