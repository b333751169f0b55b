"""Find the TF.js models an installed package ships, at run time (no TensorFlow, no numpy, no hatchling).

    >>> from hatch_tfjs import runtime
    >>> [m.name for m in runtime.models("mypkg")]
    ['classifier']
    >>> runtime.model_dir("mypkg", "classifier")        # the directory holding model.json and its shards
    PosixPath('.../site-packages/mypkg/web_models/classifier')

The page side: ``loader_path()`` is the browser loader (an ES module, ``tfjs-models.mjs``, with its TypeScript
declarations next to it) that reads the same index and calls the right TF.js loader; ``hatch_tfjs.serve`` serves it next
to the models, other servers can serve this file.

The models come from the ``index.json`` the hatch-tfjs build hook writes into the package (``<output-dir>/index.json``).
The package is located without importing it (``importlib.util.find_spec``), so this works for normal installs, editable
installs (hatchling's ``pip install -e``) and plain source checkouts on ``sys.path``; nothing is cached, so a rebuilt
editable install is seen at once.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hatch_tfjs.errors import HatchTfjsError

__all__ = ["BundledModel", "ModelLookupError", "index_files", "loader_path", "model", "model_dir", "models"]

INDEX_NAME = "index.json"  # the same as hatch_tfjs.index (not imported: it pulls in hashing helpers)
INDEX_GENERATOR = "hatch-tfjs"
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})
LOADER_NAME = "tfjs-models.mjs"


def loader_path() -> Path:
    """The browser loader shipped in this package: an ES module exporting ``loadModel(name, {baseUrl})`` and
    ``listModels({baseUrl})``. Serve it next to the models' ``index.json`` (``hatch_tfjs.serve`` does, at
    ``<prefix>/tfjs-models.mjs``); its TypeScript declarations are ``loader_path().with_suffix(".d.mts")``."""
    return Path(__file__).parent / "data" / LOADER_NAME


class ModelLookupError(HatchTfjsError, LookupError):
    """The package is not installed, ships no hatch-tfjs models, or has no model of that name."""


@dataclass(frozen=True)
class BundledModel:
    """One TF.js model shipped in a package."""

    name: str
    format: str  # "layers" (tf.loadLayersModel) or "graph" (tf.loadGraphModel)
    path: Path  # the directory holding model.json and the weight shards
    package: str
    files: tuple[str, ...] = ()  # model.json first, then the shards; relative to ``path``
    bytes: int = 0
    inputs: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "shape" (None = any size), "dtype"}]
    outputs: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)  # model.json's userDefinedMetadata
    index: Path | None = None  # the index.json this entry came from
    entry: dict[str, Any] = field(default_factory=dict, repr=False)  # the raw index entry (sha256 of each file, ...)
    execution: str = "sync"  # "async": a graph model that needs executeAsync() (control flow); else predict()/execute()

    @property
    def model_json(self) -> Path:
        return self.path / "model.json"

    @property
    def loader(self) -> str:
        """The TF.js function that loads it."""
        return "tf.loadGraphModel" if self.format == "graph" else "tf.loadLayersModel"

    def url(self, prefix: str = "/models") -> str:
        """The URL of model.json when the package's models are served under ``prefix`` (see ``hatch_tfjs.serve``)."""
        return f"{prefix.rstrip('/')}/{self.name}/model.json"

    def sha256(self, filename: str) -> str | None:
        for item in self.entry.get("files", []):
            if item.get("path") == filename:
                digest: str | None = item.get("sha256")
                return digest
        return None


def _execution(entry: dict[str, Any]) -> str:
    """The index's execution; an index written before it was recorded: executeAsync() runs every graph model."""
    recorded = entry.get("execution")
    if recorded in ("sync", "async"):
        return str(recorded)
    return "async" if entry.get("format") == "graph" else "sync"


def _package_dirs(package: str) -> list[Path]:
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError) as exc:
        raise ModelLookupError(
            f"package {package!r} cannot be found ({exc}); is it installed in this environment?"
        ) from exc
    if spec is None:
        raise ModelLookupError(
            f"package {package!r} is not installed in this environment (no module named {package!r})"
        )
    locations = list(spec.submodule_search_locations or [])
    if not locations:
        raise ModelLookupError(
            f"{package!r} is a module, not a package; pass the name of the package that ships the models"
        )
    return [Path(p) for p in locations]


def _is_our_index(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if isinstance(data, dict) and data.get("generator") == INDEX_GENERATOR and isinstance(data.get("models"), list):
        return data
    return None


def index_files(package: str) -> list[Path]:
    """Every hatch-tfjs ``index.json`` inside the package (usually one: ``<output-dir>/index.json``)."""
    found: list[Path] = []
    for base in _package_dirs(package):
        for directory, subdirs, files in os.walk(base):
            if "model.json" in files:  # a model directory: no index inside
                subdirs[:] = []
                continue
            subdirs[:] = sorted(d for d in subdirs if d not in _SKIP_DIRS and not d.startswith("."))
            if INDEX_NAME in files and _is_our_index(Path(directory) / INDEX_NAME) is not None:
                found.append(Path(directory) / INDEX_NAME)
    return found


def models(package: str) -> list[BundledModel]:
    """The TF.js models ``package`` ships, sorted by name. Raises :class:`ModelLookupError` when the package is not
    installed or ships no hatch-tfjs index."""
    indexes = index_files(package)
    if not indexes:
        raise ModelLookupError(
            f"package {package!r} ships no hatch-tfjs model index ({INDEX_NAME}); was it built with the hatch-tfjs "
            "build hook (hatch-tfjs >= 0.1 writes <output-dir>/index.json)? Rebuild and reinstall it"
        )
    found: dict[str, BundledModel] = {}
    for index_path in indexes:
        data = _is_our_index(index_path) or {}
        for entry in data.get("models", []):
            name = entry.get("name")
            directory = Path(os.path.normpath(index_path.parent / entry.get("path", name)))
            if name in found:
                raise ModelLookupError(
                    f"package {package!r} lists model {name!r} twice ({found[name].index} and {index_path}); "
                    "rebuild it so that one index lists each model"
                )
            found[name] = BundledModel(
                name=name,
                format=entry.get("format", "layers"),
                execution=_execution(entry),
                path=directory,
                package=package,
                files=tuple(f["path"] for f in entry.get("files", [])),
                bytes=int(entry.get("bytes", 0)),
                inputs=list(entry.get("inputs") or []),
                outputs=list(entry.get("outputs") or []),
                metadata=dict(entry.get("metadata") or {}),
                index=index_path,
                entry=entry,
            )
    return [found[name] for name in sorted(found)]


def model(package: str, name: str) -> BundledModel:
    """The model called ``name`` in ``package``; :class:`ModelLookupError` names the known models otherwise."""
    available = models(package)
    for candidate in available:
        if candidate.name == name:
            if not candidate.model_json.is_file():
                raise ModelLookupError(
                    f"package {package!r}: model {name!r} is listed in {candidate.index} but {candidate.model_json} "
                    "is missing; reinstall the package"
                )
            return candidate
    known = ", ".join(repr(m.name) for m in available) or "none"
    raise ModelLookupError(f"package {package!r} has no model {name!r}; its models: {known}")


def model_dir(package: str, name: str) -> Path:
    """The directory holding model ``name``'s model.json (and its weight shards) inside ``package``."""
    return model(package, name).path
