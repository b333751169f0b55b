"""hatch-tfjs against the official converter (tensorflowjs 4.22), the physical floor and a build without the hook.

Run it through ``bash benchmarks/run`` (set-up first), or directly with the project's venv:

    .venv/bin/python benchmarks/bench.py [--runs 5] [--large-runs 5] [--build-runs 10] [--quick] [--update-readme]

What it does, in one run:

1. Creates (once, cached in ``benchmarks/.cache/official-venv``) a separate venv with ``tensorflowjs==4.22.0`` (it
   cannot share ours: it pins old packaging and TensorFlow 2.19), and generates the benchmark models once into
   ``benchmarks/.cache/models`` (``make_models.py``), so both tools read the very same files.
2. Measures every command as a fresh process (wall time with ``time.perf_counter`` around spawn + ``os.wait4``; peak RSS
   from the ``ru_maxrss`` ``os.wait4`` returns, which is the largest RSS of the process and of every descendant it
   waited for, e.g. hatch-tfjs's worker process). Tools are alternated run by run (A B C, A B C, ...) after one
   warm-up run each, and compared as *paired ratios* (A_i / B_i of the same round, median and range): the machine is
   shared and noisy, ratios of neighbouring runs drift much less than absolute times.
3. Checks every output in real TF.js 4.22 (tests/js/tfjs_runner.mjs) against the Keras predictions.
4. Writes ``benchmarks/results/results.json`` (raw figures), ``results.md`` (tables) and ``results.png`` (chart).

Page cache: the model files are read from the page cache in every run (the warm-up run loads them), for every tool
and for the copy floor alike. ``sync`` runs (untimed) before every run, so no run pays for an earlier one's writeback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
CACHE = BENCH / ".cache"
RESULTS = BENCH / "results"
MODELS = CACHE / "models"
OUT = CACHE / "out"
WORK = CACHE / "work"
LOGS = CACHE / "logs"
OFFICIAL_VENV = CACHE / "official-venv"
STAGES_LOG = OUT / "layers-large-stages.jsonl"  # breakdown.py's stage timings, one line per run (warm-up first)
OFFICIAL_REQUIREMENTS = ["tensorflowjs==4.22.0", "ydf<0.16"]
PY = Path(sys.executable)
VENV_BIN = PY.parent
HATCH_TFJS = VENV_BIN / "hatch-tfjs"
OFFICIAL = OFFICIAL_VENV / "bin" / "tensorflowjs_converter"
README_BEGIN = "<!-- benchmarks:headline:begin -->"
README_END = "<!-- benchmarks:headline:end -->"
MIB = 1024 * 1024


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # every run imports from the same, already compiled, bytecode
    env.pop("PYTHONPATH", None)
    return env


# --- set-up ----------------------------------------------------------------------------------------------------------


def ensure_official_venv() -> None:
    marker = OFFICIAL_VENV / ".bench-ready"
    wanted = " ".join(OFFICIAL_REQUIREMENTS)
    if OFFICIAL.exists() and marker.exists() and marker.read_text().strip() == wanted:
        return
    say(f"creating the official converter's venv ({wanted}; about 1.5 min, once): {OFFICIAL_VENV}")
    shutil.rmtree(OFFICIAL_VENV, ignore_errors=True)
    base = getattr(sys, "_base_executable", None) or shutil.which("python3") or "python3"
    subprocess.run([base, "-m", "venv", str(OFFICIAL_VENV)], check=True)
    pip = [str(OFFICIAL_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *OFFICIAL_REQUIREMENTS], check=True)
    marker.write_text(wanted + "\n")


def ensure_models() -> None:
    """Models are generated once; a change to make_models.py generates them again."""
    script = BENCH / "make_models.py"
    key = hashlib.sha256(script.read_bytes()).hexdigest()
    marker = MODELS / ".complete"
    if marker.exists() and marker.read_text().strip() == key:
        return
    say(f"generating the benchmark models into {MODELS} (once)")
    shutil.rmtree(MODELS, ignore_errors=True)
    MODELS.mkdir(parents=True)
    for variant in ("keras2", "keras3"):
        subprocess.run([str(PY), str(script), str(MODELS), variant], check=True, env=base_env())
    marker.write_text(key + "\n")


def official_versions() -> dict[str, str]:
    code = "import importlib.metadata as m; print(m.version('tensorflowjs'), m.version('tensorflow'))"
    out = subprocess.run([str(OFFICIAL_VENV / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True)
    tfjs, tf = out.stdout.split()
    return {"tensorflowjs": tfjs, "tensorflow": tf}


def our_versions() -> dict[str, str]:
    import importlib.metadata as md

    def version(*names: str) -> str:
        for name in names:
            try:
                return md.version(name)
            except md.PackageNotFoundError:
                continue
        return "absent"

    return {
        "hatch-tfjs": version("hatch-tfjs"),
        "tensorflow": version("tensorflow", "tensorflow-cpu"),
        "keras": version("keras"),
        "hatchling": version("hatchling"),
        "h5py": version("h5py"),
        "numpy": version("numpy"),
    }


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    try:
        fs = subprocess.run(["findmnt", "-no", "FSTYPE", "-T", str(CACHE)], capture_output=True, text=True).stdout.strip()
    except OSError:
        fs = "?"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "filesystem": fs or "?",
        "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
    }


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "hatch_tfjs"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return head + (" (hatch_tfjs/ modified)" if dirty else "")
    except OSError:
        return "?"


# --- measuring -------------------------------------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float  # seconds
    rss: int  # bytes: peak RSS of the process and its waited-for descendants


def measure(argv: list[str], *, env: dict[str, str], log: Path, cwd: Path | None = None) -> Sample:
    """Run ``argv`` as a fresh process; its wall time and peak RSS. Fails loudly (with the log's tail) on error."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as handle:
        handle.write(f"\n$ {' '.join(argv)}\n".encode())
        handle.flush()
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen so it does not wait again
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise RuntimeError(f"command failed with exit code {proc.returncode}: {' '.join(argv)}\n{tail}")
    return Sample(wall, usage.ru_maxrss * 1024)


@dataclass
class Tool:
    key: str
    label: str
    argv: Callable[[Path], list[str]]  # output path -> command
    kind: str  # "hatch" | "official" | "floor" | "diagnostic" | "reference"
    check_tfjs: bool = True


@dataclass
class Case:
    key: str
    title: str
    source: Path
    fmt: str  # "layers" | "graph" | "-"
    tools: list[Tool]
    reference: str  # the tool the others are divided by
    runs: int
    npz: Path | None = None
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)


