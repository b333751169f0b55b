"""Build times of two versions of hatch-tfjs side by side in one run (issue 23.4): ``python -m build --wheel
--no-isolation`` of sample_project, cold (a fresh copy: nothing converted yet) and with no change (the same copy built
again: every model fresh), alternating the versions round by round so that the machine's load falls on both alike.

    .venv/bin/python benchmarks/build_times.py [--base 6276fc0] [--runs 5] [--encoder]

Each version is the ``hatch_tfjs`` package of a git revision (``--base``) or of the working tree, extracted into a
temporary directory and put first on PYTHONPATH (the build backend and its workers import it from there).
``--encoder`` adds to the project a model that routing must read whole to decide (a CategoryEncoding the compiler
does not cover, before two 2048-wide Dense layers: an 18 MB .keras file, converted through TensorFlow). Writes
``benchmarks/results/build_times.md``; figures are medians, and the ratio after/before is what to compare (the machine
is shared).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_project"
RESULTS = ROOT / "benchmarks" / "results" / "build_times.md"
ENCODER = """
import sys
import keras
from keras import layers
inp = keras.Input((4,))
x = layers.CategoryEncoding(num_tokens=8, output_mode="multi_hot", name="encode")(inp)
x = layers.Dense(2048, activation="relu")(x)
x = layers.Dense(2048, activation="relu")(x)
keras.Model(inp, layers.Dense(3)(x)).save(sys.argv[1])
"""


def extract(revision: str | None, into: Path) -> Path:
    """The ``hatch_tfjs`` package of ``revision`` (None: the working tree) under ``into``."""
    into.mkdir(parents=True)
    if revision is None:
        shutil.copytree(ROOT / "hatch_tfjs", into / "hatch_tfjs", ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "hatch_tfjs"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def project(directory: Path, encoder: Path | None) -> Path:
    shutil.copytree(SAMPLE, directory, ignore=shutil.ignore_patterns("dist", "build", "web_models", "*.egg-info"))
    if encoder is not None:
        shutil.copy2(encoder, directory / "models" / "encoder.keras")
        pyproject = directory / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text() + '\n[tool.hatch.build.hooks.tfjs.models.encoder]\nsource = "models/encoder.keras"\n'
        )
    return directory


def build(directory: Path, package: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(package))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", "dist"],
                          cwd=directory, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"build failed in {directory}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="6276fc0", help="the revision to compare the working tree with")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--encoder", action="store_true", help="add a model that routing reads whole")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hatch-tfjs-build-times-") as scratch:
        work = Path(scratch)
        encoder = None
        if args.encoder:
            encoder = work / "encoder.keras"
            subprocess.run([sys.executable, "-c", ENCODER, str(encoder)], check=True, capture_output=True)
        versions = {"before": extract(args.base, work / "before"), "after": extract(None, work / "after")}
        times: dict[tuple[str, str], list[float]] = {}
        for run in range(args.runs):
            for name, package in versions.items() if run % 2 == 0 else reversed(versions.items()):
                copy = project(work / f"{name}-{run}", encoder)
                times.setdefault((name, "cold"), []).append(build(copy, package))
                shutil.rmtree(copy / "dist")
                times.setdefault((name, "no change"), []).append(build(copy, package))
                print(name, run, {k: round(v[-1], 2) for k, v in times.items() if k[0] == name}, flush=True)
    what = "sample_project" + (" + an 18 MB model routed by reading it (TensorFlow route)" if args.encoder else "")
    lines = [
        f"# Build times: {what}",
        "",
        f"`python -m build --wheel --no-isolation`, medians of {args.runs} runs, before ({args.base}) and after (the "
        "working tree) alternating in one run (benchmarks/build_times.py).",
        "",
        "| build | before (s) | after (s) | after / before |",
        "|---|---|---|---|",
    ]
    for kind in ("cold", "no change"):
        before, after = statistics.median(times["before", kind]), statistics.median(times["after", kind])
        lines.append(f"| {kind} | {before:.2f} | {after:.2f} | {after / before:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    target = RESULTS.with_name(f"build_times{'_encoder' if args.encoder else ''}.md")
    target.write_text(text)


if __name__ == "__main__":
    main()
