"""The parsers of option values: each takes a TOML value and its key, returns the validated value or adds a problem
and returns None. Standard library only."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from hatch_tfjs import metadata_json
from hatch_tfjs.config.context import Problems, type_name
from hatch_tfjs.options import (
    FORMATS,
    QUANTIZATION_DTYPES,
    READERS,
    QuantizationOptions,
)

# --- per-model options: each may be set on a model or, as a default for every model, on the hook table ------------


def parse_format(value: Any, key: str, problems: Problems) -> str | None:
    if not isinstance(value, str):
        problems.add(key, f'must be a string, one of {", ".join(repr(f) for f in FORMATS)}, not {type_name(value)}')
        return None
    if value not in FORMATS:
        problems.add(key, f'unknown format {value!r}; expected one of {", ".join(repr(f) for f in FORMATS)}')
        return None
    return value


def parse_reader(value: Any, key: str, problems: Problems) -> str | None:
    if not isinstance(value, str) or value not in READERS:
        problem = (
            f"unknown reader {value!r}"
            if isinstance(value, str)
            else f"must be a string, not {problems.shown(value)}"
        )
        problems.add(
            key,
            f'{problem}; expected "h5py" (the default: reads .keras/.h5 without TensorFlow) '
            'or "keras" (loads the model through Keras and TensorFlow, which must then be installed)',
        )
        return None
    return value


def parse_shard_size(value: Any, key: str, problems: Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(
            key,
            "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, "
            f"not {problems.shown(value)}",
        )
        return None
    if value < 0:
        problems.add(
            key,
            "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, "
            f"not {value}",
        )
        return None
    return value


def parse_quantize(value: Any, key: str, problems: Problems) -> QuantizationOptions | bool | None:
    """``"float16"``/``"uint8"``/``"uint16"``, ``false``, or ``{dtype = [patterns]}`` (first match wins, in order).

    Returns ``False`` (no quantization) or the options; ``None`` when invalid. Patterns are matched against weight
    names at conversion time (see write/quantize.py)."""
    dtypes = ", ".join(f'"{d}"' for d in QUANTIZATION_DTYPES)
    if value is False:
        return False
    if isinstance(value, str):
        if value not in QUANTIZATION_DTYPES:
            none = problems.naming.none_value("quantize")
            problems.add(key, f"unknown quantization dtype {value!r}; expected one of {dtypes} (or {none} for none)")
            return None
        return QuantizationOptions.one_dtype(value)
    if not isinstance(value, dict):
        hint = ' (say which: quantize = "float16")' if value is True else ""
        problems.add(
            key,
            f"must be one of {dtypes}, false, or a table of weight-name patterns such as "
            f'{{ uint8 = ["*/kernel"], float16 = ["*"] }}, not {problems.shown(value)}{hint}',
        )
        return None
    if not value:
        problems.add(
            key, 'is an empty table; map a dtype to weight-name patterns, e.g. { uint8 = ["*/kernel"] }, or remove it'
        )
        return None
    ok = True
    rules: list[tuple[str, tuple[str, ...]]] = []
    first_dtype: dict[str, str] = {}
    for dtype, patterns in value.items():
        if dtype not in QUANTIZATION_DTYPES:
            problems.add(f"{key}.{dtype}", f"unknown quantization dtype {dtype!r}; expected one of {dtypes}")
            ok = False
            continue
        if (
            not isinstance(patterns, list)
            or not patterns
            or not all(isinstance(p, str) and p.strip() for p in patterns)
        ):
            problems.add(
                f"{key}.{dtype}",
                f'must be a non-empty array of weight-name patterns such as ["*/kernel"], not '
                f'{problems.shown(patterns)}',
            )
            ok = False
            continue
        for pattern in patterns:
            if pattern in first_dtype and first_dtype[pattern] != dtype:
                problems.add(
                    f"{key}.{dtype}",
                    f"pattern {pattern!r} is also listed under {first_dtype[pattern]}; "
                    "a weight can only be quantized to one dtype: keep it under one",
                )
                ok = False
            first_dtype.setdefault(pattern, dtype)
        rules.append((dtype, tuple(patterns)))
    return QuantizationOptions(tuple(rules)) if ok else None


def parse_metadata(value: Any, key: str, problems: Problems) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        problems.add(
            key,
            f'must be a table (it becomes model.json\'s userDefinedMetadata), e.g. {{ labels = ["cat", "dog"] }}, '
            f"not {problems.shown(value)}",
        )
        return None
    found = metadata_json.json_problem(value, key)
    if found:
        problems.add(found[0], found[1])
        return None
    too_large = metadata_json.size_problem(value)
    if too_large:
        problems.add(key, too_large)
        return None
    return dict(value)


def parse_metadata_file(value: Any, key: str, problems: Problems) -> dict[str, Any] | bool | None:
    """A JSON object file, read now; returns ``{"path", "data"}`` (or ``False`` for ``metadata-file = false``)."""
    if value is False:
        return False
    if not isinstance(value, str) or not value.strip():
        problems.add(
            key,
            f'must be a path relative to the project root, e.g. "models/labels.json", not '
            f'{problems.shown(value)}',
        )
        return None
    root = problems.root or Path.cwd()
    path = resolve_in_project(root, value)
    if not path.is_relative_to(root):
        problems.add(
            key, f'{value!r} is outside the project; keep the metadata file inside it, e.g. "models/labels.json"'
        )
        return None
    if not Path(os.path.realpath(path)).is_relative_to(root):
        problems.add(
            key,
            f"{value!r} is a symbolic link to {os.path.realpath(path)}, outside the project (its content would ship "
            "in the wheel); copy the file into the project instead",
        )
        return None
    if not path.is_file():
        problems.add(key, f"{value!r}: " + ("is a directory, not a JSON file" if path.is_dir() else "file not found"))
        return None

    try:
        data = metadata_json.load_object(path)
    except metadata_json.MetadataFileError as exc:
        problems.add(key, f"{value!r} {exc}")
        return None
    return {"path": value, "data": data}


def parse_signature(value: Any, key: str, problems: Problems) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.add(
            key,
            f'must be the name of a SavedModel signature, e.g. "serving_default", not {problems.shown(value)}',
        )
        return None
    return value


def parse_tags(value: Any, key: str, problems: Problems) -> list[str] | None:
    if not isinstance(value, list) or not value or not all(isinstance(t, str) and t.strip() for t in value):
        hint = f' (write tags = ["{value}"])' if isinstance(value, str) and value.strip() else ""
        problems.add(
            key, f'must be a non-empty array of MetaGraph tags, e.g. ["serve"], not {problems.shown(value)}{hint}'
        )
        return None
    return list(value)


MODULE_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_modules(value: Any, key: str, problems: Problems) -> list[str] | None:
    """``custom-modules``: dotted names of modules in the project's own source tree."""
    if not isinstance(value, list) or not all(isinstance(m, str) and MODULE_NAME_PATTERN.match(m) for m in value):
        hint = f' (write custom-modules = ["{value}"])' if isinstance(value, str) and value.strip() else ""
        problems.add(
            key,
            "must be an array of module names from the project's source tree, whose import registers the model's "
            f'custom classes, e.g. ["myapp.layers"], not {problems.shown(value)}{hint}',
        )
        return None
    return list(value)


def parse_bool(value: Any, key: str, problems: Problems) -> bool | None:
    if not isinstance(value, bool):
        problems.add(key, f"must be true or false, not {problems.shown(value)}")
        return None
    return value


def resolve_in_project(root: Path, value: str) -> Path:
    path = Path(value)
    if not path.is_absolute():
        path = root / path
    return Path(os.path.normpath(path))


def parse_relative_dir(value: Any, key: str, root: Path, problems: Problems) -> Path | None:
    if not isinstance(value, str) or not value.strip():
        problems.add(
            key, f"must be a non-empty string path relative to the project root, not {problems.shown(value)}"
        )
        return None
    path = resolve_in_project(root, value)
    if not path.is_relative_to(root) or path == root:
        problems.add(
            key, f'{value!r} is outside the project; use a directory inside a package, e.g. "src/mypkg/web_models"'
        )
        return None
    return path
