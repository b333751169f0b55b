"""The run-time side against hostile and changing packages (issues 21.6 and 19.6).

A built sample_app is copied under another package name and tampered with, as an attacker with write access to the
installed package (or a damaged install) would: ``index.json`` entries that point outside the package, malformed
entries, model.json manifests that name outside files, symbolic links. ``hatch_tfjs.runtime`` must raise
``ModelLookupError`` naming the index, the model and the key; the serving helpers (WSGI, Flask, Starlette) must never
send a byte from outside the package's model folders. An audit hook records every file this process opens while a
case runs: nothing outside the package may even be opened.

Then a running app whose package is rebuilt with another model: every answer follows the files on disk (ETags, the
listing, the shards the new model.json names), never the old table."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import copy_sample_project, opened_files
from projects import hatchling_build, replace_in_pyproject

from hatch_tfjs import runtime, serve

pytestmark = pytest.mark.slow

SECRET = b"top secret: never served\n"


@pytest.fixture(scope="module")
def built_tree(tmp_path_factory) -> Path:
    tree = copy_sample_project(tmp_path_factory.mktemp("hostile_runtime") / "sample_project")
    hatchling_build(tree, "-t", "wheel")
    return tree


class Installed:
    """A copy of the built sample_app under a fresh package name, on sys.path, next to an outside folder holding a
    secret (what nothing may read or serve)."""

    def __init__(self, built_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.name = f"hostile_{uuid.uuid4().hex[:8]}"
        site = tmp_path / "site"
        self.package = site / self.name
        shutil.copytree(built_tree / "src" / "sample_app", self.package)
        self.models = self.package / "web_models"
        self.index = self.models / "index.json"
        self.outside = tmp_path / "outside"
        self.outside.mkdir()
        (self.outside / "secret.txt").write_bytes(SECRET)
        (self.outside / "model.json").write_bytes(SECRET)
        (site / "secret.txt").write_bytes(SECRET)  # beside the package, one level up
        monkeypatch.syspath_prepend(str(site))

    def tamper(self, change: Callable[[dict], None]) -> None:
        data = json.loads(self.index.read_text())
        change(data)
        self.index.write_text(json.dumps(data))

    def outside_opened(self, opened: list[str]) -> list[str]:
        root = self.package.resolve()
        return [p for p in opened if not Path(os.path.abspath(p)).resolve().is_relative_to(root)
                and not Path(p).resolve().is_relative_to(Path(serve.__file__).resolve().parent)]


@pytest.fixture
def installed(built_tree, tmp_path, monkeypatch) -> Installed:
    return Installed(built_tree, tmp_path, monkeypatch)


def wsgi_get(app, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    from wsgiref.util import setup_testing_defaults

    path, _, query = path.partition("?")
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "/models", "wsgi.input": io.BytesIO()}
    environ.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()})
    setup_testing_defaults(environ)
    started: dict = {}
    result = app(environ, lambda status, hdrs: started.update(status=status, headers=hdrs))
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return int(started["status"].split()[0]), {k.lower(): v for k, v in started["headers"]}, body


# --- 21.6: a tampered index.json ----------------------------------------------------------------------------------


def _set(model: str, key: str, value) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        entry = next(e for e in data["models"] if e["name"] == model)
        entry[key] = value

    return change


def _set_file(model: str, position: int, value) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        entry = next(e for e in data["models"] if e["name"] == model)
        entry["files"][position] = value

    return change


def _first(value) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        data["models"][0] = value

    return change


TAMPERED = {
    "path climbs out": (
        _set("iris", "path", "../.."),
        "model 'iris', key 'path' '../..' leads outside the package",
    ),
    "path absolute": (
        lambda data: _set("iris", "path", str(Path(data["_outside"])))(data),
        "model 'iris', key 'path' is the absolute path",
    ),
    "file climbs out": (
        _set_file("iris", 1, {"path": "../../../secret.txt", "bytes": 25}),
        "model 'iris', key 'files' holds a path that '../../../secret.txt' is not a plain file name in the model's "
        "folder (no '/', '\\', ':', '..' or absolute paths)",
    ),
    "file absolute": (
        lambda data: _set_file("iris", 1, {"path": data["_outside"] + "/secret.txt"})(data),
        "model 'iris', key 'files' holds a path that",
    ),
    "file is the stamp": (
        _set_file("iris", 1, {"path": ".hatch-tfjs-stamp.json"}),
        "model 'iris', key 'files' holds a path that '.hatch-tfjs-stamp.json' is a hidden file, not a model file",
    ),
    "entry is a number": (_first(5), "entry #1 of 'models' is int 5, not an object"),
    "files are numbers": (_set("digits", "files", [1, 2]), "model 'digits', key 'files' holds int 1, not an object"),
    "bytes is a word": (_set("iris", "bytes", "lots"), "model 'iris', key 'bytes' is str 'lots', not a number of bytes"),
    "name climbs out": (
        _set("iris", "name", "../../x"),
        "entry #2 of 'models', key 'name' '../../x' is not a plain name",
    ),
    "name is a list": (_set("iris", "name", ["iris"]), "entry #2 of 'models', key 'name' is list ['iris'], not a string"),
    "format unknown": (_set("iris", "format", "evil"), "model 'iris', key 'format' is 'evil', not one of 'layers', 'graph'"),
    "metadata a string": (_set("iris", "metadata", "x"), "model 'iris', key 'metadata' is str 'x', not an object"),
    "inputs a string": (_set("iris", "inputs", "x"), "model 'iris', key 'inputs' is str 'x', not a list of objects"),
    "sha256 not hex": (
        _set_file("iris", 0, {"path": "model.json", "sha256": "../x"}),
        "model 'iris', key 'files' gives 'model.json' the sha256 '../x', not 64 hex digits",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_a_tampered_index_is_refused_and_nothing_outside_is_opened(installed, case):
    change, expected = TAMPERED[case]

    def with_outside(data: dict) -> None:
        data["_outside"] = str(installed.outside)
        change(data)
        del data["_outside"]

    installed.tamper(with_outside)
    with opened_files() as opened:
        for call in (
            lambda: runtime.models(installed.name),
            lambda: runtime.model_dir(installed.name, "iris"),
            lambda: serve.wsgi_app(installed.name),
            lambda: serve.asgi_app(installed.name),
        ):
            with pytest.raises(runtime.ModelLookupError) as info:
                call()
            message = str(info.value)
            assert message.startswith(f"package {installed.name!r}: {installed.index}: "), message
            assert expected in message, message
            assert message.endswith(
                "this index.json was not written this way by hatch-tfjs (edited or damaged): rebuild and reinstall "
                "the package"
            ), message
    assert installed.outside_opened(opened) == []


def test_a_model_folder_linked_outside_is_refused(installed):
    shutil.rmtree(installed.models / "iris")
    (installed.models / "iris").symlink_to(installed.outside)
    with opened_files() as opened, pytest.raises(runtime.ModelLookupError) as info:
        runtime.models(installed.name)
    assert f"model 'iris', key 'path' 'iris' leads outside the package ({installed.outside.resolve()})" in str(info.value)
    assert installed.outside_opened(opened) == []


def test_a_running_app_never_serves_outside_files(installed, caplog):
    """The app started on a sound package; then the package is tampered with, file by file."""
    app = serve.wsgi_app(installed.name)
    status, _, body = wsgi_get(app, "/iris/model.json")
    assert status == 200 and body == (installed.models / "iris" / "model.json").read_bytes()
    iris = installed.models / "iris"
    attempts = [
        "/iris/../../secret.txt", "/iris/..%2f..%2fsecret.txt", "/../secret.txt", "/iris/.hatch-tfjs-stamp.json",
        "/iris//etc/passwd", f"/iris/{installed.outside}/secret.txt", "/iris/", "/iris", "/../../outside/secret.txt",
        "/iris/group1-shard1of1.bin/../../../secret.txt", "/digits/../iris/model.json",
    ]  # fmt: skip
    with opened_files() as opened:
        for path in attempts:
            assert wsgi_get(app, path)[0] == 404, path
        # a shard replaced by a link to a file outside, and a manifest that names an outside file
        shard = iris / "group1-shard1of1.bin"
        shard.unlink()
        shard.symlink_to(installed.outside / "secret.txt")
        assert wsgi_get(app, "/iris/group1-shard1of1.bin")[0] == 404
        document = json.loads((iris / "model.json").read_text())
        document["weightsManifest"][0]["paths"] = ["../../secret.txt", str(installed.outside / "secret.txt")]
        (iris / "model.json").write_text(json.dumps(document))
        for path in ("/iris/../../secret.txt", f"/iris{installed.outside}/secret.txt", "/iris/secret.txt"):
            assert wsgi_get(app, path)[0] == 404, path
        # a shard that is a directory or a FIFO, not a regular file
        shard.unlink()
        os.mkfifo(shard)
        document["weightsManifest"][0]["paths"] = ["group1-shard1of1.bin"]
        (iris / "model.json").write_text(json.dumps(document))
        assert wsgi_get(app, "/iris/group1-shard1of1.bin")[0] == 404
        # the index rewritten to point outside while the app runs: refused as a whole, with the reason in the log
        installed.tamper(_set("digits", "path", "../../../outside"))
        for path in ("/", "/index.json", "/digits/model.json", "/iris/model.json"):
            status, _, body = wsgi_get(app, path)
            assert status == 503 and SECRET not in body and body == (
                f"the models of package {installed.name!r} are not available now\n".encode()
            ), path
    assert "key 'path' '../../../outside' leads outside the package" in caplog.text
    assert installed.outside_opened(opened) == []


# --- 19.6: a running app, rebuilt with another model -----------------------------------------------------------------


def _sha(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


def fetch_everything(get: Callable[[str, dict[str, str]], tuple[int, dict[str, str], bytes]]) -> dict[str, tuple[bytes, str]]:
    """Every file the listing and each model.json name, as a page would fetch them: ``{path: (body, etag)}``; asserts
    that each exists and that each ETag is the sha256 of the bytes sent with it."""
    status, _, listing = get("/models/index.json", {})
    assert status == 200
    fetched: dict[str, tuple[bytes, str]] = {}
    for entry in json.loads(listing)["models"]:
        url = f"/models/{entry['url']}"
        status, headers, body = get(url, {})
        assert status == 200 and headers["etag"] == _sha(body), url
        fetched[url] = (body, headers["etag"])
        for group in json.loads(body)["weightsManifest"]:
            for shard in group["paths"]:
                shard_url = url.rsplit("/", 1)[0] + "/" + shard
                status, headers, shard_body = get(shard_url, {})
                assert status == 200, f"{shard_url}: {status} (named by the model.json just served)"
                assert headers["etag"] == _sha(shard_body) and headers["content-length"] == str(len(shard_body))
                fetched[shard_url] = (shard_body, headers["etag"])
    return fetched


def on_disk(models: Path, fetched: dict[str, tuple[bytes, str]]) -> bool:
    return all((models / url[len("/models/"):]).read_bytes() == body for url, (body, _) in fetched.items())


@pytest.fixture
def rebuildable(tmp_path, monkeypatch) -> Path:
    tree = copy_sample_project(tmp_path / "sample_project")
    hatchling_build(tree, "-t", "wheel")
    monkeypatch.syspath_prepend(str(tree / "src"))
    return tree


def _apps(package: str) -> dict[str, Callable[[str, dict[str, str]], tuple[int, dict[str, str], bytes]]]:
    from flask import Flask
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    flask_app = Flask("rebuilt")
    flask_app.register_blueprint(serve.flask_blueprint(package, url_prefix="/models"))
    flask_client = flask_app.test_client()
    starlette_client = TestClient(Starlette(routes=[Mount("/models", app=serve.asgi_app(package))]))
    wsgi = serve.wsgi_app(package)

    def flask_get(path: str, headers: dict[str, str]):
        response = flask_client.get(path, headers=headers)
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.get_data()

    def starlette_get(path: str, headers: dict[str, str]):
        response = starlette_client.get(path, headers=headers)
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content

    def wsgi_get_prefixed(path: str, headers: dict[str, str]):
        return wsgi_get(wsgi, path[len("/models"):], headers)

    return {"flask": flask_get, "starlette": starlette_get, "wsgi": wsgi_get_prefixed}


def test_a_running_app_follows_a_rebuild_with_another_model(rebuildable):
    models = rebuildable / "src" / "sample_app" / "web_models"
    apps = _apps("sample_app")  # started before the rebuild
    before = {name: fetch_everything(get) for name, get in apps.items()}
    listed = json.loads(apps["wsgi"]("/models/index.json", {})[2])
    old_version = next(m["version"] for m in listed["models"] if m["name"] == "iris")
    assert f'"{old_version}"' == before["wsgi"]["/models/iris/model.json"][1]  # the sha256 of model.json
    for get in apps.values():  # as the loader asks: model.json?v=<version>, and TF.js each shard with the same query
        assert get(f"/models/iris/model.json?v={old_version}", {})[0] == 200
        assert get(f"/models/iris/group1-shard1of1.bin?v={old_version}", {})[0] == 200
    for fetched in before.values():
        assert on_disk(models, fetched) and "/models/iris/group1-shard1of1.bin" in fetched

    # iris becomes another model (the digits CNN, in 16 KiB shards): new model.json, new shard names
    replace_in_pyproject(rebuildable, 'source = "models/iris.keras"', 'source = "models/digits.h5"\nshard-size = 16384')
    hatchling_build(rebuildable, "-t", "wheel")
    assert (models / "iris" / "group1-shard2of2.bin").is_file() and not (models / "iris" / "group1-shard1of1.bin").exists()

    for name, get in apps.items():
        after = fetch_everything(get)  # all new: every file the new model.json names is there
        assert on_disk(models, after), name
        assert "/models/iris/group1-shard2of2.bin" in after and after != before[name], name
        old_body, old_etag = before[name]["/models/iris/model.json"]
        status, headers, body = get("/models/iris/model.json", {"If-None-Match": old_etag})
        assert status == 200 and body == after["/models/iris/model.json"][0] != old_body, name  # no 304 for old bytes
        assert headers["etag"] == after["/models/iris/model.json"][1] != old_etag, name
        assert get("/models/iris/group1-shard1of1.bin", {})[0] == 404, name  # the old shard: gone, not mixed in
        # a page that read the old model.json before the rebuild gets 409 for every file of it, never a new shard
        for path in ("model.json", "group1-shard1of2.bin", "group1-shard2of2.bin"):
            status, _, body = get(f"/models/iris/{path}?v={old_version}", {})
            assert status == 409 and body == (
                f"iris/{path}: the model changed on the server since its model.json was read; load it again\n".encode()
            ), (name, path, status)
        new_version = next(m["version"] for m in json.loads(get("/models/index.json", {})[2])["models"] if m["name"] == "iris")
        assert f'"{new_version}"' == after["/models/iris/model.json"][1]
        assert get(f"/models/iris/group1-shard2of2.bin?v={new_version}", {})[2] == after["/models/iris/group1-shard2of2.bin"][0]
        _, _, listing = get("/models/index.json", {})
        iris = next(m for m in json.loads(listing)["models"] if m["name"] == "iris")
        assert iris["inputs"][0]["shape"] == [None, 8, 8, 1] and iris["bytes"] == sum(
            len(body) for url, (body, _) in after.items() if url.startswith("/models/iris/")
        ), name
        status, _, _ = get("/models/digits/model.json", {"If-None-Match": before[name]["/models/digits/model.json"][1]})
        assert status == 304, name  # digits did not change: its ETag still holds
