"""The sample app in a real browser: its wheel installed into a fresh venv, its server started on 127.0.0.1, Debian's
headless Chromium driven by Playwright; the predictions the page shows must equal Keras's for the same inputs, and
every request (page, TF.js, model.json, shards) must succeed and stay on the app's own server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS
from helpers import SAMPLE_PROJECT, assert_parity

pytestmark = pytest.mark.slow

IRIS_INPUT = [6.3, 2.5, 4.9, 1.5]
# Cells clicked once (-> 1.0) and twice (-> 0.5) on the 8x8 grid after loading "Example 1".
CLICK_ONCE = [(0, 1), (1, 1), (2, 6), (6, 2)]
CLICK_TWICE = [(5, 5), (0, 3)]
EXAMPLE_1 = ["...##...", "..###...", ".####...", "...##...", "...##...", "...##...", "...##...", ".######."]


@pytest.fixture(scope="module")
def server(sample_venv):
    """``python -m sample_app`` from the installed wheel, on a free port of 127.0.0.1; stopped after the tests."""
    proc = subprocess.Popen(
        [str(sample_venv), "-m", "sample_app", "--host", "127.0.0.1", "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=sample_venv.parent,  # not the repository: the app must come from the venv
    )
    try:
        line = proc.stdout.readline()
        if "serving on http://127.0.0.1:" not in line:
            proc.kill()
            raise AssertionError(f"the server did not start: {line!r}\n{proc.stderr.read()[-3000:]}")
        yield line.split("serving on ", 1)[1].split()[0].rstrip("/")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(playwright_session):
    instance = playwright_session.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield instance
    instance.close()


def keras_predictions(model_file: str, batch: np.ndarray) -> np.ndarray:
    import keras

    model = keras.saving.load_model(SAMPLE_PROJECT / "models" / model_file, compile=False)
    return np.asarray(model.predict(batch, verbose=0))


@pytest.mark.parametrize("backend", ["default", "cpu"])
def test_page_predictions_equal_keras(server, browser, backend, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    failures: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failures.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and failures.append(f"{r.url}: HTTP {r.status}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type in ("error", "warning") and errors.append(f"{m.type}: {m.text}"))

    page.goto(server + "/" + ("" if backend == "default" else f"?backend={backend}"))
    page.wait_for_selector('#status[data-status="ready"], #status[data-status="error"]', timeout=60_000)
    assert page.get_attribute("#status", "data-status") == "ready", page.inner_text("#status")
    used = page.get_attribute("#status", "data-backend")
    assert used in ("webgl", "cpu") and (backend == "default" or used == backend)

    # Iris: type the measurements, submit, read the full-precision probabilities from the DOM.
    for name, value in zip(["sepal_length", "sepal_width", "petal_length", "petal_width"], IRIS_INPUT):
        page.fill(f'#iris-form input[name="{name}"]', str(value))
    page.click("#iris-predict")
    page.wait_for_selector('#iris-result[data-status="done"]')
    iris_input = json.loads(page.get_attribute("#iris-result", "data-input"))
    assert iris_input == [IRIS_INPUT]
    shown = np.array([json.loads(page.get_attribute("#iris-result", "data-probabilities"))])
    expected = keras_predictions("iris.keras", np.array(iris_input, dtype="float32"))
    assert_parity([shown], [expected])
    species = ["setosa", "versicolor", "virginica"]
    assert page.get_attribute("#iris-result", "data-prediction") == species[int(expected.argmax())]
    assert species[int(expected.argmax())] in page.inner_text("#iris-result")

    # Digits: an example, then cells drawn by clicking (0 -> 1 -> 0.5 -> 0), predicted on the grid's intensities.
    page.click('[data-example="1"]')
    for row, col in CLICK_ONCE:
        page.click(f'#digit-grid .cell[data-row="{row}"][data-col="{col}"]')
    for row, col in CLICK_TWICE:
        page.click(f'#digit-grid .cell[data-row="{row}"][data-col="{col}"]')
        page.click(f'#digit-grid .cell[data-row="{row}"][data-col="{col}"]')
    page.click("#digit-predict")
    page.wait_for_selector('#digit-result[data-status="done"]')
    pixels = np.array([[1.0 if ch == "#" else 0.0 for ch in line] for line in EXAMPLE_1])
    for row, col in CLICK_ONCE:
        pixels[row, col] = 1.0 if pixels[row, col] == 0 else 0.5
    for row, col in CLICK_TWICE:
        pixels[row, col] = 0.5 if pixels[row, col] == 0 else 0.0
    digit_input = np.array(json.loads(page.get_attribute("#digit-result", "data-input")), dtype="float32")
    np.testing.assert_array_equal(digit_input, pixels.reshape(1, 8, 8, 1))  # the page's batch of one
    shown = np.array([json.loads(page.get_attribute("#digit-result", "data-probabilities"))])
    expected = keras_predictions("digits.h5", digit_input)
    assert_parity([shown], [expected])
    assert page.get_attribute("#digit-result", "data-prediction") == str(int(expected.argmax()))

    screenshot = tmp_path / f"sample_app_{backend}.png"
    page.screenshot(path=str(screenshot), full_page=True)
    if os.environ.get("HATCH_TFJS_SCREENSHOTS"):
        shutil.copy(screenshot, Path(os.environ["HATCH_TFJS_SCREENSHOTS"]) / screenshot.name)
    page.close()

    assert not failures, failures
    assert not errors, errors
    assert all(url.startswith(server + "/") or url.startswith("data:") for url in requests), requests  # no CDN
    fetched = {url[len(server):].split("?")[0] for url in requests}  # the loader adds ?v=<model.json's sha256>
    assert {
        "/static/vendor/tf.min.js",
        "/models/tfjs-models.mjs",
        "/models/index.json",
        "/models/iris/model.json",
        "/models/iris/group1-shard1of1.bin",
        "/models/digits/model.json",
        "/models/digits/group1-shard1of2.bin",
        "/models/digits/group1-shard2of2.bin",
    } <= fetched


def test_server_refuses_paths_outside_the_models_and_static_files(server):
    import urllib.error
    import urllib.request

    def status(path: str) -> int:
        try:
            with urllib.request.urlopen(server + path) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert status("/models/iris/model.json") == 200
    assert status("/static/app.js") == 200
    for path in ("/models/iris/../../server.py", "/static/../server.py", "/models/iris/.hatch-tfjs-stamp.json", "/nope"):
        assert status(path) == 404, path


def test_vendored_tfjs_is_the_tested_release():
    """The page's TF.js is @tensorflow/tfjs's own dist/tf.min.js, the release the parity tests run (tests/js)."""
    vendored = SAMPLE_PROJECT / "src" / "sample_app" / "static" / "vendor" / "tf.min.js"
    installed = Path(__file__).parents[1] / "js" / "node_modules" / "@tensorflow" / "tfjs"
    assert json.loads((installed / "package.json").read_text())["version"] == "4.22.0"
    assert vendored.read_bytes() == (installed / "dist" / "tf.min.js").read_bytes()
    assert "Licensed under the Apache License, Version 2.0" in vendored.read_text()[:1000]


# --- the browser loader (tfjs-models.mjs) on one model of each kind ---------------------------------------------------

TFJS_DIST = Path(__file__).parents[1] / "js" / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.min.js"
LOADER_PACKAGE = "loader_probe_pkg"
WASM_DIST = Path(__file__).parents[1] / "js" / "node_modules" / "@tensorflow" / "tfjs-backend-wasm" / "dist"
BACKENDS_PAGE = (b'<!doctype html><html><head><link rel="icon" href="data:,"><script src="/tf.min.js"></script>'
                 b'<script src="/wasm/tf-backend-wasm.min.js"></script></head></html>')
EXECUTE_ASYNC_WARNING = "did not contain any nodes with control flow"


def _loader_models():
    """name -> (Keras model, batch of inputs, format, expected execution): a layers model (``--format layers``, what
    a page that trains keeps); a GRU over a fixed length, which auto converts to a graph without control flow
    (execute()); a GRU over any length, whose graph keeps its While loop (executeAsync())."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(11)
    rng = np.random.default_rng(11)
    dense = keras.Sequential([keras.Input((4,), name="features"), layers.Dense(3, activation="softmax", name="p")])
    fixed = keras.Sequential([keras.Input((6, 3), name="steps"), layers.GRU(4), layers.Dense(2, name="out")])
    varying = keras.Sequential([keras.Input((None, 3), name="steps"), layers.GRU(4), layers.Dense(2, name="out")])
    return {
        "dense": (dense, rng.normal(size=(2, 4)).astype("float32"), "layers", "sync"),
        "gru_fixed": (fixed, rng.normal(size=(2, 6, 3)).astype("float32"), "graph", "sync"),
        "gru_any_length": (varying, rng.normal(size=(1, 5, 3)).astype("float32"), "graph", "async"),
    }


