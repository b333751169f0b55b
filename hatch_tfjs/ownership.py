"""What hatch-tfjs may replace or delete, and where it may write.

Two rules keep a build from ever losing a user's file:

- ownership: a directory is replaced or deleted only when hatch-tfjs wrote it itself (it holds the stamp
  ``.hatch-tfjs-stamp.json`` and no file the stamp does not list) or when it is empty; a file is overwritten only when
  it is hatch-tfjs's own (``index.json`` written by hatch-tfjs);
- containment: a path the hook writes is never reached through a symbolic link, so every write stays where the
  configuration says, inside the project.

Standard library only: the hook imports this while hatchling asks it for dependencies.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

STAMP_NAME = ".hatch-tfjs-stamp.json"  # written into every output directory (see plan.py); also the ownership mark
INDEX_NAME = "index.json"  # the model index hatch-tfjs writes into output-dir (see index.py)
_SHARD_NAME = re.compile(r"^group\d+-shard\d+of\d+\.bin$")
_LISTED = 6  # foreign entries named in a message before "and N more"


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def _stamped_files(directory: Path) -> set[str] | None:
    """The files the stamp in ``directory`` lists (the stamp itself included); None when there is no stamp."""
    marker = directory / STAMP_NAME
    try:
        if not stat.S_ISREG(marker.lstat().st_mode):
            return None
    except OSError:
        return None
    try:
        files = json.loads(marker.read_text("utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        files = None
    if isinstance(files, dict):
        return {*map(str, files), STAMP_NAME}
    return set()  # a stamp that lists nothing readable: judged by file names (see foreign_entries)


def foreign_entries(directory: Path) -> list[str]:
    """Entries of ``directory`` that hatch-tfjs did not write (sorted, directories with a trailing ``/``).

    Everything is foreign in a directory without the stamp; in a stamped one, whatever the stamp does not list (or,
    when the stamp cannot be read, whatever is not ``model.json`` or a weight shard)."""
    try:
        entries = sorted(entry.name for entry in directory.iterdir())
    except OSError:
        return []
    listed = _stamped_files(directory)

    def ours(name: str) -> bool:
        if listed is None:
            return False
        if listed:
            return name in listed
        return name in ("model.json", STAMP_NAME) or bool(_SHARD_NAME.match(name))

    return [name + ("/" if (directory / name).is_dir() else "") for name in entries if not ours(name)]


def replace_conflict(path: Path) -> str | None:
    """Why hatch-tfjs may not replace the directory ``path`` (a phrase to follow the path), or None when it may.

    It may when ``path`` does not exist, is an empty directory, or is an output hatch-tfjs wrote."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be examined ({exc.strerror})"
    if stat.S_ISLNK(mode):
        return f"is a symbolic link (to {path.readlink()})"
    if not stat.S_ISDIR(mode):
        return "is a file, not a model directory hatch-tfjs wrote"
    foreign = foreign_entries(path)
    if foreign:
        return f"holds files hatch-tfjs did not write ({_listing(foreign)})"
    return None


def is_own_index(path: Path) -> bool:
    """Whether ``path`` is absent or an ``index.json`` hatch-tfjs wrote (so it may be rewritten or deleted)."""
    if path.is_symlink():
        return False
    if not path.exists():
        return True
    try:
        data = json.loads(path.read_text("utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("generator") == "hatch-tfjs"


def symlink_on_the_way(path: Path, root: Path) -> Path | None:
    """The first symbolic link among ``path`` and its ancestors below ``root`` (both absolute, normalised), if any.

    A write to ``path`` through such a link would land wherever the link points, outside what was checked."""
    try:
        relative = path.relative_to(root)
    except ValueError:
        return None
    current = root
    for part in relative.parts:
        current = current / part
        if current.is_symlink():
            return current
        if not current.exists():
            return None
    return None


def special_file_kind(path: Path) -> str | None:
    """``"a FIFO"``, ``"a character device"``, ... when ``path`` (symlinks followed) is neither a regular file nor a
    directory: such a source would hang or exhaust a build that reads it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    for test, kind in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"