def make_cases(runs: int, large_runs: int) -> list[Case]:
    def hatch(source: Path, key: str, label: str, *extra: str) -> Tool:
        return Tool(key, label, lambda out: [str(HATCH_TFJS), "convert", str(source), str(out), *extra], "hatch")

    def official(source: Path, input_format: str) -> Tool:
        extra = ["--output_format", "tfjs_graph_model"] if input_format == "tf_saved_model" else []
        return Tool(
            "official",
            "tensorflowjs_converter 4.22",
            lambda out: [str(OFFICIAL), "--input_format", input_format, *extra, str(source), str(out)],
            "official",
        )

    def reference(key: str, label: str, python: Path, code: str) -> Tool:
        return Tool(key, label, lambda out: [str(python), "-c", code], "reference", check_tfjs=False)

    import_numpy = reference("import-numpy-h5py", "python -c 'import numpy, h5py' (our venv)", PY, "import numpy, h5py")
    import_tf = [
        reference("import-tensorflow", "python -c 'import tensorflow' (our venv)", PY, "import tensorflow"),
        reference(
            "import-tensorflow-official",
            "python -c 'import tensorflow' (the official converter's venv)",
            OFFICIAL_VENV / "bin" / "python",
            "import tensorflow",
        ),
    ]
    cases: list[Case] = []
    for size in ("small", "medium", "large"):
        source = MODELS / f"{size}_k2.h5"
        tools = [
            hatch(source, "hatch-h5py", "hatch-tfjs (h5py reader, default)"),
            hatch(source, "hatch-keras", "hatch-tfjs (reader=keras)", "--reader", "keras"),
            official(source, "keras"),
        ]
        if size == "small":
            tools.append(import_numpy)
        if size == "large":
            tools += [
                Tool(
                    "cp-sync",
                    "floor: cp + sync of the file",
                    lambda out, s=source: ["sh", "-c", 'cp "$1" "$2" && sync "$2"', "floor", str(s), str(out)],
                    "floor",
                    check_tfjs=False,
                ),
                Tool("cp", "floor: cp (page cache)", lambda out, s=source: ["cp", str(s), str(out)], "floor", check_tfjs=False),
                Tool(
                    "stages",
                    "hatch-tfjs's stages in one process (benchmarks/breakdown.py)",
                    lambda out, s=source: [str(PY), str(BENCH / "breakdown.py"), str(s), str(out), str(STAGES_LOG)],
                    "diagnostic",
                    check_tfjs=False,
                ),
            ]
        cases.append(
            Case(
                f"layers-{size}",
                f"{size} (Keras 2 .h5) -> layers model",
                source,
                "layers",
                tools,
                "official",
                large_runs if size == "large" else runs,
                MODELS / f"{size}_k2.npz",
            )
        )
    for size in ("small", "medium"):
        source = MODELS / f"{size}_savedmodel"
        cases.append(
            Case(
                f"graph-{size}",
                f"{size} (Keras 3 SavedModel export) -> graph model",
                source,
                "graph",
                [hatch(source, "hatch-graph", "hatch-tfjs (graph)"), official(source, "tf_saved_model")]
                + (import_tf if size == "small" else []),
                "official",
                runs,
                MODELS / f"{size}_k3.npz",
            )
        )
    return cases


def clear(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def output_files(directory: Path) -> dict[str, int]:
    """model.json + shards (not hatch-tfjs's freshness stamp, which is not part of the TF.js model)."""
    if not directory.is_dir():
        return {}
    return {
        p.name: p.stat().st_size
        for p in sorted(directory.iterdir())
        if p.is_file() and (p.name == "model.json" or p.suffix == ".bin")
    }


def run_case(case: Case) -> None:
    env = base_env()
    log = LOGS / f"{case.key}.log"
    clear(log)
    outdir = OUT / case.key
    outdir.mkdir(parents=True, exist_ok=True)
    case.samples = {tool.key: [] for tool in case.tools}
    for round_index in range(case.runs + 1):  # round 0: the warm-up, not counted
        for tool in case.tools:
            out = outdir / tool.key
            clear(out)
            os.sync()
            sample = measure(tool.argv(out), env=env, log=log)
            if round_index:
                case.samples[tool.key].append(sample)
            tag = "warm-up" if not round_index else f"run {round_index}/{case.runs}"
            print(f"   {case.key:<14} {tool.key:<18} {tag:<9} {sample.wall:7.2f} s  {sample.rss / MIB:7.0f} MiB", flush=True)
    for tool in case.tools:
        if tool.kind in ("hatch", "official"):
            files = output_files(outdir / tool.key)
            case.outputs[tool.key] = {"bytes": sum(files.values()), "files": len(files)}


def read_breakdown() -> dict[str, Any]:
    """The stage timings breakdown.py appended during the large case (its first line is the warm-up run's)."""
    rows = [json.loads(line) for line in STAGES_LOG.read_text().splitlines() if line.strip()][1:]
    return {"runs": len(rows), "stages_s": {key: stats([row[key] for row in rows]) for key in rows[0]}}


def check_outputs_in_tfjs(cases: list[Case]) -> None:
    """Load each tool's last output in real TF.js 4.22 and compare its predictions with Keras's."""
    import numpy as np

    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "zoos")]
    from tfjs import TfjsError, TfjsRunner  # noqa: PLC0415 - the tests' own runner

    runner = TfjsRunner()
    try:
        for case in cases:
            if case.npz is None:
                continue
            data = np.load(case.npz)
            x, y = data["x"], data["y"]
            for tool in case.tools:
                if not tool.check_tfjs or tool.key not in case.outputs:
                    continue
                entry = case.outputs[tool.key]
                try:
                    outputs, _ = runner.run(OUT / case.key / tool.key, [x], format=case.fmt)
                    diff = float(np.max(np.abs(outputs[0].reshape(y.shape) - y)))
                    entry["tfjs"] = {"loads": True, "max_abs_diff": diff, "matches_keras": diff <= 1e-4}
                except TfjsError as exc:
                    entry["tfjs"] = {"loads": False, "error": str(exc).splitlines()[0][:200]}
                state = entry["tfjs"]
                print(f"   {case.key:<14} {tool.key:<18} TF.js: " + (f"runs, max |diff| vs Keras {state['max_abs_diff']:.2e}" if state["loads"] else f"FAILS: {state['error']}"), flush=True)
    finally:
        runner.close()


