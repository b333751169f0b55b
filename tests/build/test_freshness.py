"""Fast, reproducible, crash-safe builds: freshness stamps, switches, locks and killed conversions, through real
hatchling builds of a copy of sample_project."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import REPO, copy_sample_project
from projects import WEB_MODELS, tensorflow_blocked_env, user_files

from hatch_tfjs.config import STAMP_NAME, spec_to_json

SAMPLE = REPO / "sample_project"
MODELS = ("digits", "iris")


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    return copy_sample_project(tmp_path / "proj")


def out_dir(sample_copy: Path, name: str) -> Path:
    return sample_copy / "src" / "sample_app" / "web_models" / name


def hatchling(sample_copy: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", *args], cwd=sample_copy, env=env, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"hatchling build {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def snapshot(sample_copy: Path) -> dict[str, tuple[tuple[int, int], str]]:
    """((inode, mtime), sha256) of every output file: a rewrite changes them even when the bytes are the same."""
    files = {}
    for name in MODELS:
        for path in sorted(out_dir(sample_copy, name).iterdir()):
            stat = path.stat()
            files[f"{name}/{path.name}"] = ((stat.st_ino, stat.st_mtime_ns), hashlib.sha256(path.read_bytes()).hexdigest())
    return files


def age_outputs(sample_copy: Path) -> None:
    """Date every output file back to 1970, so that any rewrite shows in its mtime."""
    for name in MODELS:
        for path in out_dir(sample_copy, name).iterdir():
            os.utime(path, ns=(1_000_000_000, 1_000_000_000))


def test_rebuild_of_fresh_models_converts_nothing_and_imports_no_tensorflow(sample_copy, tmp_path):
    first = hatchling(sample_copy, "-t", "wheel")
    assert "tfjs: 2 models converted" in first.stderr + first.stdout
    age_outputs(sample_copy)
    before = snapshot(sample_copy)

    again = hatchling(sample_copy, "-t", "wheel", "-d", "dist2", env=tensorflow_blocked_env(tmp_path))

    output = again.stdout + again.stderr
    assert "tfjs: 2 models up to date" in output
    assert "converting" not in output
    assert snapshot(sample_copy) == before
    with zipfile.ZipFile(next((sample_copy / "dist2").glob("*.whl"))) as zf:
        assert "sample_app/web_models/iris/model.json" in zf.namelist()


def test_changed_source_option_or_converter_reconverts_only_that_model(sample_copy):
    hatchling(sample_copy, "-t", "wheel")
    base = snapshot(sample_copy)

    # An unrelated file changes: nothing converts.
    (sample_copy / "README.md").write_text("changed\n")
    assert "2 models up to date" in hatchling(sample_copy, "-t", "wheel").stderr

    # An option of one model changes.
    pyproject = sample_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("shard-size = 16384", "shard-size = 8192"))
    output = hatchling(sample_copy, "-t", "wheel").stderr
    assert "converting 1 model to TensorFlow.js (1 up to date)" in output
    assert "tfjs: digits:" in output
    after_option = snapshot(sample_copy)
    assert {k: v for k, v in after_option.items() if k.startswith("iris/")} == {k: v for k, v in base.items() if k.startswith("iris/")}
    assert len([k for k in after_option if k.startswith("digits/group1-")]) == 3

    # The source of the other one changes (same bytes appended: the content hash differs).
    source = sample_copy / "models" / "iris.keras"
    import zipfile as zipmod

    with zipmod.ZipFile(source, "a") as zf:
        zf.writestr("extra.txt", "a change to the file, not to the model")
    output = hatchling(sample_copy, "-t", "wheel").stderr
    assert "converting 1 model to TensorFlow.js (1 up to date)" in output and "tfjs: iris:" in output

    # The converter's version changes (as recorded in the stamp).
    stamp_path = out_dir(sample_copy, "iris") / STAMP_NAME
    stamp = json.loads(stamp_path.read_text())
    stamp["converter"] = "hatch-tfjs 0.0.1"
    stamp_path.write_text(json.dumps(stamp))
    output = hatchling(sample_copy, "-t", "wheel").stderr
    assert "converting 1 model to TensorFlow.js (1 up to date)" in output and "tfjs: iris:" in output


def test_moving_an_option_between_tables_converts_nothing(sample_copy):
    """Where an option is set is not part of the stamp: the same quantize moved from the model's table to the hook
    table (the default of every model, turned off where the other model sets its own) leaves the outputs fresh."""
    pyproject = sample_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('source = "models/iris.keras"\n',
                                                       'source = "models/iris.keras"\nquantize = "uint8"\n'))
    hatchling(sample_copy, "-t", "wheel")
    age_outputs(sample_copy)
    before = snapshot(sample_copy)
    text = pyproject.read_text().replace('quantize = "uint8"\n', "")
    text = text.replace('tensorflow-requirement = "tensorflow-cpu>=2.16"\n',
                        'tensorflow-requirement = "tensorflow-cpu>=2.16"\nquantize = "uint8"\n')
    text = text.replace('source = "models/digits.h5"\n', 'source = "models/digits.h5"\nquantize = false\n')
    pyproject.write_text(text)
    untouched = user_files(sample_copy, WEB_MODELS.as_posix())
    output = hatchling(sample_copy, "-t", "wheel").stderr
    assert "tfjs: 2 models up to date" in output
    assert snapshot(sample_copy) == before
    assert user_files(sample_copy, WEB_MODELS.as_posix()) == untouched


def test_stamp_has_no_timestamps_or_absolute_paths(sample_copy):
    hatchling(sample_copy, "-t", "wheel")
    text = (out_dir(sample_copy, "iris") / STAMP_NAME).read_text()
    stamp = json.loads(text)
    assert str(sample_copy) not in text and str(REPO) not in text
    assert stamp["source"] == {"path": "models/iris.keras", "sha256": hashlib.sha256((sample_copy / "models/iris.keras").read_bytes()).hexdigest()}
    assert set(stamp) == {"stamp_version", "converter", "key", "source", "options", "files"}


def test_two_checkouts_give_byte_identical_outputs_and_wheels(sample_copy, tmp_path):
    other = tmp_path / "other_checkout"
    shutil.copytree(sample_copy, other)
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    hatchling(sample_copy, "-t", "wheel", env=env)
    hatchling(other, "-t", "wheel", env=env)
    for name in MODELS:
        for path in out_dir(sample_copy, name).iterdir():
            assert path.read_bytes() == (out_dir(other, name) / path.name).read_bytes(), path.name
    wheel_a = next((sample_copy / "dist").glob("*.whl")).read_bytes()
    wheel_b = next((other / "dist").glob("*.whl")).read_bytes()
    assert wheel_a == wheel_b
    # Forced reconversion in the same checkout reproduces the same bytes too.
    before = {k: v[1] for k, v in snapshot(sample_copy).items()}
    hatchling(sample_copy, "-t", "wheel", "-d", "dist3", env=dict(env, HATCH_TFJS_FORCE="1"))
    assert {k: v[1] for k, v in snapshot(sample_copy).items()} == before
    assert next((sample_copy / "dist3").glob("*.whl")).read_bytes() == wheel_a


def test_force_reconverts_and_skip_uses_what_is_there(sample_copy):
    hatchling(sample_copy, "-t", "wheel")
    age_outputs(sample_copy)
    forced = hatchling(sample_copy, "-t", "wheel", env=dict(os.environ, HATCH_TFJS_FORCE="1"))
    assert "tfjs: 2 models converted" in forced.stderr
    assert all(v[0][1] != 1_000_000_000 for v in snapshot(sample_copy).values())

    (sample_copy / "models" / "iris.keras").write_bytes(b"not a model any more")
    skipped = hatchling(sample_copy, "-t", "wheel", env=dict(os.environ, HATCH_TFJS_SKIP="1"))
    assert "HATCH_TFJS_SKIP is set; shipping the 2 existing model outputs" in skipped.stderr

    shutil.rmtree(out_dir(sample_copy, "iris"))
    failed = hatchling(sample_copy, "-t", "wheel", env=dict(os.environ, HATCH_TFJS_SKIP="1"), check=False)
    assert failed.returncode != 0
    assert "HATCH_TFJS_SKIP is set but 1 model output is missing: 'iris' (src/sample_app/web_models/iris/model.json)" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_clean_removes_the_outputs(sample_copy):
    hatchling(sample_copy, "-t", "wheel")
    assert out_dir(sample_copy, "iris").is_dir()
    hatchling(sample_copy, "--clean-only")
    assert not out_dir(sample_copy, "iris").exists() and not out_dir(sample_copy, "digits").exists()


def test_sdist_without_sources_builds_wheel_from_shipped_outputs(sample_copy, tmp_path):
    hatchling(sample_copy, "-t", "sdist")
    (sdist,) = (sample_copy / "dist").glob("*.tar.gz")
    import tarfile

    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    root = next((tmp_path / "unpacked").iterdir())
    shutil.rmtree(root / "models")  # an sdist that ships the outputs but not the source models
    proc = hatchling(root, "-t", "wheel", env=tensorflow_blocked_env(tmp_path))
    assert "tfjs: 2 models up to date" in proc.stderr
    with zipfile.ZipFile(next((root / "dist").glob("*.whl"))) as zf:
        assert {"sample_app/web_models/iris/model.json", "sample_app/web_models/digits/model.json"} <= set(zf.namelist())


def convert_in_worker(spec_json: dict, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatch_tfjs.worker"], input=json.dumps([{"spec": spec_json}]), capture_output=True, text=True, env=env
    )


@pytest.mark.parametrize("kill_at", ["staged", "swapping"])
def test_killed_conversion_leaves_old_or_new_output_and_next_build_succeeds(sample_copy, kill_at, tfjs):
    from hatch_tfjs.config import ModelSpec

    hatchling(sample_copy, "-t", "wheel")
    old = {k: v[1] for k, v in snapshot(sample_copy).items() if k.startswith("digits/")}
    spec = ModelSpec(
        name="digits", source=sample_copy / "models" / "digits.h5", output=out_dir(sample_copy, "digits"), root=sample_copy, shard_size=4096
    )

    proc = convert_in_worker(spec_to_json(spec), dict(os.environ, HATCH_TFJS_TEST_KILL_AT=kill_at))

    assert proc.returncode == -9  # really killed, at that point
    web_models = out_dir(sample_copy, "digits").parent
    leftovers = sorted(p.name for p in web_models.iterdir())
    if kill_at == "staged":
        # Killed before the swap: the old output is intact and current.
        assert {k: v[1] for k, v in snapshot(sample_copy).items() if k.startswith("digits/")} == old
    else:
        # Killed between the two renames: the old output waits as a backup, the new one in staging.
        assert "digits" not in leftovers and ".digits.tfjs-old" in leftovers

    # The next build recovers, sees the old output fresh, and ships a working model; nothing half-written remains.
    output = hatchling(sample_copy, "-t", "wheel", "-d", "dist-after").stderr
    assert "tfjs: 2 models up to date" in output
    assert sorted(p.name for p in web_models.iterdir() if p.is_dir()) == ["digits", "iris"]
    assert not [p.name for p in web_models.iterdir() if p.name.startswith(".")]
    assert {k: v[1] for k, v in snapshot(sample_copy).items() if k.startswith("digits/")} == old
    import numpy as np

    got, _ = tfjs.run(out_dir(sample_copy, "digits"), [np.zeros((1, 8, 8, 1), dtype="float32")])
    assert got[0].shape == (1, 10)


def test_two_builds_at_once_serialize_on_the_lock(sample_copy):
    env = dict(os.environ, HATCH_TFJS_FORCE="1")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", f"dist{i}"],
            cwd=sample_copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    combined = "".join(o + e for o, e in outputs)
    assert combined.count("tfjs: 2 models converted") == 2
    assert "another build of this project is converting models; waiting for it" in combined
    names = [sorted(zipfile.ZipFile(next((sample_copy / f"dist{i}").glob("*.whl"))).namelist()) for i in range(2)]
    assert names[0] == names[1]
    web_models = out_dir(sample_copy, "iris").parent
    assert sorted(p.name for p in web_models.iterdir() if p.is_dir()) == ["digits", "iris"]
    assert not [p.name for p in web_models.iterdir() if p.name.startswith(".")]


def test_a_crashed_worker_fails_the_build_naming_its_model(sample_copy):
    env = dict(os.environ, HATCH_TFJS_TEST_KILL_AT="staged")  # every worker SIGKILLs itself before its swap
    proc = hatchling(sample_copy, "-t", "wheel", env=env, check=False)
    assert proc.returncode != 0
    assert "model 'digits' (models/digits.h5): the conversion worker was killed by SIGKILL" in proc.stderr
    assert "model 'iris' (models/iris.keras): the conversion worker was killed by SIGKILL" in proc.stderr
    assert "the previous output is intact" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(sample_copy.glob("dist/*.whl"))
    assert not out_dir(sample_copy, "iris").exists()  # nothing half-written was left as an output
    hatchling(sample_copy, "-t", "wheel")  # and the next build succeeds
