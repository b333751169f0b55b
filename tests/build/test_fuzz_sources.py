"""Fuzzing the conversion of damaged model files the way a user runs it: ``hatch-tfjs convert MUTANT OUTDIR``.

Three hundred mutants of real ``.keras`` and ``.h5`` files (two zoo models; byte flips, truncations, zeroed ranges,
damaged config text, hostile config values and types, rewired layer graphs, deleted archive members, damage inside the
archive's HDF5, damaged datasets and attributes; fixed seed), and a hundred more of the functional model's layer graph
alone (references rewired into cycles or to calls and outputs that do not exist, outputs removed or moved, calls
dropped, recorded shapes and Reshape targets changed), go through ``hatch_tfjs.cli.main`` in one process under a 2 GiB
address-space cap, with an alarm per mutant, plus a handful through the installed ``hatch-tfjs`` command itself.
Every mutant either converts into a complete model directory that TF.js 4.22 loads and runs, or fails with exit code 1
and one ``hatch-tfjs: error:`` line naming the file and the model: never a traceback, an internal error, a hang, a
changed source or a partial output.
"""

from __future__ import annotations

import collections
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import mutants
import pytest
import zoo as zoo_module
from helpers import REPO, TESTS, keras_predict

SEED = 20261127
PER_BASE = 75
BASES = ("mlp", "multi_input_cnn")
GRAPH_PER_BASE = 50  # extra config_graph mutants of the functional base, .keras and .h5
MEMORY_CAP = 2 << 30
CLI = Path(sys.executable).parent / "hatch-tfjs"


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> dict[str, Any]:
    """Build the bases, make the mutants, convert every one in a capped driver process; the reports by mutant."""
    directory = tmp_path_factory.mktemp("fuzz")
    bases, expected = [], {}
    for name in BASES:
        entry = zoo_module.ZOO[name]
        model = zoo_module.build(entry)
        inputs = zoo_module.inputs_for(entry)
        expected[name] = (inputs, keras_predict(model, inputs))
        for suffix in (".keras", ".h5"):
            path = directory / f"{name}{suffix}"
            model.save(path)
            bases.append(path)
    made = mutants.make_mutants(bases, directory / "mutants", per_base=PER_BASE, seed=SEED)
    functional = [path for path in bases if path.stem == "multi_input_cnn"]
    made += mutants.make_mutants(
        functional, directory / "graph", per_base=GRAPH_PER_BASE, seed=SEED + 1, operators=("config_graph",)
    )
    jobs = []
    for mutant in made:
        parent = _outdir(directory, mutant).parent
        parent.mkdir(parents=True)
        jobs.append([str(mutant.path), str(parent / "web")])
    (directory / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run(
        [sys.executable, str(TESTS / "convert_many.py"), str(directory / "jobs.json")],
        capture_output=True, text=True, cwd=directory, env=_env(), preexec_fn=_cap_memory, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == len(made), proc.stderr[-3000:]
    return {"mutants": made, "reports": dict(zip((m.path for m in made), reports)), "expected": expected, "directory": directory}


def _outdir(directory: Path, mutant: mutants.Mutant) -> Path:
    """Where a mutant is converted to (its parent starts empty)."""
    return directory / "out" / mutant.path.parent.name / mutant.path.stem / "web"


def _problem(mutant: mutants.Mutant, report: dict[str, Any]) -> str | None:
    """What is wrong with how one mutant went, or None."""
    code, err, left = report["code"], report["stderr"], report["left"]
    if not report["source_unchanged"]:
        return "the source was modified"
    if code == 0:
        if left != ["web"] or report["problems"]:
            return f"converted, but the output is incomplete: left {left}, problems {report['problems']}"
        return None
    if code != 1:
        return f"exit code {code}: {err[-500:]}"
    if not err.startswith("hatch-tfjs: error: ") or err.count("hatch-tfjs: error:") != 1:
        return f"not one error line: {err[-500:]}"
    if "Traceback" in err or "internal error" in err:
        return f"traceback or internal error: {err[-500:]}"
    if mutant.path.name not in err or f"model '{mutant.path.stem}'" not in err:
        return f"the message names neither the file nor the model: {err[:300]}"
    if left:
        return f"partial output left behind: {left}"
    return None


def test_every_mutant_converts_completely_or_fails_with_one_clear_error(fuzzed):
    failures = {}
    outcomes: collections.Counter[tuple[str, str]] = collections.Counter()
    for mutant in fuzzed["mutants"]:
        report = fuzzed["reports"][mutant.path]
        problem = _problem(mutant, report)
        if problem:
            failures[mutant.path.name] = problem
        outcomes[(mutant.operator, "converted" if report["code"] == 0 else "refused")] += 1
    summary = ", ".join(f"{op} {kind} {n}" for (op, kind), n in sorted(outcomes.items()))
    print(f"\n{len(fuzzed['mutants'])} mutants: {summary}")
    assert not failures, "\n".join(f"{name}: {problem}" for name, problem in sorted(failures.items()))
    assert {op for op, _ in outcomes} == set(mutants.KERAS_OPERATORS), "every operator was used"
    assert outcomes[("config_graph", "refused")] >= 50, "most rewired graphs are refused"
    refused = sum(n for (_, kind), n in outcomes.items() if kind == "refused")
    assert 0 < refused < len(fuzzed["mutants"]), "both outcomes occur"


def test_converted_mutants_load_and_run_in_tfjs(fuzzed, tfjs):
    """A mutant that converts (damage inside weight values, an edit that keeps the model valid) gives a model TF.js
    loads and runs, with the outputs the model's config implies."""
    ran = 0
    for mutant in fuzzed["mutants"]:
        report = fuzzed["reports"][mutant.path]
        if report["code"] != 0:
            continue
        output = _outdir(fuzzed["directory"], mutant)
        document = json.loads((output / "model.json").read_text())
        form = "graph" if document.get("format") == "graph-model" else "layers"  # format "auto" makes either
        base = next(name for name in BASES if mutant.base.startswith(name + "."))
        inputs, expected = fuzzed["expected"][base]
        got, _ = tfjs.run(output, inputs, format=form)
        assert [g.shape for g in got] == [e.shape for e in expected], mutant.path.name
        ran += 1
    assert ran >= 20, f"only {ran} converted mutants ran"


def test_the_installed_command_agrees_on_a_few_mutants(fuzzed):
    """The real ``hatch-tfjs`` executable, one process per file, under the same memory cap: same exit code and the
    same message as the in-process run."""
    by_operator: dict[str, mutants.Mutant] = {}
    for mutant in fuzzed["mutants"]:
        by_operator.setdefault(f"{mutant.operator}-{fuzzed['reports'][mutant.path]['code']}", mutant)
    chosen = [by_operator[key] for key in sorted(by_operator)][::3][:8]
    for mutant in chosen:
        report = fuzzed["reports"][mutant.path]
        outdir = fuzzed["directory"] / "cli" / mutant.path.stem / "web"
        outdir.parent.mkdir(parents=True)
        proc = subprocess.run(
            [str(CLI), "convert", str(mutant.path), str(outdir)],
            capture_output=True, text=True, cwd=fuzzed["directory"], env=_env(), preexec_fn=_cap_memory, timeout=120,
            check=False,
        )  # fmt: skip
        assert proc.returncode == report["code"], f"{mutant.path.name}: {proc.stderr[-500:]}"
        if report["code"] == 1:
            assert proc.stderr == report["stderr"], mutant.path.name
            assert list(outdir.parent.iterdir()) == []
        else:
            assert (outdir / "model.json").is_file()