@pytest.fixture(scope="module")
def loader_site(tmp_path_factory):
    """A package holding the three models (converted by ``hatch-tfjs convert``, indexed as a build indexes them),
    served with ``hatch_tfjs.serve`` at /models next to a page that loads TF.js; yields (URL, cases, index)."""
    import sys
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from hatch_tfjs import serve
    from hatch_tfjs.index import build_index, write_index

    root = tmp_path_factory.mktemp("loader")
    models_dir = root / LOADER_PACKAGE / "web_models"
    (root / LOADER_PACKAGE).mkdir()
    (root / LOADER_PACKAGE / "__init__.py").write_text("")
    cases = {}
    for name, (model, batch, fmt, execution) in _loader_models().items():
        source = root / f"{name}.keras"
        model.save(source)
        proc = subprocess.run(
            [sys.executable, "-m", "hatch_tfjs", "convert", *(["--format", "layers"] if fmt == "layers" else []), str(source),
             str(models_dir / name)], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        cases[name] = (batch, np.asarray(model.predict(batch, verbose=0)), fmt, execution)
    # A model whose shard the server lacks: TF.js alone would load the 404 page as weights.
    shutil.copytree(models_dir / "dense", models_dir / "dense_without_shard")
    index = build_index([(name, models_dir / name) for name in [*cases, "dense_without_shard"]], models_dir)
    write_index(models_dir, index)
    for shard in (models_dir / "dense_without_shard").glob("*.bin"):
        shard.unlink()
    sys.path.insert(0, str(root))
    models_app = serve.wsgi_app(LOADER_PACKAGE)
    page = b'<!doctype html><html><head><link rel="icon" href="data:,"><script src="/tf.min.js"></script></head></html>'

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path.startswith("/models/"):
            return models_app({**environ, "SCRIPT_NAME": "/models", "PATH_INFO": path[len("/models"):]}, start_response)
        if path == "/tf.min.js":
            body, kind = TFJS_DIST.read_bytes(), "text/javascript"
        elif path == "/backends":  # a page that also registers the WASM backend (its .wasm files under /wasm/)
            body, kind = BACKENDS_PAGE, "text/html"
        elif path.startswith("/wasm/") and (WASM_DIST / path[len("/wasm/"):]).is_file():
            name = path[len("/wasm/"):]
            body, kind = (WASM_DIST / name).read_bytes(), "application/wasm" if name.endswith(".wasm") else "text/javascript"
        elif path.startswith("/plain/") and (models_dir / path[len("/plain/"):]).is_file():  # a static file server
            body, kind = (models_dir / path[len("/plain/"):]).read_bytes(), "application/octet-stream"
        elif path == "/" or path.startswith("/app/"):  # a single-page app's fallback: the page for any of its paths
            body, kind = page, "text/html"
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    httpd = make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", cases, index
    finally:
        httpd.shutdown()
        httpd.server_close()
        sys.path.remove(str(root))


PREDICT_ALL = """async ([cases, flat, named]) => {
  await tf.setBackend("cpu");
  const { listModels, loadModel } = await import("/models/tfjs-models.mjs");
  const listed = (await listModels()).filter((m) => m.name in cases).map((m) => [m.name, m.format, m.execution, m.url]);
  const results = {};
  for (const [name, batch] of Object.entries(cases)) {
    const loaded = await loadModel(name);
    const before = tf.memory().numTensors;
    const given = name === flat ? new Float32Array(batch.flat(Infinity)) : name === named ? { [loaded.inputs[0].name]: batch } : batch;
    const output = await loaded.predict(given);
    results[name] = {
      output: await output.array(), shape: output.shape, leaked: tf.memory().numTensors - before - 1,
      kind: loaded.model instanceof tf.GraphModel ? "GraphModel" : loaded.model instanceof tf.LayersModel ? "LayersModel" : "?",
      format: loaded.format, execution: loaded.execution,
      inputs: loaded.inputs.map((i) => i.name),
    };
    output.dispose();
  }
  return { listed, results };
}"""


def test_loader_runs_each_model_with_the_call_it_needs(loader_site, browser):
    url, cases, index = loader_site
    assert {m["name"]: m["execution"] for m in index["models"] if m["name"] in cases} == {n: c[3] for n, c in cases.items()}
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda m: m.type in ("warning", "error") and console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.goto(url + "/")
    # inputs as a flat Float32Array (dense), nested arrays (gru_fixed), an object keyed by input name (gru_any_length)
    found = page.evaluate(PREDICT_ALL, [{n: c[0].tolist() for n, c in cases.items()}, "dense", "gru_any_length"])
    assert found["listed"] == [[n, c[2], c[3], f"{url}/models/{n}/model.json"] for n, c in sorted(cases.items())]
    for name, (_, expected, fmt, execution) in cases.items():
        result = found["results"][name]
        assert (result["format"], result["execution"]) == (fmt, execution), name
        assert result["kind"] == ("GraphModel" if fmt == "graph" else "LayersModel"), name
        assert result["leaked"] == 0, name  # the input tensors the loader made from arrays are freed
        assert_parity([np.array(result["output"], dtype="float32")], [expected])
    assert not console, console

    # The warning the loader avoids is real: executeAsync() on the graph without control flow logs it.
    page.evaluate("""async (batch) => {
      const { loadModel } = await import("/models/tfjs-models.mjs");
      const loaded = await loadModel("gru_fixed");
      (await loaded.model.executeAsync(tf.tensor(batch))).dispose();
    }""", cases["gru_fixed"][0].tolist())
    assert any(EXECUTE_ASYNC_WARNING in line for line in console), console
    page.close()


def test_loader_reads_the_index_the_build_writes_from_a_static_server(loader_site, browser):
    """Any server that serves output-dir as files (index.json with each model's "path") works with baseUrl."""
    url, cases, _ = loader_site
    page = browser.new_page()
    page.goto(url + "/")
    for name in ("dense", "gru_any_length"):
        batch, expected, _, execution = cases[name]
        found = page.evaluate("""async ([name, batch]) => {
          await tf.setBackend("cpu");
          const { loadModel } = await import("/models/tfjs-models.mjs");
          const loaded = await loadModel(name, { baseUrl: "/plain" });
          const output = await loaded.predict({ [loaded.inputs[0].name]: batch });  // by input name
          return { url: loaded.url, execution: loaded.execution, output: await output.array() };
        }""", [name, batch.tolist()])
        assert found["url"] == f"{url}/plain/{name}/model.json" and found["execution"] == execution
        assert_parity([np.array(found["output"], dtype="float32")], [expected])
    page.close()


def test_loader_errors_name_the_fix(loader_site, browser):
    url, _, _ = loader_site
    page = browser.new_page()
    page.goto(url + "/")
    messages = page.evaluate("""async () => {
      const { loadModel } = await import("/models/tfjs-models.mjs");
      const failures = [];
      const tries = [["nope", {}], ["dense", { baseUrl: "/elsewhere" }], ["dense", { baseUrl: "/app/models" }], ["dense", { tf: {} }],
                     ["dense_without_shard", {}], ["dense", { baseUrl: "http://127.0.0.1:9/models/" }]];
      for (const [name, options] of tries) {
        try { await loadModel(name, options); failures.push("loaded"); } catch (error) { failures.push(error.message); }
      }
      return failures;
    }""")
    page.close()
    assert messages[0] == (
        f'tfjs-models: no model "nope" in {url}/models/index.json; models: dense, dense_without_shard, gru_any_length, gru_fixed'
    )
    assert messages[1] == (
        f"tfjs-models: {url}/elsewhere/index.json answered HTTP 404; mount the package's models there (hatch_tfjs.serve) "
        "or pass baseUrl: the URL of the directory holding index.json"
    )
    assert messages[2].startswith(f'tfjs-models: {url}/app/models/index.json is not JSON (it starts with "<!doctype html>')
    assert messages[3].startswith("tfjs-models: TensorFlow.js not found")
    assert messages[4] == (
        f"tfjs-models: {url}/models/dense_without_shard/group1-shard1of1.bin answered HTTP 404: the model folder on the "
        "server is incomplete (serve model.json and every shard it lists; hatch_tfjs.serve does)"
    )
    assert messages[5] == (  # nothing listens on port 9
        "tfjs-models: cannot fetch http://127.0.0.1:9/models/index.json (Failed to fetch); is the server up, and serving "
        "the models there (hatch_tfjs.serve)? Pages opened as file:// cannot fetch: open the page through the server"
    )


CHOOSE_BACKENDS = """async ([cases]) => {
  const { loadModel, chooseBackend } = await import("/models/tfjs-models.mjs");
  const found = { registered: ["webgpu", "webgl", "wasm", "cpu"].filter((b) => tf.findBackendFactory(b) != null) };
  found.webglWorks = await tf.setBackend("webgl");
  await tf.setBackend("cpu");
  found.results = {};
  for (const [name, batch] of Object.entries(cases)) {  // auto, with a warm-up call on zeros before resolving
    const loaded = await loadModel(name, { backend: "auto", warmup: true, wasmPaths: "/wasm/" });
    const before = tf.memory().numTensors;
    const output = await loaded.predict(batch);
    found.results[name] = { backend: loaded.backend, active: tf.getBackend(), output: await output.array(),
                            leaked: tf.memory().numTensors - before - 1 };
    output.dispose();
    await tf.setBackend("cpu");
  }
  found.onlyWasm = await chooseBackend(tf, "auto", ["wasm", "cpu"]);  // a model whose ops lack webgl kernels
  found.onlyCpu = await chooseBackend(tf, "auto", ["cpu"]);
  found.named = await chooseBackend(tf, "wasm");
  found.errors = [];
  for (const [wanted, allowed] of [["webgpu", null], ["webgl", ["wasm", "cpu"]], ["auto", ["webgpu"]]]) {
    try { await chooseBackend(tf, wanted, allowed); found.errors.push("chosen"); } catch (e) { found.errors.push(e.message); }
  }
  return found;
}"""


def test_loader_chooses_the_fastest_backend_the_page_and_the_model_allow(loader_site, browser):
    """backend "auto": WebGPU, WebGL, WASM, CPU in that order, among the backends the page registered (here WASM
    too, its .wasm files served from /wasm/) and the index lists for the model; each model still matches Keras."""
    url, cases, index = loader_site
    assert all(entry["backends"] == ["webgpu", "webgl", "wasm", "cpu"] for entry in index["models"])
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/backends")
    found = page.evaluate(CHOOSE_BACKENDS, [{n: c[0].tolist() for n, c in cases.items()}])
    page.close()
    assert found["registered"] == ["webgl", "wasm", "cpu"]  # no WebGPU script on the page
    fastest = "webgl" if found["webglWorks"] else "wasm"
    for name, (_, expected, _, _) in cases.items():
        result = found["results"][name]
        assert result["backend"] == result["active"] == fastest, (name, result["backend"])
        assert result["leaked"] == 0, name
        assert_parity([np.array(result["output"], dtype="float32")], [expected], atol=1e-4)
    assert (found["onlyWasm"], found["onlyCpu"], found["named"]) == ("wasm", "cpu", "wasm")
    assert found["errors"] == [
        'tfjs-models: cannot use TF.js backend "webgpu": the page has not registered it (load its script, e.g. '
        '@tensorflow/tfjs-backend-webgpu, before this module); or pass backend: "auto"',
        'tfjs-models: cannot use TF.js backend "webgl": the model has ops without a webgl kernel (it runs on: wasm, '
        'cpu); or pass backend: "auto"',
        "tfjs-models: no TF.js backend of webgpu initialises on this page",
    ]
    assert not errors, errors


# --- the README's Quick start, copied as a newcomer would ------------------------------------------------------------

README = Path(__file__).parents[2] / "README.md"


def quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Quick start\n")
    return text[start:text.index("\n## ", start + 1)]


def quick_start_files(section: str) -> dict[str, str]:
    """The files the Quick start shows: pyproject.toml (the toml block) and every block whose first line names its
    path under $HOME (``# $HOME/myapp/...`` or ``<!-- $HOME/myapp/... -->``)."""
    import re

    files = {}
    for language, body in re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL):
        first = body.splitlines()[0]
        named = re.match(r"(?:# |<!-- )\$HOME/(\S+?)(?: -->)?$", first)
        if language == "toml":
            files["myapp/pyproject.toml"] = body
        elif named:
            files[named.group(1)] = body
    return files


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


