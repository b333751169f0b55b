"""Configuration validation: every problem reported at once, each with its full TOML path and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hatch_tfjs.config import DEFAULT_SHARD_SIZE, load_settings
from hatch_tfjs.errors import ConfigError

TABLE = "tool.hatch.build.hooks.tfjs"


@pytest.fixture
def stub_project(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "classifier.keras").write_bytes(b"PK")
    (tmp_path / "models" / "tagger.h5").write_bytes(b"\x89HDF")
    (tmp_path / "src" / "mypkg").mkdir(parents=True)
    (tmp_path / "src" / "mypkg" / "__init__.py").write_text("")
    return tmp_path


def problems(root: Path, config: dict, packages=("src/mypkg",)) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(root, config, wheel_packages=list(packages))
    message = str(info.value)
    assert "pyproject.toml" in message
    for problem in info.value.problems:
        assert problem in message
    return info.value.problems


def test_the_documented_example_parses(stub_project):
    settings = load_settings(
        stub_project,
        {
            "output-dir": "src/mypkg/web_models",
            "discover": ["models/*.h5"],
            "shard-size": 1024,
            "enable-by-default": True,
            "dependencies": ["x"],
            "require-runtime-dependencies": False,
            "require-runtime-features": [],
            "models": {
                "classifier": {
                    "source": "models/classifier.keras",
                    "format": "layers",
                    "output": "src/mypkg/web_models/clf",
                    "shard-size": 4194304,
                }
            },
        },
        wheel_packages=["src/mypkg"],
    )
    by_name = {m.name: m for m in settings.models}
    assert sorted(by_name) == ["classifier", "tagger"]
    assert by_name["classifier"].output == stub_project / "src/mypkg/web_models/clf"
    assert by_name["classifier"].shard_size == 4194304
    assert by_name["tagger"].output == stub_project / "src/mypkg/web_models/tagger"
    assert by_name["tagger"].shard_size == 1024  # the hook-level default
    assert by_name["tagger"].source == stub_project / "models/tagger.h5"


def test_output_dir_defaults_to_the_only_package(stub_project):
    settings = load_settings(stub_project, {"models": {"clf": {"source": "models/classifier.keras"}}}, wheel_packages=["src/mypkg"])
    assert settings.models[0].output == stub_project / "src/mypkg/web_models/clf"
    assert settings.models[0].shard_size == DEFAULT_SHARD_SIZE


def test_output_dir_cannot_be_guessed_with_two_packages(stub_project):
    (stub_project / "src" / "other").mkdir()
    found = problems(stub_project, {"models": {"clf": {"source": "models/classifier.keras"}}}, packages=["src/mypkg", "src/other"])
    assert found == [
        f"{TABLE}.models.clf.output: no output directory: set output-dir on the hook table "
        '(e.g. output-dir = "src/mypkg/web_models") or output on the model; it can only be guessed when the wheel '
        "ships exactly one top-level package"
    ]


def test_missing_source_file(stub_project):
    assert problems(stub_project, {"models": {"classifier": {"source": "models/nope.keras"}}}) == [
        f"{TABLE}.models.classifier.source: file not found: models/nope.keras"
    ]


def test_every_problem_is_reported_at_once(stub_project):
    found = problems(
        stub_project,
        {
            "output-dir": "../elsewhere",
            "discover": ["models/*.onnx"],
            "shard-sise": 10,
            "models": {
                "a": {"source": "models/classifier.keras", "shard-size": -1, "colour": "red"},
                "b": {"format": "pytorch"},
                "c": {"source": 42},
                "bad name!": {"source": "models/tagger.h5"},
            },
        },
    )
    text = "\n".join(found)
    assert f"{TABLE}.shard-sise: unknown key (did you mean 'shard-size'?)" in text
    assert f"{TABLE}.output-dir: '../elsewhere' is outside the project" in text
    assert f"{TABLE}.discover[0]: 'models/*.onnx' matches no file" in text
    assert f"{TABLE}.models.a.shard-size: must be a positive number of bytes" in text
    assert f"{TABLE}.models.a.colour: unknown key" in text
    assert f"{TABLE}.models.b.format: unknown format 'pytorch'" in text
    assert f"{TABLE}.models.b.source: missing; add source = \"models/b.keras\"" in text
    assert f"{TABLE}.models.c.source: must be a path string" in text
    assert f"{TABLE}.models.bad name!: model name 'bad name!' must use letters" in text
    assert len(found) == 9


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("4MB", "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, not a string '4MB'"),
        (True, "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, not a boolean True"),
        (1.5, "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, not a float 1.5"),
        (-4, "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, not -4"),
    ],
)
def test_wrong_shard_size_types(stub_project, value, message):
    found = problems(stub_project, {"models": {"clf": {"source": "models/classifier.keras", "shard-size": value}}})
    assert found == [f"{TABLE}.models.clf.shard-size: {message}"]


def test_wrong_types_of_tables(stub_project):
    found = problems(stub_project, {"models": ["clf"], "discover": "models/*.keras", "jobs": 0})
    assert any(p.startswith(f"{TABLE}.models: must be a table of models") for p in found)
    assert any(p.startswith(f"{TABLE}.jobs: must be a positive integer") for p in found)


def test_model_must_be_a_table(stub_project):
    assert problems(stub_project, {"models": {"clf": "models/classifier.keras"}}) == [
        f'{TABLE}.models.clf: must be a table with at least `source = "models/clf.keras"`, not a string'
    ]


def test_duplicate_names_between_discovery_and_declaration(stub_project):
    (stub_project / "models" / "classifier.h5").write_bytes(b"\x89HDF")
    found = problems(stub_project, {"discover": ["models/*.h5"], "models": {"classifier": {"source": "models/classifier.keras"}}})
    assert found == [
        f"{TABLE}.discover[0]: discovered 'models/classifier.h5' as model 'classifier', but a model of that name is "
        f"already declared with another source; rename one of the files or declare it under [{TABLE}.models.<name>]"
    ]


def test_discovered_file_that_is_declared_explicitly_is_not_duplicated(stub_project):
    settings = load_settings(
        stub_project,
        {"discover": ["models/*.keras"], "models": {"clf": {"source": "models/classifier.keras"}}},
        wheel_packages=["src/mypkg"],
    )
    assert [m.name for m in settings.models] == ["clf"]


def test_duplicate_and_nested_outputs(stub_project):
    found = problems(
        stub_project,
        {
            "models": {
                "a": {"source": "models/classifier.keras", "output": "src/mypkg/m"},
                "b": {"source": "models/tagger.h5", "output": "src/mypkg/m"},
                "c": {"source": "models/tagger.h5", "output": "src/mypkg/m/inner"},
            }
        },
    )
    assert found == [
        f"{TABLE}.models.b.output: 'src/mypkg/m' is also the output of model 'a'; give each model its own output",
        f"{TABLE}.models.c.output: 'src/mypkg/m/inner' overlaps the output of model 'a'; outputs must not nest",
    ]


def test_nested_outputs_are_found_both_ways_and_siblings_are_not(stub_project):
    """The nesting check walks each output's parents (linear in the number of models, issue 21.4): an output inside an
    earlier one, an output holding earlier ones, and outputs that only share a prefix of their name."""
    found = problems(
        stub_project,
        {
            "models": {
                "a_inner": {"source": "models/classifier.keras", "output": "src/mypkg/m/x/inner"},
                "b_other": {"source": "models/classifier.keras", "output": "src/mypkg/m/xx"},
                "c_sibling": {"source": "models/classifier.keras", "output": "src/mypkg/m/x-inner"},
                "d_outer": {"source": "models/tagger.h5", "output": "src/mypkg/m"},
                "e_deeper": {"source": "models/tagger.h5", "output": "src/mypkg/m/x/inner/deeper"},
            }
        },
    )
    assert found == [
        f"{TABLE}.models.d_outer.output: 'src/mypkg/m' overlaps the output of model 'a_inner'; outputs must not nest",
        f"{TABLE}.models.d_outer.output: 'src/mypkg/m' overlaps the output of model 'b_other'; outputs must not nest",
        f"{TABLE}.models.d_outer.output: 'src/mypkg/m' overlaps the output of model 'c_sibling'; outputs must not nest",
        f"{TABLE}.models.e_deeper.output: 'src/mypkg/m/x/inner/deeper' overlaps the output of model 'a_inner'; outputs "
        "must not nest",
        f"{TABLE}.models.e_deeper.output: 'src/mypkg/m/x/inner/deeper' overlaps the output of model 'd_outer'; outputs "
        "must not nest",
    ]


def test_output_outside_project_and_outside_packages(stub_project):
    found = problems(
        stub_project,
        {
            "models": {
                "a": {"source": "models/classifier.keras", "output": "/tmp/elsewhere"},
                "b": {"source": "models/tagger.h5", "output": "static/models/b"},
            }
        },
    )
    assert found == [
        f"{TABLE}.models.a.output: '/tmp/elsewhere' is outside the project; use a directory inside a package, "
        'e.g. "src/mypkg/web_models"',
        f"{TABLE}.models.b.output: 'static/models/b' is outside every package the wheel ships ('src/mypkg'); "
        'write models inside a package, e.g. "src/mypkg/web_models/b"',
    ]


def test_source_must_be_a_keras_file_or_a_saved_model(stub_project):
    (stub_project / "models" / "weights.onnx").write_bytes(b"x")
    (stub_project / "models" / "saved").mkdir()
    found = problems(
        stub_project,
        {
            "models": {
                "a": {"source": "models/weights.onnx"},
                "b": {"source": "models/saved"},
                "c": {"source": "models/saved", "format": "layers"},
            }
        },
    )
    export = "export a SavedModel directory (tf.saved_model.save(module, dir) or keras Model.export(dir)) and point source at it"
    assert found == [
        f"{TABLE}.models.a.source: models/weights.onnx is neither a SavedModel directory nor a Keras file (.keras, .h5, .hdf5); {export}",
        f"{TABLE}.models.b.source: models/saved is a directory without saved_model.pb, so not a SavedModel (it holds nothing); {export}",
        f"{TABLE}.models.c.source: models/saved is a directory; a layers model needs a Keras file (.keras, .h5, .hdf5); "
        'for a SavedModel directory use format = "graph" (or leave format out)',
    ]


def test_key_meant_for_a_model_on_the_hook_table(stub_project):
    found = problems(stub_project, {"source": "models/classifier.keras"})
    assert found[0].startswith(f"{TABLE}.source: unknown key (it belongs on a model: [{TABLE}.models.<name>])")


def test_target_table_path_is_named(stub_project):
    table = "tool.hatch.build.targets.wheel.hooks.tfjs"
    with pytest.raises(ConfigError) as info:
        load_settings(stub_project, {"models": {"x": {"source": "nope.keras"}}}, table=table, wheel_packages=["src/mypkg"])
    assert info.value.problems == [f"{table}.models.x.source: file not found: nope.keras"]
