"""How configuring and planning scale with the number of models (issue 21.4): projects of N models, discovered by a
``discover`` glob or declared one by one, timed through ``load_project`` (configuration, as the hook and every
command read it) plus ``plan_build`` (fresh or stale), each N in a fresh process, side by side in one run.

    .venv/bin/python benchmarks/discovery.py [--sizes 1000,2500,5000,10000] [--runs 3]

The models are hard links to one small Keras file (sample_project's iris.keras), so a project of 10,000 models costs
no disk space; nothing is converted. Target: 10,000 models configure and plan in under 5 s, and the time per model
does not grow with N (linear). Writes ``benchmarks/results/discovery.md``. Figures are medians of ``--runs`` runs; the
machine is shared: compare the per-model times of one run with each other, not with another machine's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "sample_project" / "models" / "iris.keras"
TARGET_SECONDS = 5.0
PROBE = """
import json, sys, time
start = time.perf_counter()
from hatch_tfjs.build import plan_build
from hatch_tfjs.project import load_project
imported, cpu_imported = time.perf_counter(), time.process_time()
project = load_project(sys.argv[1])
configured = time.perf_counter()
plan = plan_build(project.settings)
planned, cpu_planned = time.perf_counter(), time.process_time()
assert len(plan.plans) == int(sys.argv[2]), len(plan.plans)
print(json.dumps({"configure": configured - imported, "plan": planned - configured, "cpu": cpu_planned - cpu_imported}))
"""


def make_project(directory: Path, count: int, mode: str) -> Path:
    (directory / "models").mkdir(parents=True)
    (directory / "src" / "app").mkdir(parents=True)
    (directory / "src" / "app" / "__init__.py").write_text("")
    for i in range(count):
        os.link(MODEL, directory / "models" / f"m{i:05d}.keras")
    table = 'discover = ["models/*.keras"]\n'
    if mode == "declared":
        table = "".join(f'[tool.hatch.build.hooks.tfjs.models.m{i:05d}]\nsource = "models/m{i:05d}.keras"\n' for i in range(count))
    (directory / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling", "hatch-tfjs"]\nbuild-backend = "hatchling.build"\n\n'
        '[project]\nname = "app"\nversion = "0.1.0"\n\n[tool.hatch.build.targets.wheel]\npackages = ["src/app"]\n\n'
        '[tool.hatch.build.hooks.tfjs]\noutput-dir = "src/app/web_models"\n'
        + (table if mode == "discovered" else "\n" + table)
    )
    return directory


def measure(project: Path, count: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(project), str(count)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,2500,5000,10000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="hatch-tfjs-discovery-") as scratch:
        projects = {
            (mode, n): make_project(Path(scratch) / f"{mode}-{n}", n, mode)
            for mode in ("discovered", "declared")
            for n in sizes
        }
        results: dict[tuple[str, int], list[dict[str, float]]] = {key: [] for key in projects}
        for _ in range(args.runs):  # sizes alternated run by run
            for key, project in projects.items():
                results[key].append(measure(project, key[1]))
        for (mode, n), runs in results.items():
            total = statistics.median(r["configure"] + r["plan"] for r in runs)
            rows.append(
                {
                    "mode": mode,
                    "models": n,
                    "configure_s": statistics.median(r["configure"] for r in runs),
                    "plan_s": statistics.median(r["plan"] for r in runs),
                    "total_s": total,
                    "cpu_s": statistics.median(r["cpu"] for r in runs),
                    "per_model_ms": 1000 * total / n,
                    "cpu_per_model_ms": 1000 * statistics.median(r["cpu"] for r in runs) / n,
                }
            )
        shutil.rmtree(scratch, ignore_errors=True)
    lines = [
        "# Configure + plan against the number of models",
        "",
        f"`benchmarks/discovery.py --sizes {args.sizes} --runs {args.runs}`: medians of {args.runs} runs, each size in "
        "a fresh process, sizes alternated run by run. Linear means the per-model time stays flat as N grows.",
        "",
        "Wall time on a shared machine swings with the other jobs on it; CPU time (user + system of the process) much "
        "less, so the linearity column uses CPU time.",
        "",
        "| models | how | configure (s) | plan (s) | total wall (s) | total CPU (s) | CPU per model (ms) | "
        f"CPU per model / at the smallest N | wall under {TARGET_SECONDS:.0f} s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in ("discovered", "declared"):
        mine = [r for r in rows if r["mode"] == mode]
        smallest = mine[0]["cpu_per_model_ms"]
        for r in mine:
            lines.append(
                f"| {r['models']} | {mode} | {r['configure_s']:.2f} | {r['plan_s']:.2f} | {r['total_s']:.2f} | "
                f"{r['cpu_s']:.2f} | {r['cpu_per_model_ms']:.3f} | {r['cpu_per_model_ms'] / smallest:.2f}x | "
                f"{'yes' if r['total_s'] < TARGET_SECONDS else '**no**'} |"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results" / "discovery.md"
    out.write_text(text)
    (out.with_suffix(".json")).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
