"""The stamp each output directory carries, ``.hatch-tfjs-stamp.json``: how it is made, read and sealed in.

A stamp records the content hash of the source model, the options that shape the output, the converter's version,
and the size of every file written. No timestamps and no absolute paths, so a stamp made on one checkout is valid on
another (and inside an sdist). Freshness (:mod:`hatch_tfjs.plan`) only reads stamps; the writer seals one into each
output it stages (:func:`stamp_sealer`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hatch_tfjs import __version__
from hatch_tfjs.config import ModelSpec
from hatch_tfjs.config.wire import stamped_options
from hatch_tfjs.ownership import STAMP_NAME

STAMP_VERSION = 1
CONVERTER = f"hatch-tfjs {__version__}"


def output_options(spec: ModelSpec) -> dict[str, Any]:
    """Everything in a spec that changes the files written, and nothing that does not (name, paths)."""
    return {"format": spec.format, "shard_size": spec.shard_size, "options": stamped_options(spec)}


def stamp_key(spec: ModelSpec, source_hash: str, converter: str = CONVERTER) -> str:
    material = {"converter": converter, "source_sha256": source_hash, "options": output_options(spec)}
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_stamp(output: Path) -> dict[str, Any] | None:
    """The stamp in ``output``, or None when there is none this converter's stamp format can read."""
    try:
        stamp = json.loads((output / STAMP_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(stamp, dict)
        or stamp.get("stamp_version") != STAMP_VERSION
        or not isinstance(stamp.get("source"), dict)
    ):
        return None
    return stamp


def files_intact(output: Path, stamp: dict[str, Any]) -> bool:
    """Whether every file ``stamp`` lists (model.json among them) is in ``output`` with the size it was written at."""
    files = stamp.get("files")
    if not isinstance(files, dict) or "model.json" not in files:
        return False
    try:
        return all((output / name).stat().st_size == size for name, size in files.items())
    except OSError:
        return False


def make_stamp(spec: ModelSpec, source_hash: str, files: dict[str, int]) -> dict[str, Any]:
    return {
        "stamp_version": STAMP_VERSION,
        "converter": CONVERTER,
        "key": stamp_key(spec, source_hash),
        "source": {"path": spec.source_rel, "sha256": source_hash},
        "options": output_options(spec),
        "files": dict(sorted(files.items())),
    }


def stamp_bytes(stamp: dict[str, Any]) -> bytes:
    return (json.dumps(stamp, sort_keys=True, indent=1) + "\n").encode("utf-8")


def stamp_sealer(spec: ModelSpec, source_hash: str) -> Callable[[Path, dict[str, int]], None]:
    """The ``seal`` for :func:`hatch_tfjs.write.write_model_dir`: writes the stamp into the staging directory, so the
    output is stamped from the moment it is in place (the stamp also marks it as hatch-tfjs's own)."""

    def seal(directory: Path, sizes: dict[str, int]) -> None:
        (directory / STAMP_NAME).write_bytes(stamp_bytes(make_stamp(spec, source_hash, sizes)))

    return seal
