"""Graph models from .keras files: hatch-tfjs's TensorFlow-free compiler against its TensorFlow route and against the
official converter (tensorflowjs 4.22), both for converting and for running the result in TF.js.

    .venv/bin/python benchmarks/graph_route.py [--runs 3] [--tfjs-runs 20] [--tfjs-warmup 3] [--skip-webgl] [--at-head]
                                               [model ...]
    (default models: resnet50 mobilenet_v2 transformer masked_gru, from tests/zoos/real_zoo.py; ~25 min on 2 busy cores)

The three routes from the same ``.keras`` file (Keras 3) to a TF.js graph model:

- ``compile``: the h5py reader + :func:`hatch_tfjs.compile.compile_keras_model` + writing the model directory; no
  TensorFlow (the run fails if anything imports it);
- ``tf``: hatch-tfjs's TensorFlow route, :func:`hatch_tfjs.graph_route.convert_tf_graph` (load in Keras, trace,
  freeze, grappler, rewrites) + the same writer;
- ``official``: tensorflowjs_converter 4.22 has no ``.keras`` -> graph model conversion (``keras_keras`` gives layers
  models only; ``--input_format=keras`` loads the file with tf_keras, which refuses Keras 3 files, and
  ``keras_saved_model`` is a Keras-2 SavedModel -> layers model route: all probed and reported per model), so a user
  exports a SavedModel with Keras (``keras.saving.load_model(path).export(dir)``, in the official converter's venv:
  its TensorFlow 2.19 and Keras) and runs ``tensorflowjs_converter --input_format=tf_saved_model
  --output_format=tfjs_graph_model`` on it. Both steps are timed; the route's wall time is their sum, its peak RSS
  the larger of the two.

1. Conversion: every route runs as a fresh process (wall time around spawn + ``os.wait4``, peak RSS from its
   ``ru_maxrss``, as ``bench.py`` measures), one warm-up round then ``--runs`` rounds, the routes' order rotated
   round by round; ratios are paired (same round) and their median is reported.
2. Running the outputs: the three graph models of each model are loaded side by side in TF.js 4.22 - in Node with
   the pure-JS CPU backend (``graph_runtime_node.mjs``; no tfjs-node) and in Debian's headless Chromium with the
   WebGL backend (Playwright with ``executable_path``; on a machine without a GPU that WebGL is SwiftShader, software
   rendering on the CPU) - run once to check they agree with each other and with Keras (max abs diff), then timed
   by ``graph_runtime.mjs``: warm-up calls, then interleaved rounds of one call per route on the same input.

Writes ``benchmarks/results/graph_route.md`` and ``graph_route.json``. Cache (the official converter's venv, shared
with ``bench.py``; the zoo models; outputs; logs): ``benchmarks/.cache/``.
"""

# ruff: noqa: S603, S607 - a benchmark runs the tools it measures, found on PATH like a user would

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # the official converter's venv, fresh-process measuring, machine description

ROOT = bench.ROOT
TESTS = ROOT / "tests"
ZOOS = TESTS / "zoos"  # the tests' model zoos (real_zoo.py, zoo.py)
CACHE = bench.CACHE / "graph_route"
MODELS = CACHE / "models"
OUT = CACHE / "out"
LOGS = CACHE / "logs"
RESULT_MD = bench.RESULTS / "graph_route.md"
RESULT_JSON = bench.RESULTS / "graph_route.json"
TFJS_DIST = TESTS / "js" / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.min.js"
CHROMIUM = os.environ.get("HATCH_TFJS_CHROMIUM", "/usr/bin/chromium")
# No GPU here: Chromium's WebGL runs on SwiftShader; asked for explicitly so every run gets the same renderer.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
DEFAULT_MODELS = ["resnet50", "mobilenet_v2", "transformer", "masked_gru"]
ROUTES = ("compile", "tf", "official")
ROUTE_LABELS = {
    "compile": "hatch-tfjs compile (no TF)",
    "tf": "hatch-tfjs TF route",
    "official": "official: Keras export + tensorflowjs_converter",
}
GOALS = {"wall": 0.1, "rss": 0.2}  # compile / official

