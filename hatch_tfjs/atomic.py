"""Replace an output directory so that readers see the old output or the new one, never a mix.

Only directories hatch-tfjs owns (see :mod:`hatch_tfjs.ownership`) are ever replaced or deleted here, and recovery
after a killed build (:func:`recover`) deletes only hatch-tfjs's own staging and backup directories. Callers hold
the project lock (:mod:`hatch_tfjs.lock`) around both, so one build never removes what another is writing.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hatch_tfjs.errors import OutputConflictError
from hatch_tfjs.ownership import replace_conflict

STAGING_PREFIX = ".tfjs-staging-"
BACKUP_SUFFIX = ".tfjs-old"


def backup_path(output: Path) -> Path:
    return output.with_name(f".{output.name}{BACKUP_SUFFIX}")


def _is_real_directory(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def staging_directories(output: Path) -> list[Path]:
    """Staging directories of ``output`` that builds left behind (real directories only, never a link)."""
    if not output.parent.is_dir():
        return []
    return sorted(p for p in output.parent.glob(f"{STAGING_PREFIX}{output.name}-*") if _is_real_directory(p))


def recover(output: Path) -> None:
    """Undo what a build killed between the two renames of :func:`replace_directory` left behind.

    Call it only while holding the project lock: a staging directory may otherwise be another build's, in use."""
    backup = backup_path(output)
    if _is_real_directory(backup) and replace_conflict(backup) is None:
        if output.exists() or output.is_symlink():
            shutil.rmtree(backup, ignore_errors=True)
        else:
            backup.replace(output)
    for stale in staging_directories(output):
        shutil.rmtree(stale, ignore_errors=True)


@contextmanager
def replace_directory(output: Path, *, replace_foreign: bool = False) -> Iterator[Path]:
    """Yield an empty staging directory; on success it becomes ``output``, on failure it is removed.

    ``output`` must not exist, be empty or be hatch-tfjs's own; anything else raises :class:`OutputConflictError`
    (``replace_foreign`` lifts that for ``hatch-tfjs convert --force``, whose user said so)."""
    output = Path(output)
    conflict = replace_conflict(output)
    if conflict is not None and (not replace_foreign or output.is_symlink() or not output.is_dir()):
        raise OutputConflictError(
            f"{output} {conflict}; hatch-tfjs only replaces directories it wrote itself, or empty ones: "
            "choose a new or empty directory, or move those files away"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    recover(output)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{output.name}-", dir=output.parent))
    try:
        yield staging
        for path in staging.iterdir():
            _fsync_file(path)
        staging.chmod(0o755)
        _crash_point("staged")
        backup = backup_path(output)
        if output.exists():
            output.replace(backup)
        _crash_point("swapping")
        staging.replace(output)
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
    with path.open("rb") as handle:
        os.fsync(handle.fileno())
