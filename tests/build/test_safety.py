"""Never lose a user's file, never write outside the project: ownership, containment, special sources, the worker's
imports and the wheel without code, each through a real hatchling build or a real ``hatch-tfjs`` call.

Every test records the user's files before and asserts they are byte-identical afterwards, and that nothing partial
(staging or backup directories, half outputs) is left.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import copy_sample_project
from projects import (
    WEB_MODELS,
    file_digests,
    hatch_tfjs,
    hatchling_build,
    replace_in_pyproject,
    wheel_names,
)

TABLE = "tool.hatch.build.hooks.tfjs"


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    return copy_sample_project(tmp_path / "proj")


def _user_static(folder: Path) -> None:
    """A folder of the user's own web files."""
    (folder / "img").mkdir(parents=True)
    (folder / "style.css").write_text("body { color: red }\n")
    (folder / "app.js").write_text("console.log('mine');\n")
    (folder / "img" / "logo.svg").write_text("<svg/>\n")


def _no_leftovers(directory: Path) -> None:
    if directory.is_dir():
        hidden = [p.name for p in directory.rglob("*") if ".tfjs-staging-" in p.name or p.name.endswith(".tfjs-old")]
        assert not hidden, f"staging/backup left in {directory}: {hidden}"


# --- ownership -----------------------------------------------------------------------------------------------------


def test_an_output_that_holds_user_files_fails_the_build_and_keeps_them(sample_copy):
    static = sample_copy / "src" / "sample_app" / "static"
    before = file_digests(static)
    replace_in_pyproject(sample_copy, '[tool.hatch.build.hooks.tfjs.models.iris]\n', '[tool.hatch.build.hooks.tfjs.models.iris]\noutput = "src/sample_app/static"\n')

    proc = hatchling_build(sample_copy, "-t", "wheel", check=False)

    assert proc.returncode != 0
    assert f"{TABLE}.models.iris.output: 'src/sample_app/static' holds files hatch-tfjs did not write (app.js, index.html" in proc.stderr
    assert "set output on model 'iris' (or output-dir) to a new directory, or move those files away" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert file_digests(static) == before
    assert not list(sample_copy.glob("dist/*.whl"))
    assert not (sample_copy / WEB_MODELS).exists()  # nothing was converted before the refusal


def test_a_model_named_like_a_subpackage_in_output_dir_fails_and_keeps_it(sample_copy):
    utils = sample_copy / WEB_MODELS / "utils"
    utils.mkdir(parents=True)
    (utils / "__init__.py").write_text("HELPER = 1\n")
    shutil.copy(sample_copy / "models" / "iris.keras", sample_copy / "models" / "utils.keras")
    replace_in_pyproject(sample_copy, "[tool.hatch.build.hooks.tfjs.models.iris]", '[tool.hatch.build.hooks.tfjs.models.utils]\nsource = "models/utils.keras"\n\n[tool.hatch.build.hooks.tfjs.models.iris]')
    before = file_digests(sample_copy / WEB_MODELS)

    proc = hatchling_build(sample_copy, "-t", "wheel", check=False)

    assert proc.returncode != 0
    assert f"{TABLE}.models.utils.output: 'src/sample_app/web_models/utils' holds files hatch-tfjs did not write (__init__.py)" in proc.stderr
    assert file_digests(sample_copy / WEB_MODELS) == before


def test_a_user_index_json_in_output_dir_is_never_overwritten(sample_copy):
    web_models = sample_copy / WEB_MODELS
    web_models.mkdir(parents=True)
    (web_models / "index.json").write_text('{"mine": true}\n')

    proc = hatchling_build(sample_copy, "-t", "wheel", check=False)

    assert proc.returncode != 0
    assert f"{TABLE}.output-dir: 'src/sample_app/web_models/index.json' exists and was not written by hatch-tfjs" in proc.stderr
    assert (web_models / "index.json").read_text() == '{"mine": true}\n'
    assert sorted(p.name for p in web_models.iterdir()) == ["index.json"]


