"""A Keras file's model config with the standard library alone, for deciding what a build needs before it has it.

Hatchling asks the hook for its build dependencies (``dependencies()``) before anything but hatchling and hatch-tfjs
is installed, so before numpy and h5py are. To know whether a stale ``format = "auto"`` model will need TensorFlow,
the hook reads the model's config here and translates it (the translation is pure Python):

- ``.keras``: ``config.json`` in the zip, exactly;
- ``.h5``: Keras stores the config as a JSON string attribute (``model_config``), whose bytes lie in the file as they
  are; it is found by scanning for a JSON object with a model's ``class_name`` and ``config``. This is a hint: the
  real read (h5py) happens at conversion time, and when no config is found the caller assumes the worst.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from hatch_tfjs.keras_names import MODEL_CLASSES

_MAX_CONFIG_BYTES = 64 * 1024 * 1024  # larger config.json members are left to the real reader


def read_keras_config(source: Path, *, any_class: bool = False) -> dict[str, Any] | None:
    """The model config stored in ``source``, or None when it cannot be found without h5py.

    By default only a Sequential or functional model's config (a list of layers) counts; ``any_class`` also
    returns the config of a model class that holds its constructor arguments instead (a keras-hub backbone)."""
    try:
        if zipfile.is_zipfile(source):
            return _from_keras_zip(source, any_class)
        return _from_h5_bytes(source, any_class)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, RecursionError):  # KeyError: no config.json member
        return None


def _from_keras_zip(source: Path, any_class: bool) -> dict[str, Any] | None:
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo("config.json")
        if info.file_size > _MAX_CONFIG_BYTES:
            return None
        config = json.loads(archive.read(info))
    return config if _is_model_config(config, any_class) else None


def _from_h5_bytes(source: Path, any_class: bool) -> dict[str, Any] | None:
    if source.stat().st_size > 4 * _MAX_CONFIG_BYTES:
        return None  # too large to scan; the caller assumes the worst
    data = source.read_bytes()
    # A layers model's config first; only then the first config of any class (a layer's config may come first).
    return _scan(data, False) or (_scan(data, True) if any_class else None)


def _scan(data: bytes, any_class: bool) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    start = data.find(b'{"class_name"')
    while start != -1:
        end = data.find(b"\0", start)
        text = data[start : end if end != -1 else len(data)].decode("utf-8", errors="replace")
        config: dict[str, Any] | None
        try:
            config, _ = decoder.raw_decode(text)
        except ValueError:
            config = None
        if _is_model_config(config, any_class):
            return config
        start = data.find(b'{"class_name"', start + 1)
    return None


def _is_model_config(config: Any, any_class: bool = False) -> bool:
    if any_class and isinstance(config, dict) and isinstance(config.get("class_name"), str):
        return isinstance(config.get("config"), dict)
    return (
        isinstance(config, dict)
        and config.get("class_name") in MODEL_CLASSES
        and isinstance(config.get("config"), dict)
        and isinstance(config["config"].get("layers"), list)
    )
