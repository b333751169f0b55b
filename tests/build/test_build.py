"""build.py, the one build the hook and the command line share: what it reports and returns on a real project, the
table the configuration comes from, and ``hatch-tfjs check`` routing like a build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import SAMPLE_PROJECT, assert_parity, copy_sample_project, keras_predict

from hatch_tfjs import lock
from hatch_tfjs.build import build_models, hold_project_lock, route_each
from hatch_tfjs.errors import HatchTfjsError
from hatch_tfjs.project import hook_table, load_project

WEB_MODELS = "src/sample_app/web_models"


class Recorder:
    """A Reporter that keeps every message with its kind."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def info(self, message: str) -> None:
        self.messages.append(("info", message))

    def waiting(self, message: str) -> None:
        self.messages.append(("waiting", message))

    def warning(self, message: str) -> None:
        self.messages.append(("warning", message))

    def success(self, message: str) -> None:
        self.messages.append(("success", message))

    def debug(self, message: str) -> None:
        self.messages.append(("debug", message))


def build(project: Path, *, skip: bool = False) -> tuple[object, list[tuple[str, str]]]:
    loaded = load_project(project)
    recorder = Recorder()
    hold_project_lock(loaded.settings, recorder)
    try:
        outcome = build_models(loaded.settings, loaded.packages, recorder, skip=skip)
    finally:
        lock.release(loaded.settings.root)
    return outcome, recorder.messages


@pytest.fixture(scope="module")
def built_twice(tmp_path_factory) -> dict[str, object]:
    """The sample project built, then built again with nothing changed, then with HATCH_TFJS_SKIP."""
    project = copy_sample_project(tmp_path_factory.mktemp("build") / "proj")
    first = build(project)
    second = build(project)
    skipped = build(project, skip=True)
    return {"project": project, "first": first, "second": second, "skipped": skipped}


def test_a_build_converts_stale_models_reports_them_and_indexes_them(built_twice, tfjs):
    import keras

    outcome, messages = built_twice["first"]
    assert outcome.fresh == ()
    assert sorted(result.name for result in outcome.converted) == ["digits", "iris"]  # in the order workers finish
    assert outcome.index == Path(WEB_MODELS) / "index.json"
    assert messages[0] == ("waiting", "converting 2 models to TensorFlow.js")
    lines = sorted(message for kind, message in messages if kind == "info" and " model" in message)
    assert lines[0].startswith(f"digits: layers model -> {WEB_MODELS}/digits/ (2 shards, ")  # format = "layers"
    assert lines[1].startswith(f"iris: graph model (auto: the faster form in TF.js, compiled exactly) -> {WEB_MODELS}/iris/ (1 shard, ")
    assert messages[-2:] == [
        ("success", "2 models converted"),
        ("debug", f"wrote {WEB_MODELS}/index.json (2 models)"),
    ]
    # what the build reported as converted is a model TF.js runs like Keras
    inputs = [np.random.default_rng(0).normal(5.0, 1.5, size=(5, 4)).astype("float32")]
    got, _ = tfjs.run(built_twice["project"] / WEB_MODELS / "iris", inputs, format="graph")
    model = keras.saving.load_model(SAMPLE_PROJECT / "models" / "iris.keras", compile=False)
    assert_parity(got, keras_predict(model, inputs))


def test_a_rebuild_converts_nothing_and_says_so(built_twice):
    outcome, messages = built_twice["second"]
    assert outcome.fresh == ("digits", "iris") and outcome.converted == ()
    assert outcome.index == Path(WEB_MODELS) / "index.json"
    assert messages == [
        ("debug", "digits: fresh, not converted"),
        ("debug", "iris: fresh, not converted"),
        ("info", "2 models up to date"),
        ("debug", f"kept {WEB_MODELS}/index.json (2 models)"),
    ]


def test_skip_ships_the_outputs_as_they_are(built_twice, tmp_path):
    outcome, messages = built_twice["skipped"]
    assert outcome.fresh == ("digits", "iris") and outcome.converted == ()
    assert messages[0] == ("info", "HATCH_TFJS_SKIP is set; shipping the 2 existing model outputs")
    fresh_copy = copy_sample_project(tmp_path / "unbuilt")
    with pytest.raises(HatchTfjsError) as error:
        build(fresh_copy, skip=True)
    assert str(error.value) == (
        f"HATCH_TFJS_SKIP is set but 2 model outputs are missing: 'digits' ({WEB_MODELS}/digits/model.json), "
        f"'iris' ({WEB_MODELS}/iris/model.json); build once without HATCH_TFJS_SKIP"
    )


