"""What ships is exactly what pyproject.toml declares: a mistyped source is an error in a checkout (and only an sdist
ships outputs without their sources), orphaned outputs of earlier builds are removed (or refused, never shipped),
clean builds work on the first try with every frontend, colliding outputs are refused before anything converts, and
a mistyped hook table is named. Every case goes through real builds; wheels are checked file by file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from helpers import build_env, copy_sample_project
from projects import (
    hatch_tfjs,
    hatchling_build,
    replace_in_pyproject,
    tensorflow_blocked_env,
    user_files,
    wheel_names,
    write_app_project,
)

from hatch_tfjs.ownership import STAMP_NAME

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
CODE = [
    "sample_app/__init__.py",
    "sample_app/__main__.py",
    "sample_app/server.py",
    "sample_app/static/app.js",
    "sample_app/static/index.html",
    "sample_app/static/style.css",
    "sample_app/static/vendor/LICENSE-tfjs.txt",
    "sample_app/static/vendor/README.md",
    "sample_app/static/vendor/tf.min.js",
]
IRIS = ["group1-shard1of1.bin", "model.json", STAMP_NAME]
DIGITS = ["group1-shard1of2.bin", "group1-shard2of2.bin", "model.json", STAMP_NAME]


def shipped(project: Path) -> list[str]:
    """The wheel's files, without its .dist-info."""
    return [name for name in wheel_names(project) if ".dist-info/" not in name]


def expected_wheel(models_dir: str, models: dict[str, list[str]]) -> list[str]:
    files = [*CODE, f"sample_app/{models_dir}/index.json"]
    files += [f"sample_app/{models_dir}/{name}/{file}" for name, names in models.items() for file in names]
    return sorted(files)


def users_files(project: Path) -> dict[str, str]:
    """Every file of the project but the model folders (old and new) and dist/."""
    files = user_files(project, "src/sample_app/web_models")
    return {path: digest for path, digest in files.items() if not path.startswith("src/sample_app/static/models")}


@pytest.fixture
def built(tmp_path) -> Path:
    """sample_project, built once (its outputs fresh in src/sample_app/web_models)."""
    project = copy_sample_project(tmp_path / "proj")
    hatchling_build(project, "-t", "wheel")
    shutil.rmtree(project / "dist")
    return project


def test_a_mistyped_source_is_an_error_in_a_checkout_even_with_an_earlier_output(built):
    replace_in_pyproject(built, 'source = "models/iris.keras"', 'source = "models/irs.keras"')
    before = user_files(built, "src/sample_app/web_models")
    proc = hatchling_build(built, "-t", "wheel", check=False)
    message = (
        "tool.hatch.build.hooks.tfjs.models.iris.source: file not found: models/irs.keras (did you mean "
        "'models/iris.keras'?); src/sample_app/web_models/iris/ was converted from it by an earlier build, but in a "
        "project checkout every declared source must exist (only a build from an sdist ships outputs without their "
        "sources): fix source, or remove the model"
    )
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not list(built.glob("dist/*.whl"))
    for command in ("list", "check"):
        cli = hatch_tfjs(command, str(built))
        assert cli.returncode == 1 and message in cli.stderr, (command, cli.stdout, cli.stderr)
    assert user_files(built, "src/sample_app/web_models") == before


def unpack_sdist(project: Path, destination: Path) -> Path:
    (sdist,) = (project / "dist").glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(destination, filter="data")
    (root,) = destination.iterdir()
    assert (root / "PKG-INFO").is_file()
    return root


