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
from conftest import SAMPLE_PROJECT, assert_parity

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("HATCH_TFJS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
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
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium; .ci/setup does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
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
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))

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
    np.testing.assert_array_equal(digit_input, pixels.reshape(8, 8, 1))
    shown = np.array([json.loads(page.get_attribute("#digit-result", "data-probabilities"))])
    expected = keras_predictions("digits.h5", digit_input[None])
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
    fetched = {url[len(server):] for url in requests}
    assert {
        "/static/vendor/tf.min.js",
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
    installed = Path(__file__).parent / "js" / "node_modules" / "@tensorflow" / "tfjs"
    assert json.loads((installed / "package.json").read_text())["version"] == "4.22.0"
    assert vendored.read_bytes() == (installed / "dist" / "tf.min.js").read_bytes()
    assert "Licensed under the Apache License, Version 2.0" in vendored.read_text()[:1000]
