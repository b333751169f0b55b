"""The hatchling build hook ``tfjs``: a thin shell around the configuration, conversion and bundling stages.

Hatchling imports this module just to ask for dependencies, so it imports nothing heavy: TensorFlow is only ever
imported inside the conversion worker processes.
"""

from __future__ import annotations

import shutil
from functools import cached_property
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

from hatch_tfjs.config import DEFAULT_TABLE, HookSettings, load_settings
from hatch_tfjs.errors import HatchTfjsError
from hatch_tfjs.describe import human_bytes
from hatch_tfjs.plan import env_flag
from hatch_tfjs.project import wheel_packages


def describe_result(result: Any) -> str:
    """One model's build message: where it went, its size, and what quantization did to its weights."""
    message = (
        f"tfjs: {result.name}: {result.format} model -> {result.output}/ "
        f"({len(result.files) - 1} shard{'s' if len(result.files) != 2 else ''}, "
        f"{human_bytes(result.total_bytes)}, {result.seconds:.1f} s)"
    )
    quantized = getattr(result, "quantized_weights", 0)
    if quantized:
        message += (
            f"; quantized {quantized} of {result.weight_count} weight{'s' if result.weight_count != 1 else ''}: "
            f"weights {human_bytes(result.weight_bytes_before)} -> {human_bytes(result.weight_bytes)}, "
            f"largest absolute weight error {result.max_abs_error:.3g} (in {result.max_error_weight})"
        )
    return message


class TfjsBuildHook(BuildHookInterface):
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
        return load_settings(
            self.root,
            self.config,
            table=self._table,
            wheel_packages=self.packages,
            source=str(Path(self.root) / "pyproject.toml"),
        )

    def _settings_or_abort(self) -> HookSettings:
        try:
            return self.settings
        except HatchTfjsError as exc:
            self.app.abort(str(exc))
            raise  # abort exits; this keeps type checkers honest

    # --- hatchling interface -------------------------------------------------------------------------------------

    def dependencies(self) -> list[str]:
        """TensorFlow only when a model must be converted and its conversion needs it (hatchling asks this in the
        isolated build environment before installing anything, so a rebuild of fresh models installs no TensorFlow)."""
        if env_flag("HATCH_TFJS_SKIP"):
            return []
        try:
            settings = self.settings
        except HatchTfjsError:
            return []  # initialize() reports the problems with full context
        from hatch_tfjs.plan import plan_models  # noqa: PLC0415 - hashing is only needed here

        stale = [plan.spec for plan in plan_models(settings.models) if not plan.fresh]
        return [settings.tensorflow_requirement] if any(spec.needs_tensorflow for spec in stale) else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        settings = self._settings_or_abort()
        if not settings.models:
            self.app.display_warning("tfjs: no models configured; add [tool.hatch.build.hooks.tfjs.models.<name>] or discover")
            return
        # Outputs ship as artifacts on every run (sdist, wheel, wheel from sdist), also when git ignores them.
        artifacts = build_data.setdefault("artifacts", [])
        artifacts.extend(f"/{spec.output_rel}" for spec in settings.models)

        if env_flag("HATCH_TFJS_SKIP"):
            self._use_existing(settings)
            self._write_index(settings, artifacts)
            return

        from hatch_tfjs.lock import project_lock

        def waiting() -> None:
            self.app.display_waiting("tfjs: another build of this project is converting models; waiting for it")

        with project_lock(settings.root, on_wait=waiting):
            self._convert_stale(settings)
            self._write_index(settings, artifacts)

    def _write_index(self, settings: HookSettings, artifacts: list[str]) -> None:
        """``<output-dir>/index.json`` for ``hatch_tfjs.runtime`` (see index.py), shipped like the model outputs."""
        from hatch_tfjs.index import write_index_for_build

        try:
            index, message = write_index_for_build(settings, self.packages)
        except HatchTfjsError as exc:
            self.app.abort(f"tfjs: {exc}")
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
            self.app.abort(
                f"tfjs: HATCH_TFJS_SKIP is set but {len(missing)} model output{'s are' if len(missing) != 1 else ' is'} "
                f"missing: {listing}; build once without HATCH_TFJS_SKIP"
            )
        self.app.display_info(f"tfjs: HATCH_TFJS_SKIP is set; shipping the {len(settings.models)} existing model outputs")

    def _convert_stale(self, settings: HookSettings) -> None:
        from hatch_tfjs.plan import plan_models

        plans = plan_models(settings.models)
        unconvertible = [p for p in plans if not p.fresh and not p.spec.source.exists()]
        if unconvertible:
            names = ", ".join(f"'{p.spec.name}' ({p.spec.source_rel})" for p in unconvertible)
            self.app.abort(f"tfjs: source missing and no usable output shipped for: {names}")
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
            )
        except HatchTfjsError as exc:
            self.app.abort(f"tfjs: {exc}")
            raise
        self.app.display_success(f"tfjs: {count} model{'s' if count != 1 else ''} converted")

    def clean(self, versions: list[str]) -> None:
        try:
            settings = self.settings
        except HatchTfjsError:
            return
        for spec in settings.models:
            if spec.output.is_dir():
                shutil.rmtree(spec.output)
                self.app.display_info(f"tfjs: removed {spec.output_rel}/")
        from hatch_tfjs.index import INDEX_NAME, index_directory

        index_dir = index_directory(settings.output_dir, [s.output for s in settings.models], settings.root, None)
        if index_dir is not None and (index_dir / INDEX_NAME).is_file():
            (index_dir / INDEX_NAME).unlink()
            self.app.display_info(f"tfjs: removed {(index_dir / INDEX_NAME).relative_to(settings.root).as_posix()}")