# --- builds of sample_project ----------------------------------------------------------------------------------------

BLOCKER = """
import os, sys
class _BlockTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            with open(os.environ["BENCH_BLOCK_LOG"], "a") as log:
                log.write(f"{os.getpid()} {name}\\n")
            raise ImportError(f"{name} is blocked by the benchmark")
        return None
sys.meta_path.insert(0, _BlockTensorFlow())
"""


def fresh_project() -> Path:
    project = WORK / "sample_project"
    clear(project)
    shutil.copytree(
        ROOT / "sample_project", project, ignore=shutil.ignore_patterns("dist", "web_models", "__pycache__", "*.egg-info")
    )
    return project


def output_snapshot(project: Path) -> dict[str, tuple[int, int, str]]:
    root = project / "src" / "sample_app" / "web_models"
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_builds(build_runs: int, cold_runs: int) -> dict[str, Any]:
    project = fresh_project()
    web_models = project / "src" / "sample_app" / "web_models"
    dist = WORK / "dist"
    argv = [str(PY), "-m", "hatchling", "build", "-t", "wheel", "-d", str(dist)]
    env = base_env()
    no_hooks = {**env, "HATCH_BUILD_NO_HOOKS": "true"}
    log = LOGS / "builds.log"
    clear(log)
    result: dict[str, Any] = {"cold": [], "no_change": [], "no_hooks": [], "cold_runs": cold_runs, "runs": build_runs}

    # Cold builds: every model converted (outputs removed before each, untimed).
    for index in range(cold_runs):
        clear(web_models)
        clear(dist)
        os.sync()
        sample = measure(argv, env=env, log=log, cwd=project)
        result["cold"].append(sample)
        print(f"   build          cold               run {index + 1}/{cold_runs} {sample.wall:7.2f} s  {sample.rss / MIB:7.0f} MiB", flush=True)

    # No-change rebuilds (fresh outputs) against the same build with every hook disabled, alternating.
    for round_index in range(build_runs + 1):
        for key, build_env in (("no_change", env), ("no_hooks", no_hooks)):
            clear(dist)
            sample = measure(argv, env=build_env, log=log, cwd=project)
            if round_index:
                result[key].append(sample)
            tag = "warm-up" if not round_index else f"run {round_index}/{build_runs}"
            print(f"   build          {key:<18} {tag:<9} {sample.wall:7.2f} s  {sample.rss / MIB:7.0f} MiB", flush=True)

    # Not a timing: a no-change rebuild with tensorflow/keras/tf_keras unimportable (in the build and any worker).
    blocker_dir = WORK / "block_tensorflow"
    blocker_dir.mkdir(parents=True, exist_ok=True)
    (blocker_dir / "sitecustomize.py").write_text(BLOCKER)
    block_log = WORK / "blocked_imports.txt"
    clear(block_log)
    block_log.touch()
    blocked_env = {**env, "PYTHONPATH": str(blocker_dir), "BENCH_BLOCK_LOG": str(block_log)}
    sanity = subprocess.run([str(PY), "-c", "import tensorflow"], env=blocked_env, capture_output=True, text=True)
    block_log.write_text("")  # the sanity check's own attempt is expected
    before = output_snapshot(project)
    clear(dist)
    proc = subprocess.run(argv, env=blocked_env, cwd=project, capture_output=True, text=True)
    attempts = block_log.read_text().split()
    result["tensorflow_check"] = {
        "blocker_effective": sanity.returncode != 0,
        "build_succeeded": proc.returncode == 0,
        "reported_up_to_date": "models up to date" in proc.stdout + proc.stderr,
        "outputs_untouched": output_snapshot(project) == before,
        "blocked_import_attempts": attempts[1::2],
    }
    check = result["tensorflow_check"]
    check["ok"] = (
        check["blocker_effective"] and check["build_succeeded"] and check["reported_up_to_date"]
        and check["outputs_untouched"] and not attempts
    )
    print(f"   build          no TensorFlow import on a no-change rebuild: {'yes' if check['ok'] else 'NO'} {check}", flush=True)
    return result


# --- statistics and reports ------------------------------------------------------------------------------------------


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def paired(a: list[float], b: list[float], op: Callable[[float, float], float]) -> dict[str, float]:
    return stats([op(x, y) for x, y in zip(a, b)])


def ratio(a: float, b: float) -> float:
    return a / b


