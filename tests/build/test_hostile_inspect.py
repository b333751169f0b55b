"""``hatch-tfjs inspect`` on hostile model.json files (issue 21.5): a manifest that names shards outside the folder,
negative shapes, parts of the wrong type. Each gets one ``hatch-tfjs: error:`` line naming the file and the key (no
Python class name, no "folder fine"), and nothing outside the folder is looked at."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import copy_sample_project, opened_files
from projects import hatchling_build

from hatch_tfjs.describe import ModelDirError, describe_model_dir

pytestmark = pytest.mark.slow

RECONVERT = "TF.js could not load it as it is: convert the model again"
NOT_PLAIN = "is not a plain file name in the model's folder (no '/', '\\', ':', '..' or absolute paths)"


@pytest.fixture(scope="module")
def built_digits(tmp_path_factory) -> Path:
    tree = copy_sample_project(tmp_path_factory.mktemp("hostile_inspect") / "sample_project")
    hatchling_build(tree, "-t", "wheel")
    return tree / "src" / "sample_app" / "web_models" / "digits"


def _manifest(change: Callable[[list], None]) -> Callable[[dict], None]:
    return lambda document: change(document["weightsManifest"])


def _group(key: str, value) -> Callable[[dict], None]:
    return _manifest(lambda manifest: manifest[0].__setitem__(key, value))


def _weight(key: str, value) -> Callable[[dict], None]:
    return _manifest(lambda manifest: manifest[0]["weights"][1].__setitem__(key, value))


CASES = {
    "shard climbs out": (
        _group("paths", ["group1-shard1of2.bin", "../../outside/stolen.bin"]),
        f"weightsManifest[0].paths[1] '../../outside/stolen.bin' {NOT_PLAIN}; a shard is a file next to model.json",
    ),
    "shard absolute": (
        _group("paths", ["{outside}/stolen.bin"]),
        f"weightsManifest[0].paths[0] '{{outside}}/stolen.bin' {NOT_PLAIN}; a shard is a file next to model.json",
    ),
    "shard hidden": (
        _group("paths", [".hatch-tfjs-stamp.json"]),
        "weightsManifest[0].paths[0] '.hatch-tfjs-stamp.json' is a hidden file, not a model file; a shard is a file "
        "next to model.json",
    ),
    "shard is model.json": (
        _group("paths", ["model.json"]),
        "weightsManifest[0].paths[0] is model.json itself, not a shard; a shard is a file next to model.json",
    ),
    "shard a number": (_group("paths", [3]), "weightsManifest[0].paths[0] is int 3, not a file name; a shard is a file next to model.json"),
    "paths a string": (
        _group("paths", "group1-shard1of2.bin"),
        "weightsManifest[0].paths is 'group1-shard1of2.bin', not a list of shard file names",
    ),
    "negative shape": (
        _weight("shape", [-4, -3]),
        "weightsManifest[0].weights[1].shape is [-4, -3], not a list of sizes (whole numbers >= 0)",
    ),
    "shape of floats": (
        _weight("shape", [2.5]),
        "weightsManifest[0].weights[1].shape is [2.5], not a list of sizes (whole numbers >= 0)",
    ),
    "unknown dtype": (
        _weight("dtype", "float64"),
        "weightsManifest[0].weights[1].dtype is 'float64', not one of float32, int32, bool, complex64, float16, "
        "uint8, uint16, string",
    ),
    "quantization a number": (
        _weight("quantization", 5),
        "weightsManifest[0].weights[1].quantization is 5, not an object whose dtype is uint8, uint16 or float16",
    ),
    "weight a string": (
        _manifest(lambda manifest: manifest[0]["weights"].__setitem__(0, "x")),
        "weightsManifest[0].weights[0] is str 'x', not a weight (an object with name, shape, dtype)",
    ),
    "group a number": (
        _manifest(lambda manifest: manifest.__setitem__(0, 5)),
        "weightsManifest[0] is int 5, not a weight group (an object with paths, weights)",
    ),
    "manifest an object": (
        lambda document: document.__setitem__("weightsManifest", {"paths": []}),
        "weightsManifest is dict, not a list of weight groups",
    ),
}


@pytest.fixture
def hostile(built_digits, tmp_path) -> tuple[Path, Path]:
    model = tmp_path / "site" / "models" / "digits"
    shutil.copytree(built_digits, model)
    outside = tmp_path / "site" / "outside"
    outside.mkdir()
    (outside / "stolen.bin").write_bytes(b"\0" * 20776)  # as many bytes as the manifest needs
    return model, outside


def inspect(model: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatch_tfjs", "inspect", str(model), *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_inspect_refuses_a_hostile_manifest(hostile, case):
    model, outside = hostile
    change, expected = CASES[case]
    document = json.loads((model / "model.json").read_text())
    change(document)
    text = json.dumps(document).replace("{outside}", str(outside))
    (model / "model.json").write_text(text)
    expected = expected.replace("{outside}", str(outside))
    for args in ((), ("--json",)):
        proc = inspect(model, *args)
        assert proc.returncode == 1 and proc.stdout == "", (args, proc.stdout)
        assert proc.stderr == f"hatch-tfjs: error: {model / 'model.json'}: {expected}; {RECONVERT}\n", proc.stderr
    with opened_files() as opened, pytest.raises(ModelDirError):
        describe_model_dir(model)
    assert [p for p in opened if not Path(p).resolve().is_relative_to(model.resolve())] == []


def test_inspect_names_a_broken_topology_without_python_class_names(hostile):
    model, _ = hostile
    document = json.loads((model / "model.json").read_text())
    document["modelTopology"]["model_config"]["config"]["layers"] = [5, "x"]
    (model / "model.json").write_text(json.dumps(document))
    proc = inspect(model)
    assert proc.returncode == 1 and proc.stderr == (
        f"hatch-tfjs: error: {model / 'model.json'}: its layers (model_config) topology is not in the form TF.js "
        "writes and reads; convert the model again\n"
    )
    document["modelTopology"] = []
    (model / "model.json").write_text(json.dumps(document))
    proc = inspect(model)
    assert proc.returncode == 1 and proc.stderr == (
        f"hatch-tfjs: error: {model / 'model.json'}: not a TF.js model.json (its modelTopology is list, not an object)\n"
    )


def test_inspect_does_not_count_a_linked_shard(hostile):
    model, outside = hostile
    shard = model / "group1-shard2of2.bin"
    (outside / "stolen.bin").write_bytes(shard.read_bytes())
    shard.unlink()
    shard.symlink_to(outside / "stolen.bin")
    proc = inspect(model)
    assert proc.returncode == 1
    assert "  problem: shard group1-shard2of2.bin is a symbolic link, not a file: servers refuse it; put the file there\n" in proc.stdout
    assert "    group1-shard2of2.bin  MISSING" in proc.stdout
