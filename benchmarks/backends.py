"""Layers or graph, per TF.js backend: how fast each of hatch-tfjs's two outputs of the same Keras model runs, against
the official converter's output, on the backends browsers use.

    .venv/bin/python benchmarks/backends.py [--tfjs-runs 15] [--tfjs-warmup 3] [--skip-browser] [model ...]
    (default: every model of tests/real_zoo.py)

For each zoo model (``tests/real_zoo.py``, built and saved once into ``benchmarks/.cache/graph_route/models``, shared
with ``graph_route.py``):

- ``default``: ``hatch-tfjs convert`` with the default ``format = "auto"``; which form it made is reported;
- ``other``: the other form (``--format layers`` or ``--format graph``), or why it cannot be made;
- ``official``: Keras ``export()`` + ``tensorflowjs_converter --input_format=tf_saved_model`` (graph_route.py's
  official route, in its venv), or its failure.

The three outputs are loaded side by side in one process per backend and timed by ``graph_runtime.mjs`` (a call =
``predict``/``execute`` until the outputs' values are on the host; warm-up calls, then interleaved rounds, the
order rotated round by round; paired ratios): in Node on ``wasm`` (@tensorflow/tfjs-backend-wasm 4.22, its own
.wasm files) and ``cpu``; in Debian's headless Chromium through Playwright on ``webgl`` (SwiftShader: software
rendering, no GPU here) and on ``webgpu`` where that Chromium offers an adapter. Each output's first result is
compared with Keras (max abs diff). Writes ``benchmarks/results/backends.md`` and ``backends.json``.
"""

# ruff: noqa: S603, S607 - a benchmark runs the tools it measures, found on PATH like a user would

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench
import graph_route as gr

RESULT_MD = bench.RESULTS / "backends.md"
RESULT_JSON = bench.RESULTS / "backends.json"
OUT = gr.CACHE / "backends"
ROUTES = ("default", "other", "official")
NODE_BACKENDS = ("wasm", "cpu")
BROWSER_BACKENDS = ("webgl", "webgpu")
TFJS_FORMATS = {"layers-model": "layers", "graph-model": "graph"}
TARGET = 1.1  # the default within 1.1x of the fastest exact form of ours


def convert(name: str, route: str, fmt: str | None) -> dict[str, Any]:
    """``hatch-tfjs convert`` of the zoo model into OUT/name/route: {"dir", "format"} or {"error"}."""
    output = OUT / name / route
    bench.clear(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [str(bench.PY), "-m", "hatch_tfjs", "convert", *(["--format", fmt] if fmt else []),
               str(gr.MODELS / f"{name}.keras"), str(output)]
    proc = subprocess.run(command, capture_output=True, text=True, check=False, env=bench.base_env(), cwd=gr.CACHE)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:300]}
    document = json.loads((output / "model.json").read_text())
    line = next((ln for ln in proc.stdout.splitlines() + proc.stderr.splitlines() if f"{name}: " in ln), "")
    return {"dir": str(output), "format": TFJS_FORMATS[document["format"]], "line": line.strip()}