def summarize(cases: list[Case], builds: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {"cases": {}, "builds": {}}
    for case in cases:
        ref = case.samples[case.reference]
        tools: dict[str, Any] = {}
        for tool in case.tools:
            samples = case.samples[tool.key]
            entry: dict[str, Any] = {
                "label": tool.label,
                "kind": tool.kind,
                "wall_s": stats([s.wall for s in samples]),
                "rss_mib": stats([s.rss / MIB for s in samples]),
                "raw_wall_s": [round(s.wall, 4) for s in samples],
                "raw_rss_mib": [round(s.rss / MIB, 1) for s in samples],
            }
            if tool.key != case.reference:
                entry["wall_ratio_vs_" + case.reference] = paired([s.wall for s in samples], [s.wall for s in ref], ratio)
                entry["rss_ratio_vs_" + case.reference] = paired([s.rss for s in samples], [s.rss for s in ref], ratio)
            if "stages" in case.samples and tool.kind == "hatch":
                entry["wall_ratio_vs_stages"] = paired([s.wall for s in samples], [s.wall for s in case.samples["stages"]], ratio)
            if "cp-sync" in case.samples and tool.kind != "floor":
                for floor in ("cp-sync", "cp"):
                    entry[f"wall_ratio_vs_{floor}"] = paired(
                        [s.wall for s in samples], [s.wall for s in case.samples[floor]], ratio
                    )
            entry.update(case.outputs.get(tool.key, {}))
            tools[tool.key] = entry
        summary["cases"][case.key] = {
            "title": case.title,
            "source": str(case.source.relative_to(CACHE)),
            "source_bytes": source_bytes(case.source),
            "runs": case.runs,
            "reference": case.reference,
            "tools": tools,
        }
    if builds.get("error"):
        summary["builds"] = {"error": builds["error"]}
    elif builds:
        walls = {key: [s.wall for s in builds[key]] for key in ("cold", "no_change", "no_hooks")}
        summary["builds"] = {
            "runs": builds["runs"],
            "cold_runs": builds["cold_runs"],
            "cold_s": stats(walls["cold"]),
            "no_change_s": stats(walls["no_change"]),
            "no_hooks_s": stats(walls["no_hooks"]),
            "cold_rss_mib": stats([s.rss / MIB for s in builds["cold"]]),
            "no_change_rss_mib": stats([s.rss / MIB for s in builds["no_change"]]),
            "no_hooks_rss_mib": stats([s.rss / MIB for s in builds["no_hooks"]]),
            "hook_adds_s": paired(walls["no_change"], walls["no_hooks"], lambda a, b: a - b),
            "hook_ratio": paired(walls["no_change"], walls["no_hooks"], ratio),
            "raw_cold_s": [round(w, 4) for w in walls["cold"]],
            "raw_no_change_s": [round(w, 4) for w in walls["no_change"]],
            "raw_no_hooks_s": [round(w, 4) for w in walls["no_hooks"]],
            "tensorflow_check": builds["tensorflow_check"],
        }
    return summary


def source_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


@dataclass
class Target:
    what: str
    target: str
    measured: dict[str, float] | None
    bound: float
    unit: str  # "x" or "s"
    note: str = ""

    def met(self) -> bool | None:
        return None if self.measured is None else self.measured["median"] <= self.bound


def fmt_stat(entry: dict[str, float] | None, unit: str = "x", digits: int = 2) -> str:
    if entry is None:
        return "n/a"
    if unit == "s":
        return f"{entry['median']:+.3f} s [{entry['min']:+.3f} to {entry['max']:+.3f}]"
    return f"{entry['median']:.{digits}f}{unit} [{entry['min']:.{digits}f}-{entry['max']:.{digits}f}]"


def targets(summary: dict[str, Any]) -> list[Target]:
    cases = summary["cases"]

    def get(case: str, tool: str, key: str) -> dict[str, float] | None:
        return cases.get(case, {}).get("tools", {}).get(tool, {}).get(key)

    rows: list[Target] = []
    rows.append(Target("small model, layers: wall, h5py reader / official", "<= 0.1x", get("layers-small", "hatch-h5py", "wall_ratio_vs_official"), 0.1, "x"))
    rows.append(Target("small model, layers: peak RSS, h5py reader / official", "<= 0.2x", get("layers-small", "hatch-h5py", "rss_ratio_vs_official"), 0.2, "x"))
    for size in ("small", "medium", "large"):
        for tool, name in (("hatch-h5py", "h5py reader"), ("hatch-keras", "reader=keras")):
            if size == "small" and tool == "hatch-h5py":
                continue
            rows.append(Target(f"{size} model, layers: wall, {name} / official", "<= 0.5x", get(f"layers-{size}", tool, "wall_ratio_vs_official"), 0.5, "x"))
            rows.append(Target(f"{size} model, layers: peak RSS, {name} / official", "<= 0.7x", get(f"layers-{size}", tool, "rss_ratio_vs_official"), 0.7, "x"))
    for size in ("small", "medium"):
        rows.append(Target(f"{size} model, graph: wall, hatch-tfjs / official", "<= 0.5x", get(f"graph-{size}", "hatch-graph", "wall_ratio_vs_official"), 0.5, "x"))
        rows.append(Target(f"{size} model, graph: peak RSS, hatch-tfjs / official", "<= 0.7x", get(f"graph-{size}", "hatch-graph", "rss_ratio_vs_official"), 0.7, "x"))
    large = f"large model ({human_bytes(cases['layers-large']['source_bytes'])})" if "layers-large" in cases else "large model"
    rows.append(Target(f"{large}, h5py reader / copy floor (cp + sync)", "<= 2x", get("layers-large", "hatch-h5py", "wall_ratio_vs_cp-sync"), 2.0, "x"))
    rows.append(Target(f"{large}, reader=keras / copy floor (cp + sync)", "<= 3x", get("layers-large", "hatch-keras", "wall_ratio_vs_cp-sync"), 3.0, "x"))
    builds = summary.get("builds") or {}
    rows.append(Target("no-change rebuild of sample_project: time the hook adds", "< 0.15 s", builds.get("hook_adds_s"), 0.15, "s"))
    if builds.get("error"):
        rows[-1].note = builds["error"]
    return rows


def mark(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[met]


def headline_table(summary: dict[str, Any]) -> str:
    lines = ["| Measured (paired ratios: median [min-max]) | Target | Result | Met |", "|---|---|---|---|"]
    for row in targets(summary):
        lines.append(f"| {row.what} | {row.target} | {fmt_stat(row.measured, row.unit)} | {mark(row.met())} |")
    builds = summary.get("builds") or {}
    if builds.get("error"):
        lines.append(f"| builds of sample_project | | FAILED: {builds['error']} | **no** |")
    elif builds:
        check = builds["tensorflow_check"]
        lines.append(
            f"| no-change rebuild with tensorflow/keras unimportable | succeeds, no import tried | "
            f"{'succeeds, outputs untouched, no import tried' if check['ok'] else 'FAILED: ' + json.dumps(check)} | {mark(check['ok'])} |"
        )
        lines.append(
            f"| no-change rebuild / build with hooks disabled | (reference) | {fmt_stat(builds['hook_ratio'])} | |"
        )
        lines.append(
            f"| cold build of sample_project (2 models converted), wall | (reference) | "
            f"{builds['cold_s']['median']:.2f} s [{builds['cold_s']['min']:.2f}-{builds['cold_s']['max']:.2f}] | |"
        )
    return "\n".join(lines)


def shortfalls(summary: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    """Why the targets that are not met are not met, with this run's figures (the reference and breakdown rows)."""
    cases = summary["cases"]
    lines: list[str] = []
    graph = cases.get("graph-small", {}).get("tools", {})
    ours, theirs = graph.get("import-tensorflow"), graph.get("import-tensorflow-official")
    if ours and theirs and graph.get("official"):
        text = (
            f"**TensorFlow-based paths** (`reader = \"keras\"`, graph models): `import tensorflow` alone takes "
            f"{ours['wall_s']['median']:.2f} s and {ours['rss_mib']['median']:.0f} MiB with our TensorFlow "
            f"{meta['ours']['tensorflow']} ({theirs['wall_s']['median']:.2f} s with the official converter's "
            f"{meta['official']['tensorflow']}): {fmt_stat(ours['wall_ratio_vs_official'])} of the official "
            f"converter's whole run on the small graph model (paired), and {fmt_stat(ours['rss_ratio_vs_official'])} "
            "of its peak RSS, so no converter that imports TensorFlow can reach 0.5x its time or 0.7x its memory."
        )
        if graph.get("hatch-graph"):
            after_ours = graph["hatch-graph"]["wall_s"]["median"] - ours["wall_s"]["median"]
            after_theirs = graph["official"]["wall_s"]["median"] - theirs["wall_s"]["median"]
            text += (
                f" What follows the import is not slower: on the small graph model, about {after_ours:.1f} s for "
                f"hatch-tfjs against {after_theirs:.1f} s for the official converter (median run minus median import)."
            )
        text += (
            " On the large model `reader = \"keras\"` also pays for Keras 3 building the model (running its "
            "initializers on every parameter) before loading the weights, and for copying the weights out of the "
            "variables. Layers models need none of this: the h5py reader is the default."
        )
        lines += ["", text]
    breakdown = (summary.get("large_breakdown") or {}).get("stages_s")
    large = cases.get("layers-large", {}).get("tools", {})
    if breakdown and large.get("cp-sync") and large.get("hatch-h5py"):
        b = {k: v["median"] for k, v in breakdown.items()}
        cli = large["hatch-h5py"]["wall_s"]["median"]
        lines += [
            "",
            f"**The large model against the copy floor** (h5py reader, {cli:.2f} s against "
            f"{large['cp-sync']['wall_s']['median']:.2f} s for `cp` + `sync`), stage by stage (medians): reading the "
            f"weights takes {b['read (h5py)']:.2f} s and writing the shards {b['write shards + model.json']:.2f} s; "
            f"the rest is the fsync of every written file ({b['fsync of every file']:.2f} s; the floor pays a sync "
            f"too, of one file where hatch-tfjs syncs one per shard), hashing the source for the freshness stamp "
            f"({b['hash source (freshness stamp)']:.2f} s: answered from the stat-keyed hash cache when the file is "
            f"unchanged) and the imports ({b['imports']:.2f} s). The same stages run inside one process take "
            f"{large['stages']['wall_s']['median']:.2f} s; the `hatch-tfjs convert` command (which converts TF-free "
            f"models in its own process) takes "
            f"{large['hatch-h5py'].get('wall_ratio_vs_stages', {}).get('median', float('nan')):.2f}x that.",
        ]
    return lines + [""] if lines else [""]


def human_bytes(count: int | None) -> str:
    if count is None:
        return "-"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / MIB:.1f} MiB"


def results_markdown(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    m = meta["machine"]
    out: list[str] = [
        "# hatch-tfjs benchmarks",
        "",
        f"Run of {meta['date']} on {m['cores']} cores ({m['cpu']}), {m['memory']} RAM, Linux {m['kernel']}, {m['filesystem']}; "
        f"Python {m['python']}, Node {m['node']}; hatch-tfjs {meta['ours']['hatch-tfjs']} (commit {meta['commit']}) with "
        f"TensorFlow {meta['ours']['tensorflow']} / Keras {meta['ours']['keras']}; official: tensorflowjs "
        f"{meta['official']['tensorflowjs']} with TensorFlow {meta['official']['tensorflow']} (own venv). "
        f"Benchmark took {meta['elapsed_s'] / 60:.1f} min.",
        "",
        "Every figure is a fresh process, tools alternated run by run after one warm-up run each. Times: median "
        "[min-max]; **ratios are paired** (tool_i / reference_i within the same round, then median [min-max]): this "
        "machine is shared with other jobs and noisy, so absolute times drift between runs more than ratios of "
        "neighbouring runs do. Peak RSS is `ru_maxrss` from `os.wait4`: the largest resident set of the process or any "
        "of its waited-for descendants (hatch-tfjs converts in a worker process; the figure is that of the larger one, "
        "not their sum). Sources are read from the page cache in every run (warm-up included); `sync` runs, untimed, "
        "before every run.",
        "",
        "## Headline",
        "",
        headline_table(summary),
        *shortfalls(summary, meta),
        "## Cold conversion of one model",
        "",
        "| Model | Tool | Wall (s) | Peak RSS (MiB) | Wall / official | RSS / official | Output (model.json + shards) | TF.js 4.22 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, case in summary["cases"].items():
        for tool_key, tool in case["tools"].items():
            if tool["kind"] not in ("hatch", "official"):
                continue
            tfjs = tool.get("tfjs")
            if tfjs is None:
                tfjs_text = "-"
            elif tfjs["loads"]:
                tfjs_text = f"runs; max abs diff vs Keras {tfjs['max_abs_diff']:.1e}"
            else:
                tfjs_text = f"**fails**: {tfjs['error']}"
            out.append(
                f"| {case['title']} ({human_bytes(case['source_bytes'])}, n={case['runs']}) | {tool['label']} | "
                f"{fmt_stat(tool['wall_s'], '', 2)} | {fmt_stat(tool['rss_mib'], '', 0)} | "
                f"{fmt_stat(tool.get('wall_ratio_vs_official'))} | {fmt_stat(tool.get('rss_ratio_vs_official'))} | "
                f"{human_bytes(tool.get('bytes'))} in {tool.get('files', '-')} files | {tfjs_text} |"
            )
    large = summary["cases"].get("layers-large")
    if large:
        out += [
            "",
            "## The large model against the physical floor",
            "",
            f"Source: {human_bytes(large['source_bytes'])} Keras 2 `.h5`; n={large['runs']} counted runs per tool. The floor "
            "reads the source file and writes the same number of bytes: `cp` (into the page cache only) and `cp` then "
            "`sync FILE` (the bytes on disk). hatch-tfjs fsyncs every file it writes before the atomic rename of the "
            "output directory, so `cp + sync` is its like-for-like floor; the official converter does not fsync.",
            "",
            "| Tool | Wall (s) | Peak RSS (MiB) | / floor cp + sync | / floor cp |",
            "|---|---|---|---|---|",
        ]
        for tool in large["tools"].values():
            out.append(
                f"| {tool['label']} | {fmt_stat(tool['wall_s'], '', 2)} | {fmt_stat(tool['rss_mib'], '', 0)} | "
                f"{fmt_stat(tool.get('wall_ratio_vs_cp-sync'))} | {fmt_stat(tool.get('wall_ratio_vs_cp'))} |"
            )
    breakdown = summary.get("large_breakdown")
    if breakdown:
        stages = breakdown["stages_s"]
        out += [
            "",
            f"Where the h5py reader's time goes on this model (`benchmarks/breakdown.py`, run alternately with the "
            f"tools above, n={breakdown['runs']}: the stages of `convert_model` timed inside one process; medians of "
            "each stage, so they need not add up to the median total):",
            "",
            "| Stage | Seconds |",
            "|---|---|",
        ]
        for key, entry in stages.items():
            out.append(f"| {key} | {fmt_stat(entry, '', 3)} |")
    references = [(case, tool) for case in summary["cases"].values() for tool in case["tools"].values() if tool["kind"] == "reference"]
    if references:
        out += [
            "",
            "## Reference: interpreter start-up and imports",
            "",
            "Measured in the same alternation as the conversions of the case named (so the ratio is paired).",
            "",
            "| Command | Run with | Wall (s) | Peak RSS (MiB) | Wall / official | RSS / official |",
            "|---|---|---|---|---|---|",
        ]
        for case, tool in references:
            out.append(
                f"| `{tool['label']}` | {case['title']} | {fmt_stat(tool['wall_s'], '', 2)} | {fmt_stat(tool['rss_mib'], '', 0)} | "
                f"{fmt_stat(tool.get('wall_ratio_vs_official'))} | {fmt_stat(tool.get('rss_ratio_vs_official'))} |"
            )
    builds = summary.get("builds")
    if builds and builds.get("error"):
        out += ["", "## Builds of sample_project", "", f"The build benchmark FAILED: `{builds['error']}`"]
    elif builds:
        out += [
            "",
            "## Builds of sample_project",
            "",
            f"`python -m hatchling build -t wheel` in a copy of `sample_project` (2 models: iris `.keras`, digits `.h5`). "
            f"No-change rebuild (outputs fresh) alternated with the same build under `HATCH_BUILD_NO_HOOKS=true`, "
            f"n={builds['runs']} pairs; cold build (outputs removed first) n={builds['cold_runs']}.",
            "",
            "| Build | Wall (s) | Peak RSS (MiB) |",
            "|---|---|---|",
            f"| hooks disabled (`HATCH_BUILD_NO_HOOKS=true`) | {fmt_stat(builds['no_hooks_s'], '', 3)} | {fmt_stat(builds['no_hooks_rss_mib'], '', 0)} |",
            f"| no-change rebuild (hook on, models fresh) | {fmt_stat(builds['no_change_s'], '', 3)} | {fmt_stat(builds['no_change_rss_mib'], '', 0)} |",
            f"| cold build (both models converted) | {fmt_stat(builds['cold_s'], '', 3)} | {fmt_stat(builds['cold_rss_mib'], '', 0)} |",
            "",
            f"The hook adds {fmt_stat(builds['hook_adds_s'], 's')} per no-change rebuild (paired difference), a ratio of "
            f"{fmt_stat(builds['hook_ratio'])}. With `tensorflow`, `keras` and `tf_keras` made unimportable (a "
            f"`sitecustomize` import blocker, inherited by any worker), the no-change rebuild "
            + ("succeeds, reports the models up to date, leaves every output file untouched (inode, mtime, bytes) and "
               "never tries to import them." if builds["tensorflow_check"]["ok"] else f"FAILS the check: {json.dumps(builds['tensorflow_check'])}"),
        ]
    out += ["", "![benchmark chart](results.png)", ""]
    return "\n".join(out)


def chart(summary: dict[str, Any], meta: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {
        "hatch-h5py": "#2b8a3e",
        "hatch-keras": "#74b816",
        "hatch-graph": "#2b8a3e",
        "official": "#e8590c",
        "cp-sync": "#868e96",
        "cp": "#ced4da",
    }
    order = ["layers-small", "layers-medium", "layers-large", "graph-small", "graph-medium"]
    labels = {
        key: "{}\n{}\n{}".format(
            key.split("-")[1],
            human_bytes(summary["cases"][key]["source_bytes"]) if key in summary["cases"] else "",
            ".h5 -> layers" if key.startswith("layers") else "SavedModel\n-> graph",
        )
        for key in order
    }
    fig, axes = plt.subplots(2, 2, figsize=(16, 11))
    for ax, metric, title, unit in (
        (axes[0][0], "wall_s", "Cold conversion: wall time", "s"),
        (axes[0][1], "rss_mib", "Cold conversion: peak RSS", "MiB"),
    ):
        width = 0.26
        for group_index, case_key in enumerate(k for k in order if k in summary["cases"]):
            case = summary["cases"][case_key]
            tools = [(k, t) for k, t in case["tools"].items() if t["kind"] in ("hatch", "official")]
            for tool_index, (tool_key, tool) in enumerate(tools):
                x = group_index + (tool_index - (len(tools) - 1) / 2) * width
                s = tool[metric]
                ax.bar(x, s["median"], width * 0.92, color=colors[tool_key],
                       yerr=[[s["median"] - s["min"]], [s["max"] - s["median"]]], capsize=2, ecolor="#343a40")
                ratio_key = "wall_ratio_vs_official" if metric == "wall_s" else "rss_ratio_vs_official"
                text = f"{tool[ratio_key]['median']:.2f}x" if ratio_key in tool else f"{s['median']:.1f}" if unit == "s" else f"{s['median']:.0f}"
                ax.text(x, s["max"] * 1.06, text, ha="center", va="bottom", fontsize=8, rotation=90)
        ax.set_yscale("log")
        top = max(t[metric]["max"] for c in summary["cases"].values() for t in c["tools"].values() if t["kind"] in ("hatch", "official"))
        ax.set_ylim(top=top * 12)  # room above the bars for their labels and the legend
        ax.set_xticks(range(len([k for k in order if k in summary["cases"]])))
        ax.set_xticklabels([labels[k] for k in order if k in summary["cases"]], fontsize=8)
        ax.set_ylabel(f"{unit} (log scale; median, bars = min-max)")
        ax.set_title(f"{title} (labels: paired ratio to the official converter)", fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
    from matplotlib.patches import Patch

    axes[0][0].legend(
        handles=[
            Patch(color=colors["hatch-h5py"], label="hatch-tfjs (h5py reader / graph)"),
            Patch(color=colors["hatch-keras"], label="hatch-tfjs (reader=keras)"),
            Patch(color=colors["official"], label="tensorflowjs_converter 4.22"),
        ],
        fontsize=8,
        loc="upper left",
        ncol=3,
    )

    ax = axes[1][0]
    large = summary["cases"].get("layers-large")
    if large:
        keys = [k for k in ("cp", "cp-sync", "hatch-h5py", "hatch-keras", "official") if k in large["tools"]]
        for index, key in enumerate(keys):
            tool = large["tools"][key]
            s = tool["wall_s"]
            ax.barh(index, s["median"], 0.6, color=colors[key], xerr=[[s["median"] - s["min"]], [s["max"] - s["median"]]], capsize=3)
            text = f"{s['median']:.2f} s"
            if "wall_ratio_vs_cp-sync" in tool:
                text += f"  ({tool['wall_ratio_vs_cp-sync']['median']:.1f}x cp + sync)"
            ax.text(s["max"] + 0.1, index, text, va="center", fontsize=8)
        ax.set_yticks(range(len(keys)))
        ax.set_yticklabels([large["tools"][k]["label"] for k in keys], fontsize=8)
        ax.set_xlabel("wall time, s (median, bars = min-max)")
        ax.set_title(f"Large model ({human_bytes(large['source_bytes'])} .h5) against the copy floor (n={large['runs']})", fontsize=10)
        ax.margins(x=0.35)
        ax.grid(axis="x", alpha=0.3)

    ax = axes[1][1]
    builds = summary.get("builds")
    if builds and not builds.get("error"):
        rows = [
            ("hooks disabled", builds["no_hooks_s"], "#ced4da"),
            ("no-change rebuild", builds["no_change_s"], colors["hatch-h5py"]),
            ("cold build", builds["cold_s"], colors["hatch-keras"]),
        ]
        for index, (label, s, color) in enumerate(rows):
            ax.barh(index, s["median"], 0.6, color=color, xerr=[[s["median"] - s["min"]], [s["max"] - s["median"]]], capsize=3)
            ax.text(s["max"] + 0.02, index, f"{s['median']:.3f} s", va="center", fontsize=8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([r[0] for r in rows], fontsize=9)
        ax.set_xlabel("wall time, s (median, bars = min-max)")
        adds = builds["hook_adds_s"]
        ax.set_title(
            f"hatchling build -t wheel of sample_project (n={builds['runs']} pairs, {builds['cold_runs']} cold)\n"
            f"the hook adds {adds['median'] * 1000:.0f} ms [{adds['min'] * 1000:.0f} to {adds['max'] * 1000:.0f}] "
            "when the models are fresh (target < 150 ms)",
            fontsize=10,
        )
        ax.margins(x=0.3)
        ax.grid(axis="x", alpha=0.3)
    m = meta["machine"]
    fig.suptitle(
        f"hatch-tfjs {meta['ours']['hatch-tfjs']} vs tensorflowjs_converter {meta['official']['tensorflowjs']} - "
        f"{meta['date']}, {m['cores']} shared cores ({m['cpu']}); noisy machine: compare paired ratios, not absolute times",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def readme_section(summary: dict[str, Any], meta: dict[str, Any]) -> str:
    m = meta["machine"]
    intro = (
        f"Run of {meta['date']} on a shared {m['cores']}-core machine ({m['cpu']}, {m['memory']} RAM): hatch-tfjs "
        f"{meta['ours']['hatch-tfjs']} (TensorFlow {meta['ours']['tensorflow']}) against tensorflowjs_converter "
        f"{meta['official']['tensorflowjs']} (TensorFlow {meta['official']['tensorflow']}). The machine is noisy: "
        "every figure is a median of paired ratios [min-max] of runs alternated with the reference, not an absolute "
        "time; expect other machines to differ. \"Met\" means the median is within the target. Full tables and raw "
        "figures: [benchmarks/results/results.md](benchmarks/results/results.md), `results.json`, `results.png`."
    )
    return "\n".join(
        [
            README_BEGIN,
            textwrap.fill(intro, width=120, break_on_hyphens=False, break_long_words=False),
            "",
            headline_table(summary),
            README_END,
        ]
    )


def update_readme(section: str) -> bool:
    """Replace the text between the headline markers of README.md (only that text)."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        say(f"README.md has no {README_BEGIN} ... {README_END} block; not updated")
        return False
    readme.write_text(text[:start] + section + text[end + len(README_END):])
    return True


def write_reports(summary: dict[str, Any], meta: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "results.json").write_text(json.dumps({"meta": meta, **summary}, indent=1, sort_keys=False) + "\n")
    (RESULTS / "results.md").write_text(results_markdown(summary, meta))
    chart(summary, meta, RESULTS / "results.png")
    (RESULTS / "readme_section.md").write_text(readme_section(summary, meta) + "\n")


# --- main ------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="counted runs per tool (after one warm-up run), default 5")
    parser.add_argument("--large-runs", type=int, default=5, help="counted runs per tool for the large (240 MiB) model, default 5")
    parser.add_argument("--build-runs", type=int, default=10, help="no-change rebuild / hooks-disabled pairs, default 10")
    parser.add_argument("--cold-builds", type=int, default=3, help="cold builds of sample_project, default 3")
    parser.add_argument("--only", nargs="*", help="case keys to run (layers-small layers-medium layers-large graph-small "
                        "graph-medium builds); default: all")
    parser.add_argument("--quick", action="store_true", help="one run of everything (to try the script, not to quote)")
    parser.add_argument("--report-only", action="store_true", help="only rewrite results.md/png (and README with "
                        "--update-readme) from the existing results.json")
    parser.add_argument("--update-readme", action="store_true", help=f"replace README.md's {README_BEGIN} block with the headline table")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = args.large_runs = args.build_runs = args.cold_builds = 1
    started = time.perf_counter()
    if args.report_only:
        data = json.loads((RESULTS / "results.json").read_text())
        meta = data.pop("meta")
        write_reports(data, meta)
        if args.update_readme and update_readme(readme_section(data, meta)):
            say("README.md: headline table updated")
        return 0

    ensure_official_venv()
    ensure_models()
    meta: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "ours": our_versions(),
        "official": official_versions(),
        "commit": git_commit(),
        "runs": {"runs": args.runs, "large_runs": args.large_runs, "build_runs": args.build_runs, "cold_builds": args.cold_builds},
        "quick": args.quick,
    }
    cases = [c for c in make_cases(args.runs, args.large_runs) if not args.only or c.key in args.only]
    breakdown: dict[str, Any] = {}
    for case in cases:
        say(f"{case.title}: {', '.join(t.key for t in case.tools)}; {case.runs} counted runs each after a warm-up")
        clear(STAGES_LOG)
        run_case(case)
        for scratch in ("cp", "cp-sync", "stages"):
            clear(OUT / case.key / scratch)
        if case.key == "layers-large":
            breakdown = read_breakdown()
    if cases:
        say("loading every output in TF.js 4.22 and comparing with Keras")
        check_outputs_in_tfjs(cases)
    builds: dict[str, Any] = {}
    if not args.only or "builds" in args.only:
        say(f"builds of sample_project: {args.cold_builds} cold, {args.build_runs} no-change/hooks-disabled pairs")
        try:
            builds = run_builds(args.build_runs, args.cold_builds)
        except RuntimeError as exc:  # reported in the results (and the exit code), the conversion figures are kept
            say(f"the build benchmark failed: {exc}")
            builds = {"error": str(exc).splitlines()[0][:300]}
    meta["elapsed_s"] = round(time.perf_counter() - started, 1)
    summary = summarize(cases, builds)
    if breakdown:
        summary["large_breakdown"] = breakdown
    write_reports(summary, meta)
    say(f"wrote {RESULTS / 'results.md'}, results.json, results.png ({meta['elapsed_s'] / 60:.1f} min)")
    print("\n" + headline_table(summary))
    failed = bool(builds.get("error"))
    if args.update_readme and not failed and not args.quick:
        if update_readme(readme_section(summary, meta)):
            say("README.md: headline table updated")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
