"""A per-project lock: only its holder converts, recovers after a killed build, or deletes anything.

The lock is an OS file lock (``flock`` / ``msvcrt.locking``) on a file in the temporary directory named after the
project root: the OS releases it when the holding process dies, so a killed build never blocks the next one, and the
lock file never lands in the project tree (or in an sdist). A build holds it from the hook's ``initialize`` until its
``finalize``, so no other build changes the outputs while hatchling packs them. It is re-entrant within a process
(hatch builds the sdist and then the wheel in one process; a failed build may skip ``finalize``).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_held: dict[Path, tuple[int, int]] = {}  # lock file -> (descriptor, how many times this process holds it)
_guard = threading.Lock()


def lock_path(root: Path) -> Path:
    digest = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"hatch-tfjs-{digest}.lock"


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def acquire(root: Path, *, on_wait: Callable[[], None] | None = None, poll: float = 0.2) -> None:
    """Take the project's lock (or count one more hold of it); ``on_wait`` is called once if another process has it."""
    path = lock_path(root)
    with _guard:
        if path in _held:
            fd, count = _held[path]
            _held[path] = (fd, count + 1)
            return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        waited = False
        while not _try_lock(fd):
            if not waited and on_wait is not None:
                on_wait()
            waited = True
            time.sleep(poll)
    except BaseException:
        os.close(fd)
        raise
    with _guard:
        _held[path] = (fd, 1)


def release(root: Path) -> None:
    """Give back one hold of the project's lock; the last one unlocks it. Releasing a lock not held does nothing."""
    path = lock_path(root)
    with _guard:
        if path not in _held:
            return
        fd, count = _held[path]
        if count > 1:
            _held[path] = (fd, count - 1)
            return
        del _held[path]
    os.close(fd)  # closing the descriptor releases the lock


@contextmanager
def project_lock(root: Path, *, on_wait: Callable[[], None] | None = None, poll: float = 0.2) -> Iterator[None]:
    """Hold the project's lock for the ``with`` block."""
    acquire(root, on_wait=on_wait, poll=poll)
    try:
        yield
    finally:
        release(root)