def test_the_table_a_target_reads_its_configuration_from():
    both = {"tool": {"hatch": {"build": {"hooks": {"tfjs": {}}, "targets": {"wheel": {"hooks": {"tfjs": {}}}}}}}}
    assert hook_table(both, "wheel") == "tool.hatch.build.targets.wheel.hooks.tfjs"
    assert hook_table(both, "sdist") == "tool.hatch.build.hooks.tfjs"
    assert hook_table({}, "wheel") == "tool.hatch.build.hooks.tfjs"


def test_routing_keeps_going_past_a_model_it_cannot_read(tmp_path):
    project = copy_sample_project(tmp_path / "proj")
    (project / "models" / "iris.keras").write_bytes(b"not a zip archive")
    routes, failures = route_each(load_project(project).settings.models)
    assert list(routes) == ["digits"] and routes["digits"].format == "layers"
    (failure,) = failures
    assert str(failure).startswith("models/iris.keras: cannot read model 'iris': ")


def test_check_lists_an_unreadable_model_with_the_models_that_convert(tmp_path):
    project = copy_sample_project(tmp_path / "proj")
    (project / "models" / "iris.keras").write_bytes(b"not a zip archive")
    proc = subprocess.run(
        [sys.executable, "-m", "hatch_tfjs", "check", str(project)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1].startswith("  ok    digits  models/digits.h5 -> src/sample_app/web_models/digits/  layers, 2 shards, ")
    assert lines[2] == "  FAIL  iris    models/iris.keras -> src/sample_app/web_models/iris/"
    assert lines[4].startswith("models/iris.keras: cannot read model 'iris': ")
    assert lines[-1] == "check failed: 1 of 2 models cannot be converted"


def test_a_model_of_the_wheel_tables_messages_name_that_table(tmp_path):
    """Fixes name the option in the table the model was declared in: a model of the wheel target's table is told to
    set format, or reader, on [tool.hatch.build.targets.wheel.hooks.tfjs.models.<name>], not on the build-wide
    table it is not in."""
    import keras
    from keras import layers
    from projects import hatchling_build, tensorflow_blocked_env, user_files

    root = tmp_path / "proj"
    (root / "src" / "app").mkdir(parents=True)
    (root / "src" / "app" / "__init__.py").write_text("")
    (root / "models").mkdir()
    keras.Sequential([keras.Input((6, 3)), layers.GRU(4, name="recurrent")]).save(root / "models" / "textclf.keras")
    inp = keras.Input((4,))
    keras.Model(inp, layers.ReLU(threshold=0.5, name="thresholded")(inp)).save(root / "models" / "threshold.keras")
    table = "tool.hatch.build.targets.wheel.hooks.tfjs"
    pyproject = (
        '[build-system]\nrequires = ["hatchling", "hatch-tfjs"]\nbuild-backend = "hatchling.build"\n\n'
        '[project]\nname = "app"\nversion = "0.1.0"\n\n[tool.hatch.build.targets.wheel]\npackages = ["src/app"]\n\n'
        f'[{table}]\noutput-dir = "src/app/web_models"\n[{table}.models.MODEL]\n'
    )
    for model, options in (("textclf", 'format = "layers"'), ("threshold", 'format = "graph"')):
        (root / "pyproject.toml").write_text(pyproject.replace("MODEL", model) + f'source = "models/{model}.keras"\n{options}\n')
        before = user_files(root, "src/app/web_models")
        proc = hatchling_build(root, "-t", "wheel", env=tensorflow_blocked_env(tmp_path), check=False)
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "Traceback" not in output
        assert user_files(root, "src/app/web_models") == before and not (root / "src/app/web_models" / model).exists()
        assert "tool.hatch.build.hooks" not in output, output
        if model == "textclf":
            assert f'tfjs:   (or ship it as a TF.js graph model: set format = "graph" on [{table}.models.textclf])' in output
        else:
            assert "tfjs:   - layer 'thresholded' (ReLU): ReLU with a threshold is not translated yet" in output
            assert f'set reader = "keras" on [{table}.models.threshold] so the build installs it' in output
