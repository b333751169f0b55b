"""Serve the TF.js models a package ships: a WSGI app, an ASGI app and a Flask blueprint, all on the same rules.

URLs, under whatever prefix the app is mounted at (``/models`` below):

- ``/models/<name>/model.json`` and ``/models/<name>/<shard>.bin``: only the model folders the package's
  ``index.json`` lists inside the package, and in them only ``model.json`` and the shards it names (regular files with
  plain names: nothing else in the package or outside it is reachable, whatever a file says); ``application/json`` for
  model.json, ``application/octet-stream`` for shards, ``X-Content-Type-Options: nosniff``, a strong ``ETag`` (the
  sha256 of the bytes sent) with ``304 Not Modified`` for ``If-None-Match``, and ``Cache-Control: no-cache`` by
  default: browsers keep the files but revalidate, so an upgraded package never mixes a new model.json with old cached
  shards. Everything follows the files on disk: a rebuilt or reinstalled package is served at once, no restart.
- ``/models/`` and ``/models/index.json``: the list of models (name, format, execution, loader, url of model.json
  relative to the listing, version (sha256 of model.json), inputs, outputs, metadata, bytes), for pages that
  discover their models.
- ``/models/tfjs-models.mjs``: the browser loader (``hatch_tfjs.runtime.loader_path()``), an ES module whose
  ``loadModel(name)`` reads that listing and calls the right TF.js loader:
  ``import { loadModel } from "/models/tfjs-models.mjs"``.

Framework imports are lazy: the WSGI and ASGI apps need nothing beyond the standard library, and Flask is imported only
by :func:`flask_blueprint`.

    # FastAPI / Starlette
    app.mount("/models", hatch_tfjs.serve.asgi_app("mypkg"))
    # Flask
    app.register_blueprint(hatch_tfjs.serve.flask_blueprint("mypkg", url_prefix="/models"))
    # any WSGI app (Django, Bottle, wsgiref): dispatch /models/* to
    models_app = hatch_tfjs.serve.wsgi_app("mypkg")
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs

from hatch_tfjs.names import file_name_problem
from hatch_tfjs.runtime import (
    LOADER_NAME,
    BundledModel,
    ModelLookupError,
    index_files,
    loader_path,
    models,
    models_in,
)

__all__ = ["ModelFiles", "asgi_app", "content_type", "flask_blueprint", "wsgi_app"]

DEFAULT_CACHE_CONTROL = "no-cache"
CHUNK = 256 * 1024
_REASONS = {
    200: "OK", 304: "Not Modified", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
    503: "Service Unavailable",
}  # fmt: skip
_log = logging.getLogger(__name__)


def content_type(filename: str) -> str:
    """The Content-Type TF.js expects for a file of a model directory (and a browser for the loader module)."""
    if filename.endswith(".json"):
        return "application/json"
    if filename.endswith(".mjs"):
        return "text/javascript; charset=utf-8"  # browsers refuse a module script served as anything else
    return "application/octet-stream"


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes | BinaryIO  # an open file is streamed, then closed
    head: bool = False  # HEAD request: headers only

    @property
    def status_line(self) -> str:
        return f"{self.status} {_REASONS.get(self.status, '')}".strip()

    def chunks(self) -> Iterator[bytes]:
        if isinstance(self.body, bytes):
            if not self.head:
                yield self.body
            return
        try:
            while not self.head and (chunk := self.body.read(CHUNK)):
                yield chunk
        finally:
            self.body.close()

    def close(self) -> None:
        """Release the open file of a response that is not sent (``chunks()`` closes it otherwise)."""
        if not isinstance(self.body, bytes):
            self.body.close()


def _stat_key(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _file_key(path: Path) -> tuple[int, int, int, int] | None:
    try:
        return _stat_key(path.stat())
    except OSError:
        return None


def _index_signature(indexes: list[Path]) -> tuple[tuple[str, tuple[int, int, int, int] | None], ...]:
    return tuple((str(path), _file_key(path)) for path in indexes)


@dataclass(frozen=True)
class _Snapshot:
    """What one reading of the package's index files says: the models and the listing served at ``index.json``."""

    signature: tuple[tuple[str, tuple[int, int, int, int] | None], ...]
    models: list[BundledModel]
    listing: bytes
    folders: dict[str, Path]  # model name -> its folder, resolved when the index was checked


