"""A model's source: readable (no FIFO or device), present (or absent in an sdist that ships its output), and of the
kind its format reads. Standard library only."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from hatch_tfjs.config.context import ModelContext, Problems, type_name
from hatch_tfjs.config.parsers import resolve_in_project
from hatch_tfjs.config.spec import relative_path
from hatch_tfjs.keras_names import KERAS_SUFFIXES, is_keras_file
from hatch_tfjs.options import (
    FORMATS,
)
from hatch_tfjs.ownership import (
    STAMP_NAME,
    special_file_kind,
)
from hatch_tfjs.source_kinds import graph_source_problem
from hatch_tfjs.suggest import closest


def model_source(
    name: str,
    raw: dict[str, Any],
    source_key: str,
    values: dict[str, Any],
    output_path: Path | None,
    context: ModelContext,
) -> Path | None:
    """The model's source, checked against its format; None after adding a problem. A missing ``format`` becomes
    ``"graph"`` here when the source can only be a graph model (anything but a Keras file)."""
    base = f"models.{name}"
    if "source" not in raw:
        context.problems.add(f"{base}.source", f'missing; add source = "models/{name}.keras" (a .keras or .h5 file)')
        return None
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        context.problems.add(
            f"{base}.source", f"must be a path string relative to the project root, not {type_name(raw['source'])}"
        )
        return None
    source_path = _readable_source(raw["source"], source_key, output_path, context)
    if source_path is None:
        return None
    if not source_path.exists():  # an sdist shipping the output without its source: nothing to tell its kind from
        values["format"] = values["format"] or _shipped_format(output_path)
        return source_path
    if source_path.exists() and values["format"] is None and not is_keras_file(source_path):
        values["format"] = "graph"  # anything but a Keras file (a SavedModel directory) can only be a graph model
    return _source_of_format(source_path, raw["source"], source_key, values["format"] or "auto", context.problems)


def _readable_source(
    source: str, source_key: str, output_path: Path | None, context: ModelContext
) -> Path | None:
    """The source's path when it can be read: no FIFO or device (in a SavedModel directory either), and present
    unless the output it was converted to ships without it (an sdist); None after adding a problem."""
    source_path = resolve_in_project(context.root, source)
    special = special_file_kind(source_path)
    inner = special_file_inside(source_path) if special is None and source_path.is_dir() else None
    if special is not None:
        context.problems.add(
            source_key,
            f"{source} is {special}, not a model file; reading it would never end: point source at a "
            ".keras/.h5 file or a SavedModel directory",
        )
        return None
    if inner is not None:
        context.problems.add(
            source_key,
            f"{source} holds {relative_path(inner[0], context.root)!r}, which is {inner[1]}; a SavedModel directory "
            "holds only regular files (reading that one would never end): remove it",
        )
        return None
    if not source_path.exists():
        shipped = output_path is not None and (output_path / STAMP_NAME).is_file()
        if shipped and is_sdist_tree(context.root):
            return source_path  # an sdist that ships the converted output without its source: the plan uses it
        context.problems.add(source_key, _missing_source_message(source, source_path, output_path, shipped, context))
        return None
    return source_path


def _shipped_format(output_path: Path | None) -> str | None:
    """The format a shipped output was converted with (its stamp's ``options.format``), or None."""
    if output_path is None:
        return None
    try:
        recorded = json.loads((output_path / STAMP_NAME).read_text("utf-8")).get("options", {}).get("format")
    except (OSError, ValueError, AttributeError):
        return None
    return recorded if recorded in FORMATS else None


def is_sdist_tree(root: Path) -> bool:
    """Whether ``root`` is an unpacked source distribution (hatchling writes ``PKG-INFO`` at its root; a project
    checkout has none). Only there may a declared source be absent: the sdist ships its converted output instead."""
    return (root / "PKG-INFO").is_file()


def _missing_source_message(
    source: str, source_path: Path, output_path: Path | None, shipped: bool, context: ModelContext
) -> str:
    """``file not found: SOURCE``, with the nearest file of that folder when one is close, and, when an earlier build
    left an output, why that output is not used."""
    message = f"file not found: {source}"
    try:
        siblings = [entry.name for entry in source_path.parent.iterdir()] if source_path.parent.is_dir() else []
    except OSError:
        siblings = []
    guess = closest(source_path.name, siblings)
    if guess is not None:
        message += f" (did you mean {PurePosixPath(source).with_name(guess).as_posix()!r}?)"
    if shipped and output_path is not None:
        message += (
            f"; {relative_path(output_path, context.root)}/ was converted from it by an earlier build, but in a "
            "project checkout every declared source must exist (only a build from an sdist ships outputs without their "
            "sources): fix source, or remove the model"
        )
    return message


def _source_of_format(
    source_path: Path, source: str, source_key: str, model_format: str, problems: Problems
) -> Path | None:
    """``source_path`` when it is what ``model_format`` reads, else None after adding a problem."""
    if model_format == "graph":
        problem = graph_source_problem(source_path, source)
        if problem:
            problems.add(source_key, problem)
            return None
    elif source_path.is_dir():
        problems.add(
            source_key,
            f"{source} is a directory; a layers model needs a Keras file ({', '.join(KERAS_SUFFIXES)}); "
            'for a SavedModel directory use format = "graph" (or leave format out)',
        )
        return None
    elif source_path.suffix.lower() not in KERAS_SUFFIXES:
        problems.add(source_key, f"{source} is not a Keras model file; expected one of {', '.join(KERAS_SUFFIXES)}")
        return None
    return source_path


def special_file_inside(directory: Path) -> tuple[Path, str] | None:
    """The first FIFO, device or socket inside a source directory (symlinks followed), with its kind."""
    for path in sorted(directory.rglob("*")):
        kind = special_file_kind(path)
        if kind is not None:
            return path, kind
    return None