def test_its_own_outputs_are_still_replaced_and_cleaned(sample_copy):
    """The rule refuses only what is not hatch-tfjs's: a rebuild replaces its own outputs; hatch clean removes them
    and the then-empty output-dir, and keeps a user file put inside an output."""
    hatchling_build(sample_copy, "-t", "wheel")
    hatchling_build(sample_copy, "-t", "wheel", "-d", "dist2", env=dict(os.environ, HATCH_TFJS_FORCE="1"))
    (sample_copy / WEB_MODELS / "digits" / "notes.txt").write_text("mine\n")

    proc = hatchling_build(sample_copy, "-t", "wheel", "-d", "dist3", env=dict(os.environ, HATCH_TFJS_FORCE="1"), check=False)
    assert proc.returncode != 0
    assert "'src/sample_app/web_models/digits' holds files hatch-tfjs did not write (notes.txt)" in proc.stderr

    # hatch clean keeps an output holding a user file, and removes hatch-tfjs's own outputs and index.
    kept = file_digests(sample_copy / WEB_MODELS / "digits")
    cleaned = hatchling_build(sample_copy, "--clean-only", "-t", "wheel")
    assert "kept src/sample_app/web_models/digits/" in cleaned.stderr
    assert sorted(p.name for p in (sample_copy / WEB_MODELS).iterdir()) == ["digits"]
    assert file_digests(sample_copy / WEB_MODELS / "digits") == kept

    (sample_copy / WEB_MODELS / "digits" / "notes.txt").unlink()
    cleaned = hatchling_build(sample_copy, "--clean-only", "-t", "wheel")
    assert not (sample_copy / WEB_MODELS).exists()  # its own outputs, its index, and the then-empty output-dir


def test_cli_convert_refuses_a_folder_with_user_files_and_force_says_what_it_removes(sample_copy):
    static = sample_copy / "static_site"
    _user_static(static)
    before = file_digests(static)
    source = sample_copy / "models" / "iris.keras"

    refused = hatch_tfjs("convert", str(source), str(static))
    assert refused.returncode == 1
    assert f"hatch-tfjs: error: OUTDIR {static} holds files hatch-tfjs did not write (app.js, img/, style.css)" in refused.stderr
    assert "pass --force to replace it" in refused.stderr
    assert file_digests(static) == before

    here = hatch_tfjs("convert", str(source), ".", cwd=static)
    assert here.returncode == 1 and "OUTDIR . holds files hatch-tfjs did not write" in here.stderr
    assert file_digests(static) == before

    forced = hatch_tfjs("convert", str(source), str(static), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "--force: replacing" in forced.stderr and "app.js, img/, style.css" in forced.stderr
    assert sorted(p.name for p in static.iterdir()) == [".hatch-tfjs-stamp.json", "group1-shard1of1.bin", "model.json"]
    _no_leftovers(sample_copy)

    again = hatch_tfjs("convert", str(source), str(static))  # its own output now: replaced without --force
    assert again.returncode == 0, again.stderr


def test_cli_convert_never_replaces_a_file_or_a_symlink(tmp_path, sample_copy):
    source = sample_copy / "models" / "iris.keras"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)

    for outdir, phrase in ((a_file, "is a file"), (link, "is a symbolic link")):
        proc = hatch_tfjs("convert", str(source), str(outdir), "--force")
        assert proc.returncode == 1 and phrase in proc.stderr, proc.stderr
    assert a_file.read_text() == "mine\n" and link.is_symlink() and not list(target.iterdir())


# --- containment ---------------------------------------------------------------------------------------------------


def test_an_output_dir_that_is_a_symlink_out_of_the_project_is_refused(tmp_path, sample_copy):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("do not touch\n")
    (sample_copy / WEB_MODELS).symlink_to(elsewhere, target_is_directory=True)

    proc = hatchling_build(sample_copy, "-t", "wheel", check=False)

    assert proc.returncode != 0
    assert f"{TABLE}.models.digits.output: 'src/sample_app/web_models' is a symbolic link (to {elsewhere})" in proc.stderr
    assert f"{TABLE}.output-dir: 'src/sample_app/web_models' is a symbolic link" in proc.stderr
    assert file_digests(elsewhere) == {"precious.txt": file_digests(elsewhere)["precious.txt"]}
    assert sorted(os.listdir(elsewhere)) == ["precious.txt"]


