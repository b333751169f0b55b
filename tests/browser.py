"""Drive real TensorFlow.js 4.22 in Debian's headless Chromium (Playwright) from the tests: the backends browsers use,
``webgl`` (SwiftShader's software rendering here, float32 textures) and ``webgpu`` (SwiftShader's WebGPU adapter, on
with ``--enable-unsafe-webgpu``). One Chromium and one page per backend for many models; the models are served by a
local static server, each model folder under its own mount."""

from __future__ import annotations

import base64
import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

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
# Debian's headless Chromium offers a (SwiftShader) WebGPU adapter only with these; without them requestAdapter()
# gives none.
WEBGPU_ARGS = ["--enable-unsafe-webgpu", "--enable-features=Vulkan"]
TFJS = Path(__file__).parent / "js" / "node_modules" / "@tensorflow"
SCRIPTS = {
    "tf.min.js": TFJS / "tfjs" / "dist" / "tf.min.js",
    "tf-backend-webgpu.min.js": TFJS / "tfjs-backend-webgpu" / "dist" / "tf-backend-webgpu.min.js",
}
PAGE = '<!doctype html><html><head><link rel="icon" href="data:,"><script src="/tf.min.js"></script></head></html>\n'

RUN_IN_PAGE = """async ([url, format, feeds, backend]) => {
  if (backend === "webgpu" && !tf.findBackend("webgpu")) {
    if (!navigator.gpu || !(await navigator.gpu.requestAdapter())) return { error: "this Chromium offers no WebGPU adapter" };
    await new Promise((resolve, reject) => { const s = document.createElement("script");
      s.src = "/tf-backend-webgpu.min.js"; s.onload = resolve; s.onerror = reject; document.head.appendChild(s); });
  }
  if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) return { error: `tf.setBackend('${backend}') failed` };
  await tf.ready();
  const decode = (f) => {
    const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
    const values = f.dtype === "int32" ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer);
    return tf.tensor(values, f.shape, f.dtype);
  };
  const tensors = feeds.map(decode);
  let model = null;
  try {
    let outputs;
    if (format === "graph") {
      model = await tf.loadGraphModel(url);
      const named = feeds.every((f) => f.name);
      const feed = named ? Object.fromEntries(feeds.map((f, k) => [f.name, tensors[k]]))
        : tensors.length === 1 ? tensors[0] : tensors;
      outputs = await model.executeAsync(feed);
    } else {
      model = await tf.loadLayersModel(url);
      outputs = model.predict(tensors.length === 1 ? tensors[0] : tensors);
    }
    const list = Array.isArray(outputs) ? outputs : [outputs];
    const arrays = await Promise.all(list.map(async (t) => ({ shape: t.shape, dtype: t.dtype,
      values: Array.from(await t.data()) })));
    tf.dispose(list);
    const float32 = backend !== "webgl" || tf.env().getBool("WEBGL_RENDER_FLOAT32_ENABLED");
    return { backend: tf.getBackend(), float32, outputs: arrays };
  } catch (e) {
    return { error: String(e && e.message || e) };
  } finally {
    tf.dispose(tensors);
    if (model) model.dispose();
  }
}"""


class BrowserError(RuntimeError):
    """TF.js in Chromium refused to load or run a model."""


class _Mounts(SimpleHTTPRequestHandler):
    """Serves the page and TF.js's scripts, and each mounted folder under ``/m/<number>/``; nothing else."""

    mounts: dict[str, Path]

    def translate_path(self, path: str) -> str:
        route = path.split("?", 1)[0].split("#", 1)[0]
        parts = [p for p in route.split("/") if p]
        if len(parts) == 1 and parts[0] in SCRIPTS:
            return str(SCRIPTS[parts[0]])
        if len(parts) >= 3 and parts[0] == "m" and parts[1] in self.mounts and ".." not in parts:
            return str(self.mounts[parts[1]].joinpath(*parts[2:]))
        return "/nonexistent"

    def do_GET(self) -> None:
        if self.path in ("/", "/index.html"):
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        pass


class BrowserRunner:
    """One Chromium (WebGPU on) for many models; a page per backend, reused from model to model."""

    def __init__(self, playwright: Any) -> None:
        missing = [str(p) for p in SCRIPTS.values() if not p.is_file()]
        if missing:
            raise RuntimeError(f"TF.js's scripts are not installed ({missing}): run `npm ci --prefix tests/js`")
        self._mounts: dict[str, Path] = {}
        handler = type("Handler", (_Mounts,), {"mounts": self._mounts})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory="/nonexistent"))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *WEBGPU_ARGS])
        self._pages: dict[str, Any] = {}

    def _page(self, backend: str) -> Any:
        page = self._pages.get(backend)
        if page is None or page.is_closed():
            page = self._browser.new_page()
            page.goto(self.url + "/index.html")
            self._pages[backend] = page
        return page

    def _mount(self, folder: Path) -> str:
        for key, mounted in self._mounts.items():
            if mounted == folder:
                return key
        key = str(len(self._mounts))
        self._mounts[key] = folder
        return key

    def run(
        self,
        model_dir: Path,
        inputs: list[np.ndarray],
        *,
        format: str,
        backend: str = "webgl",
        input_names: list[str] | None = None,
    ) -> list[np.ndarray]:
        """The model's outputs for ``inputs`` on ``backend`` (graph models fed by ``input_names`` when given)."""
        names = input_names or [""] * len(inputs)
        feeds = [
            {
                "name": name,
                "shape": list(a.shape),
                "dtype": "int32" if a.dtype.kind in "iu" else "float32",
                "data": base64.b64encode(
                    np.ascontiguousarray(a, dtype="<i4" if a.dtype.kind in "iu" else "<f4").tobytes()
                ).decode(),
            }
            for name, a in zip(names, inputs, strict=True)
        ]
        url = f"/m/{self._mount(Path(model_dir).resolve())}/model.json"
        page = self._page(backend)
        try:
            found: dict[str, Any] = page.evaluate(RUN_IN_PAGE, [url, format, feeds, backend])
        except Exception as exc:  # the page crashed (lost context, out of memory): a fresh one for the next model
            page.close()
            raise BrowserError(str(exc).splitlines()[0]) from exc
        if "error" in found:  # a failed execution can leave the backend broken (WebGPU loses its device): a fresh page
            page.close()
            raise BrowserError(found["error"])
        if found["backend"] != backend or not found["float32"]:
            raise BrowserError(f"asked for {backend} with float32, the page ran {found}")
        return [
            np.array(o["values"], dtype="int32" if o["dtype"] == "int32" else "float32").reshape(o["shape"])
            for o in found["outputs"]
        ]

    def close(self) -> None:
        self._browser.close()
        self._server.shutdown()
        self._server.server_close()
