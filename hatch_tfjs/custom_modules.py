"""``custom-modules``: the user's own modules that register the custom classes a Keras file uses.

Keras loads a custom class only from its registry (``@keras.saving.register_keras_serializable``), which the user's
module fills when it is imported. The modules a model names are imported here, in the TensorFlow worker, just before
Keras loads the file: only modules the configuration names explicitly (never one a file's config names), and only
from the project's own source tree (``src/`` or the project root; for ``hatch-tfjs convert``, the working
directory's), whose directory stays on ``sys.path`` for the
worker's life so that the module's own imports of its package work.
"""

from __future__ import annotations

import importlib
import sys
from importlib.machinery import PathFinder
from pathlib import Path

from hatch_tfjs.config import ModelSpec
from hatch_tfjs.errors import ModelReadError

SOURCE_DIRS = ("src", ".")  # where a project keeps its packages, relative to its root, in the order searched


def import_custom_modules(spec: ModelSpec) -> None:
    """Import every module of ``spec``'s ``custom-modules`` from the project's source tree; raise
    :class:`ModelReadError` naming the module, the option and the fix when one cannot be."""
    for module in spec.options.layers.custom_modules:
        _import(spec, module)


def _where(spec: ModelSpec) -> str:
    return spec.origins.get("custom-modules", spec.naming.key(spec.name, "custom-modules"))


def _import(spec: ModelSpec, module: str) -> None:
    top = module.split(".", maxsplit=1)[0]
    root = spec.modules_root or spec.root
    directory = next((root / d for d in SOURCE_DIRS if PathFinder.find_spec(top, [str(root / d)]) is not None), None)
    prefix = f"model '{spec.name}' ({spec.source_rel}): custom module '{module}' (set by {_where(spec)})"
    if directory is None and spec.modules_root is not None:
        raise ModelReadError(
            f"{prefix}: package '{top}' is not in the working directory's source tree (looked in {root / 'src'} "
            f"and {root}); run the command from the project that holds it, e.g. the one that defines the model's "
            "custom layers"
        )
    if directory is None:
        raise ModelReadError(
            f"{prefix}: package '{top}' is not in the project's source tree (looked in src/ and the project root); "
            "name a module of this project, e.g. the one that defines the model's custom layers"
        )
    directory = directory.resolve()
    loaded = sys.modules.get(top)
    origin = getattr(loaded, "__file__", None) if loaded is not None else None
    if origin is not None and not Path(origin).resolve().is_relative_to(directory):
        raise ModelReadError(
            f"{prefix}: a package '{top}' from {origin} is already imported, not the project's one in {directory}; "
            "rename the project's package or uninstall the other one from the build environment"
        )
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    try:
        importlib.import_module(module)
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelReadError(
            f"{prefix}: importing it failed: {type(exc).__name__}: {reason}; fix the module (the build imports it "
            "in the TensorFlow worker before Keras loads the file) or remove it from custom-modules"
        ) from exc