def test_a_model_output_that_is_a_symlink_is_refused_and_nothing_outside_ships(tmp_path, sample_copy):
    hatchling_build(sample_copy, "-t", "wheel")
    outside = tmp_path / "outside_model"
    shutil.copytree(sample_copy / WEB_MODELS / "iris", outside)
    (outside / "secret.txt").write_text("from outside the project\n")
    shutil.rmtree(sample_copy / WEB_MODELS / "iris")
    (sample_copy / WEB_MODELS / "iris").symlink_to(outside, target_is_directory=True)
    before = file_digests(outside)

    proc = hatchling_build(sample_copy, "-t", "wheel", "-d", "dist2", env=dict(os.environ, HATCH_TFJS_SKIP="1"), check=False)
    assert proc.returncode != 0
    assert f"{TABLE}.models.iris.output: 'src/sample_app/web_models/iris' is a symbolic link (to {outside})" in proc.stderr
    assert not list(sample_copy.glob("dist2/*.whl"))
    proc = hatchling_build(sample_copy, "-t", "wheel", "-d", "dist3", check=False)
    assert proc.returncode != 0 and not list(sample_copy.glob("dist3/*.whl"))
    assert file_digests(outside) == before
    assert (sample_copy / WEB_MODELS / "iris").is_symlink()
    _no_leftovers(sample_copy / WEB_MODELS)


def test_a_metadata_file_that_links_out_of_the_project_is_refused(tmp_path, sample_copy):
    secret = tmp_path / "secret.json"
    secret.write_text('{"token": "s3cr3t"}')
    (sample_copy / "models" / "labels.json").symlink_to(secret)
    replace_in_pyproject(sample_copy, 'shard-size = 16384', 'shard-size = 16384\nmetadata-file = "models/labels.json"')

    proc = hatchling_build(sample_copy, "-t", "wheel", check=False)

    assert proc.returncode != 0
    assert f"{TABLE}.models.digits.metadata-file: 'models/labels.json' is a symbolic link to {secret}, outside the project" in proc.stderr
    assert "s3cr3t" not in proc.stderr


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_a_source_that_is_a_fifo_or_a_device_fails_at_once(sample_copy, kind):
    source = sample_copy / "models" / "iris.keras"
    source.unlink()
    if kind == "fifo":
        os.mkfifo(source)
        phrase = "is a FIFO (named pipe), not a model file"
    else:
        source.symlink_to("/dev/zero")
        phrase = "is a character device, not a model file"

    proc = hatchling_build(sample_copy, "-t", "wheel", check=False, timeout=120)
    assert proc.returncode != 0
    assert f"{TABLE}.models.iris.source: models/iris.keras {phrase}" in proc.stderr

    cli = hatch_tfjs("convert", str(source), str(sample_copy / "out"), timeout=120)
    assert cli.returncode == 1 and phrase in cli.stderr and "Traceback" not in cli.stderr
    assert not (sample_copy / "out").exists()


def test_a_savedmodel_directory_holding_a_fifo_fails_at_once(sample_copy):
    saved = sample_copy / "models" / "encoder"
    (saved / "variables").mkdir(parents=True)
    (saved / "saved_model.pb").write_bytes(b"\x08\x01")
    os.mkfifo(saved / "variables" / "variables.data-00000-of-00001")
    replace_in_pyproject(sample_copy, "[tool.hatch.build.hooks.tfjs.models.iris]", '[tool.hatch.build.hooks.tfjs.models.encoder]\nsource = "models/encoder"\n\n[tool.hatch.build.hooks.tfjs.models.iris]')

    proc = hatchling_build(sample_copy, "-t", "wheel", check=False, timeout=120)

    assert proc.returncode != 0
    assert (
        f"{TABLE}.models.encoder.source: models/encoder holds 'models/encoder/variables/variables.data-00000-of-00001', "
        "which is a FIFO (named pipe)"
    ) in proc.stderr


# --- the worker and the wheel --------------------------------------------------------------------------------------


def test_the_worker_never_imports_the_users_modules(sample_copy):
    """The conversion workers run inside the project; a user's json.py (or any module named like a library one)
    at the project root must not be imported by them."""
    for name in ("json", "numpy", "h5py"):
        (sample_copy / f"{name}.py").write_text(f"raise SystemExit('the user\\'s {name}.py was imported')\n")

    # -P keeps the project off this frontend process's own sys.path, as pip and build do for their backend process;
    # the workers the hook starts are on their own.
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "hatchling", "build", "-t", "wheel"], cwd=sample_copy, capture_output=True, text=True
    )

    assert proc.returncode == 0, proc.stderr
    assert "tfjs: 2 models converted" in proc.stderr
    assert "was imported" not in proc.stderr + proc.stdout