class ModelFiles:
    """The framework-free core: maps request paths (relative to the mount point) to responses.

    Everything follows the files on disk, so a rebuilt editable install or a reinstalled package is served at once,
    never mixed with what was there before: the index is read again when an index file changes (each request looks
    at its size and time; a rebuild rewrites it), ``model.json`` and the shards it names are opened per request, and
    each answer's ETag is the sha256 of the very bytes it sends (hashed once per file version). Only model folders an
    index lists inside the package are served, and in them only ``model.json`` and the shards its weights manifest
    names (plain file names; no symbolic links, only regular files)."""

    def __init__(
        self,
        package: str,
        *,
        cache_control: str = DEFAULT_CACHE_CONTROL,
        cors: str | None = None,
        only: Iterable[str] | None = None,
    ) -> None:
        self.package = package
        self.cache_control = cache_control
        self.cors = cors
        self._chosen = set(only) if only is not None else None
        self._lock = threading.Lock()
        self._hashes: dict[str, tuple[tuple[int, int, int, int], str]] = {}  # path -> (stat key, sha256)
        self._manifests: dict[str, tuple[tuple[int, int, int, int], frozenset[str]]] = {}  # model.json -> shards
        self._snapshot = self._load()
        if self._chosen is not None and self._chosen - {m.name for m in self._snapshot.models}:
            missing = ", ".join(sorted(self._chosen - {m.name for m in self._snapshot.models}))
            known = ", ".join(m.name for m in models(package))
            raise ModelLookupError(f"package {package!r} has no model {missing}; its models: {known}")

    # --- the index, read again when it changes ----------------------------------------------------------------------

    def _load(self) -> _Snapshot:
        indexes = index_files(self.package)
        signature = _index_signature(indexes)  # taken before reading: a change while reading is seen next time
        chosen = [m for m in models_in(self.package, indexes) if self._chosen is None or m.name in self._chosen]
        listing = {
            "package": self.package,
            "models": [
                {
                    "name": m.name,
                    "format": m.format,
                    "execution": m.execution,
                    "loader": m.loader,
                    "url": f"{m.name}/model.json",
                    "version": m.sha256("model.json"),  # the loader asks for model.json?v=<version>: see respond()
                    "bytes": m.bytes,
                    "inputs": m.inputs,
                    "outputs": m.outputs,
                    "metadata": m.metadata,
                }
                for m in chosen
            ],
        }
        try:
            body = (json.dumps(listing, indent=1, allow_nan=False) + "\n").encode("utf-8")
        except (ValueError, UnicodeEncodeError, RecursionError) as exc:
            raise ModelLookupError(
                f"package {self.package!r}: its index lists inputs, outputs or metadata that are not plain JSON "
                f"({type(exc).__name__}: {exc}); rebuild and reinstall the package"
            ) from exc
        return _Snapshot(signature, chosen, body, {m.name: m.path.resolve() for m in chosen})

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        if _index_signature([Path(p) for p, _ in snapshot.signature]) != snapshot.signature:
            with self._lock:
                if self._snapshot is snapshot:
                    self._snapshot = self._load()
                snapshot = self._snapshot
        return snapshot

    @property
    def models(self) -> list[BundledModel]:
        """The models served now."""
        return self._current().models

    @property
    def listing(self) -> bytes:
        """The body of ``<prefix>/index.json``."""
        return self._current().listing

    # --- files --------------------------------------------------------------------------------------------------------

    def _sha256(self, path: str, handle: BinaryIO, key: tuple[int, int, int, int]) -> str:
        known = self._hashes.get(path)
        if known is not None and known[0] == key:
            return known[1]
        digest = hashlib.sha256()
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
        handle.seek(0)
        self._hashes[path] = (key, digest.hexdigest())
        return digest.hexdigest()

    def _shards(self, model_json: Path) -> frozenset[str]:
        """The shard names ``model_json``'s weights manifest gives (plain file names only; none when unreadable)."""
        handle = _open_regular(model_json)
        if handle is None:
            return frozenset()
        with handle:
            key = _stat_key(os.fstat(handle.fileno()))
            known = self._manifests.get(str(model_json))
            if known is not None and known[0] == key:
                return known[1]
            try:
                document = json.loads(handle.read().decode("utf-8"))
                paths = [p for group in document["weightsManifest"] for p in group["paths"]]
            except (ValueError, UnicodeDecodeError, RecursionError, KeyError, TypeError):
                paths = []
        names = frozenset(p for p in paths if file_name_problem(p) is None and p != "model.json")
        self._manifests[str(model_json)] = (key, names)
        return names

    def _open(self, path: str) -> tuple[Path, BinaryIO] | None:
        """The file a request path names and its open handle, or None when it is not served."""
        if path == LOADER_NAME:
            handle = _open_regular(loader_path())
            return None if handle is None else (loader_path(), handle)
        name, _, filename = path.partition("/")
        snapshot = self._current()
        found = next((m for m in snapshot.models if m.name == name), None)
        if found is None or file_name_problem(filename) is not None:
            return None
        folder = found.path
        if filename != "model.json" and filename not in self._shards(folder / "model.json"):
            return None
        try:  # the folder still resolves where it did when the index was checked (no link put on the way since)
            if folder.resolve() != snapshot.folders[name]:
                return None
        except OSError:
            return None
        handle = _open_regular(folder / filename)
        return None if handle is None else (folder / filename, handle)

    def _common(self) -> list[tuple[str, str]]:
        headers = [("Cache-Control", self.cache_control), ("X-Content-Type-Options", "nosniff")]
        if self.cors:
            headers.append(("Access-Control-Allow-Origin", self.cors))
        return headers

    def _changed(self, path: str, version: str) -> bool:
        """Whether model ``path``'s model.json on disk is no longer the one whose sha256 is ``version``."""
        name = path.partition("/")[0]
        found = next((m for m in self._current().models if m.name == name), None)
        if found is None:
            return False  # no such model: a 404
        handle = _open_regular(found.path / "model.json")
        if handle is None:
            return True
        with handle:
            digest = self._sha256(str(found.path / "model.json"), handle, _stat_key(os.fstat(handle.fileno())))
        return digest != version

    def respond(self, method: str, path: str, if_none_match: str | None = None, query: str = "") -> Response:
        """``path`` is relative to the mount point, e.g. ``iris/model.json`` (a leading ``/`` is ignored); ``query``
        the query string: ``v=<sha256 of model.json>`` (the browser loader adds it to model.json's URL, TF.js to each
        shard's) makes any file of a model whose model.json has changed since answer 409, never a mix."""
        path = path.lstrip("/")
        if method not in ("GET", "HEAD"):
            headers = [("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")]
            return Response(405, headers, b"method not allowed\n")
        head = method == "HEAD"
        try:
            if path in ("", "index.json"):
                listing = self.listing
                headers = [("Content-Type", "application/json"), ("Content-Length", str(len(listing))), *self._common()]
                return Response(200, headers, listing, head)
            opened = self._open(path)
        except ModelLookupError as exc:  # the index changed into something that cannot be served
            _log.error("hatch_tfjs.serve: %s", exc)
            return _text(503, f"the models of package {self.package!r} are not available now\n", head)
        version = parse_qs(query).get("v", [""])[0]
        # checked after opening the file: a file opened no earlier than the client read model.json, and model.json
        # unchanged since then, are of one build (a rebuild replaces the model's folder at once); a file the new
        # build lacks is a change too, not a 404
        if version and path != LOADER_NAME and self._changed(path, version):
            if opened is not None:
                opened[1].close()
            changed = f"{path}: the model changed on the server since its model.json was read; load it again\n"
            return _text(409, changed, head)
        if opened is None:
            known = ", ".join(m.name for m in self._snapshot.models)
            return _text(404, f"no such model file: {path}; models: {known}\n", head)
        file_path, handle = opened
        size = os.fstat(handle.fileno()).st_size
        etag = f'"{self._sha256(str(file_path), handle, _stat_key(os.fstat(handle.fileno())))}"'
        headers = [("Content-Type", content_type(path)), *self._common(), ("ETag", etag)]
        if if_none_match and (if_none_match.strip() == "*" or etag in [t.strip() for t in if_none_match.split(",")]):
            handle.close()
            return Response(304, headers, b"", True)
        headers.append(("Content-Length", str(size)))
        return Response(200, headers, handle, head)


