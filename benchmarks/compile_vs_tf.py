"""The TF-free graph compiler (hatch_tfjs.compile) against the TensorFlow graph route, on real architectures.

    .venv/bin/python benchmarks/compile_vs_tf.py [model ...]     (default: resnet50 mobilenet_v2 transformer)

Each model of the tests' real-architecture zoo (tests/real_zoo.py) is saved as ``.keras`` once; then every route
runs in a fresh Python process, which reports its own wall time (imports included: they are what a build pays)
and peak RSS, and whether it imported TensorFlow:

- ``compile``: h5py reader + :func:`hatch_tfjs.compile.compile_keras_model` + writing the model directory;
- ``tf``: :func:`hatch_tfjs.read.savedmodel.read_graph_model` (load in Keras, trace, freeze, grappler, rewrites)
  + writing the model directory.

Prints one line per model and route, and the compile/tf ratios.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS = ["resnet50", "mobilenet_v2", "transformer"]

# One conversion in a fresh process: argv = route, source, output. Prints {"seconds", "peak_rss_mb", "tensorflow"}.
CHILD = r"""
import json, sys, time
started = time.perf_counter()
from pathlib import Path
from hatch_tfjs.write import graph_model_json, write_model_dir
def peak_rss_mb():
    # VmHWM belongs to this process image; ru_maxrss would carry the parent's peak across fork + exec.
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
route, source, output = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
if route == "compile":
    from hatch_tfjs.compile import CompiledGraph, compile_keras_model
    from hatch_tfjs.read import read_keras_model
    graph = compile_keras_model(read_keras_model(source, model_name="m"), model_name="m", source_rel=str(source))
    assert isinstance(graph, CompiledGraph), graph.describe()
else:
    from hatch_tfjs.read.savedmodel import GraphOptions, read_graph_model
    graph = read_graph_model(source, model_name="m", source_rel=str(source), options=GraphOptions())
write_model_dir(output, graph_model_json(graph.topology, graph.signature, generated_by=graph.generated_by),
                graph.weights, shard_size=4194304)
print(json.dumps({"seconds": time.perf_counter() - started,
                  "peak_rss_mb": peak_rss_mb(),
                  "tensorflow": "tensorflow" in sys.modules}))
"""


def save_models(names: list[str], directory: Path) -> dict[str, Path]:
    """Build and save each zoo model (in this process: Keras is needed to make them, not to convert them)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(ROOT / "tests"))
    import real_zoo

    paths = {}
    for seed, name in enumerate(names):
        model, _ = real_zoo.build(real_zoo.REAL_MODELS[name], seed)
        paths[name] = directory / f"{name}.keras"
        model.save(paths[name])
    return paths


def run_route(route: str, source: Path, output: Path) -> dict[str, float]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", CHILD, route, str(source), str(output)], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{route} on {source.name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    names = argv or DEFAULT_MODELS
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        sources = save_models(names, directory)
        print(f"{'model':<16} {'route':<8} {'wall s':>8} {'peak MB':>8}  tensorflow imported")
        for name, source in sources.items():
            results = {route: run_route(route, source, directory / f"{name}-{route}") for route in ("compile", "tf")}
            for route, r in results.items():
                print(f"{name:<16} {route:<8} {r['seconds']:>8.2f} {r['peak_rss_mb']:>8.0f}  {r['tensorflow']}")
            wall = results["compile"]["seconds"] / results["tf"]["seconds"]
            rss = results["compile"]["peak_rss_mb"] / results["tf"]["peak_rss_mb"]
            print(f"{name:<16} {'ratio':<8} {wall:>7.2f}x {rss:>7.2f}x  (compile / tf)")


if __name__ == "__main__":
    main(sys.argv[1:])
