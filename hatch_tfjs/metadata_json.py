"""What a model's metadata may hold: JSON that every reader takes as it is written (model.json's
``userDefinedMetadata``, the package index, the browser), within limits a build can afford.

- values: strings of real text (no lone UTF-16 surrogates: UTF-8 cannot store them), finite numbers that a
  JavaScript number holds (no ``NaN``, ``Infinity``, ``1e400``), booleans, null, arrays and objects with string keys;
- nesting: at most :data:`MAX_DEPTH` levels of arrays and objects;
- size: at most :data:`MAX_BYTES` as JSON (a ``metadata-file`` is not read beyond that).

Metadata is for labels and small settings; larger data ships as a file of its own in the package. Standard library
only (the hook reads metadata files while hatchling asks it for dependencies).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

MAX_DEPTH = 32  # levels of arrays and objects
MAX_BYTES = 4 * 1024 * 1024  # as JSON (a metadata-file: its size on disk)
_LARGEST = 2**1024  # JavaScript numbers (64-bit floats) stop below it: larger integers become Infinity
_SMALL_DATA = "metadata is for labels and small settings: ship larger data as a file of its own in the package"
DEEP = f"nests deeper than {MAX_DEPTH} levels of arrays and objects; {_SMALL_DATA}"


class MetadataFileError(ValueError):
    """A metadata file that cannot be read as a JSON object; the message follows the file's name."""


def _text_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"{text[:40]!r} holds a lone surrogate (\\u{ord(text[exc.start]):04x}), which is not text: UTF-8 cannot "
            "store it; remove it"
        )
    return None


def _scalar_problem(value: Any) -> str | None:
    """Why a value that is not an array or object cannot be metadata (None when it can)."""
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if abs(value) < _LARGEST:
            return None
        return f"an integer of {value.bit_length()} bits is too large for a JavaScript number; use a string"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value!r} is not a number JSON can hold; use a string or remove it"
    kind = {"datetime": "date-time", "date": "date", "time": "time"}.get(type(value).__name__)
    if kind:
        text = value.isoformat()
        return f'a TOML {kind} ({text}) cannot be stored in JSON metadata; quote it: "{text}"'
    return f"{type(value).__name__} value {value!r} cannot be stored in JSON metadata"


def json_problem(value: Any, path: str, depth: int = 0) -> tuple[str, str] | None:
    """``(path, reason)`` of the first part of ``value`` that is not metadata (see the module docstring)."""
    if not isinstance(value, (list, dict)):
        problem = _scalar_problem(value)
        return (path, problem) if problem else None
    if depth >= MAX_DEPTH:
        return path, DEEP
    if isinstance(value, list):
        items = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    else:
        items = []
        for name, item in value.items():
            if not isinstance(name, str):
                return path, f"key {name!r} is not a string"
            if _text_problem(name):
                return path, f"key {_text_problem(name)}"
            items.append((f"{path}.{name}", item))
    for where, item in items:
        found = json_problem(item, where, depth + 1)
        if found:
            return found
    return None


def size_problem(value: Any) -> str | None:
    """Why ``value`` (already free of :func:`json_problem`\\ s) is too large (None when it is not)."""
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    if size > MAX_BYTES:
        return f"is {size} bytes as JSON, more than {MAX_BYTES} ({MAX_BYTES // 2**20} MiB); {_SMALL_DATA}"
    return None


def _no_constant(name: str) -> Any:
    raise MetadataFileError(f"is not valid JSON: {name} is not valid JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise MetadataFileError(f"is not valid metadata: {text} is too large for a JSON number; write it as a string")
    return number


def load_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, checked as metadata; :class:`MetadataFileError` says what is wrong."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise MetadataFileError(f"is {size} bytes, more than {MAX_BYTES} ({MAX_BYTES // 2**20} MiB); {_SMALL_DATA}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise MetadataFileError(DEEP) from None
    except UnicodeDecodeError as exc:
        raise MetadataFileError(f"is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 JSON") from exc
    except json.JSONDecodeError as exc:
        raise MetadataFileError(f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    except MetadataFileError:
        raise
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise MetadataFileError(f"is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
            type(data), "null"
        )
        raise MetadataFileError(f'holds {kind}, not a JSON object; wrap it in an object, e.g. {{"labels": [...]}}')
    found = json_problem(data, "")
    if found:
        raise MetadataFileError(f"at {found[0].lstrip('.') or 'the top'}: {found[1]}")
    return data
