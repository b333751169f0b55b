"""Shared fixtures: one TF.js (Node) process and one zoo of Keras models for the whole session; the markers of tests
that need TensorFlow or Node. Helpers tests import live in helpers.py (tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import dependencies
from helpers import REPO, build_env, copy_sample_project, keras_predict
from browser import CHROMIUM, BrowserRunner
from tfjs import TfjsRunner

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(scope="session")
def tfjs():
    """One Node process running TF.js 4.22 for the whole session (tests using it are marked requires_node)."""
    reason = dependencies.node_missing()
    if reason:
        pytest.skip(reason)
    runner = TfjsRunner()
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def playwright_session():
    """One Playwright for the whole session: its sync API refuses a second one running at the same time."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium; .ci/setup does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(playwright_session) -> BrowserRunner:
    """TF.js 4.22 in one headless Chromium for the whole session, on the backends browsers use (webgl, webgpu)."""
    runner = BrowserRunner(playwright_session)
    yield runner
    runner.close()


@dataclass
class ZooCase:
    name: str
    keras_path: Path
    h5_path: Path
    inputs: list[np.ndarray]
    expected: list[np.ndarray]


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> dict[str, ZooCase]:
    """Every zoo model saved as .keras and as .h5, with fixed inputs and Keras's outputs for them."""
    import zoo as zoo_module

    directory = tmp_path_factory.mktemp("zoo")
    cases: dict[str, ZooCase] = {}
    for name, entry in zoo_module.ZOO.items():
        model = zoo_module.build(entry)
        keras_path, h5_path = directory / f"{name}.keras", directory / f"{name}.h5"
        model.save(keras_path)
        model.save(h5_path)
        inputs = zoo_module.inputs_for(entry)
        cases[name] = ZooCase(name, keras_path, h5_path, inputs, keras_predict(model, inputs))
    return cases


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """A hatch-tfjs wheel built from this checkout: isolated builds must never take the plugin from an index."""
    import subprocess

    directory = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(directory), str(REPO)],
        check=True,
    )
    assert len(list(directory.glob("hatch_tfjs-*.whl"))) == 1
    return directory


@pytest.fixture(scope="session")
def sample_wheel(tmp_path_factory) -> Path:
    """sample_project's wheel, built once by hatchling (this checkout's hook) from a copy of the project."""
    import subprocess

    tree = copy_sample_project(tmp_path_factory.mktemp("sample_wheel") / "sample_project")
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-t", "wheel"], cwd=tree, check=True, capture_output=True)
    (wheel,) = (tree / "dist").glob("*.whl")
    return wheel


@pytest.fixture(scope="session")
def sample_venv(tmp_path_factory, sample_wheel, wheelhouse) -> Path:
    """A fresh venv with the sample wheel installed as a user would (hatch-tfjs from the local wheelhouse, the rest
    from the package index); returns the venv's python."""
    import subprocess

    venv = tmp_path_factory.mktemp("sample_venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(sample_wheel)],
        env=build_env(wheelhouse),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return python


# --- tests that need TensorFlow or Node: marked, skipped with the reason when it is missing (see dependencies.py) ---

_dependency_skips: list[str] = []
LANES = ("unit", "build", "parity")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tensorflow_missing, node_missing = dependencies.tensorflow_missing(), dependencies.node_missing()
    for item in items:
        lane = Path(str(item.path)).parent.name  # unit, build or parity: the folder is the lane (-m unit, ...)
        if lane in LANES:
            item.add_marker(lane)
        module = getattr(item, "module", None)
        functions = dependencies.with_helpers(_test_and_fixtures(item), module)
        if "tfjs" in getattr(item, "fixturenames", ()) or dependencies.runs_node(functions):
            item.add_marker(pytest.mark.requires_node)
            if node_missing:
                item.add_marker(pytest.mark.skip(reason=node_missing))
        if dependencies.imports_tensorflow(module, functions):
            item.add_marker(pytest.mark.requires_tensorflow)
            if tensorflow_missing:
                item.add_marker(pytest.mark.skip(reason=tensorflow_missing))


def _test_and_fixtures(item: pytest.Item) -> list[object]:
    fixture_info = getattr(item, "_fixtureinfo", None)
    definitions = fixture_info.name2fixturedefs.values() if fixture_info is not None else ()
    return [getattr(item, "function", None), *(d.func for defs in definitions for d in defs)]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A test whose TensorFlow/Keras import or ``node`` command fails because it is not installed is skipped, not
    failed (the markers above catch most such tests before they start; this catches the rest)."""
    outcome = yield
    report = outcome.get_result()
    error = call.excinfo.value if call.excinfo is not None else None
    reason = error and (dependencies.missing_module_reason(error) or dependencies.missing_node_reason(error))
    if reason and report.failed:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1], f"Skipped: {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A test module that imports Keras or TensorFlow at its top is skipped, not an error, where they are missing."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and isinstance(collector, pytest.Module):
        match = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", str(report.longrepr))
        error = ModuleNotFoundError(match.group(0).partition(": ")[2], name=match.group(1)) if match else None
        reason = error and dependencies.missing_module_reason(error)
        if reason:
            report.outcome = "skipped"
            report.longrepr = (str(collector.path), None, f"Skipped: {reason}")


def _record_dependency_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if report.skipped and isinstance(report.longrepr, tuple) and dependencies.SKIP_PREFIX in report.longrepr[2]:
        _dependency_skips.append(f"{report.nodeid}: {report.longrepr[2]}")


pytest_collectreport = _record_dependency_skip
pytest_runtest_logreport = _record_dependency_skip


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _dependency_skips and dependencies.require_all():
        terminalreporter.write_line(
            f"FAILED: {len(_dependency_skips)} test(s) skipped for a missing dependency, and CI / "
            "HATCH_TFJS_REQUIRE_ALL asks for the whole suite: run .ci/setup (see the README's test command)",
            red=True,
            bold=True,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _dependency_skips and dependencies.require_all() and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
