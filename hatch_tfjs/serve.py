"""Serve the TF.js models a package ships: a WSGI app, an ASGI app and a Flask blueprint, all on the same rules.

URLs, under whatever prefix the app is mounted at (``/models`` below):

- ``/models/<name>/model.json`` and ``/models/<name>/<shard>.bin``: only the files the package's ``index.json`` lists
  (nothing else in the package is reachable, no path tricks); ``application/json`` for model.json,
  ``application/octet-stream`` for shards, ``X-Content-Type-Options: nosniff``, a strong ``ETag`` (the file's sha256
  from the index) with ``304 Not Modified`` for ``If-None-Match``, and ``Cache-Control: no-cache`` by default: browsers
  keep the files but revalidate, so an upgraded package never mixes a new model.json with old cached shards.
- ``/models/`` and ``/models/index.json``: the list of models (name, format, execution, loader, url of model.json
  relative to the listing, inputs, outputs, metadata, bytes), for pages that discover their models.
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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatch_tfjs.runtime import LOADER_NAME, BundledModel, loader_path, models

__all__ = ["ModelFiles", "asgi_app", "content_type", "flask_blueprint", "wsgi_app"]

DEFAULT_CACHE_CONTROL = "no-cache"
CHUNK = 256 * 1024
_REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found", 405: "Method Not Allowed"}


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
    body: bytes | Path  # a Path is streamed from disk
    head: bool = False  # HEAD request: headers only

    @property
    def status_line(self) -> str:
        return f"{self.status} {_REASONS.get(self.status, '')}".strip()

    def chunks(self) -> Iterator[bytes]:
        if self.head:
            return
        if isinstance(self.body, bytes):
            yield self.body
            return
        with self.body.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk


class ModelFiles:
    """The framework-free core: maps request paths (relative to the mount point) to responses.

    The file table is read from the package's index once, when this is created; restart the app after rebuilding an
    editable install."""

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
        chosen = set(only) if only is not None else None
        self.models: list[BundledModel] = [m for m in models(package) if chosen is None or m.name in chosen]
        if chosen is not None and chosen - {m.name for m in self.models}:
            missing = ", ".join(sorted(chosen - {m.name for m in self.models}))
            known = ", ".join(m.name for m in models(package))
            from hatch_tfjs.runtime import ModelLookupError

            raise ModelLookupError(f"package {package!r} has no model {missing}; its models: {known}")
        self.files: dict[str, tuple[Path, str | None]] = {}
        for model in self.models:
            for filename in model.files:
                self.files[f"{model.name}/{filename}"] = (model.path / filename, model.sha256(filename))
        loader = loader_path()
        self.files[LOADER_NAME] = (loader, hashlib.sha256(loader.read_bytes()).hexdigest())
        self.listing = (
            json.dumps(
                {
                    "package": package,
                    "models": [
                        {
                            "name": m.name,
                            "format": m.format,
                            "execution": m.execution,
                            "loader": m.loader,
                            "url": f"{m.name}/model.json",
                            "bytes": m.bytes,
                            "inputs": m.inputs,
                            "outputs": m.outputs,
                            "metadata": m.metadata,
                        }
                        for m in self.models
                    ],
                },
                indent=1,
            )
            + "\n"
        ).encode("utf-8")

    def _common(self) -> list[tuple[str, str]]:
        headers = [("Cache-Control", self.cache_control), ("X-Content-Type-Options", "nosniff")]
        if self.cors:
            headers.append(("Access-Control-Allow-Origin", self.cors))
        return headers

    def respond(self, method: str, path: str, if_none_match: str | None = None) -> Response:
        """``path`` is relative to the mount point, e.g. ``iris/model.json`` (a leading ``/`` is ignored)."""
        path = path.lstrip("/")
        if method not in ("GET", "HEAD"):
            headers = [("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")]
            return Response(405, headers, b"method not allowed\n")
        head = method == "HEAD"
        if path in ("", "index.json"):
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(self.listing))),
                *self._common(),
            ]
            return Response(200, headers, self.listing, head)
        found = self.files.get(path)
        if found is None or not found[0].is_file():
            body = f"no such model file: {path}; models: {', '.join(m.name for m in self.models)}\n".encode()
            return Response(
                404, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))], body, head
            )
        file_path, sha = found
        etag = f'"{sha}"' if sha else None
        headers = [("Content-Type", content_type(path)), *self._common()]
        if etag:
            headers.append(("ETag", etag))
            if if_none_match and (
                if_none_match.strip() == "*" or etag in [t.strip() for t in if_none_match.split(",")]
            ):
                return Response(304, headers, b"", True)
        headers.append(("Content-Length", str(file_path.stat().st_size)))
        return Response(200, headers, file_path, head)


def wsgi_app(package: str, **options: Any) -> Callable[..., Iterable[bytes]]:
    """A WSGI app serving ``package``'s models at its root (``PATH_INFO`` is ``/<name>/model.json``).

    Mount it under a prefix with any dispatcher (``werkzeug.middleware.dispatcher.DispatcherMiddleware``, or a few lines
    of your own: strip the prefix from ``PATH_INFO`` and add it to ``SCRIPT_NAME``). ``options``: ``cache_control``,
    ``cors``, ``only`` (model names), as :class:`ModelFiles`."""
    files = ModelFiles(package, **options)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = files.respond(
            environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""), environ.get("HTTP_IF_NONE_MATCH")
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
        response = files.respond(scope.get("method", "GET"), path, if_none_match)
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
        response = files.respond(request.method, filename, request.headers.get("If-None-Match"))
        flask_response = FlaskResponse(response.chunks(), status=response.status)  # streamed from disk
        for key, value in response.headers:
            flask_response.headers[key] = value  # replaces Flask's defaults (Content-Type, Content-Length)
        return flask_response

    blueprint.add_url_rule("/", "listing", serve, methods=["GET", "HEAD"])
    blueprint.add_url_rule("/<path:filename>", "file", serve, methods=["GET", "HEAD"])
    blueprint.model_files = files  # type: ignore[attr-defined]  # as on wsgi_app's app
    return blueprint