def test_a_savedmodel_source_may_be_absent_from_an_sdist_like_a_keras_file(tmp_path):
    """The sdist ships the converted outputs; the wheel built from it (sources removed) uses them as they are, for a
    SavedModel directory (format left out, and format = "graph") as for a Keras file."""
    import keras

    project = write_app_project(
        tmp_path / "proj",
        '[tool.hatch.build.hooks.tfjs.models.exported]\nsource = "models/exported"\n'
        '[tool.hatch.build.hooks.tfjs.models.forced]\nsource = "models/forced"\nformat = "graph"\n',
    )
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    for name in ("exported", "forced"):
        model.export(str(project / "models" / name), verbose=False)
    hatchling_build(project, "-t", "sdist")
    root = unpack_sdist(project, tmp_path / "unpacked")
    shutil.rmtree(root / "models")
    proc = hatchling_build(root, "-t", "wheel", env=tensorflow_blocked_env(tmp_path))
    assert "tfjs: 2 models up to date" in proc.stderr, proc.stderr
    names = wheel_names(root)
    for name in ("exported", "forced"):
        assert f"app/web_models/{name}/model.json" in names
    # In the checkout, the same missing directory is an error naming it.
    shutil.rmtree(project / "models" / "forced")
    failed = hatchling_build(project, "-t", "wheel", check=False)
    assert "tool.hatch.build.hooks.tfjs.models.forced.source: file not found: models/forced" in failed.stderr


@pytest.mark.parametrize(
    ("edit", "models_dir", "models", "removed"),
    [
        pytest.param(
            ('output-dir = "src/sample_app/web_models"', 'output-dir = "src/sample_app/static/models"'),
            "static/models",
            {"digits": DIGITS, "iris": IRIS},
            [
                "removed src/sample_app/web_models/digits/",
                "removed src/sample_app/web_models/index.json",
                "removed src/sample_app/web_models/iris/",
                "removed the empty src/sample_app/web_models/",
            ],
            id="output-dir-moved",
        ),
        pytest.param(
            ("[tool.hatch.build.hooks.tfjs.models.iris]", "[tool.hatch.build.hooks.tfjs.models.flowers]"),
            "web_models",
            {"digits": DIGITS, "flowers": IRIS},
            ["removed src/sample_app/web_models/iris/"],
            id="model-renamed",
        ),
        pytest.param(
            ('source = "models/iris.keras"', 'source = "models/iris.keras"\noutput = "src/sample_app/web_models/v2/iris"'),
            "web_models",
            {"digits": DIGITS, "v2/iris": IRIS},
            ["removed src/sample_app/web_models/iris/"],
            id="output-moved",
        ),
    ],
)
def test_outputs_no_model_declares_are_removed_and_never_shipped(built, edit, models_dir, models, removed):
    replace_in_pyproject(built, *edit)
    before = users_files(built)
    listing = hatch_tfjs("list", str(built))
    for line in removed:
        if not line.startswith("removed the empty"):
            path = line.removeprefix("removed ")
            assert f"orphaned: {path} (no model declares it; the next build removes it)" in listing.stdout
    proc = hatchling_build(built, "-t", "wheel")
    for line in removed:
        assert f"tfjs: {line}" + ("" if "empty" in line else " (no model declares it any more)") in proc.stderr
    assert shipped(built) == expected_wheel(models_dir, models)
    assert users_files(built) == before  # static/, models/, pyproject.toml, ...: byte for byte
    assert "orphaned" not in hatch_tfjs("list", str(built)).stdout


def test_a_removed_model_is_removed_from_the_project_and_the_wheel(built):
    pyproject = built / "pyproject.toml"
    text = pyproject.read_text()
    start = text.index("[tool.hatch.build.hooks.tfjs.models.digits]")
    pyproject.write_text(text[:start])
    proc = hatchling_build(built, "-t", "wheel")
    assert "tfjs: removed src/sample_app/web_models/digits/ (no model declares it any more)" in proc.stderr
    assert shipped(built) == expected_wheel("web_models", {"iris": IRIS})


