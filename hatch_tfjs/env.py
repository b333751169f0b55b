"""Switches read from the environment (``HATCH_TFJS_FORCE``, ``HATCH_TFJS_SKIP``), spelled the same way everywhere."""

from __future__ import annotations

import os


def env_flag(name: str) -> bool:
    """Whether environment variable ``name`` is set to a true value: 1, true, yes or on (any case, spaces ignored)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
