"""Orphaned outputs: what an earlier build wrote that no model declares any more.

A model renamed or removed, its ``output`` moved, or ``output-dir`` moved leaves the old output directory (and the
old ``index.json``) in the package, and the wheel would ship it beside the new one. Such a directory is found by its
stamp (``.hatch-tfjs-stamp.json``, which only hatch-tfjs writes), an old index by its ``generator``; both are looked
for inside the directories the wheel ships, where they would reach users.

:func:`find_orphans` only reads (``hatch-tfjs list`` and ``check`` call it without the lock); :func:`remove_orphans`
deletes, under the project lock, with the ownership rules: only a stamped directory holding nothing but what its
stamp lists, only an index hatch-tfjs wrote. Anything else is refused with the fix, never shipped, never deleted.
Standard library only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hatch_tfjs.errors import HatchTfjsError
from hatch_tfjs.ownership import INDEX_NAME, STAMP_NAME, is_own_index, replace_conflict

_NEVER_SHIPPED = frozenset({"__pycache__", "node_modules"})


@dataclass(frozen=True)
class Orphan:
    """An output directory (``kind == "output"``) or a model index (``"index"``) that no model declares."""

    path: Path  # absolute
    kind: str
    conflict: str | None = None  # why it may not be removed (files hatch-tfjs did not write); None when it may

    def shown(self, root: Path) -> str:
        relative = self.path.relative_to(root).as_posix()
        return relative + "/" if self.kind == "output" else relative


def search_roots(root: Path, packages: Iterable[str], output_dir: Path | None) -> list[Path]:
    """Where orphans are looked for: the directories the wheel ships (and output-dir, when the wheel's packages are
    unknown), outermost only."""
    candidates = [root / PurePosixPath(p.strip("/")) for p in packages]
    if not candidates and output_dir is not None:
        candidates = [output_dir]
    roots: list[Path] = []
    for candidate in sorted(set(candidates), key=lambda p: len(p.parts)):
        if candidate.is_dir() and not any(candidate.is_relative_to(kept) for kept in roots):
            roots.append(candidate)
    return roots


def find_orphans(roots: Iterable[Path], declared: Iterable[Path]) -> list[Orphan]:
    """Stamped directories under ``roots`` that are not a ``declared`` output, and indexes hatch-tfjs wrote that are
    not a ``declared`` index (the builds' own); sorted by path. Read-only."""
    outputs = set(declared)
    found: list[Orphan] = []
    for top in roots:
        for directory, subdirectories, files in _walk(top):
            if directory in outputs:
                subdirectories.clear()  # a declared output: its contents are its stamp's business
                continue
            if STAMP_NAME in files and (directory / STAMP_NAME).is_file():
                found.append(Orphan(directory, "output", replace_conflict(directory)))
                subdirectories.clear()
                continue
            candidate = directory / INDEX_NAME
            if INDEX_NAME in files and candidate not in outputs and candidate.is_file() and _own_index(candidate):
                found.append(Orphan(candidate, "index"))
    return sorted(found, key=lambda orphan: orphan.path)


def remove_orphans(
    orphans: list[Orphan], root: Path, roots: Iterable[Path], on_removed: Callable[[str], None]
) -> None:
    """Delete ``orphans`` (the caller holds the project lock), then the directories that leaves empty, up to the
    search roots. Raises one :class:`HatchTfjsError` naming every orphan that holds a file hatch-tfjs did not write
    (then nothing is deleted): the wheel must not ship it, and only its owner may delete that file."""
    refused = [orphan for orphan in orphans if orphan.conflict is not None]
    if refused:
        lines = "\n".join(f"  {orphan.shown(root)}: it {orphan.conflict}" for orphan in refused)
        raise HatchTfjsError(
            f"{len(refused)} folder{'s' if len(refused) != 1 else ''} written by an earlier build for a model that "
            "pyproject.toml no longer declares would ship in the wheel, and hatch-tfjs cannot remove "
            f"{'them' if len(refused) != 1 else 'it'}:\n{lines}\nmove those files elsewhere (the next build then "
            "removes the folder), or declare the model again"
        )
    stops = set(roots)
    for orphan in orphans:
        if orphan.kind == "output":
            shutil.rmtree(orphan.path)
        else:
            orphan.path.unlink()
        on_removed(f"removed {orphan.shown(root)} (no model declares it any more)")
        _remove_empty_parents(orphan.path.parent, stops, root, on_removed)


def _remove_empty_parents(directory: Path, stops: set[Path], root: Path, on_removed: Callable[[str], None]) -> None:
    while directory not in stops and directory.is_relative_to(root) and directory != root:
        try:
            directory.rmdir()  # only an empty directory
        except OSError:
            return
        on_removed(f"removed the empty {directory.relative_to(root).as_posix()}/")
        directory = directory.parent


def _walk(top: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    """os.walk without following links, skipping hidden directories (atomic.py's staging and backup directories among
    them) and folders no wheel ships."""
    for directory, subdirectories, files in os.walk(top):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith(".") and d not in _NEVER_SHIPPED)
        yield Path(directory), subdirectories, files


def _own_index(path: Path) -> bool:
    return path.exists() and is_own_index(path)