CDN_TFJS = "https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@4.22.0/dist/tf.min.js"


def bash_block(section: str, containing: str) -> list[str]:
    """The lines of the Quick start's bash block that contains ``containing``."""
    import re

    blocks = [body for body in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL) if containing in body]
    assert len(blocks) == 1, containing
    return blocks[0].splitlines()


def start_server(command: str, env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], int]:
    import socket
    import time

    port = free_port()
    server = subprocess.Popen(["bash", "-c", f"exec {command} --port {port}"], env=env, cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise AssertionError(f"{command} did not start: {server.communicate()[1][-3000:]}") from None
            time.sleep(0.2)


def show_page(browser, port: int, *, cdn: bool) -> tuple[str, list[str], list[str]]:
    """Open the app's page with every request off 127.0.0.1 blocked (but the CDN's TF.js, answered with the same
    tf.min.js when ``cdn``): what #result ends up showing, the console's warnings and errors, and the URLs asked for."""
    page = browser.new_page()
    requests: list[str] = []
    console: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: m.type in ("warning", "error") and console.append(m.text))
    page.route(lambda url: not url.startswith(f"http://127.0.0.1:{port}/"), lambda route: route.abort())
    if cdn:
        page.route(CDN_TFJS, lambda route: route.fulfill(path=str(TFJS_DIST), content_type="text/javascript"))
    page.goto(f"http://127.0.0.1:{port}/")
    page.wait_for_function("!document.getElementById('result').textContent.startsWith('Loading')", timeout=60_000)
    shown = page.inner_text("#result")
    page.close()
    return shown, console, requests


