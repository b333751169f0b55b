"""The package index: ``<output-dir>/index.json``, which tells the runtime API (``hatch_tfjs.runtime``) and the serving
helpers which models a package ships.

Each entry says what a page needs to run its model: ``format`` (``tf.loadLayersModel`` or ``tf.loadGraphModel``) and
``execution`` (``"async"``: a graph that needs ``executeAsync()``) and ``backends`` (the TF.js backends with a kernel
for every op, fastest first: see ``backends.py``); the browser loader ``tfjs-models.mjs`` reads all three.

Written by the build hook after every build from what is on disk (so fresh models that were not converted again are
listed too). Its content is deterministic: models sorted by name, paths relative to the index's directory (POSIX,
``..`` only for a model whose ``output`` lies outside ``output-dir``), sizes and sha256 of each file, no timestamps
and no absolute paths. It is only rewritten when its content changes. Standard library only.

Where it goes: ``output-dir`` (set, or defaulted to ``<package>/web_models``). Without an output-dir (every model has
its own ``output``) it goes to the deepest directory holding every model output, when that directory is inside a
package the wheel ships; otherwise no index is written and the hook says so.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from hatch_tfjs.describe import describe_model_dir
from hatch_tfjs.errors import HatchTfjsError, OutputConflictError
from hatch_tfjs.ownership import INDEX_NAME, is_own_index

INDEX_GENERATOR = "hatch-tfjs"
INDEX_VERSION = 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def index_directory(
    output_dir: Path | None, outputs: list[Path], root: Path, packages: list[str] | None
) -> Path | None:
    """Where the index of these model outputs goes (see the module docstring), or None when nowhere sensible."""
    if output_dir is not None:
        candidate = output_dir
    elif outputs:
        candidate = Path(os.path.commonpath([str(p.parent) for p in outputs]))
    else:
        return None
    if not candidate.is_relative_to(root) or candidate == root:
        return None
    if packages:
        package_dirs = [root / PurePosixPath(p.strip("/")) for p in packages]
        if not any(candidate.is_relative_to(d) for d in package_dirs):
            return None
    return candidate


def model_entry(name: str, model_dir: Path, index_dir: Path) -> dict[str, Any]:
    """One model's index entry, described from its directory."""
    info = describe_model_dir(model_dir)
    if info["problems"]:
        raise HatchTfjsError(f"model '{name}' ({model_dir}): " + "; ".join(info["problems"]))
    files = []
    for relative in ["model.json", *(s["path"] for s in info["shards"])]:
        path = model_dir / relative
        files.append({"path": relative, "bytes": path.stat().st_size, "sha256": _sha256(path)})
    return {
        "name": name,
        "format": info["format"],
        "execution": info[
            "execution"
        ],  # "sync": predict()/execute(); "async": executeAsync() (the browser loader reads it)
        "backends": info["backends"],  # the TF.js backends with a kernel for every op (the loader's "auto" tries these)
        "path": PurePosixPath(os.path.relpath(model_dir, index_dir)).as_posix(),
        "files": files,
        "bytes": sum(f["bytes"] for f in files),
        "inputs": info["inputs"],
        "outputs": info["outputs"],
        "weights": {"count": info["weights"]["count"], "parameters": info["weights"]["parameters"]},
        "quantization": info["quantization"],
        "metadata": info["metadata"],
    }


def build_index(models: Iterable[tuple[str, Path]], index_dir: Path) -> dict[str, Any]:
    entries = [model_entry(name, Path(path), index_dir) for name, path in sorted(models, key=lambda m: m[0])]
    return {"generator": INDEX_GENERATOR, "index_version": INDEX_VERSION, "models": entries}


def index_bytes(index: dict[str, Any]) -> bytes:
    return (json.dumps(index, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def write_index(index_dir: Path, index: dict[str, Any]) -> bool:
    """Write ``index_dir/index.json`` atomically when its content changed; True when written."""
    target = index_dir / INDEX_NAME
    if not is_own_index(target):
        raise OutputConflictError(
            f"{target} exists and was not written by hatch-tfjs; it would be overwritten by the model index: move it, "
            "or set output-dir to another directory"
        )
    payload = index_bytes(index)
    try:
        if target.read_bytes() == payload:
            return False
    except OSError:
        pass
    index_dir.mkdir(parents=True, exist_ok=True)
    partial = index_dir / f".{INDEX_NAME}.part"
    partial.write_bytes(payload)
    partial.replace(target)
    return True


def write_index_for_build(
    models: list[tuple[str, Path]], output_dir: Path | None, root: Path, packages: list[str] | None
) -> tuple[Path | None, str]:
    """Index every model of a build: ``models`` are (name, output directory) pairs, ``output_dir`` the build's
    output-dir (None when every model has its own ``output``), ``root`` the project's.

    Returns ``(path of index.json relative to the project root, message)``; the path is None when no index could be
    placed (the message says why and what to do)."""
    index_dir = index_directory(output_dir, [output for _, output in models], root, packages)
    if index_dir is None:
        return None, (
            "no index.json written (hatch_tfjs.runtime cannot list these models): the model outputs share no directory "
            'inside a package; set output-dir on the hook table, e.g. output-dir = "src/mypkg/web_models"'
        )
    target = index_dir / INDEX_NAME  # no model output collides with it: the configuration refuses that
    index = build_index(models, index_dir)
    written = write_index(index_dir, index)
    relative = target.relative_to(root).as_posix()
    count = len(index["models"])
    return Path(relative), f"{'wrote' if written else 'kept'} {relative} ({count} model{'s' if count != 1 else ''})"
