"""Replace an output directory so that readers see the old output or the new one, never a mix."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

STAGING_PREFIX = ".tfjs-staging-"
BACKUP_SUFFIX = ".tfjs-old"


def _backup_path(output: Path) -> Path:
    return output.with_name(f".{output.name}{BACKUP_SUFFIX}")


def recover(output: Path) -> None:
    """Undo what a build killed between the two renames of :func:`replace_directory` left behind."""
    backup = _backup_path(output)
    if backup.exists():
        if output.exists():
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(backup, output)
    if output.parent.is_dir():
        for stale in output.parent.glob(f"{STAGING_PREFIX}{output.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def replace_directory(output: Path) -> Iterator[Path]:
    """Yield an empty staging directory; on success it becomes ``output``, on failure it is removed."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    recover(output)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{output.name}-", dir=output.parent))
    try:
        yield staging
        for path in staging.iterdir():
            _fsync_file(path)
        staging.chmod(0o755)
        _crash_point("staged")
        backup = _backup_path(output)
        if output.exists():
            os.replace(output, backup)
        _crash_point("swapping")
        os.replace(staging, output)
        _fsync_directory(output.parent)  # make the rename itself durable
        shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _crash_point(name: str) -> None:
    """Fault injection for the crash-safety tests: ``HATCH_TFJS_TEST_KILL_AT=<name>`` makes the process SIGKILL itself
    here, exactly as a build killed at that moment would die (no cleanup handlers run)."""
    if os.environ.get("HATCH_TFJS_TEST_KILL_AT") == name:
        import signal

        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def _fsync_directory(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows, where directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - filesystems that do not support it
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
