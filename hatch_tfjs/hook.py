"""The hatchling build hook ``tfjs``: a thin shell around the configuration, conversion and bundling stages.

Hatchling imports this module just to ask for dependencies, so it imports nothing heavy: TensorFlow is only ever
imported inside the conversion worker processes.
"""

from __future__ import annotations

import importlib.util
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

from hatch_tfjs.config import DEFAULT_TABLE, HookSettings, ModelSpec, load_settings
from hatch_tfjs.env import env_flag
from hatch_tfjs.errors import HatchTfjsError
from hatch_tfjs.project import wheel_packages, wheel_selection_problem


def describe_result(result: Any) -> str:
    """One model's build message (the same summary ``hatch-tfjs convert`` prints)."""
    from hatch_tfjs.summary import result_summary

    return "tfjs: " + result_summary(result, f"{result.output}/")


# What the conversion itself needs; asked for by dependencies() when a model must be converted (see there).
CONVERTER_REQUIREMENTS = ("numpy>=1.23", "h5py>=3.8")


def converter_importable() -> bool:
    """Whether numpy and h5py, which every conversion uses, are importable here."""
    return all(_importable(name) for name in ("numpy", "h5py"))


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def tensorflow_importable() -> bool:
    """Whether TensorFlow is importable here, whichever distribution provides it (tensorflow, tensorflow-cpu,
    tensorflow-macos, ...): then the hook asks for nothing."""
    return _importable("tensorflow")


def _route_or_error(spec: ModelSpec) -> Any:
    """The route of ``spec`` (see route.py), or the error reading its source raised."""
    from hatch_tfjs.route import route_model

    try:
        return route_model(spec)
    except HatchTfjsError as exc:
        return exc


