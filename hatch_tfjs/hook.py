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


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"  # pragma: no cover


def describe_result(result: Any) -> str:
    """One model's build message: where it went, its size, and what quantization did to its weights."""
    message = (
        f"tfjs: {result.name}: {result.format} model -> {result.output}/ "
        f"({len(result.files) - 1} shard{'s' if len(result.files) != 2 else ''}, "
        f"{_human_bytes(result.total_bytes)}, {result.seconds:.1f} s)"
    )
    quantized = getattr(result, "quantized_weights", 0)
    if quantized:
        message += (
            f"; quantized {quantized} of {result.weight_count} weight{'s' if result.weight_count != 1 else ''}: "
            f"weights {_human_bytes(result.weight_bytes_before)} -> {_human_bytes(result.weight_bytes)}, "
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

    def _wheel_packages(self) -> list[str]:
        """The top-level directories the wheel ships, whichever target is being built."""
        from hatchling.builders.wheel import WheelBuilder

        try:
            config = WheelBuilder(self.root, metadata=self.metadata).config
            roots = list(config.packages)
            roots += [p for p in config.only_include if (Path(self.root) / p).is_dir()]
        except Exception:  # noqa: BLE001 - the wheel builder reports its own configuration errors
            return []
        return sorted({r.strip("/") for r in roots})

    @cached_property
    def settings(self) -> HookSettings:
        return load_settings(
            self.root,
            self.config,
            table=self._table,
            wheel_packages=self._wheel_packages(),
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
        try:
            settings = self.settings
        except HatchTfjsError:
            return []  # initialize() reports the problems with full context
        return [settings.tensorflow_requirement] if settings.models else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        settings = self._settings_or_abort()
        if not settings.models:
            self.app.display_warning("tfjs: no models configured; add [tool.hatch.build.hooks.tfjs.models.<name>] or discover")
            return

        from hatch_tfjs.workers import convert_in_workers

        count = len(settings.models)
        self.app.display_waiting(f"tfjs: converting {count} model{'s' if count != 1 else ''} to TensorFlow.js")

        def report(result: Any) -> None:
            self.app.display_info(describe_result(result))
            for note in result.notes:
                self.app.display_warning(f"tfjs: {result.name}: {note}")

        try:
            convert_in_workers(settings.models, jobs=settings.jobs, on_result=report)
        except HatchTfjsError as exc:
            self.app.abort(f"tfjs: {exc}")
            raise

        artifacts = build_data.setdefault("artifacts", [])
        for spec in settings.models:
            artifacts.append(f"/{spec.output_rel}")
        self.app.display_success(f"tfjs: {count} model{'s' if count != 1 else ''} ready")

    def clean(self, versions: list[str]) -> None:
        try:
            settings = self.settings
        except HatchTfjsError:
            return
        for spec in settings.models:
            if spec.output.is_dir():
                shutil.rmtree(spec.output)
                self.app.display_info(f"tfjs: removed {spec.output_rel}/")