# One hatch-tfjs conversion in a fresh process: argv = route, source, output.
CONVERT = r"""
import sys
from pathlib import Path
from hatch_tfjs.neutral import GraphModelData
from hatch_tfjs.write import graph_model_json, write_model_dir
route, source, output = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
if route == "compile":
    from hatch_tfjs.compile import compile_keras_model
    from hatch_tfjs.read import read_keras_model
    graph = compile_keras_model(read_keras_model(source, model_name="m"), model_name="m", source_rel=source.name)
else:
    from hatch_tfjs.graph_route import convert_tf_graph
    from hatch_tfjs.options import GraphOptions
    graph = convert_tf_graph(source, model_name="m", source_rel=source.name, options=GraphOptions())
if not isinstance(graph, GraphModelData):
    sys.exit(f"not compiled: {graph.describe()}")
write_model_dir(output, graph_model_json(graph.topology, graph.signature, generated_by=graph.generated_by,
                                         metadata=graph.metadata, extra=graph.extra), graph.weights, shard_size=4194304)
if route == "compile" and "tensorflow" in sys.modules:
    sys.exit("the compile route imported TensorFlow")
"""

# The step before the official converter: the .keras file as a SavedModel (official venv): argv = source, directory.
EXPORT = r"""
import sys
import keras
keras.saving.load_model(sys.argv[1], compile=False).export(sys.argv[2], verbose=False)
"""

# The zoo models, built and saved by Keras in a child process (this one stays small: see measure_route).
SAVE_MODELS = r"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[1])
import real_zoo
directory = Path(sys.argv[2])
for name in sys.argv[3:]:
    seed = list(real_zoo.REAL_MODELS).index(name)  # the seed the tests give it
    model, inputs = real_zoo.build(real_zoo.REAL_MODELS[name], seed)
    model.save(directory / f"{name}.keras")
    expected = real_zoo.keras_outputs(model, inputs)
    np.savez(directory / f"{name}.npz", **{f"x{i}": a for i, a in enumerate(inputs)},
             **{f"y{i}": a for i, a in enumerate(expected)})