class TfjsBuildHook(BuildHookInterface[BuilderConfig]):
    PLUGIN_NAME = "tfjs"

    # --- configuration -------------------------------------------------------------------------------------------

    @property
    def _table(self) -> str:
        """The TOML path of the table this hook's configuration came from."""
        pyproject = getattr(self.metadata, "config", {}) or {}
        targets = pyproject.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
        if "tfjs" in targets.get(self.target_name, {}).get("hooks", {}):
            return f"tool.hatch.build.targets.{self.target_name}.hooks.tfjs"
        return DEFAULT_TABLE

    @cached_property
    def packages(self) -> list[str]:
        """The top-level directories the wheel ships (also while the sdist is being built)."""
        return wheel_packages(self.root, self.metadata)

    @cached_property
    def settings(self) -> HookSettings:
        return self._load_settings(guard_outputs=True)

    def _load_settings(self, *, guard_outputs: bool) -> HookSettings:
        return load_settings(
            self.root,
            self.config,
            table=self._table,
            wheel_packages=self.packages,
            source=str(Path(self.root) / "pyproject.toml"),
            guard_outputs=guard_outputs,
        )

    def _abort(self, message: str) -> None:
        """Fail the build with one message, ``tfjs:`` on each of its lines."""
        self._release_lock()
        self.app.abort("\n".join(f"tfjs: {line}" if line.strip() else line for line in message.splitlines()))

    def _settings_or_abort(self) -> HookSettings:
        try:
            return self.settings
        except HatchTfjsError as exc:
            self._abort(str(exc))
            raise  # abort exits; this keeps type checkers honest

    # --- hatchling interface -------------------------------------------------------------------------------------

    def dependencies(self) -> list[str]:
        """What converting the stale models needs that the build environment lacks: numpy and h5py (hatch-tfjs
        installs none of its own, so an app that only serves its models pulls nothing), and TensorFlow when a stale
        model needs it and it is not importable already (any distribution). Hatchling asks this in the isolated build
        environment before installing anything, so a rebuild of fresh models installs nothing. Read-only: it runs
        while other builds of the project may be converting."""
        if env_flag("HATCH_TFJS_SKIP"):
            return []
        try:
            settings = self.settings
        except HatchTfjsError:
            return []  # initialize() reports the problems with full context
        from hatch_tfjs.plan import plan_models

        stale = [plan.spec for plan in plan_models(settings.models) if not plan.fresh and plan.spec.source.exists()]
        if not stale:
            return []
        requirements = [] if converter_importable() else list(CONVERTER_REQUIREMENTS)
        if not tensorflow_importable() and any(self._may_need_tensorflow(spec) for spec in stale):
            requirements.append(settings.tensorflow_requirement)
        return requirements

    @staticmethod
    def _may_need_tensorflow(spec: ModelSpec) -> bool:
        """Whether converting ``spec`` needs TensorFlow; True when that cannot be told yet (the safe answer)."""
        from hatch_tfjs.route import needs_tensorflow, route_hint

        if spec.reader == "keras":
            return True
        if not converter_importable():
            hint = route_hint(spec)
            return hint is None or hint.needs_tensorflow
        try:
            return needs_tensorflow(spec)
        except HatchTfjsError:
            return False  # a model that cannot be read: initialize() reports it

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        settings = self._settings_or_abort()
        if not settings.models:
            self.app.display_warning(
                "tfjs: no models configured; add [tool.hatch.build.hooks.tfjs.models.<name>] or discover"
            )
            return
        if self.target_name == "wheel":
            problem = wheel_selection_problem(self.root, self.metadata)
            if problem is not None:
                self._abort(
                    "the wheel would ship the converted models but no Python code: hatchling cannot tell which "
                    f"package to ship, and says:\n{problem}"
                )
        # Outputs ship as artifacts on every run (sdist, wheel, wheel from sdist), also when git ignores them.
        artifacts = build_data.setdefault("artifacts", [])
        artifacts.extend(f"/{spec.output_rel}" for spec in settings.models)

        # Held until finalize(): no other build of the project changes the outputs while hatchling packs them.
        self._acquire_lock(settings)
        try:
            self._recover(settings)
            if env_flag("HATCH_TFJS_SKIP"):
                self._use_existing(settings)
            else:
                self._convert_stale(settings)
            self._write_index(settings, artifacts)
        except BaseException:
            self._release_lock()
            raise

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        self._release_lock()

    # --- the project lock ----------------------------------------------------------------------------------------

    def _acquire_lock(self, settings: HookSettings) -> None:
        from hatch_tfjs import lock

        def waiting() -> None:
            self.app.display_waiting("tfjs: another build of this project is converting models; waiting for it")

        lock.acquire(settings.root, on_wait=waiting)
        self._locked_root: Path | None = settings.root

    def _release_lock(self) -> None:
        root = getattr(self, "_locked_root", None)
        if root is not None:
            from hatch_tfjs import lock

            self._locked_root = None
            lock.release(root)

    def _recover(self, settings: HookSettings) -> None:
        """Finish or undo what a killed build left (backup and staging directories), under the lock, before the
        outputs are judged or packed: none of it may reach a wheel or an sdist."""
        from hatch_tfjs.atomic import recover

        for spec in settings.models:
            recover(spec.output)

    # --- stages --------------------------------------------------------------------------------------------------

    def _write_index(self, settings: HookSettings, artifacts: list[str]) -> None:
        """``<output-dir>/index.json`` for ``hatch_tfjs.runtime`` (see index.py), shipped like the model outputs."""
        from hatch_tfjs.index import write_index_for_build

        try:
            index, message = write_index_for_build(settings, self.packages)
        except HatchTfjsError as exc:
            self._abort(str(exc))
            raise
        except OSError as exc:
            self._abort(
                f"cannot write the model index in {exc.filename or settings.output_dir}: {exc.strerror}; "
                "make that folder writable (or free space on its disk) and build again"
            )
            raise
        if index is None:
            self.app.display_warning(f"tfjs: {message}")
            return
        artifacts.append(f"/{index.as_posix()}")
        self.app.display_debug(f"tfjs: {message}", level=1)

    def _use_existing(self, settings: HookSettings) -> None:
        missing = [spec for spec in settings.models if not (spec.output / "model.json").is_file()]
        if missing:
            listing = ", ".join(f"'{spec.name}' ({spec.output_rel}/model.json)" for spec in missing)
            self._abort(
                f"HATCH_TFJS_SKIP is set but {len(missing)} model output{'s are' if len(missing) != 1 else ' is'} "
                f"missing: {listing}; build once without HATCH_TFJS_SKIP"
            )
        self.app.display_info(
            f"tfjs: HATCH_TFJS_SKIP is set; shipping the {len(settings.models)} existing model outputs"
        )

    def _routes(self, stale: list[ModelSpec]) -> dict[str, Any]:
        """The route of each stale model (see route.py): the format an ``auto`` model becomes, and whether converting
        it needs TensorFlow (worked out here without TensorFlow)."""
        outcomes = {spec.name: _route_or_error(spec) for spec in stale}
        failures = [str(outcome) for outcome in outcomes.values() if isinstance(outcome, HatchTfjsError)]
        if failures:
            self._abort("\n".join(failures))
        return outcomes

    def _convert_stale(self, settings: HookSettings) -> None:
        from hatch_tfjs.plan import plan_models

        plans = plan_models(settings.models)
        unconvertible = [p for p in plans if not p.fresh and not p.spec.source.exists()]
        if unconvertible:
            names = ", ".join(f"'{p.spec.name}' ({p.spec.source_rel})" for p in unconvertible)
            self._abort(f"source missing and no usable output shipped for: {names}")
        for plan in plans:
            if plan.fresh:
                self.app.display_debug(f"tfjs: {plan.spec.name}: {plan.reason}, not converted", level=1)
        stale = [plan.spec for plan in plans if not plan.fresh]
        fresh_count = len(plans) - len(stale)
        if not stale:
            self.app.display_info(f"tfjs: {fresh_count} model{'s' if fresh_count != 1 else ''} up to date")
            return

        from hatch_tfjs.workers import convert_in_workers

        count = len(stale)
        self.app.display_waiting(
            f"tfjs: converting {count} model{'s' if count != 1 else ''} to TensorFlow.js"
            + (f" ({fresh_count} up to date)" if fresh_count else "")
        )

        def report(result: Any) -> None:
            self.app.display_info(describe_result(result))
            for note in result.notes:
                self.app.display_warning(f"tfjs: {result.name}: {note}")

        try:
            convert_in_workers(
                stale,
                jobs=settings.jobs,
                on_result=report,
                source_hashes={plan.spec.name: plan.source_hash for plan in plans},
                routes=self._routes(stale),
            )
        except HatchTfjsError as exc:
            detail = getattr(exc, "detail", "")
            if detail:
                self.app.display_debug(f"tfjs: worker detail:\n{detail}", level=1)
            self._abort(str(exc))
            raise
        self.app.display_success(f"tfjs: {count} model{'s' if count != 1 else ''} converted")

    def clean(self, versions: list[str]) -> None:
        """``hatch clean``: remove the outputs hatch-tfjs wrote (never a directory holding anything else), its index,
        and output-dir when that leaves it empty."""
        try:
            settings = self._load_settings(guard_outputs=False)  # cleaning judges each output itself, below
        except HatchTfjsError:
            return
        from hatch_tfjs.atomic import recover
        from hatch_tfjs.index import index_directory
        from hatch_tfjs.lock import project_lock
        from hatch_tfjs.ownership import INDEX_NAME, is_own_index, replace_conflict

        with project_lock(settings.root):
            for spec in settings.models:
                recover(spec.output)
                if not spec.output.is_dir() or spec.output.is_symlink():
                    continue
                conflict = replace_conflict(spec.output)
                if conflict is not None:
                    self.app.display_warning(f"tfjs: kept {spec.output_rel}/: it {conflict}")
                    continue
                shutil.rmtree(spec.output)
                self.app.display_info(f"tfjs: removed {spec.output_rel}/")
            index_dir = index_directory(settings.output_dir, [s.output for s in settings.models], settings.root, None)
            if index_dir is not None and (index_dir / INDEX_NAME).is_file() and is_own_index(index_dir / INDEX_NAME):
                (index_dir / INDEX_NAME).unlink()
                self.app.display_info(f"tfjs: removed {(index_dir / INDEX_NAME).relative_to(settings.root).as_posix()}")
            output_dir = settings.output_dir
            if (
                output_dir is not None
                and output_dir.is_dir()
                and not output_dir.is_symlink()
                and not any(output_dir.iterdir())
            ):
                output_dir.rmdir()
                self.app.display_info(f"tfjs: removed the empty {output_dir.relative_to(settings.root).as_posix()}/")
