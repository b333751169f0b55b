"""Real Keras 3 architectures built with the default configuration: which format each became, how close TF.js 4.22
comes to Keras, and how long each took.

    .venv/bin/python benchmarks/real_models.py [--keep DIR] [model ...]

Builds the real-model zoo of the tests (tests/zoos/real_zoo.py: every keras.applications family with random weights at
its smallest size, and keras.io-style models) into one project that declares each model by its source only, runs
one ``python -m hatchling build -t wheel`` (this checkout's hook), loads every output in real TF.js 4.22 (the tests'
Node runner) and compares it with Keras on the same fixed inputs. Prints the table and writes it to
``benchmarks/results/real_models.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "real_models.md"
TFJS_FORMATS = {"layers-model": "layers", "graph-model": "graph"}

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "zoos")]

import real_zoo  # the tests' zoo
from tfjs import TfjsError, TfjsRunner  # the tests' TF.js runner


def max_abs_diff(got: list[np.ndarray], expected: list[np.ndarray]) -> str:
    if len(got) != len(expected) or any(g.shape != e.shape for g, e in zip(got, expected)):
        return f"shape {[g.shape for g in got]} != {[e.shape for e in expected]}"
    return f"{max(float(np.max(np.abs(g.astype('f8') - e))) for g, e in zip(got, expected)):.1e}"


def run_in_tfjs(runner: TfjsRunner, folder: Path, case: real_zoo.RealCase) -> tuple[str, str]:
    """(format, max abs diff or the reason there is none) of one built model."""
    document_path = folder / "model.json"
    if not document_path.is_file():
        return "-", "not built"
    tfjs_format = TFJS_FORMATS.get(json.loads(document_path.read_text()).get("format"), "?")
    names = {"input_names": case.input_names} if tfjs_format == "graph" and len(case.inputs) > 1 else {}
    try:
        got, _ = runner.run(folder, case.inputs, format=tfjs_format, **names)
    except TfjsError as exc:
        return tfjs_format, f"TF.js: {str(exc).splitlines()[0][:120]}"
    return tfjs_format, max_abs_diff(got, case.expected)


def table(root: Path, cases: dict[str, real_zoo.RealCase], outcome: real_zoo.BuildOutcome) -> list[str]:
    runner = TfjsRunner()
    try:
        rows = [
            "| model | format | max abs diff (TF.js vs Keras) | conversion (s) | Keras: build + save (s) | why graph |",
            "|---|---|---|--:|--:|---|",
        ]
        for name, case in cases.items():
            tfjs_format, diff = run_in_tfjs(runner, root / real_zoo.OUTPUT_DIR / name, case)
            seconds = outcome.convert_seconds.get(name)
            reason = outcome.reasons.get(name, "").replace("|", "/")
            rows.append(
                f"| {name} | {tfjs_format} | {diff} | {'-' if seconds is None else f'{seconds:.1f}'} "
                f"| {case.keras_seconds:.1f} | {reason} |"
            )
    finally:
        runner.close()
    return rows


def commit() -> str:
    proc = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], check=False, capture_output=True, text=True
    )
    return proc.stdout.strip() or "unknown"


def report(rows: list[str], outcome: real_zoo.BuildOutcome, keras_seconds: float) -> str:
    failed = ""
    if outcome.returncode != 0:
        failed = f"\n**The build failed (exit {outcome.returncode}):**\n\n```\n{outcome.log[-3000:]}\n```\n"
    return "\n".join(
        [
            "# Real Keras 3 models, default configuration",
            "",
            (
                f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit()}, {platform.machine()}, "
                f"{os.cpu_count()} CPUs, Python {platform.python_version()}. Produced by `benchmarks/real_models.py`."
            ),
            "",
            (
                "Every model is declared by its source only (`source = \"models/<name>.keras\"`) and built by one "
                f"`python -m hatchling build -t wheel`: {outcome.seconds:.0f} s in all (Keras building and saving "
                f"the models beforehand: {keras_seconds:.0f} s). Format: from model.json; conversion time: from the "
                "hook's build line. Max abs diff: TF.js 4.22 (Node, CPU) against Keras on the same 4 fixed inputs; "
                "outputs are standardised to mean 0, std 1 (tests/zoos/real_zoo.py), the tests require <= 1e-4."
            ),
            failed,
            *rows,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="zoo models to build (default: all)")
    parser.add_argument("--keep", type=Path, help="build the project in this (new) directory and keep it")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.models) - set(real_zoo.REAL_MODELS))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; the zoo has {', '.join(real_zoo.REAL_MODELS)}")
    with tempfile.TemporaryDirectory(prefix="real_models-") as scratch:
        root = args.keep or Path(scratch) / "realzoo"
        cases = real_zoo.write_zoo_project(root, args.models or None)
        outcome = real_zoo.build_wheel(root)
        text = report(table(root, cases, outcome), outcome, sum(c.keras_seconds for c in cases.values()))
    print(text)
    RESULT.write_text(text)
    print(f"written to {RESULT.relative_to(ROOT)}", file=sys.stderr)
    return 0 if outcome.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