def test_an_orphan_holding_a_user_file_fails_the_build_and_keeps_the_file(built):
    replace_in_pyproject(built, "[tool.hatch.build.hooks.tfjs.models.iris]", "[tool.hatch.build.hooks.tfjs.models.flowers]")
    notes = built / "src/sample_app/web_models/iris/notes.txt"
    notes.write_text("mine")
    before = user_files(built, "src/sample_app/web_models/flowers")
    proc = hatchling_build(built, "-t", "wheel", check=False)
    assert proc.returncode != 0 and not list(built.glob("dist/*.whl"))
    assert (
        "tfjs: 1 folder written by an earlier build for a model that pyproject.toml no longer declares would ship in "
        "the wheel, and hatch-tfjs cannot remove it:\n"
        "tfjs:   src/sample_app/web_models/iris/: it holds files hatch-tfjs did not write (notes.txt)\n"
        "tfjs: move those files elsewhere (the next build then removes the folder), or declare the model again"
    ) in proc.stderr, proc.stderr
    assert user_files(built, "src/sample_app/web_models/flowers") == before  # nothing removed, notes.txt kept
    check = hatch_tfjs("check", str(built))
    assert check.returncode == 1 and "check failed: an orphaned output holds files" in check.stdout
    notes.unlink()
    hatchling_build(built, "-t", "wheel")
    assert shipped(built) == expected_wheel("web_models", {"digits": DIGITS, "flowers": IRIS})


def test_hatch_clean_removes_orphans_too(built, wheelhouse, tmp_path):
    replace_in_pyproject(built, "[tool.hatch.build.hooks.tfjs.models.iris]", "[tool.hatch.build.hooks.tfjs.models.flowers]")
    env = build_env(wheelhouse, HATCH_DATA_DIR=str(tmp_path / "hatch-data"), HATCH_ENV_TYPE_VIRTUAL_UV_PATH=str(BIN / "uv"))
    subprocess.run([str(BIN / "hatch"), "clean"], cwd=built, env=env, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    assert not (built / "src/sample_app/web_models").exists()


def test_another_targets_table_keeps_its_outputs(built):
    """An sdist-only build (the build-wide table) must not take the wheel table's outputs for orphans."""
    pyproject = built / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + '\n[tool.hatch.build.targets.wheel.hooks.tfjs]\noutput-dir = "src/sample_app/wheel_models"\n'
        '[tool.hatch.build.targets.wheel.hooks.tfjs.models.iris]\nsource = "models/iris.keras"\n'
    )
    hatchling_build(built, "-t", "wheel")
    hatchling_build(built, "-t", "sdist")
    assert (built / "src/sample_app/wheel_models/iris/model.json").is_file()
    assert (built / "src/sample_app/web_models/digits/model.json").is_file()


# --- clean builds ----------------------------------------------------------------------------------------------------


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout + proc.stderr


def test_hatch_build_c_with_fresh_outputs_works_in_a_new_build_environment(built, wheelhouse, tmp_path):
    """hatch asks the hook for its dependencies without saying it will clean: the fresh outputs, which its new build
    environment (no numpy, h5py) cannot convert again, are kept and shipped, and the build line says why."""
    env = build_env(wheelhouse, HATCH_DATA_DIR=str(tmp_path / "hatch-data"), HATCH_ENV_TYPE_VIRTUAL_UV_PATH=str(BIN / "uv"))
    output = run([str(BIN / "hatch"), "build", "-c", "-t", "wheel"], built, env)
    assert "Traceback" not in output
    assert "kept src/sample_app/web_models/iris/: it is up to date, and this build environment has no numpy and h5py" in output
    assert shipped(built) == expected_wheel("web_models", {"digits": DIGITS, "iris": IRIS})
    # HATCH_BUILD_CLEAN=1 tells the hook before the environment is made: it asks for the converter and converts.
    shutil.rmtree(built / "dist")
    env["HATCH_DATA_DIR"] = str(tmp_path / "hatch-data-2")
    output = run([str(BIN / "hatch"), "build", "-t", "wheel"], built, {**env, "HATCH_BUILD_CLEAN": "1"})
    assert "tfjs: removed src/sample_app/web_models/iris/" in output and "tfjs: 2 models converted" in output
    assert shipped(built) == expected_wheel("web_models", {"digits": DIGITS, "iris": IRIS})