"""


def say(message: str) -> None:
    bench.say(message)


# --- models ------------------------------------------------------------------------------------------------------


def zoo_key() -> str:
    """Models are rebuilt when the zoo's code (or the way they are saved) changes."""
    digest = hashlib.sha256(SAVE_MODELS.encode())
    for path in (ZOOS / "real_zoo.py", ZOOS / "zoo.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_models(names: list[str]) -> None:
    key = zoo_key()
    missing = [n for n in names if not (MODELS / f"{n}.key").is_file() or (MODELS / f"{n}.key").read_text() != key]
    if not missing:
        return
    say(f"building and saving {', '.join(missing)} with Keras (tests/zoos/real_zoo.py) into {MODELS}")
    MODELS.mkdir(parents=True, exist_ok=True)
    command = [str(bench.PY), "-c", SAVE_MODELS, str(ZOOS), str(MODELS), *missing]
    subprocess.run(command, check=True, env=bench.base_env())
    for name in missing:
        (MODELS / f"{name}.key").write_text(key)


def load_case(name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(inputs, Keras's outputs) saved with the model."""
    data = np.load(MODELS / f"{name}.npz")
    count = sum(1 for k in data.files if k.startswith("x"))
    return [data[f"x{i}"] for i in range(count)], [data[f"y{i}"] for i in range(len(data.files) - count)]


# --- conversion --------------------------------------------------------------------------------------------------


@dataclass
class RouteRun:
    wall: float  # seconds, every step
    rss: int  # bytes, the largest step
    steps: dict[str, float]  # step -> seconds


def head_snapshot() -> Path:
    """HEAD's hatch_tfjs/, exported (``git archive``) into the cache: what ``--at-head`` runs instead of the working
    tree's, so a benchmark of a shared checkout measures the committed code it names."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    snapshot = CACHE / f"head-{commit}"
    if not (snapshot / "hatch_tfjs" / "__init__.py").is_file():
        for old in CACHE.glob("head-*"):
            bench.clear(old)
        snapshot.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", "HEAD", "hatch_tfjs"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(snapshot)], input=archive.stdout, check=True)
    return snapshot


def route_env(route: str, hatch_tfjs_from: Path | None) -> dict[str, str]:
    env = bench.base_env()
    if route != "official" and hatch_tfjs_from is not None:
        env["PYTHONPATH"] = str(hatch_tfjs_from)
    return env


def route_steps(route: str, source: Path, output: Path) -> list[tuple[str, list[str]]]:
    if route in ("compile", "tf"):
        return [("convert", [str(bench.PY), "-c", CONVERT, route, str(source), str(output)])]
    savedmodel = output.with_name(output.name + "-savedmodel")
    official_python = str(bench.OFFICIAL_VENV / "bin" / "python")
    return [
        ("export", [official_python, "-c", EXPORT, str(source), str(savedmodel)]),
        ("convert", [str(bench.OFFICIAL), "--input_format=tf_saved_model", "--output_format=tfjs_graph_model",
                     str(savedmodel), str(output)]),
    ]


def run_route(route: str, name: str, hatch_tfjs_from: Path | None) -> RouteRun:
    """One conversion, every step a fresh process; outputs of the previous run removed (untimed) first."""
    output = OUT / name / route
    for path in (output, output.with_name(output.name + "-savedmodel")):
        bench.clear(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sync"], check=False)  # no run pays for an earlier one's writeback
    steps, rss = {}, 0
    for step, argv in route_steps(route, MODELS / f"{name}.keras", output):
        sample = bench.measure(argv, env=route_env(route, hatch_tfjs_from), log=LOGS / f"{name}-{route}.log",
                               cwd=CACHE)  # not the checkout: `python -c` puts its directory first on sys.path
        steps[step] = sample.wall
        rss = max(rss, sample.rss)
    return RouteRun(sum(steps.values()), rss, steps)


def failure_reason(exc: RuntimeError) -> str:
    """The last informative line of a failed command's log tail (the exception or the exit message)."""
    lines = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
    informative = [line for line in lines if not line.startswith(("$ ", "WARNING", "I0000", "W0000", "E0000"))]
    last = (informative or lines or [str(exc)])[-1]
    return last.split(" Full object config:")[0][:300]  # Keras appends the whole model config


@dataclass
class ModelConversions:
    runs: dict[str, list[RouteRun]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def benchmark_conversions(names: list[str], rounds: int, hatch_tfjs_from: Path | None) -> dict[str, ModelConversions]:
    results = {name: ModelConversions({route: [] for route in ROUTES}) for name in names}
    for name in names:
        result = results[name]
        say(f"{name}: converting with {', '.join(ROUTES)}: a warm-up round, then {rounds} rounds, order rotated")
        for round_index in range(rounds + 1):
            order = ROUTES[round_index % len(ROUTES):] + ROUTES[: round_index % len(ROUTES)]
            for route in order:
                if route in result.failures:
                    continue
                try:
                    run = run_route(route, name, hatch_tfjs_from)
                except RuntimeError as exc:
                    result.failures[route] = failure_reason(exc)
                    say(f"   {route}: FAILED: {result.failures[route]}")
                    continue
                if round_index > 0:
                    result.runs[route].append(run)
                say(f"   {'warm-up' if round_index == 0 else f'round {round_index}'} {route:<8} {run.wall:6.1f} s "
                    f"{run.rss / bench.MIB:6.0f} MiB " + " + ".join(f"{k} {v:.1f} s" for k, v in run.steps.items()))
    return results


def probe_official_direct_routes(name: str) -> dict[str, str]:
    """What tensorflowjs_converter does given the .keras file itself, asking for a graph model (untimed)."""
    probes = {
        "--input_format=keras": ["--input_format=keras", "--output_format=tfjs_graph_model"],
        "--input_format=keras_keras": ["--input_format=keras_keras", "--output_format=tfjs_graph_model"],
        "--input_format=keras_saved_model": ["--input_format=keras_saved_model", "--output_format=tfjs_graph_model"],
    }
    outcomes = {}
    for label, flags in probes.items():
        output = OUT / name / "probe"
        bench.clear(output)
        source = MODELS / f"{name}.keras"
        try:
            bench.measure([str(bench.OFFICIAL), *flags, str(source), str(output)], env=bench.base_env(),
                          log=LOGS / f"{name}-probe.log")
            outcomes[label] = "converted" if (output / "model.json").is_file() else "exit 0, no model.json"
        except RuntimeError as exc:
            outcomes[label] = failure_reason(exc)
        bench.clear(output)
    return outcomes


# --- running the outputs in TF.js --------------------------------------------------------------------------------


def tfjs_request(names: list[str], conversions: dict[str, ModelConversions], url: Any) -> list[dict[str, Any]]:
    models = []
    for name in names:
        inputs, _ = load_case(name)
        routes = {r: url(OUT / name / r) for r in ROUTES if r not in conversions[name].failures}
        encoded = [{"shape": list(a.shape), "dtype": "int32" if a.dtype.kind in "iu" else "float32",
                    "values": a.reshape(-1).tolist()} for a in inputs]
        models.append({"name": name, "inputs": encoded, "routes": routes})
    return models


def run_in_node(models: list[dict[str, Any]], warmup: int, runs: int) -> dict[str, Any]:
    request = json.dumps({"models": models, "warmup": warmup, "runs": runs})
    proc = subprocess.run(["node", str(bench.BENCH / "graph_runtime_node.mjs")], input=request, capture_output=True,
                          text=True, check=False, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"the Node benchmark failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])  # TF.js greets on stdout first
    return result


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_cache() -> Iterator[str]:
    """``benchmarks/.cache/graph_route`` over http on 127.0.0.1, with the page, TF.js and graph_runtime.mjs in www/."""
    www = CACHE / "www"
    www.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TFJS_DIST, www / "tf.min.js")
    shutil.copyfile(bench.BENCH / "graph_runtime.mjs", www / "graph_runtime.mjs")
    (www / "index.html").write_text('<!doctype html><html><head><link rel="icon" href="data:,">'
                                    '<script src="tf.min.js"></script></head></html>\n')
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(CACHE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


IN_PAGE = """async ([models, warmup, runs]) => {
  await tf.setBackend('webgl');
  await tf.ready();
  const gl = document.createElement('canvas').getContext('webgl2');
  const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : '?';
  const { benchmarkModels } = await import('/www/graph_runtime.mjs');
  const result = await benchmarkModels(tf, models, { warmup, runs, url: (directory) => directory + '/model.json' });
  return { ...result, renderer, float32: tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED') };
}"""


def run_in_chromium(
    names: list[str], conversions: dict[str, ModelConversions], warmup: int, runs: int
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"{CHROMIUM} not found (Debian's chromium; .ci/setup installs it)")
    with serve_cache() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "/www/index.html")
            models = tfjs_request(names, conversions, lambda p: "/" + p.relative_to(CACHE).as_posix())
            result = page.evaluate(IN_PAGE, [models, warmup, runs])
            if errors:
                raise RuntimeError(f"errors in the page: {errors}")
            result["chromium"] = browser.version
            return dict(result)
        finally:
            browser.close()


# --- figures ---------------------------------------------------------------------------------------------------------


def max_abs_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    if len(a) != len(b) or any(x.size != y.size for x, y in zip(a, b, strict=True)):
        return float("inf")  # different outputs: reported as an infinite difference
    return max(float(np.max(np.abs(x.astype("f8").ravel() - y.ravel()))) for x, y in zip(a, b, strict=True))


def median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def summarize_runtime(names: list[str], raw: dict[str, Any]) -> dict[str, Any]:
    """Per model: each route's call, median ms, max diff vs Keras (or TF.js's error); the largest diff between
    routes; paired ratios (compile and TF route to official, compile to TF route)."""
    summary: dict[str, Any] = {}
    for name in names:
        routes = raw["results"][name]
        _, expected = load_case(name)
        ran = {r: data for r, data in routes.items() if "error" not in data}
        outputs = {r: [np.array(o["values"], dtype="f4") for o in data["outputs"]] for r, data in ran.items()}
        entry: dict[str, Any] = {"routes": {r: {"error": data["error"]} for r, data in routes.items() if r not in ran}}
        for route, data in ran.items():
            entry["routes"][route] = {
                "call": data["call"],
                "median_ms": statistics.median(data["milliseconds"]),
                "min_ms": min(data["milliseconds"]),
                "max_ms": max(data["milliseconds"]),
                "n": len(data["milliseconds"]),
                "max_abs_diff_vs_keras": max_abs_diff(outputs[route], expected),
            }
        present = list(ran)
        entry["max_abs_diff_between_routes"] = max(
            (max_abs_diff(outputs[a], outputs[b]) for i, a in enumerate(present) for b in present[i + 1:]), default=None
        )
        for route, base in (("compile", "official"), ("tf", "official"), ("compile", "tf")):
            if route in ran and base in ran:
                entry[f"{route}_vs_{base}"] = median_ratio(ran[route]["milliseconds"], ran[base]["milliseconds"])
        summary[name] = entry
    return summary


def summarize_conversions(
    conversions: dict[str, ModelConversions], probes: dict[str, dict[str, str]]
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for name, result in conversions.items():
        entry: dict[str, Any] = {"routes": {}, "failures": result.failures, "official_direct": probes.get(name, {})}
        for route, runs in result.runs.items():
            if not runs:
                continue
            entry["routes"][route] = {
                "wall_s": statistics.median(r.wall for r in runs),
                "peak_rss_mib": statistics.median(r.rss for r in runs) / bench.MIB,
                "steps_s": {s: statistics.median(r.steps[s] for r in runs) for s in runs[0].steps},
                "runs": [{"wall_s": r.wall, "peak_rss_mib": r.rss / bench.MIB, "steps_s": r.steps} for r in runs],
            }
        for route, base in (("compile", "official"), ("tf", "official"), ("compile", "tf")):
            a, b = result.runs.get(route), result.runs.get(base)
            if a and b:
                entry[f"{route}_vs_{base}"] = {
                    "wall": median_ratio([r.wall for r in a], [r.wall for r in b]),
                    "rss": median_ratio([r.rss for r in a], [r.rss for r in b]),
                }
        summary[name] = entry
    return summary


# --- report ----------------------------------------------------------------------------------------------------------


def cell_ratio(value: float | None, goal: float | None = None) -> str:
    if value is None:
        return "-"
    text = f"{value:.3f}x" if value < 0.1 else f"{value:.2f}x"
    return text if goal is None else f"{text} {'met' if value <= goal else 'NOT met'}"


def conversion_table(conversions: dict[str, Any]) -> list[str]:
    rows = [
        "| model | route | wall (s) | peak RSS (MiB) | wall / official | RSS / official | wall / TF route "
        "| RSS / TF route |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for name, entry in conversions.items():
        for route in ROUTES:
            if route in entry["failures"]:
                rows.append(f"| {name} | {ROUTE_LABELS[route]} | fails: {entry['failures'][route].replace('|', '/')} "
                            "| | | | | |")
                continue
            data = entry["routes"].get(route)
            if data is None:
                continue
            steps = " + ".join(f"{s} {v:.1f}" for s, v in data["steps_s"].items()) if len(data["steps_s"]) > 1 else ""
            versus_official = entry.get(f"{route}_vs_official", {})
            versus_tf = entry.get("compile_vs_tf", {}) if route == "compile" else {}
            goal = GOALS if route == "compile" else {}
            rows.append(
                f"| {name} | {ROUTE_LABELS[route]} | {data['wall_s']:.2f}{f' ({steps})' if steps else ''} "
                f"| {data['peak_rss_mib']:.0f} | {cell_ratio(versus_official.get('wall'), goal.get('wall'))} "
                f"| {cell_ratio(versus_official.get('rss'), goal.get('rss'))} | {cell_ratio(versus_tf.get('wall'))} "
                f"| {cell_ratio(versus_tf.get('rss'))} |"
            )
    return rows


def runtime_table(runtime: dict[str, Any]) -> list[str]:
    rows = [
        "| model | route | call | median ms (min-max) | / official | / TF route | max abs diff vs Keras "
        "| max diff between routes |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for name, entry in runtime.items():
        between = "-" if entry["max_abs_diff_between_routes"] is None else f"{entry['max_abs_diff_between_routes']:.1e}"
        for route in ROUTES:
            data = entry["routes"].get(route)
            if data is None:
                continue
            if "error" in data:
                reason = data["error"].split(". ")[0][:200].replace("|", "/")
                rows.append(f"| {name} | {ROUTE_LABELS[route]} | TF.js fails: {reason} | | | | | |")
                continue
            rows.append(
                f"| {name} | {ROUTE_LABELS[route]} | {data['call']} | {data['median_ms']:.1f} "
                f"({data['min_ms']:.1f}-{data['max_ms']:.1f}) | {cell_ratio(entry.get(f'{route}_vs_official'))} "
                f"| {cell_ratio(entry.get(f'{route}_vs_tf'))} | {data['max_abs_diff_vs_keras']:.1e} | {between} |"
            )
    return rows


def probe_lines(conversions: dict[str, Any]) -> list[str]:
    """One line per flag and outcome, naming the models it happened to."""
    outcomes: dict[tuple[str, str], list[str]] = {}
    for name, entry in conversions.items():
        for flag, what in entry["official_direct"].items():
            outcomes.setdefault((flag, what), []).append(name)
    return [f"- `{flag}`: {what} ({', '.join(names)})" for (flag, what), names in outcomes.items()]


def summary_table(data: dict[str, Any]) -> list[str]:
    """The compiler against the official converter and the TF route, one row per model: converting, then running
    the output in TF.js."""
    rows = [
        "| model | convert wall / official | convert peak RSS / official | convert wall / TF route "
        "| run, Node CPU: / official, / TF route | run, WebGL: / official, / TF route |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, entry in data["conversions"].items():
        failed = entry["failures"].get("compile") or entry["failures"].get("official")
        if failed:
            rows.append(f"| {name} | fails: {failed.replace('|', '/')} | | | | |")
            continue
        versus_official, versus_tf = entry.get("compile_vs_official", {}), entry.get("compile_vs_tf", {})
        run_cells = []
        for key in ("runtime_node_summary", "runtime_webgl_summary"):
            run = data.get(key, {}).get(name, {})
            official = run.get("routes", {}).get("official", {})
            versus = "official's fails" if "error" in official else cell_ratio(run.get("compile_vs_official"))
            run_cells.append(f"{versus}, {cell_ratio(run.get('compile_vs_tf'))}")
        rows.append(
            f"| {name} | {cell_ratio(versus_official.get('wall'), GOALS['wall'])} "
            f"| {cell_ratio(versus_official.get('rss'), GOALS['rss'])} | {cell_ratio(versus_tf.get('wall'))} "
            f"| {run_cells[0]} | {run_cells[1]} |"
        )
    return rows


def markdown(data: dict[str, Any]) -> str:
    meta = data["meta"]
    node, web = data.get("runtime_node"), data.get("runtime_webgl")
    text = [
        "# Graph models from .keras files: TF-free compiler vs TF route vs official converter",
        "",
        f"{meta['date']} UTC, commit {meta['commit']}, {meta['machine']['cpu']} ({meta['machine']['cores']} cores, "
        f"shared and noisy), Python {meta['machine']['python']}, Node {meta['machine']['node']}. hatch-tfjs with "
        f"TensorFlow {meta['ours']['tensorflow']} / Keras {meta['ours']['keras']}; official: tensorflowjs "
        f"{meta['official']['tensorflowjs']} with TensorFlow {meta['official']['tensorflow']} (own venv). Produced by "
        f"`{meta['command']}` ({meta['elapsed_s'] / 60:.0f} min).",
        "",
        "Models: tests/zoos/real_zoo.py (random weights calibrated as in the tests; smallest input sizes). The official "
        "converter cannot make a graph model from a `.keras` file itself (its direct routes, probed below), so its "
        "route is what a user does: `keras.saving.load_model(f).export(dir)` then `tensorflowjs_converter "
        "--input_format=tf_saved_model --output_format=tfjs_graph_model dir out`; its wall time is the sum of the two "
        "steps (shown in brackets), its peak RSS the larger.",
        "",
        "## Summary: the TF-free compiler against the official converter and the TF route (paired medians; below "
        "1x: faster, smaller)",
        "",
        *summary_table(data),
        "",
        f"## Converting (each route a fresh process; median of {meta['runs']} rounds after a warm-up round; "
        "paired ratios)",
        "",
        f"Goals for the compiler against the official converter: wall <= {GOALS['wall']}x, "
        f"peak RSS <= {GOALS['rss']}x.",
        "",
        *conversion_table(data["conversions"]),
        "",
        "The official converter given the `.keras` file directly, asking for a graph model:",
        "",
        *probe_lines(data["conversions"]),
        "",
    ]
    runtimes = [data.get("runtime_node_summary"), data.get("runtime_webgl_summary")]
    if "Cannot compute the outputs" in json.dumps(runtimes):
        text += [
            "Where TF.js fails with \"Cannot compute the outputs\": the graph keeps a lowered While loop whose body "
            "has control inputs from the loop's `Switch` nodes, which TF.js reads as the (dead) exit branch, so the "
            "body never runs; hatch-tfjs's TF route drops those edges (`drop_switch_control_inputs` in "
            "hatch_tfjs/translate/graph.py) and the compiler emits no loop for a fixed-length sequence.",
            "",
        ]
    if node:
        text += [
            f"## Running the graph models: Node, TF.js {node['tfjs']} pure-JS `{node['backend']}` backend",
            "",
            f"One call = `execute` (or `executeAsync` for a graph with control flow) until the outputs' values are "
            f"read; same input (the tests' batch of 4); {meta['tfjs_warmup']} warm-up calls, then {meta['tfjs_runs']} "
            "rounds of one call per route, interleaved. `/ official`, `/ TF route`: median of the per-round ratios.",
            "",
            *runtime_table(data["runtime_node_summary"]),
            "",
        ]
    if web:
        text += [
            f"## Running the graph models: headless Chromium {web['chromium']}, TF.js {web['tfjs']} `{web['backend']}` "
            "backend",
            "",
            f"WebGL renderer: {web['renderer']} (no GPU on this machine: software WebGL on the CPU, so absolute "
            f"times say little about a real GPU; float32 textures: {web['float32']}). Same protocol as Node.",
            "",
            *runtime_table(data["runtime_webgl_summary"]),
            "",
        ]
    elif meta.get("webgl_error"):
        text += ["## Running the graph models: Chromium WebGL", "", f"Not measured: {meta['webgl_error']}", ""]
    return "\n".join(text)


# --- main --------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help=f"zoo models (default: {' '.join(DEFAULT_MODELS)})")
    parser.add_argument("--runs", type=int, default=3, help="conversion rounds after the warm-up round (default 3)")
    parser.add_argument("--tfjs-runs", type=int, default=20, help="timed TF.js rounds per model (default 20)")
    parser.add_argument("--tfjs-warmup", type=int, default=3, help="TF.js warm-up calls per route (default 3)")
    parser.add_argument("--skip-webgl", action="store_true", help="no Chromium/WebGL measurement")
    parser.add_argument(
        "--at-head", action="store_true", help="run HEAD's hatch_tfjs/ (git archive), not the working tree's"
    )
    args = parser.parse_args(argv)
    names = args.models or DEFAULT_MODELS
    started = time.perf_counter()
    bench.ensure_official_venv()
    ensure_models(names)
    hatch_tfjs_from = head_snapshot() if args.at_head else None
    meta: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "command": "benchmarks/graph_route.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": bench.machine(),
        "ours": bench.our_versions(),
        "official": bench.official_versions(),
        "commit": bench.git_commit().split()[0] + " (HEAD's hatch_tfjs/)" if args.at_head else bench.git_commit(),
        "runs": args.runs,
        "tfjs_runs": args.tfjs_runs,
        "tfjs_warmup": args.tfjs_warmup,
    }
    say("the official converter given the .keras files directly (graph model asked for)")
    probes = {name: probe_official_direct_routes(name) for name in names}
    conversions = benchmark_conversions(names, args.runs, hatch_tfjs_from)
    data: dict[str, Any] = {"meta": meta, "conversions": summarize_conversions(conversions, probes)}
    say(f"running the outputs in Node (TF.js CPU backend): {args.tfjs_warmup} warm-up calls, {args.tfjs_runs} rounds")
    data["runtime_node"] = run_in_node(tfjs_request(names, conversions, str), args.tfjs_warmup, args.tfjs_runs)
    data["runtime_node_summary"] = summarize_runtime(names, data["runtime_node"])
    if not args.skip_webgl:
        say("running the outputs in headless Chromium (TF.js WebGL backend)")
        try:
            data["runtime_webgl"] = run_in_chromium(names, conversions, args.tfjs_warmup, args.tfjs_runs)
            data["runtime_webgl_summary"] = summarize_runtime(names, data["runtime_webgl"])
        except Exception as exc:  # noqa: BLE001 - reported in the results; the other figures are kept
            meta["webgl_error"] = str(exc).splitlines()[0][:300]
            say(f"WebGL measurement failed: {meta['webgl_error']}")
    for raw in ("runtime_node", "runtime_webgl"):  # outputs are summarised as diffs; keep the timings
        for routes in data.get(raw, {}).get("results", {}).values():
            for route in routes.values():
                route.pop("outputs", None)
    meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    RESULT_JSON.write_text(json.dumps(data, indent=1) + "\n")
    RESULT_MD.write_text(markdown(data))
    print(RESULT_MD.read_text())
    say(f"wrote {RESULT_MD.relative_to(ROOT)} and {RESULT_JSON.name} ({meta['elapsed_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
