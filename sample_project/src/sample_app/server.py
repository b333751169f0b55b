"""The sample app's web server: the page, its static files (TF.js included) and the bundled models.

    python -m sample_app [--host 127.0.0.1] [--port 8000]

Standard library only (``wsgiref``) plus ``hatch_tfjs.serve``, which serves the models the wheel ships under
``/models/`` with the content types and cache headers TF.js needs, and the browser loader the page imports
(``/models/tfjs-models.mjs``). In a real app, mount the same thing on Flask
(``hatch_tfjs.serve.flask_blueprint``) or FastAPI (``app.mount("/models", hatch_tfjs.serve.asgi_app("sample_app"))``).
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from hatch_tfjs import serve

STATIC = Path(__file__).parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def _static(path: str, method: str) -> tuple[str, list[tuple[str, str]], bytes]:
    target = (STATIC / path).resolve()
    if not target.is_file() or STATIC.resolve() not in target.parents:
        return "404 Not Found", [("Content-Type", "text/plain; charset=utf-8")], b"not found\n"
    body = target.read_bytes()
    kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    headers = [("Content-Type", kind), ("Content-Length", str(len(body))), ("Cache-Control", "no-cache")]
    return "200 OK", headers, b"" if method == "HEAD" else body


def create_app() -> Callable[..., Iterable[bytes]]:
    """The WSGI app: ``/`` the page, ``/static/...`` its files, ``/models/...`` the bundled TF.js models."""
    models = serve.wsgi_app("sample_app")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/models" or path.startswith("/models/"):
            environ = {**environ, "SCRIPT_NAME": environ.get("SCRIPT_NAME", "") + "/models", "PATH_INFO": path[len("/models"):]}
            return models(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/":
            status, headers, body = _static("index.html", method)
        elif path.startswith("/static/"):
            status, headers, body = _static(path[len("/static/"):], method)
        else:
            status, headers, body = "404 Not Found", [("Content-Type", "text/plain; charset=utf-8")], b"not found\n"
        start_response(status, headers)
        return [body]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # the browser fetches model.json, shards and scripts in parallel


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - wsgiref's signature
        if not self.server.quiet:  # type: ignore[attr-defined]
            super().log_message(format, *args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sample_app", description="Serve the sample app's page and models.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    httpd = make_server(args.host, args.port, create_app(), server_class=_Server, handler_class=_QuietHandler)
    httpd.quiet = args.quiet  # type: ignore[attr-defined]
    host, port = httpd.server_address[:2]
    print(f"sample_app: serving on http://{host}:{port}/ (Ctrl+C stops)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
