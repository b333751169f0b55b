"""Where outputs go and whether they may be written: no two models' outputs nest, each inside a package the wheel
ships, none through a symbolic link, none replacing what hatch-tfjs did not write, none colliding with the model
index. Standard library only."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from hatch_tfjs.config.context import Problems
from hatch_tfjs.config.spec import ModelSpec, relative_path
from hatch_tfjs.ownership import (
    INDEX_NAME,
    is_own_index,
    replace_conflict,
    symlink_on_the_way,
)


def _parents(path: str) -> list[str]:
    """Every folder above an absolute, normalized ``path`` (a string: ``Path.parents`` is slow for 10,000 models)."""
    found = []
    parent = os.path.dirname(path)  # noqa: PTH120 - strings on purpose (see the docstring)
    while parent != path:
        found.append(parent)
        path, parent = parent, os.path.dirname(parent)  # noqa: PTH120
    return found


def check_outputs(
    specs: list[ModelSpec], root: Path, packages: list[str], problems: Problems, *, guard_outputs: bool = True
) -> None:
    package_dirs = [root / PurePosixPath(p) for p in packages]
    seen: dict[Path, str] = {}
    outputs: dict[str, str] = {}  # the same as ``seen``, by string: nesting is checked on strings (pathlib is slow)
    below: dict[str, list[str]] = {}  # each folder holding an output -> the models whose outputs it holds
    for spec in sorted(specs, key=lambda s: s.name):
        key = f"models.{spec.name}.output"
        if spec.output in seen:
            problems.add(
                key,
                f"{spec.output_rel!r} is also the output of model {seen[spec.output]!r}; give each model its own "
                "output",
            )
            continue
        # nesting, in time linear in the number of models: the outputs above this one, then those below it
        output = str(spec.output)
        parents = _parents(output)
        overlapping = [outputs[p] for p in parents if p in outputs] + below.get(output, [])
        for other in sorted(overlapping):
            problems.add(key, f"{spec.output_rel!r} overlaps the output of model {other!r}; outputs must not nest")
        seen[spec.output] = outputs[output] = spec.name
        for parent in parents:
            below.setdefault(parent, []).append(spec.name)
        if package_dirs and not any(spec.output.is_relative_to(d) and spec.output != d for d in package_dirs):
            shipped = ", ".join(repr(p) for p in packages)
            problems.add(
                key,
                f"{spec.output_rel!r} is outside every package the wheel ships ({shipped}); "
                f'write models inside a package, e.g. "{packages[0]}/web_models/{spec.name}"',
            )
        if spec.source.is_relative_to(spec.output):
            problems.add(
                key, f"{spec.output_rel!r} contains the model's source {spec.source_rel!r}; it would be overwritten"
            )
            continue
        if guard_outputs:
            _check_writable_here(spec, root, key, problems)


def _check_writable_here(spec: ModelSpec, root: Path, key: str, problems: Problems) -> None:
    """Containment and ownership of one model output: nothing on its way is a symlink, and it is absent, empty or
    hatch-tfjs's own (see ownership.py). A build never replaces anything else."""
    link = symlink_on_the_way(spec.output, root)
    if link is not None:
        problems.add(
            key,
            f"{relative_path(link, root)!r} is a symbolic link (to {link.readlink()}); hatch-tfjs writes only to real "
            "directories inside the project, so the wheel never ships files from elsewhere: replace the link with a "
            "directory or choose another output",
        )
        return
    conflict = replace_conflict(spec.output)
    if conflict is not None:
        problems.add(
            key,
            f"{spec.output_rel!r} {conflict}; a build replaces the whole directory, and hatch-tfjs only replaces "
            f"directories it wrote itself (or empty ones): set output on model {spec.name!r} (or output-dir) to a new "
            "directory, or move those files away",
        )


def check_output_dir(output_dir: Path, root: Path, problems: Problems, *, given: bool) -> None:
    """``output-dir`` holds the model outputs and the model index: no symlink on its way, no user file named
    ``index.json`` in it."""
    key = "output-dir" if given else "output-dir (default)"
    link = symlink_on_the_way(output_dir, root)
    if link is not None:
        problems.add(
            key,
            f"{relative_path(link, root)!r} is a symbolic link (to {link.readlink()}); hatch-tfjs writes only to real "
            "directories inside the project: replace the link with a directory or set output-dir elsewhere",
        )
        return
    index = output_dir / INDEX_NAME
    if not is_own_index(index):
        problems.add(
            key,
            f"{relative_path(index, root)!r} exists and was not written by hatch-tfjs, which keeps its model index "
            "there; move that file, or set output-dir to another directory",
        )


def check_index_collisions(
    specs: list[ModelSpec], output_dir: Path | None, root: Path, packages: list[str], problems: Problems
) -> None:
    """No model output may be or hold the model index (``<output-dir>/index.json``): refused here, before anything is
    converted, so a build never converts a model it then cannot index."""
    from hatch_tfjs.index import index_directory

    index_dir = index_directory(output_dir, [s.output for s in specs], root, packages)
    if index_dir is None:
        return
    target = index_dir / INDEX_NAME
    for spec in specs:
        if spec.output == target or target.is_relative_to(spec.output):
            problems.add(
                f"models.{spec.name}.output",
                f"{spec.output_rel!r} collides with the model index {relative_path(target, root)!r}, which hatch-tfjs "
                "writes there; rename the model or set its output to a folder of its own inside output-dir",
            )
