"""Names that stay where they are put: model names (each names a directory and a URL segment) and the file names of a
model folder (model.json and its weight shards).

One rule for the configuration, ``hatch-tfjs inspect``, the runtime API and the serving helpers, so that nothing a
file says (an index entry, a weights manifest, a page's request) can reach outside a model's folder. Standard library
only: the runtime side imports it.
"""

from __future__ import annotations

import re

__all__ = ["MODEL_NAME_PATTERN", "file_name_problem", "model_name_problem"]

MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def model_name_problem(value: object) -> str | None:
    """Why ``value`` cannot be a model name (None when it can): letters, digits, ``_``, ``-``, ``.``, not first."""
    if not isinstance(value, str):
        return f"is {type(value).__name__} {value!r}, not a string"
    if not MODEL_NAME_PATTERN.match(value):
        return f"{value!r} is not a plain name (letters, digits, '_', '-' or '.', starting with a letter or digit)"
    return None


def file_name_problem(value: object) -> str | None:
    """Why ``value`` is not the plain name of a file inside a model folder (None when it is): no directory part, no
    ``..``, not absolute, not a URL, not hidden (the folder's stamp is not a model file)."""
    if not isinstance(value, str):
        return f"is {type(value).__name__} {value!r}, not a file name"
    if not value or value in (".", ".."):
        return f"{value!r} is not a file name"
    if any(c in value for c in "/\\:\0") or any(ord(c) < 32 for c in value):
        return f"{value!r} is not a plain file name in the model's folder (no '/', '\\', ':', '..' or absolute paths)"
    if value.startswith("."):
        return f"{value!r} is a hidden file, not a model file"
    return None
