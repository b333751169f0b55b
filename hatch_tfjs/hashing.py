"""Content hashes of source models, and the per-user cache that spares re-reading a large model for each of them.

A model's hash is what its stamp records and what freshness compares: sha256 of the file, or of a directory's files
(relative path + size + content, in sorted order). Hashing reads files only: nothing here imports TensorFlow.

The same cache keeps what a build works out from a source's content and would otherwise work out again in each of
its processes (:func:`cached_by_content`: the route, see route.py), keyed by the content hash and by this copy of
hatch-tfjs (:func:`code_fingerprint`), so an edited source or an edited or other hatch-tfjs never meets a stale entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from hatch_tfjs.errors import SourceKindError
from hatch_tfjs.ownership import special_file_kind

_CHUNK = 1 << 20
# A file changed less than this long before it was hashed is not cached: a rewrite within the clock's granularity
# could leave the same stat data behind.
_RACY_NS = 2_000_000_000


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


def _cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"hatch-tfjs-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def _cache_file(path: Path) -> Path:
    # a key only (the fingerprint decides): no resolve(), whose lstat of every folder cost 10,000 models seconds
    key = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:32]  # noqa: PTH100
    return _cache_dir() / f"{key}.json"


@cache
def code_fingerprint() -> str:
    """This copy of hatch-tfjs: where it is, and the size and modification time of each of its files (one stat
    each, a few milliseconds), so that a result cached by one copy or version is never used by another."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(str(package).encode())
    for file in sorted(package.rglob("*")):
        if file.suffix in (".py", ".json") and file.is_file():
            st = file.stat()
            digest.update(f"{file.relative_to(package).as_posix()}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def cached_by_content(kind: str, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()``'s result for ``key`` (which must hold the content hash of everything the result depends on,
    and the options it depends on), from the per-user cache when this copy of hatch-tfjs made it before; else
    computed and kept. ``kind`` names what is kept (``route``). A cache that cannot be read or written only costs
    the computation."""
    name = hashlib.sha256(f"{kind}\0{key}\0{code_fingerprint()}".encode()).hexdigest()[:40]
    target = _cache_dir() / kind / f"{name}.json"
    try:
        entry = json.loads(target.read_text("utf-8"))
        if isinstance(entry, dict) and entry.get("key") == key and isinstance(entry.get("value"), dict):
            value: dict[str, Any] = entry["value"]
            return value
    except (OSError, ValueError):
        pass
    value = compute()
    _write_entry(target, {"key": key, "value": value})
    return value


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
    _write_entry(_cache_file(path), {"fingerprint": fingerprint, "sha256": digest})


def _write_entry(target: Path, entry: dict[str, Any]) -> None:
    """Write one cache entry whole (a private part file renamed over it); a cache that cannot be written only costs
    the computation next time."""
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.part")
        partial.write_text(json.dumps(entry), "utf-8")
        partial.replace(target)
    except OSError:
        pass


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
