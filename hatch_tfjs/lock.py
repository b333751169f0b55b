"""A per-project lock, so two builds of one project at once do not convert into the same outputs.

The lock is an OS file lock (``flock`` / ``msvcrt.locking``) on a file in the temporary directory named after the
project root: the OS releases it when the holding process dies, so a killed build never blocks the next one, and the
lock file never lands in the project tree (or in an sdist).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


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


@contextmanager
def project_lock(root: Path, *, on_wait: Callable[[], None] | None = None, poll: float = 0.2) -> Iterator[None]:
    """Hold the project's lock; ``on_wait`` is called once if another build holds it."""
    path = lock_path(root)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        waited = False
        while not _try_lock(fd):
            if not waited and on_wait is not None:
                on_wait()
            waited = True
            time.sleep(poll)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