def convert_all(names: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    outputs: dict[str, dict[str, dict[str, Any]]] = {}
    for name in names:
        default = convert(name, "default", None)
        other_format = {"layers": "graph", "graph": "layers"}.get(default.get("format", ""), "graph")
        other = convert(name, "other", other_format)
        other.setdefault("format", other_format)
        try:
            gr.run_route("official", name, None)
            official = {"dir": str(gr.OUT / name / "official"), "format": "graph"}
        except RuntimeError as exc:
            official = {"error": gr.failure_reason(exc), "format": "graph"}
        outputs[name] = {"default": default, "other": other, "official": official}
        say_line = ", ".join(f"{r} {o.get('format', '?')}" + (" FAILED" if "error" in o else "") for r, o in
                             outputs[name].items())
        bench.say(f"{name}: {say_line}")
    return outputs


def request(names: list[str], outputs: dict[str, Any], url: Any) -> list[dict[str, Any]]:
    models = []
    for name in names:
        inputs, _ = gr.load_case(name)
        routes = {r: {"dir": url(Path(o["dir"])), "format": o["format"]} for r, o in outputs[name].items()
                  if "error" not in o}
        encoded = [{"shape": list(a.shape), "dtype": "int32" if a.dtype.kind in "iu" else "float32",
                    "values": a.reshape(-1).tolist()} for a in inputs]
        models.append({"name": name, "inputs": encoded, "routes": routes})
    return models


def run_node(backend: str, models: list[dict[str, Any]], warmup: int, runs: int) -> dict[str, Any]:
    payload = json.dumps({"models": models, "warmup": warmup, "runs": runs, "backend": backend})
    proc = subprocess.run(["node", str(bench.BENCH / "graph_runtime_node.mjs")], input=payload, capture_output=True,
                          text=True, check=False, cwd=bench.ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"the Node benchmark ({backend}) failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


IN_PAGE = """async ([backend, models, warmup, runs]) => {
  if (backend === 'webgpu') {
    if (!navigator.gpu || !(await navigator.gpu.requestAdapter())) return { unavailable: 'no WebGPU adapter' };
    await new Promise((resolve, reject) => { const s = document.createElement('script'); s.src = '/www/tf-backend-webgpu.min.js';
      s.onload = resolve; s.onerror = reject; document.head.appendChild(s); });
  }
  if (!(await tf.setBackend(backend))) return { unavailable: `tf.setBackend('${backend}') failed` };
  await tf.ready();
  const { benchmarkModels } = await import('/www/graph_runtime.mjs');
  return await benchmarkModels(tf, models, { warmup, runs, url: (directory) => directory + '/model.json' });
}"""


def run_browser(backends: tuple[str, ...], models_for: Any, warmup: int, runs: int) -> dict[str, Any]:
    import shutil

    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {}
    with gr.serve_cache() as base, sync_playwright() as playwright:
        webgpu = gr.TESTS / "js" / "node_modules" / "@tensorflow" / "tfjs-backend-webgpu" / "dist"
        shutil.copyfile(webgpu / "tf-backend-webgpu.min.js", gr.CACHE / "www" / "tf-backend-webgpu.min.js")
        args = [*gr.CHROMIUM_ARGS, "--enable-unsafe-webgpu", "--enable-features=Vulkan"]
        browser = playwright.chromium.launch(executable_path=gr.CHROMIUM, args=args)
        try:
            for backend in backends:
                page = browser.new_page()
                page.goto(base + "/www/index.html")
                models = models_for(lambda p: "/" + p.relative_to(gr.CACHE).as_posix())
                try:
                    results[backend] = page.evaluate(IN_PAGE, [backend, models, warmup, runs])
                except Exception as exc:  # noqa: BLE001 - reported in the results
                    results[backend] = {"unavailable": str(exc).splitlines()[0][:300]}
                page.close()
            results["chromium"] = browser.version
        finally:
            browser.close()
    return results


def summarize(names: list[str], outputs: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """Per backend and model: each route's median ms and max diff vs Keras (or its error), paired ratios."""
    summary: dict[str, Any] = {}
    for backend, result in raw.items():
        if not isinstance(result, dict) or "results" not in result:
            continue
        per_model: dict[str, Any] = {}
        for name in names:
            routes = result["results"][name]
            _, expected = gr.load_case(name)
            entry: dict[str, Any] = {}
            for route, data in routes.items():
                if "error" in data:
                    entry[route] = {"error": data["error"][:200]}
                    continue
                got = [np.array(o["values"], dtype="f4") for o in data["outputs"]]
                entry[route] = {"median_ms": statistics.median(data["milliseconds"]),
                                "max_abs_diff_vs_keras": gr.max_abs_diff(got, expected),
                                "ms": data["milliseconds"]}
            for route in ("other", "official"):
                if "ms" in entry.get("default", {}) and "ms" in entry.get(route, {}):
                    entry[f"default_vs_{route}"] = gr.median_ratio(entry["default"]["ms"], entry[route]["ms"])
            per_model[name] = entry
        summary[backend] = per_model
    return summary


def cell(entry: dict[str, Any], route: str, output: dict[str, Any]) -> str:
    if "error" in output:
        return f"fails to convert: {output['error'][:90]}"
    data = entry.get(route)
    if data is None:
        return "-"
    if "error" in data:
        return f"fails in TF.js: {data['error'][:90]}"
    ratio = entry.get(f"default_vs_{route}")
    text = f"{data['median_ms']:.1f} ms ({output['format']})"
    return text + (f"; default / this {ratio:.2f}x" if ratio is not None else "")


def markdown(data: dict[str, Any]) -> str:
    meta = data["meta"]
    lines = [
        "# Layers or graph, per TF.js backend: hatch-tfjs's default output, its other form, the official converter's",
        "",
        f"Run of {meta['date']} ({meta['machine']}), TF.js 4.22, {meta['command']}; Chromium {meta.get('chromium', '?')}.",
        "Median ms per call (until the outputs are on the host), paired ratios of interleaved calls in one process.",
        f"Target: the default within {TARGET}x of the faster of our two forms on every backend.",
        "",
    ]
    for backend, per_model in data["summary"].items():
        lines += [f"## {backend}", "", "| model | our default | our other form | official converter |",
                  "|---|---|---|---|"]
        for name, entry in per_model.items():
            outs = data["outputs"][name]
            lines.append(f"| {name} | {cell(entry, 'default', outs['default'])} | {cell(entry, 'other', outs['other'])} "
                         f"| {cell(entry, 'official', outs['official'])} |")
        lines.append("")
    for backend, why in data.get("unavailable", {}).items():
        lines.append(f"- {backend}: not measured ({why})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="zoo models (default: all of tests/real_zoo.py)")
    parser.add_argument("--tfjs-runs", type=int, default=15)
    parser.add_argument("--tfjs-warmup", type=int, default=3)
    parser.add_argument("--skip-browser", action="store_true", help="Node only (wasm, cpu)")
    parser.add_argument("--node-backends", default=",".join(NODE_BACKENDS))
    args = parser.parse_args(argv)
    sys.path.insert(0, str(gr.TESTS))
    import real_zoo

    names = args.models or list(real_zoo.REAL_MODELS)
    started = time.perf_counter()
    bench.ensure_official_venv()
    gr.ensure_models(names)
    outputs = convert_all(names)
    raw: dict[str, Any] = {}
    for backend in args.node_backends.split(","):
        bench.say(f"timing in Node on {backend}")
        raw[backend] = run_node(backend, request(names, outputs, str), args.tfjs_warmup, args.tfjs_runs)
    meta: dict[str, Any] = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                            "command": "benchmarks/backends.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                            "machine": bench.machine(), "commit": bench.git_commit()}
    unavailable: dict[str, str] = {}
    if not args.skip_browser:
        bench.say(f"timing in Chromium on {', '.join(BROWSER_BACKENDS)}")
        browser = run_browser(BROWSER_BACKENDS, lambda url: request(names, outputs, url), args.tfjs_warmup,
                              args.tfjs_runs)
        meta["chromium"] = browser.pop("chromium", "?")
        for backend, result in browser.items():
            if "unavailable" in result:
                unavailable[backend] = result["unavailable"]
            else:
                raw[backend] = result
    data = {"meta": meta, "outputs": outputs, "summary": summarize(names, outputs, raw), "unavailable": unavailable}
    meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    RESULT_JSON.write_text(json.dumps(data, indent=1) + "\n")
    RESULT_MD.write_text(markdown(data))
    print(RESULT_MD.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