@pytest.mark.parametrize(
    "frontend",
    [
        pytest.param([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", "dist", "."], id="pip-wheel"),
        pytest.param([str(BIN / "uv"), "build", "--wheel", "--out-dir", "dist"], id="uv-build"),
    ],
)
def test_isolated_clean_builds_of_fresh_outputs_convert_again(built, wheelhouse, frontend):
    env = build_env(wheelhouse, HATCH_BUILD_CLEAN="1", PIP_VERBOSE="1")
    for path in (built / "src/sample_app/web_models/iris").iterdir():
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    run(frontend, built, env)
    assert all(p.stat().st_mtime_ns > 1_000_000_000 for p in (built / "src/sample_app/web_models/iris").iterdir())
    assert shipped(built) == expected_wheel("web_models", {"digits": DIGITS, "iris": IRIS})


# --- configurations refused before anything converts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "key", "output"),
    [
        ('[tool.hatch.build.hooks.tfjs.models."index.json"]\nsource = "models/iris.keras"\n', 'models.index.json.output', "src/sample_app/web_models/index.json"),
        ('[tool.hatch.build.hooks.tfjs.models.flat]\nsource = "models/iris.keras"\noutput = "src/sample_app/web_models"\n', "models.flat.output", "src/sample_app/web_models"),
    ],
)
def test_an_output_colliding_with_the_index_is_refused_before_converting(tmp_path, table, key, output):
    project = copy_sample_project(tmp_path / "proj")
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + "\n" + table)
    proc = hatchling_build(project, "-t", "wheel", check=False)
    assert (
        f"tool.hatch.build.hooks.tfjs.{key}: {output!r} collides with the model index "
        "'src/sample_app/web_models/index.json', which hatch-tfjs writes there; rename the model or set its output to "
        "a folder of its own inside output-dir"
    ) in proc.stderr, proc.stderr
    assert "converting" not in proc.stderr and not (project / "src/sample_app/web_models").exists()


# --- hook tables hatchling never hands the hook ----------------------------------------------------------------------


def test_a_mistyped_hook_table_is_named(tmp_path):
    project = copy_sample_project(tmp_path / "proj")
    replace_in_pyproject(project, "[tool.hatch.build.hooks.tfjs]\n", "[tool.hatch.build.hooks.tfj]\n")
    check = hatch_tfjs("check", str(project))
    assert check.returncode == 1
    assert (
        "error: [tool.hatch.build.hooks.tfj] (did you mean [tool.hatch.build.hooks.tfjs]?): hatchling fails every "
        "build: no build hook named 'tfj' is installed; rename it"
    ) in check.stdout, check.stdout
    # Without the models tables either, check finds no tfjs table at all, and names the one it found.
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("hooks.tfjs.models", "hooks.tfj.models"))
    check = hatch_tfjs("check", str(project))
    assert check.returncode == 1
    assert (
        "no tfjs build hook configured; found [tool.hatch.build.hooks.tfj] (did you mean [tool.hatch.build.hooks.tfjs]?)"
        in check.stderr
    ), check.stderr
    # hatchling refuses the build itself, before loading any hook (the README says so).
    assert "Unknown build hook: tfj" in hatchling_build(project, "-t", "wheel", check=False).stderr


def test_a_table_at_the_wrong_depth_is_named_by_check_and_by_the_build(tmp_path):
    project = copy_sample_project(tmp_path / "proj")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.hatch.build.hook.tfjs.models.extra]\nsource = "models/iris.keras"\n')
    warning = (
        "[tool.hatch.build.hook.tfjs] (did you mean [tool.hatch.build.hooks.tfjs]?): hatchling does not read it, so "
        "its settings are ignored; rename it"
    )
    assert f"warning: {warning}" in hatch_tfjs("check", str(project)).stdout
    assert f"tfjs: {warning}" in hatchling_build(project, "-t", "wheel").stderr
