"""hatch_tfjs.runtime against installed packages (the sample wheel in a fresh venv, an editable install) and
hatch_tfjs.serve mounted on real WSGI, Flask and Starlette apps."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import build_env, copy_sample_project

from hatch_tfjs.runtime import loader_path

pytestmark = pytest.mark.slow


def run_python(python: Path, code: str, cwd: Path) -> str:
    proc = subprocess.run([str(python), "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


PROBE = """
    import json, sys
    import hatch_tfjs.runtime as runtime
    light = sorted({m.split(".")[0] for m in sys.modules} & {"numpy", "hatchling", "h5py", "tensorflow", "keras"})
    found = [
        {"name": m.name, "format": m.format, "path": str(m.path), "files": list(m.files), "inputs": m.inputs,
         "outputs": m.outputs, "metadata": m.metadata, "url": m.url("/models"), "execution": m.execution}
        for m in runtime.models("sample_app")
    ]
    loader = runtime.loader_path()
    shipped = {"loader": str(loader), "types": loader.with_suffix(".d.mts").is_file(),
               "exports": "export async function loadModel(name" in loader.read_text()}
    errors = []
    for call in (lambda: runtime.model_dir("sample_app", "irsi"), lambda: runtime.models("no_such_package_xyz"),
                 lambda: runtime.models("json")):
        try:
            call()
        except runtime.ModelLookupError as exc:
            errors.append(str(exc))
    print(json.dumps({"light": light, "models": found, "iris_dir": str(runtime.model_dir("sample_app", "iris")),
                      "errors": errors, "shipped": shipped}))
"""


def check_probe(result: dict, package_dir: Path) -> None:
    assert result["light"] == []  # the runtime API imports no numpy, hatchling, h5py or TensorFlow
    assert [m["name"] for m in result["models"]] == ["digits", "iris"]
    iris = result["models"][1]
    assert Path(result["iris_dir"]) == Path(iris["path"]) == package_dir / "web_models" / "iris"
    assert iris["format"] == "graph" and iris["url"] == "/models/iris/model.json" and iris["execution"] == "sync"
    assert iris["files"] == ["model.json", "group1-shard1of1.bin"]
    assert all((Path(iris["path"]) / f).is_file() for f in iris["files"])
    assert iris["inputs"] == [{"name": "measurements", "shape": [None, 4], "dtype": "float32"}]
    assert iris["outputs"] == [{"name": "output_0", "shape": [None, 3], "dtype": "float32"}]
    assert iris["metadata"]["labels"] == ["setosa", "versicolor", "virginica"]
    assert result["errors"] == [
        "package 'sample_app' has no model 'irsi'; its models: 'digits', 'iris'",
        "package 'no_such_package_xyz' is not installed in this environment (no module named 'no_such_package_xyz')",
        "package 'json' ships no hatch-tfjs model index (index.json); was it built with the hatch-tfjs build hook "
        "(hatch-tfjs >= 0.1 writes <output-dir>/index.json)? Rebuild and reinstall it",
    ]


def test_runtime_in_a_venv_with_the_wheel_installed(sample_venv, tmp_path):
    result = json.loads(run_python(sample_venv, PROBE, tmp_path))
    site = Path(run_python(sample_venv, "import sysconfig; print(sysconfig.get_paths()['purelib'])", tmp_path).strip())
    check_probe(result, site / "sample_app")
    # the browser loader and its TypeScript declarations ship in the hatch-tfjs wheel
    assert result["shipped"] == {"loader": str(site / "hatch_tfjs" / "data" / "tfjs-models.mjs"), "types": True, "exports": True}


def test_runtime_in_an_editable_install(tmp_path, wheelhouse):
    tree = copy_sample_project(tmp_path / "editable")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", str(tree)],
        env=build_env(wheelhouse),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(run_python(python, PROBE, tmp_path))
    check_probe(result, tree / "src" / "sample_app")  # the models of the source tree, not a copy


# --- serving ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_tree(tmp_path_factory) -> Path:
    """A built copy of sample_project whose src/ goes on sys.path: sample_app as a source checkout."""
    tree = copy_sample_project(tmp_path_factory.mktemp("serve") / "sample_project")
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=tree, check=True, capture_output=True)
    return tree


@pytest.fixture
def on_path(built_tree, monkeypatch) -> Path:
    monkeypatch.syspath_prepend(str(built_tree / "src"))
    return built_tree / "src" / "sample_app" / "web_models"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_responses(get, models: Path) -> None:
    """``get(path, headers) -> (status, headers (lower-case keys), body)`` against an app mounted at /models."""
    status, headers, body = get("/models/iris/model.json", {})
    assert status == 200 and body == (models / "iris" / "model.json").read_bytes()
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-cache" and headers["x-content-type-options"] == "nosniff"
    etag = headers["etag"]
    assert etag == f'"{sha(models / "iris" / "model.json")}"'
    status, headers, body = get("/models/digits/group1-shard2of2.bin", {})
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    assert body == (models / "digits" / "group1-shard2of2.bin").read_bytes() and headers["content-length"] == str(len(body))
    status, _, body = get("/models/iris/model.json", {"If-None-Match": etag})
    assert status == 304 and body == b""
    status, headers, body = get("/models/index.json", {})
    listing = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert [(m["name"], m["url"], m["loader"], m["execution"]) for m in listing["models"]] == [
        ("digits", "digits/model.json", "tf.loadLayersModel", "sync"),
        ("iris", "iris/model.json", "tf.loadGraphModel", "sync"),
    ]
    status, headers, body = get("/models/tfjs-models.mjs", {})  # the browser loader, next to the index
    assert status == 200 and headers["content-type"] == "text/javascript; charset=utf-8"
    assert body == loader_path().read_bytes() and headers["etag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    for path in ("/models/iris/.hatch-tfjs-stamp.json", "/models/iris/../../__init__.py", "/models/nope/model.json"):
        assert get(path, {})[0] == 404, path


def test_wsgi_app(on_path):
    import io
    from wsgiref.util import setup_testing_defaults

    from hatch_tfjs.serve import wsgi_app

    app = wsgi_app("sample_app")

    def get(path: str, headers: dict[str, str]):
        environ = {"PATH_INFO": path[len("/models"):], "SCRIPT_NAME": "/models", "wsgi.input": io.BytesIO()}
        environ.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
        setup_testing_defaults(environ)
        started = {}
        body = b"".join(app(environ, lambda status, hdrs: started.update(status=status, headers=hdrs)))
        return int(started["status"].split()[0]), {k.lower(): v for k, v in started["headers"]}, body

    check_responses(get, on_path)


def test_flask_blueprint(on_path):
    from flask import Flask

    from hatch_tfjs.serve import flask_blueprint

    app = Flask("t")
    app.register_blueprint(flask_blueprint("sample_app", url_prefix="/models"))
    client = app.test_client()

    def get(path: str, headers: dict[str, str]):
        response = client.get(path, headers=headers)
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.get_data()

    check_responses(get, on_path)
    assert client.post("/models/iris/model.json").status_code == 405


def test_starlette_mount(on_path):
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    from hatch_tfjs.serve import asgi_app

    app = Starlette(routes=[Mount("/models", app=asgi_app("sample_app"))])
    with TestClient(app) as client:

        def get(path: str, headers: dict[str, str]):
            response = client.get(path, headers=headers)
            return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content

        check_responses(get, on_path)
        assert client.head("/models/iris/model.json").content == b""