def _text(status: int, message: str, head: bool) -> Response:
    body = message.encode("utf-8")
    return Response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))], body, head
    )


def _open_regular(path: Path) -> BinaryIO | None:
    """``path`` opened for reading when it is a regular file and not a symbolic link; None otherwise."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode) or path.is_symlink():
            os.close(descriptor)
            return None
    except OSError:
        os.close(descriptor)
        return None
    return os.fdopen(descriptor, "rb")


def wsgi_app(package: str, **options: Any) -> Callable[..., Iterable[bytes]]:
    """A WSGI app serving ``package``'s models at its root (``PATH_INFO`` is ``/<name>/model.json``).

    Mount it under a prefix with any dispatcher (``werkzeug.middleware.dispatcher.DispatcherMiddleware``, or a few lines
    of your own: strip the prefix from ``PATH_INFO`` and add it to ``SCRIPT_NAME``). ``options``: ``cache_control``,
    ``cors``, ``only`` (model names), as :class:`ModelFiles`."""
    files = ModelFiles(package, **options)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = files.respond(
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("PATH_INFO", ""),
            environ.get("HTTP_IF_NONE_MATCH"),
            environ.get("QUERY_STRING", ""),
        )
        start_response(response.status_line, response.headers)
        return response.chunks()

    app.model_files = files  # type: ignore[attr-defined]  # kept on the app so callers can see what it serves
    return app


def asgi_app(package: str, **options: Any) -> Callable[..., Any]:
    """An ASGI app serving ``package``'s models; mount it: ``app.mount("/models", asgi_app("mypkg"))`` (Starlette,
    FastAPI) or serve it directly. ``options`` as :func:`wsgi_app`. Files are read in chunks of 256 KiB."""
    files = ModelFiles(package, **options)

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path = scope.get("path", "")
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path):  # Starlette's Mount keeps the full path and sets root_path
            path = path[len(root_path) :]
        if_none_match = None
        for key, value in scope.get("headers", []):
            if key.lower() == b"if-none-match":
                if_none_match = value.decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        response = files.respond(scope.get("method", "GET"), path, if_none_match, query)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers],
            }
        )
        for chunk in response.chunks():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    app.model_files = files  # type: ignore[attr-defined]  # kept on the app so callers can see what it serves
    return app


def flask_blueprint(package: str, *, url_prefix: str = "/models", name: str = "tfjs_models", **options: Any) -> Any:
    """A Flask blueprint serving ``package``'s models under ``url_prefix``: ``app.register_blueprint(...)``.
    ``options`` as :func:`wsgi_app`."""
    try:
        from flask import Blueprint, request
        from flask import Response as FlaskResponse
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("flask_blueprint needs Flask: pip install flask (or use wsgi_app)") from exc
    files = ModelFiles(package, **options)
    blueprint = Blueprint(name, __name__, url_prefix=url_prefix)

    def serve(filename: str = "") -> Any:
        response = files.respond(
            request.method, filename, request.headers.get("If-None-Match"), request.query_string.decode("latin-1")
        )
        flask_response = FlaskResponse(response.chunks(), status=response.status)  # streamed from disk
        for key, value in response.headers:
            flask_response.headers[key] = value  # replaces Flask's defaults (Content-Type, Content-Length)
        return flask_response

    blueprint.add_url_rule("/", "listing", serve, methods=["GET", "HEAD"])
    blueprint.add_url_rule("/<path:filename>", "file", serve, methods=["GET", "HEAD"])
    blueprint.model_files = files  # type: ignore[attr-defined]  # as on wsgi_app's app
    return blueprint
