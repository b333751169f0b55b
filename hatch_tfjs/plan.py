"""Plan stage: which models are fresh (their output matches source, options and converter) and which must convert.

Each output directory carries a small stamp, ``.hatch-tfjs-stamp.json``: the content hash of the source model, the
options that shape the output, the converter's version, and the size of every file written. No timestamps and no
absolute paths, so a stamp made on one checkout is valid on another (and inside an sdist). Deciding freshness reads
and hashes files only: nothing here imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatch_tfjs import __version__
from hatch_tfjs.config import STAMP_NAME, ModelSpec
from hatch_tfjs.atomic import recover

STAMP_VERSION = 1
CONVERTER = f"hatch-tfjs {__version__}"
_CHUNK = 1 << 20


def hash_source(path: Path) -> str:
    """sha256 of a model file, or of a directory's files (relative path + content, in sorted order)."""
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            relative = file.relative_to(path).as_posix().encode()
            digest.update(len(relative).to_bytes(4, "little") + relative)
            digest.update(file.stat().st_size.to_bytes(8, "little"))
            _hash_file_into(file, digest)
    else:
        _hash_file_into(path, digest)
    return digest.hexdigest()


def _hash_file_into(path: Path, digest: Any) -> None:
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)


def output_options(spec: ModelSpec) -> dict[str, Any]:
    """Everything in a spec that changes the files written, and nothing that does not (name, paths)."""
    return {"format": spec.format, "shard_size": spec.shard_size, "options": spec.options}


def stamp_key(spec: ModelSpec, source_hash: str, converter: str = CONVERTER) -> str:
    material = {"converter": converter, "source_sha256": source_hash, "options": output_options(spec)}
    return hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def read_stamp(output: Path) -> dict[str, Any] | None:
    try:
        stamp = json.loads((output / STAMP_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and stamp.get("stamp_version") == STAMP_VERSION else None


def _files_intact(output: Path, stamp: dict[str, Any]) -> bool:
    files = stamp.get("files")
    if not isinstance(files, dict) or "model.json" not in files:
        return False
    for name, size in files.items():
        try:
            if (output / name).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


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


def write_stamp(spec: ModelSpec, source_hash: str, files: list[str]) -> None:
    """Stamp a freshly written output. Written after the output is in place: a build killed in between leaves an
    unstamped output, which the next build simply converts again."""
    sizes = {name: (spec.output / name).stat().st_size for name in files}
    target = spec.output / STAMP_NAME
    partial = spec.output / f".{STAMP_NAME}.part"
    partial.write_bytes(stamp_bytes(make_stamp(spec, source_hash, sizes)))
    os.replace(partial, target)


@dataclass(frozen=True)
class ModelPlan:
    spec: ModelSpec
    fresh: bool
    reason: str  # why it must convert, or why it is fresh; shown by `hatch-tfjs list` and in debug output
    source_hash: str | None = None


def plan_model(spec: ModelSpec, *, force: bool = False) -> ModelPlan:
    recover(spec.output)  # finish or undo what a killed build left (backup, staging dirs) before judging
    stamp = read_stamp(spec.output)
    if not spec.source.exists():
        if stamp is not None and _files_intact(spec.output, stamp):
            return ModelPlan(spec, True, "source absent (e.g. an sdist without it); using the shipped output")
        return ModelPlan(spec, False, "source missing")
    source_hash = hash_source(spec.source)
    if force:
        return ModelPlan(spec, False, "forced (HATCH_TFJS_FORCE)", source_hash)
    if stamp is None:
        return ModelPlan(spec, False, "no previous output" if not spec.output.exists() else "output has no valid stamp", source_hash)
    if stamp.get("converter") != CONVERTER:
        return ModelPlan(spec, False, f"converted by {stamp.get('converter')}, now {CONVERTER}", source_hash)
    if stamp.get("source", {}).get("sha256") != source_hash:
        return ModelPlan(spec, False, "source changed", source_hash)
    if stamp.get("key") != stamp_key(spec, source_hash):
        return ModelPlan(spec, False, "options changed", source_hash)
    if not _files_intact(spec.output, stamp):
        return ModelPlan(spec, False, "output files missing or changed", source_hash)
    return ModelPlan(spec, True, "fresh", source_hash)


def plan_models(specs: tuple[ModelSpec, ...] | list[ModelSpec], *, force: bool | None = None) -> list[ModelPlan]:
    if force is None:
        force = env_flag("HATCH_TFJS_FORCE")
    return [plan_model(spec, force=force) for spec in specs]


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
