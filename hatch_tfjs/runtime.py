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
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from hatch_tfjs.errors import HatchTfjsError
from hatch_tfjs.names import file_name_problem, model_name_problem

__all__ = ["BundledModel", "ModelLookupError", "index_files", "loader_path", "model", "model_dir", "models"]

INDEX_NAME = "index.json"  # the same as hatch_tfjs.index (not imported: it pulls in hashing helpers)
INDEX_GENERATOR = "hatch-tfjs"
_SKIP_DIRS = frozenset({"__pycache__", "node_modules"})
LOADER_NAME = "tfjs-models.mjs"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if isinstance(data, dict) and data.get("generator") == INDEX_GENERATOR and isinstance(data.get("models"), list):
        return data
    return None


def _inside(path: Path, roots: list[Path]) -> bool:
    """``path`` (resolved) lies strictly inside one of ``roots`` (resolved)."""
    return any(path != root and path.is_relative_to(root) for root in roots)


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


class _Entry:
    """Reads one index entry, checking each key; a wrong one raises :class:`ModelLookupError` naming the index, the
    entry and the key. Nothing an index says may point outside the package: a tampered or damaged index is refused."""

    def __init__(self, package: str, index_path: Path, position: int, entry: object) -> None:
        self.package = package
        self.index_path = index_path
        self.label = f"entry #{position + 1} of 'models'"
        if not isinstance(entry, dict):
            raise self.error("", f"is {type(entry).__name__} {entry!r}, not an object")
        self.entry: dict[str, Any] = entry
        problem = model_name_problem(entry.get("name"))
        if problem:
            raise self.error("name", problem)
        self.name: str = entry["name"]
        self.label = f"model {self.name!r}"

    def error(self, key: str, problem: str) -> ModelLookupError:
        where = f"{self.label}, key {key!r}" if key else self.label
        return ModelLookupError(
            f"package {self.package!r}: {self.index_path}: {where} {problem}; this index.json was not written this "
            "way by hatch-tfjs (edited or damaged): rebuild and reinstall the package"
        )

    def directory(self, roots: list[Path]) -> Path:
        raw = self.entry.get("path", self.name)
        if not isinstance(raw, str) or not raw or "\0" in raw:
            raise self.error("path", f"is {type(raw).__name__} {raw!r}, not a folder path relative to the index")
        if PurePosixPath(raw).is_absolute() or PureWindowsPath(raw).is_absolute() or raw.startswith(("/", "\\")):
            raise self.error("path", f"is the absolute path {raw!r}; model folders are relative to the index")
        directory = Path(os.path.normpath(self.index_path.parent / raw))
        if not _inside(directory.resolve(), roots):
            raise self.error("path", f"{raw!r} leads outside the package ({directory.resolve()})")
        return directory

    def files(self) -> tuple[tuple[str, ...], int]:
        raw = self.entry.get("files", [])
        if not isinstance(raw, list):
            raise self.error("files", f"is {type(raw).__name__} {raw!r}, not a list of files")
        names: list[str] = []
        for item in raw:
            if not isinstance(item, dict):
                raise self.error("files", f"holds {type(item).__name__} {item!r}, not an object with a path")
            problem = file_name_problem(item.get("path"))
            if problem:
                raise self.error("files", f"holds a path that {problem}")
            size, digest = item.get("bytes", 0), item.get("sha256")
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise self.error("files", f"gives {item['path']!r} the size {size!r}, not a number of bytes")
            if digest is not None and not (isinstance(digest, str) and _SHA256.match(digest)):
                raise self.error("files", f"gives {item['path']!r} the sha256 {digest!r}, not 64 hex digits")
            if item["path"] in names:
                raise self.error("files", f"lists {item['path']!r} twice")
            names.append(item["path"])
        if raw and "model.json" not in names:
            raise self.error("files", "does not list model.json")
        total = self.entry.get("bytes", 0)
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise self.error("bytes", f"is {type(total).__name__} {total!r}, not a number of bytes")
        return tuple(names), total

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.entry.get(key, default)
        if value not in allowed:
            raise self.error(key, f"is {value!r}, not one of {', '.join(repr(a) for a in allowed)}")
        return str(value)

    def tensors(self, key: str) -> list[dict[str, Any]]:
        value = self.entry.get(key) or []
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            raise self.error(key, f"is {type(value).__name__} {value!r}, not a list of objects")
        return list(value)

    def metadata(self) -> dict[str, Any]:
        value = self.entry.get("metadata") or {}
        if not isinstance(value, dict):
            raise self.error("metadata", f"is {type(value).__name__} {value!r}, not an object")
        return dict(value)


def read_index(package: str, index_path: Path, roots: list[Path] | None = None) -> list[BundledModel]:
    """The models one index lists, each entry checked (:class:`ModelLookupError` for a wrong one); ``roots`` are the
    package's directories (found when not given): every model folder must lie inside one of them."""
    resolved_roots = [r.resolve() for r in (roots if roots is not None else _package_dirs(package))]
    if not _inside(index_path.resolve(), resolved_roots):
        raise ModelLookupError(
            f"package {package!r}: {index_path} leads outside the package ({index_path.resolve()}); rebuild and "
            "reinstall the package"
        )
    data = _is_our_index(index_path)
    if data is None:
        raise ModelLookupError(
            f"package {package!r}: {index_path} is no longer a readable hatch-tfjs index; rebuild and reinstall it"
        )
    found: list[BundledModel] = []
    for position, raw in enumerate(data["models"]):
        entry = _Entry(package, index_path, position, raw)
        files, size = entry.files()
        found.append(
            BundledModel(
                name=entry.name,
                format=entry.choice("format", ("layers", "graph"), "layers"),
                execution=_execution(entry.entry),
                path=entry.directory(resolved_roots),
                package=package,
                files=files,
                bytes=size,
                inputs=entry.tensors("inputs"),
                outputs=entry.tensors("outputs"),
                metadata=entry.metadata(),
                index=index_path,
                entry=entry.entry,
            )
        )
    return found


def models(package: str) -> list[BundledModel]:
    """The TF.js models ``package`` ships, sorted by name. Raises :class:`ModelLookupError` when the package is not
    installed, ships no hatch-tfjs index, or an index entry is malformed or points outside the package."""
    return models_in(package, index_files(package))


def models_in(package: str, indexes: list[Path]) -> list[BundledModel]:
    """:func:`models` from these index files (``index_files(package)``)."""
    if not indexes:
        raise ModelLookupError(
            f"package {package!r} ships no hatch-tfjs model index ({INDEX_NAME}); was it built with the hatch-tfjs "
            "build hook (hatch-tfjs >= 0.1 writes <output-dir>/index.json)? Rebuild and reinstall it"
        )
    roots = _package_dirs(package)
    found: dict[str, BundledModel] = {}
    for index_path in indexes:
        for bundled in read_index(package, index_path, roots):
            name = bundled.name
            if name in found:
                raise ModelLookupError(
                    f"package {package!r} lists model {name!r} twice ({found[name].index} and {index_path}); "
                    "rebuild it so that one index lists each model"
                )
            found[name] = bundled
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
