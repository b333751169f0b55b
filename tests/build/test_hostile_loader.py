"""The browser loader (tfjs-models.mjs) against hostile indexes and manifests (issue 21.7), in Node and in Chromium.

A real server on 127.0.0.1 serves the built sample models under ``/case-<n>/``, each case with its own index.json; a
second server stands for another site ("evil") and records every request it gets. The loader must refuse every entry
whose URL is not a relative path under the index's directory (other sites, ``//host/``, ``data:``, ``javascript:``,
``..`` and its percent-encoded form) or whose name is not a plain name, with an error naming the index and the entry,
and must fetch nothing outside the models' folders; a model.json whose manifest climbs out of its folder is refused
before the outside file is fetched."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS
from helpers import copy_sample_project
from projects import hatchling_build
from test_browser import TFJS_DIST

from hatch_tfjs.runtime import loader_path

pytestmark = pytest.mark.slow

JS_DIR = Path(__file__).parents[1] / "js"
SECRET = b"top secret: never fetched\n"
FIX = "the loader only loads plain model names at relative paths under {base}: rebuild the package, or fix the index"


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class Site:
    """The models' server (every request recorded) and the other site's."""

    def __init__(self, models: Path) -> None:
        self.models = models
        self.indexes: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.evil_requests: list[str] = []
        self._servers = [make_server("127.0.0.1", 0, self.app, handler_class=Quiet),
                         make_server("127.0.0.1", 0, self.evil, handler_class=Quiet)]
        for server in self._servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.evil_url = f"http://127.0.0.1:{self._servers[1].server_address[1]}"

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def evil(self, environ, start_response):
        self.evil_requests.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "application/json"), ("Access-Control-Allow-Origin", "*")])
        return [SECRET]

    def app(self, environ, start_response):
        path = environ["PATH_INFO"]
        self.requests.append(path)
        case, _, rest = path.lstrip("/").partition("/")
        body, kind = None, "application/octet-stream"
        if path == "/":
            body, kind = b'<!doctype html><html><head><script src="/tf.min.js"></script></head></html>', "text/html"
        elif path == "/tf.min.js":
            body, kind = TFJS_DIST.read_bytes(), "text/javascript"
        elif path == "/tfjs-models.mjs":
            body, kind = loader_path().read_bytes(), "text/javascript"
        elif path.startswith("/outside/"):
            body = SECRET
        elif rest == "index.json" and case in self.indexes:
            body, kind = self.indexes[case], "application/json"
        elif case in self.indexes and (self.models / rest).is_file():
            body = (self.models / rest).read_bytes()
        if body is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    tree = copy_sample_project(tmp_path_factory.mktemp("hostile_loader") / "sample_project")
    hatchling_build(tree, "-t", "wheel")
    models = tree / "src" / "sample_app" / "web_models"
    # a model whose manifest climbs out of its folder
    shutil.copytree(models / "iris", models / "climber")
    document = json.loads((models / "climber" / "model.json").read_text())
    document["weightsManifest"][0]["paths"] = ["../../outside/secret.bin"]
    (models / "climber" / "model.json").write_text(json.dumps(document))
    served = Site(models)
    yield served
    served.close()


def cases(site: Site) -> dict[str, tuple[object, str | None]]:
    """case -> (the index's "models" entry, the error expected, None: loads). The sample's iris is a graph model
    (format = "auto")."""
    evil = site.evil_url
    return {
        "fine": ({"name": "iris", "url": "iris/model.json", "format": "graph"}, None),
        "fine-path": ({"name": "iris", "path": "iris", "format": "graph"}, None),
        "other-site": ({"name": "iris", "url": f"{evil}/iris/model.json"}, f'has the url "{evil}/iris/model.json", not a relative path'),
        "https": ({"name": "iris", "url": "https://evil.example/m/model.json"}, 'has the url "https://evil.example/m/model.json", not a relative path'),
        "protocol-relative": ({"name": "iris", "url": f"//{evil[len('http://'):]}/m.json"}, f'has the url "//{evil[len("http://"):]}/m.json", not a relative path'),
        "data": ({"name": "iris", "url": "data:application/json,{}"}, 'has the url "data:application/json,{}", not a relative path'),
        "javascript": ({"name": "iris", "url": "javascript:alert(1)"}, 'has the url "javascript:alert(1)", not a relative path'),
        "tab-javascript": ({"name": "iris", "url": "java\tscript:alert(1)"}, 'has the url "java\\tscript:alert(1)", not a relative path'),
        "backslash": ({"name": "iris", "url": "\\\\evil.example\\m.json"}, 'not a relative path'),
        "root-path": ({"name": "iris", "path": "/outside"}, 'has the path "/outside", not a relative path'),
        "climbs": ({"name": "iris", "path": "../outside"}, 'has the path "../outside", which leads to {url}/outside/model.json, outside {base}'),
        "climbs-encoded": ({"name": "iris", "url": "iris/%2e%2e/%2E%2E/outside/model.json"}, "which leads to {url}/outside/model.json, outside {base}"),
        "name-climbs": ({"name": "../../x", "format": "graph"}, 'has the name "../../x", not a plain model name (letters, digits, "_", "-", ".")'),
        "name-not-string": ({"name": 7}, "has the name 7, not a plain model name"),
        "number": (5, "is 5, not an object"),
        "manifest-climbs": ({"name": "climber", "url": "climber/model.json", "format": "graph"}, None),
    }


PROBE = """async ([site, names, tf]) => {
  const { loadModel } = await import(site.loader);
  const results = {};
  for (const name of names) {
    const baseUrl = `${site.url}/${name}/`;
    try {
      const model = await loadModel(name === "manifest-climbs" ? "climber" : name.startsWith("name-") ? "../../x" : "iris", { baseUrl, tf: tf ?? globalThis.tf });
      const output = await model.predict([[6.3, 2.5, 4.9, 1.5]]);
      results[name] = { loaded: output.shape };
    } catch (error) {
      results[name] = { error: error.message };
    }
  }
  return results;
}"""


def check(site: Site, results: dict, fetched: list[str]) -> None:
    expected_cases = cases(site)
    for name, (_, expected) in expected_cases.items():
        base = f"{site.url}/{name}/"
        result = results[name]
        if name == "manifest-climbs":
            assert result == {"error": (
                f"tfjs-models: climber: its model.json names {site.url}/{name}/climber/../../outside/secret.bin, outside "
                f"the model's folder {base}climber/; not fetched: a weights manifest lists plain file names next to "
                "model.json (rebuild the package)"
            )}, result
        elif expected is None:
            assert result == {"loaded": [1, 3]}, (name, result)
        else:
            label = "model \"iris\"" if name not in ("name-climbs", "name-not-string", "number") else (
                'model "../../x"' if name == "name-climbs" else 'entry #1 of "models"')
            message = result.get("error", "")
            assert message.startswith(f"tfjs-models: {base}index.json: {label} "), (name, message)
            assert expected.replace("{url}", site.url).replace("{base}", base) in message, (name, message)
            assert message.endswith(FIX.replace("{base}", base)), (name, message)
    # nothing outside the models' folders was fetched, nothing from the other site
    assert site.evil_requests == []
    outside = [u for u in fetched if not u.startswith(site.url + "/") or "/outside/" in u or "evil.example" in u]
    assert outside == [], outside
    assert not [r for r in site.requests if r.startswith("/outside/")]


def install_indexes(site: Site) -> list[str]:
    for name, (entry, _) in cases(site).items():
        site.indexes[name] = json.dumps({"generator": "hatch-tfjs", "models": [entry]}).encode()
    return list(cases(site))


def test_loader_in_node_refuses_hostile_indexes(site):
    names = install_indexes(site)
    script = (
        'import * as tf from "@tensorflow/tfjs";\n'
        "const fetched = [];\n"
        "const realFetch = globalThis.fetch;\n"
        "globalThis.fetch = (url, init) => { fetched.push(String(url)); return realFetch(url, init); };\n"
        f"const probe = {PROBE};\n"
        f"const results = await probe([{json.dumps({'url': site.url, 'loader': loader_path().as_uri()})}, "
        f"{json.dumps(names)}, tf]);\n"
        "console.log(JSON.stringify({ results, fetched }));\n"
    )
    proc = subprocess.run(["node", "--input-type=module", "-e", script], cwd=JS_DIR, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    check(site, found["results"], found["fetched"])


def test_loader_in_chromium_refuses_hostile_indexes(site, playwright_session):
    names = install_indexes(site)
    browser = playwright_session.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        page = browser.new_page()
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        page.goto(site.url + "/")
        page.evaluate('async () => { await tf.setBackend("cpu"); }')
        results = page.evaluate(PROBE, [{"url": site.url, "loader": "/tfjs-models.mjs"}, names, None])
    finally:
        browser.close()
    check(site, results, fetched)


# --- 19.6: a model rebuilt while a page loads it -----------------------------------------------------------------------


def test_loader_never_mixes_two_builds_and_loads_the_new_one(site, tmp_path):
    """hatch_tfjs.serve answers a load that started before a rebuild with 409 (the loader asks model.json?v=<sha256>,
    TF.js asks each shard with the same query); the loader then loads the rebuilt model from a fresh index. The
    rebuild happens on disk, as a build does it (the folder replaced, then the index rewritten), between model.json
    and the first shard."""
    import sys as _sys

    from hatch_tfjs import serve
    from hatch_tfjs.index import build_index, write_index

    package = tmp_path / "site" / "rebuilt_pkg"
    shutil.copytree(site.models.parent, package, ignore=shutil.ignore_patterns("climber"))
    models = package / "web_models"
    write_index(models, build_index([("digits", models / "digits"), ("iris", models / "iris")], models))
    _sys.path.insert(0, str(package.parent))
    requests: list[tuple[str, str, int]] = []
    try:
        models_app = serve.wsgi_app("rebuilt_pkg")

        def swap() -> None:  # iris becomes the digits CNN
            shutil.copytree(models / "digits", models / ".iris.new")
            (models / "iris").rename(models / ".iris.old")
            (models / ".iris.new").rename(models / "iris")
            write_index(models, build_index([("digits", models / "digits"), ("iris", models / "iris")], models))

        def app(environ, start_response):
            if environ["PATH_INFO"] == "/swap":
                swap()
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"swapped"]
            environ = {**environ, "SCRIPT_NAME": "/models", "PATH_INFO": environ["PATH_INFO"][len("/models"):]}

            def recording(status, headers):
                requests.append((environ["PATH_INFO"], environ.get("QUERY_STRING", ""), int(status.split()[0])))
                return start_response(status, headers)

            return models_app(environ, recording)

        server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        script = (
            'import * as tf from "@tensorflow/tfjs";\n'
            f'const {{ loadModel }} = await import({json.dumps(loader_path().as_uri())});\n'
            "let swapped = false;\n"
            "const fetchFunc = async (url, init) => {\n"
            '  if (!swapped && String(url).includes(".bin")) { swapped = true; await fetch(' + json.dumps(url + "/swap") + "); }\n"
            "  return fetch(url, init);\n"
            "};\n"
            f'const model = await loadModel("iris", {{ baseUrl: {json.dumps(url + "/models/")}, tf, loadOptions: {{ fetchFunc }} }});\n'
            "const output = await model.predict(tf.zeros([1, 8, 8, 1]));\n"
            "console.log(JSON.stringify({ input: model.inputs[0].shape, output: output.shape, swapped }));\n"
        )
        proc = subprocess.run(["node", "--input-type=module", "-e", script], cwd=JS_DIR, capture_output=True, text=True, timeout=120)
        server.shutdown()
        server.server_close()
    finally:
        _sys.path.remove(str(package.parent))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"input": [None, 8, 8, 1], "output": [1, 10], "swapped": True}
    conflicts = [r for r in requests if r[2] == 409]
    assert conflicts and all(path.startswith("/iris/") and query.startswith("v=") for path, query, _ in conflicts), requests
    served = [(path, query) for path, query, status in requests if status == 200 and path.endswith(".bin")]
    new_version = hashlib.sha256((models / "iris" / "model.json").read_bytes()).hexdigest()
    assert served and all(query == f"v={new_version}" for _, query in served), requests  # only shards of the new build
