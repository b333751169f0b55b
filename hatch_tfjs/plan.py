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
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatch_tfjs import __version__
from hatch_tfjs.atomic import backup_path
from hatch_tfjs.config import ModelSpec
from hatch_tfjs.errors import SourceKindError
from hatch_tfjs.ownership import STAMP_NAME, replace_conflict, special_file_kind

STAMP_VERSION = 1
CONVERTER = f"hatch-tfjs {__version__}"
_CHUNK = 1 << 20


def hash_source(path: Path) -> str:
    """sha256 of a model file, or of a directory's files (relative path + content, in sorted order).

    A build asks for the same hash several times (dependencies(), then initialize(), for the sdist and again for the
    wheel), each time in a fresh process; a per-user cache keyed by the files' stat data (size, mtime, ctime, inode)
    answers the repeats without reading a large model again. Entries are only made for files last changed more than
    two seconds before hashing, so a file rewritten within the clock's granularity is never mistaken for the old one.
    """
    fingerprint = _fingerprint(path)
    cached = _cache_get(path, fingerprint)
    if cached is not None:
        return cached
    started_ns = time.time_ns()
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            relative = file.relative_to(path).as_posix().encode()
            digest.update(len(relative).to_bytes(4, "little") + relative)
            digest.update(file.stat().st_size.to_bytes(8, "little"))
            _hash_file_into(file, digest)
    else:
        _hash_file_into(path, digest)
    result = digest.hexdigest()
    newest_change = max((entry[3] for entry in fingerprint), default=started_ns)
    if started_ns - newest_change > _RACY_NS and _fingerprint(path) == fingerprint:
        _cache_put(path, fingerprint, result)
    return result


_RACY_NS = 2_000_000_000


def _fingerprint(path: Path) -> list[list[Any]]:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    out: list[list[Any]] = []
    for file in files:
        st = file.stat()
        out.append(
            [
                file.relative_to(path).as_posix() if path.is_dir() else "",
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_ino,
                st.st_dev,
            ]
        )
    return out


def _cache_file(path: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return (
        Path(tempfile.gettempdir()) / f"hatch-tfjs-{os.getuid() if hasattr(os, 'getuid') else 'user'}" / f"{key}.json"
    )


def _cache_get(path: Path, fingerprint: list[list[Any]]) -> str | None:
    try:
        entry = json.loads(_cache_file(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(entry, dict) and entry.get("fingerprint") == fingerprint and isinstance(entry.get("sha256"), str):
        digest: str = entry["sha256"]
        return digest
    return None


def _cache_put(path: Path, fingerprint: list[list[Any]], digest: str) -> None:
    target = _cache_file(path)
    try:
        target.parent.mkdir(mode=0o700, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.part")
        partial.write_text(json.dumps({"fingerprint": fingerprint, "sha256": digest}), "utf-8")
        partial.replace(target)
    except OSError:
        pass  # a cache that cannot be written only costs a re-hash next time


def _hash_file_into(path: Path, digest: Any) -> None:
    """Hash a regular file. Opened without blocking and checked before reading: a FIFO or a device (even behind a
    symlink, even swapped in after the configuration was checked) is refused instead of read without end."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            kind = special_file_kind(path) or "not a regular file"
            raise SourceKindError(
                f"{path}: is {kind}, not a model file; point source at a .keras/.h5 file or a SavedModel directory"
            )
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
    if (
        not isinstance(stamp, dict)
        or stamp.get("stamp_version") != STAMP_VERSION
        or not isinstance(stamp.get("source"), dict)
    ):
        return None
    return stamp


def _files_intact(output: Path, stamp: dict[str, Any]) -> bool:
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


@dataclass(frozen=True)
class ModelPlan:
    spec: ModelSpec
    fresh: bool
    reason: str  # why it must convert, or why it is fresh; shown by `hatch-tfjs list` and in debug output
    source_hash: str | None = None


def _judged_output(output: Path) -> Path:
    """The directory that holds ``output``'s current model: the output itself, or, when a build was killed between
    the two renames of the atomic swap, the backup that recovery (under the project lock) will put back."""
    if output.exists() or output.is_symlink():
        return output
    backup = backup_path(output)
    return backup if backup.is_dir() and not backup.is_symlink() and replace_conflict(backup) is None else output


def plan_model(spec: ModelSpec, *, force: bool = False) -> ModelPlan:
    """Whether ``spec`` must be converted, and why. Read-only: it changes nothing on disk, so it is safe while
    another build of the project converts (``dependencies()``, ``hatch-tfjs list`` run it without the lock)."""
    output = _judged_output(spec.output)
    stamp = read_stamp(output)
    if not spec.source.exists():
        if stamp is not None and _files_intact(output, stamp):
            return ModelPlan(spec, True, "source absent (e.g. an sdist without it); using the shipped output")
        return ModelPlan(spec, False, "source missing")
    source_hash = hash_source(spec.source)
    if force:
        return ModelPlan(spec, False, "forced (HATCH_TFJS_FORCE)", source_hash)
    if stamp is None:
        return ModelPlan(
            spec, False, "no previous output" if not output.exists() else "output has no valid stamp", source_hash
        )
    if stamp.get("converter") != CONVERTER:
        return ModelPlan(spec, False, f"converted by {stamp.get('converter')}, now {CONVERTER}", source_hash)
    if stamp.get("source", {}).get("sha256") != source_hash:
        return ModelPlan(spec, False, "source changed", source_hash)
    if stamp.get("key") != stamp_key(spec, source_hash):
        return ModelPlan(spec, False, "options changed", source_hash)
    if not _files_intact(output, stamp):
        return ModelPlan(spec, False, "output files missing or changed", source_hash)
    return ModelPlan(spec, True, "fresh", source_hash)


def plan_models(specs: tuple[ModelSpec, ...] | list[ModelSpec], *, force: bool | None = None) -> list[ModelPlan]:
    if force is None:
        force = env_flag("HATCH_TFJS_FORCE")
    return [plan_model(spec, force=force) for spec in specs]


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