def test_a_wheel_without_python_code_fails_with_hatchlings_advice(sample_copy):
    replace_in_pyproject(sample_copy, 'name = "tfjs-sample-app"', 'name = "my-web-app"')
    replace_in_pyproject(sample_copy, '[tool.hatch.build.targets.wheel]\npackages = ["src/sample_app"]\n', "")

    proc = hatchling_build(sample_copy, "-t", "wheel", check=False)

    assert proc.returncode != 0
    assert "tfjs: the wheel would ship the converted models but no Python code" in proc.stderr
    assert "Unable to determine which files to ship inside the wheel" in proc.stderr
    assert 'packages = ["src/foo"]' in proc.stderr
    assert not list(sample_copy.glob("dist/*.whl"))

    check = hatch_tfjs("check", str(sample_copy))
    assert check.returncode == 1
    assert "the wheel would ship the converted models but no Python code" in check.stdout
    assert "check failed: set [tool.hatch.build.targets.wheel] packages" in check.stdout
    assert "check passed" not in check.stdout


def test_staging_from_a_killed_build_never_ships_even_with_skip(sample_copy):
    hatchling_build(sample_copy, "-t", "wheel")
    web_models = sample_copy / WEB_MODELS
    # What a build killed while writing leaves: a staging directory with a part-written shard.
    staging = web_models / ".tfjs-staging-digits-k1ll3d"
    staging.mkdir()
    (staging / ".shard1.part").write_bytes(b"\0" * 100)
    backup = web_models / ".iris.tfjs-old"
    shutil.copytree(web_models / "iris", backup)

    hatchling_build(sample_copy, "-t", "wheel", "-d", "dist-skip", env=dict(os.environ, HATCH_TFJS_SKIP="1"))
    hatchling_build(sample_copy, "-t", "sdist", "-d", "dist-skip")

    names = wheel_names(sample_copy, "dist-skip")
    assert not [n for n in names if "tfjs-staging" in n or "tfjs-old" in n or n.endswith(".part")], names
    (sdist,) = (sample_copy / "dist-skip").glob("*.tar.gz")
    import tarfile

    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert not [n for n in members if "tfjs-staging" in n or "tfjs-old" in n], members
    _no_leftovers(web_models)


def test_a_wheel_never_holds_files_from_outside_the_project(sample_copy, tmp_path):
    """The outputs that ship are inside the package, and every shipped model file is under the project."""
    hatchling_build(sample_copy, "-t", "wheel")
    names = wheel_names(sample_copy)
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)
    with zipfile.ZipFile(next((sample_copy / "dist").glob("*.whl"))) as archive:
        for name in names:
            if "/web_models/" in name and not name.endswith("/"):
                shipped = archive.read(name)
                assert shipped == (sample_copy / "src" / name).read_bytes()


def test_a_huge_declared_layer_is_refused_before_keras_allocates_it_on_the_graph_route(tmp_path, sample_copy):
    """A config claiming Dense(10**9) next to a tiny stored kernel: the graph route hands the file to Keras, which
    would allocate 16 GB for it; the file is checked against what it stores first, in bounded memory."""
    import json as json_module
    import resource

    source = sample_copy / "models" / "iris.keras"
    hostile = tmp_path / "huge.keras"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(hostile, "w") as forged:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "config.json":
                config = json_module.loads(data)
                dense = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
                dense["config"]["units"] = 10**9
                data = json_module.dumps(config).encode()
            forged.writestr(info, data)

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    proc = subprocess.run(
        [sys.executable, "-m", "hatch_tfjs", "convert", str(hostile), str(tmp_path / "out"), "--format", "graph"],
        capture_output=True, text=True, timeout=300, preexec_fn=cap_memory,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"hatch-tfjs: error: {hostile}: cannot read model 'huge'")
    assert "the config implies (4, 1000000000)" in proc.stderr
    assert "'huge'" in proc.stderr and "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_inspect_on_a_malformed_model_json_is_one_clear_error(tmp_path):
    model_dir = tmp_path / "bad"
    model_dir.mkdir()
    (model_dir / "model.json").write_text(
        '{"format": "layers-model", "modelTopology": {"model_config": {"class_name": "Sequential", "config": '
        '{"layers": [{"class_name": "Conv2D", "config": {"strides": [2, []]}}]}}}, '
        '"weightsManifest": [{"paths": [], "weights": [{"name": "a", "shape": [2, "x"]}]}]}'
    )
    proc = hatch_tfjs("inspect", str(model_dir))
    assert proc.returncode == 1
    assert proc.stderr.startswith(
        f"hatch-tfjs: error: {model_dir / 'model.json'}: weightsManifest[0].weights[0].shape is [2, 'x'], not a list "
        "of sizes (whole numbers >= 0)"
    ), proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
