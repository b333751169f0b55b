"""The hatchling build hook ``tfjs``: a thin shell around build.py, which does the work and words the messages.

Hatchling imports this module just to ask for dependencies, so it imports nothing heavy: TensorFlow is only ever
imported inside the conversion worker processes.
"""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

from hatch_tfjs.build import build_models, build_requirements, clean_outputs, hold_project_lock, model_artifacts
from hatch_tfjs.config import HookSettings, load_settings
from hatch_tfjs.env import env_flag
from hatch_tfjs.errors import HatchTfjsError
from hatch_tfjs.project import (
    hook_table,
    near_miss_tables,
    paths_of_other_tables,
    wheel_packages,
    wheel_selection_problem,
)
from hatch_tfjs.summary import build_summary

if TYPE_CHECKING:
    from hatch_tfjs.convert import ConversionResult

PREFIX = "tfjs: "  # on every line the hook shows


def describe_result(result: ConversionResult) -> str:
    """One converted model's line in the build output (the summary ``hatch-tfjs convert`` prints)."""
    return PREFIX + build_summary(result)


class _HatchlingReporter:
    """build.py's messages through hatchling's display, ``tfjs:`` first; debug lines at verbosity 1."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def info(self, message: str) -> None:
        self.app.display_info(PREFIX + message)

    def waiting(self, message: str) -> None:
        self.app.display_waiting(PREFIX + message)

    def warning(self, message: str) -> None:
        self.app.display_warning(PREFIX + message)

    def success(self, message: str) -> None:
        self.app.display_success(PREFIX + message)

    def debug(self, message: str) -> None:
        self.app.display_debug(PREFIX + message, level=1)


class TfjsBuildHook(BuildHookInterface[BuilderConfig]):
    PLUGIN_NAME = "tfjs"

    @cached_property
    def packages(self) -> list[str]:
        """The top-level directories the wheel ships (also while the sdist is being built)."""
        return wheel_packages(self.root, self.metadata)

    @cached_property
    def settings(self) -> HookSettings:
        return self._load_settings(guard_outputs=True)

    @cached_property
    def reporter(self) -> _HatchlingReporter:
        return _HatchlingReporter(self.app)

    def _load_settings(self, *, guard_outputs: bool) -> HookSettings:
        return load_settings(
            self.root,
            self.config,
            table=hook_table(getattr(self.metadata, "config", {}) or {}, self.target_name),
            wheel_packages=self.packages,
            source=str(Path(self.root) / "pyproject.toml"),
            guard_outputs=guard_outputs,
        )

    def _abort(self, message: str) -> None:
        """Fail the build with one message, ``tfjs:`` on each of its lines."""
        self._release_lock()
        self.app.abort("\n".join(PREFIX + line if line.strip() else line for line in message.splitlines()))

    # --- hatchling interface -------------------------------------------------------------------------------------

    def dependencies(self) -> list[str]:
        """What converting the stale models needs (see build.build_requirements). Hatchling asks this in the isolated
        build environment before installing anything, so a rebuild of fresh models installs nothing. Read-only: it
        runs while other builds of the project may be converting."""
        if env_flag("HATCH_TFJS_SKIP"):
            return []
        try:
            return build_requirements(self.settings, clean=env_flag("HATCH_BUILD_CLEAN"))
        except HatchTfjsError:
            return []  # initialize() reports the problems with full context

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        try:
            settings = self.settings
        except HatchTfjsError as exc:
            self._abort(str(exc))
            raise  # abort exits; this keeps type checkers honest
        for miss in near_miss_tables(getattr(self.metadata, "config", {}) or {}):
            self.reporter.warning(f"{miss}: {miss.consequence}; rename it")
        if not settings.models:
            self.reporter.warning(f"no models configured; add [{settings.table}.models.<name>] or discover")
            return
        if self.target_name == "wheel":
            self._refuse_a_wheel_without_code()
        artifacts = build_data.setdefault("artifacts", [])
        artifacts.extend(model_artifacts(settings))
        # Held until finalize(): no other build of the project changes the outputs while hatchling packs them.
        hold_project_lock(settings, self.reporter)
        self._locked_root: Path | None = settings.root
        try:
            outcome = build_models(
                settings,
                self.packages,
                self.reporter,
                skip=env_flag("HATCH_TFJS_SKIP"),
                declared_elsewhere=self._declared_elsewhere(settings),
            )
        except HatchTfjsError as exc:
            self._abort(str(exc))
            raise
        except BaseException:
            self._release_lock()
            raise
        if outcome.index is not None:
            artifacts.append(f"/{outcome.index.as_posix()}")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        self._release_lock()

    def clean(self, versions: list[str]) -> None:
        """``hatch clean``: remove what hatch-tfjs wrote (see build.clean_outputs)."""
        try:
            settings = self._load_settings(guard_outputs=False)  # cleaning judges each output itself
        except HatchTfjsError:
            return
        clean_outputs(
            settings,
            self.reporter,
            before_build=not _clean_only(),
            packages=self.packages,
            declared_elsewhere=self._declared_elsewhere(settings),
        )

    # --- helpers -------------------------------------------------------------------------------------------------

    def _refuse_a_wheel_without_code(self) -> None:
        problem = wheel_selection_problem(self.root, self.metadata)
        if problem is not None:
            self._abort(
                "the wheel would ship the converted models but no Python code: hatchling cannot tell which "
                f"package to ship, and says:\n{problem}"
            )

    def _declared_elsewhere(self, settings: HookSettings) -> list[Path] | None:
        """What the project's other tfjs hook tables declare (see project.paths_of_other_tables)."""
        pyproject = getattr(self.metadata, "config", {}) or {}
        return paths_of_other_tables(settings.root, pyproject, settings.table, self.packages)

    def _release_lock(self) -> None:
        root = getattr(self, "_locked_root", None)
        if root is not None:
            from hatch_tfjs import lock

            self._locked_root = None
            lock.release(root)


def _clean_only() -> bool:
    """Whether this clean is all that runs (``hatch clean`` runs ``hatchling build --clean-only``) rather than the
    start of a build (``hatch build -c``, ``HATCH_BUILD_CLEAN``): hatchling does not tell its hooks."""
    return "--clean-only" in sys.argv