def test_readme_quick_start_serves_a_prediction_with_fastapi_and_flask(tmp_path, wheelhouse, browser):
    """Every file and command of the Quick start, as written, with $HOME a temporary directory: the folders and the
    model (made with this Python's Keras rather than a new venv's), the app installed from the local hatch-tfjs wheel
    (an absolute PIP_FIND_LINKS) with ``pip install -v``, whose tfjs: lines are the README's; then its FastAPI and Flask
    servers in Chromium: Keras's prediction with TF.js from the CDN (answered with the same tf.min.js: no network),
    the loader's error on the page when the CDN is blocked, and the prediction again, with nothing fetched off the
    app's server, once the README's two offline lines vendor TF.js."""
    import re
    import sys

    import keras
    from helpers import build_env

    section = quick_start()
    home = tmp_path / "home"
    for relative, body in quick_start_files(section).items():
        (home / relative).parent.mkdir(parents=True, exist_ok=True)
        (home / relative).write_text(body)
    assert {"myapp/pyproject.toml", "myapp/src/myapp/fastapi_app.py", "myapp/src/myapp/flask_app.py",
            "myapp/src/myapp/static/index.html"} <= {p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()}
    env = build_env(wheelhouse, HOME=str(home))

    def run(lines: list[str]) -> str:
        proc = subprocess.run(["bash", "-euc", "\n".join(lines)], env=env, capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    # The folders and the model, from a fresh shell in another directory (cwd: tmp_path, not the project).
    folders, keras_venv, make_model = bash_block(section, "keras-venv")
    assert 'bin/pip" install keras tensorflow' in keras_venv  # Keras and a backend: what the test's own Python has
    assert make_model.startswith('"$HOME/keras-venv/bin/python" -c ')
    keras.utils.set_random_seed(5)
    run([folders, make_model.replace('"$HOME/keras-venv/bin/python"', sys.executable, 1)])

    # Install as the README shows, with -v: the build's tfjs: lines are the README's (figures aside).
    venv, install, *servers = bash_block(section, "myapp-venv/bin/uvicorn")
    servers = [line.split("  #")[0].strip() for line in servers]
    (verbose,) = bash_block(section, "install -v")
    command, _, grep = verbose.partition(" 2>&1 | ")
    assert command == install.replace(" install ", " install -v ") and grep == 'grep "tfjs:"'
    log = run([venv, command])
    assert "filename=myapp-0.1.0-py3-none-any.whl" in log  # requires-python: a py3 wheel, not py2.py3
    shown_lines = [line.strip() for line in log.splitlines() if "tfjs:" in line]
    readme_lines = re.search(r"install -v.*?```\n\n```\n(.*?)```", section, re.DOTALL).group(1).splitlines()
    figures = re.compile(r"\d+(\.\d+)?")
    assert [figures.sub("N", line) for line in shown_lines] == [figures.sub("N", line) for line in readme_lines], log

    html = home / "myapp" / "src" / "myapp" / "static" / "index.html"
    row = json.loads(re.search(r"model\.predict\((\[\[.*?\]\])\)", html.read_text()).group(1))
    model = keras.saving.load_model(home / "myapp" / "models" / "classifier.keras", compile=False)
    expected = model.predict(np.array(row, dtype="float32"), verbose=0)[0]
    labels = ["cat", "dog", "bird"]

    def check_prediction(shown: str, what: str) -> None:
        label, _, numbers = shown.partition(": ")
        assert label == labels[int(expected.argmax())], (what, shown)
        np.testing.assert_allclose([float(n) for n in numbers.split(", ")], expected, atol=0.0011, err_msg=what)

    def each_server(check) -> None:
        for command in servers:
            server, port = start_server(command, env, tmp_path)
            try:
                check(command, port)
            finally:
                server.terminate()
                server.wait(timeout=10)

    def online(command: str, port: int) -> None:
        shown, console, _ = show_page(browser, port, cdn=True)
        check_prediction(shown, command)
        assert not console, (command, console)
        shown, _, _ = show_page(browser, port, cdn=False)  # offline, a proxy, a CSP: the page says what went wrong
        assert shown.startswith("Error: tfjs-models: TensorFlow.js not found: load it before this module"), (command, shown)

    each_server(online)

    # Offline: the README's two lines (the download answered from the same file), then the install again.
    (download,) = bash_block(section, "curl ")
    assert CDN_TFJS in download
    run([download.replace(CDN_TFJS, TFJS_DIST.as_uri())])
    script_line = re.search(r"```html\n(  <script src=\"/static/tf\.min\.js\"></script>)\n```", section).group(1)
    cdn_line = f'  <script src="{CDN_TFJS}"></script>'
    assert cdn_line in html.read_text()
    html.write_text(html.read_text().replace(cdn_line, script_line))
    run([install])

    def offline(command: str, port: int) -> None:
        shown, console, requests = show_page(browser, port, cdn=False)
        check_prediction(shown, command)
        assert not console, (command, console)
        assert f"http://127.0.0.1:{port}/static/tf.min.js" in requests
        assert all(url.startswith(f"http://127.0.0.1:{port}/") for url in requests), requests

    each_server(offline)
