"""What the environment provides, spelled the same way everywhere: switches (``HATCH_TFJS_FORCE``,
``HATCH_TFJS_SKIP``) and the packages a conversion may need."""

from __future__ import annotations

import importlib.util
import os


def env_flag(name: str) -> bool:
    """Whether environment variable ``name`` is set to a true value: 1, true, yes or on (any case, spaces ignored)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def importable(name: str) -> bool:
    """Whether the top-level package ``name`` is importable here (found, not imported)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def converter_importable() -> bool:
    """Whether numpy and h5py, which every conversion uses, are importable here."""
    return all(importable(name) for name in ("numpy", "h5py"))


def tensorflow_importable() -> bool:
    """Whether TensorFlow is importable here, whichever distribution provides it (tensorflow, tensorflow-cpu,
    tensorflow-macos, ...)."""
    return importable("tensorflow")
