"""Malformed and hostile model files: each one ends in one clear error naming the file and the model, through the
command line a user runs, with the source untouched and nothing written.

The cases are the ones measured to crash or misbehave before: configs that are not objects, layers that are not
objects, 200,000 nested arrays, declared shapes whose byte count overflows int64, byte-damaged .h5 files (h5py raised
KeyError/RuntimeError/OSError naming no file), an .h5 whose damage makes HDF5 itself loop forever, and a Dense(10**9)
config next to a tiny stored kernel, which Keras would try to allocate gigabytes for.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any, Callable

import h5py
import mutants
import numpy as np
import pytest
import zoo as zoo_module
from helpers import REPO

from hatch_tfjs.cli import main as cli_main
from hatch_tfjs.errors import ModelReadError
from hatch_tfjs.read import check_keras_file, h5_reader
from hatch_tfjs.read.h5_reader import read_with_h5py
from hatch_tfjs.read.keras_tf import read_with_keras

RESAVE = "re-save it with model.save('model.keras')"


@pytest.fixture(scope="module")
def mlp(tmp_path_factory) -> dict[str, Path]:
    """The zoo MLP (Sequential: InputLayer, Dense 'hidden' (8 -> 16), Dropout, Dense 'mid', Dense 'probs')."""
    directory = tmp_path_factory.mktemp("hostile")
    model = zoo_module.build(zoo_module.ZOO["mlp"])
    paths = {suffix: directory / f"mlp{suffix}" for suffix in (".keras", ".h5")}
    for path in paths.values():
        model.save(path)
    return paths


# --- helpers --------------------------------------------------------------------------------------------------------


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _keras_with(base: Path, target: Path, replaced: dict[str, bytes]) -> Path:
    """A copy of a .keras archive with some members' bytes replaced."""
    members = {**_members(base), **replaced}
    assert set(members) == set(_members(base))
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _config(base: Path) -> dict[str, Any]:
    return json.loads(_members(base)["config.json"])


def _edited_config(base: Path, target: Path, edit: Callable[[dict[str, Any]], Any]) -> Path:
    config = _config(base)
    config = edit(config) or config
    return _keras_with(base, target, {"config.json": json.dumps(config).encode()})


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def convert_refused(source: Path, tmp_path: Path, capsys, *options: str) -> str:
    """``hatch-tfjs convert [OPTIONS] SOURCE OUTDIR`` as a user runs it: exit code 1, one error line naming the file
    and the model, no traceback, the source byte for byte as before and nothing written. Returns the message."""
    before = _digest(source)
    parent = tmp_path / "output"
    parent.mkdir()
    capsys.readouterr()
    code = cli_main(["convert", *options, str(source), str(parent / "web")])
    captured = capsys.readouterr()
    message = captured.err
    assert code == 1, f"exit code {code}: {message}{captured.out}"
    assert message.startswith("hatch-tfjs: error: ") and message.count("hatch-tfjs: error:") == 1, message
    assert "Traceback" not in message and "internal error" not in message, message
    assert source.name in message and f"model '{source.stem}'" in message, message
    assert _digest(source) == before, "the source was modified"
    assert list(parent.iterdir()) == [], f"partial output left: {list(parent.iterdir())}"
    return message


# --- configs that are not what Keras writes --------------------------------------------------------------------------


def _nest_layers_in_list(config):
    config["config"]["layers"] = [1, "x"]


def _initializer_number(config):
    config["config"]["layers"][1]["config"]["kernel_initializer"] = 7


def _name_list(config):
    config["config"]["layers"][1]["config"]["name"] = ["hidden"]


def _input_shape_disagrees(config):
    config["config"]["layers"][0]["config"]["batch_shape"] = [None, 9]


def _stride_list_holds_a_list(config):
    config["config"]["layers"][1]["class_name"] = "Conv1D"
    config["config"]["layers"][1]["config"].update(filters=4, kernel_size=[3], strides=[[]])


CONFIG_CASES = {
    "config-is-a-list": (b"[1, 2]", "config.json is malformed: the model config is a JSON array, not an object"),
    "config-is-a-string": (b'"model"', "config.json is malformed: the model config is a JSON string, not an object"),
    "200000-nested-arrays": (mutants.DEEP_JSON, "config.json nests its JSON too deeply to be a model config"),
    "not-json": (b'{"class_name": "Sequential", ', "config.json is not valid JSON"),
}
EDIT_CASES = {
    "layers-not-objects": (_nest_layers_in_list, "config.json is malformed: layer #0 of model 'mlp' is a JSON number, not an object"),
    "initializer-number": (
        _initializer_number,
        "layer #1 of model 'mlp' ('hidden'): 'kernel_initializer' is a JSON number, not a name or an object",
    ),
    "name-not-string": (_name_list, "layer #1 of model 'mlp': 'name' is not a string"),
    # (the input's name comes from Keras's global name counter, so it is left out)
    "input-shape-disagrees": (_input_shape_disagrees, "has shape [None, 9], but layer 'hidden' records [None, 8]"),
    "stride-not-a-size": (_stride_list_holds_a_list, "'strides' is [[]], not a window size"),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_config_text_that_is_no_model_is_one_clear_error(case, mlp, tmp_path, capsys):
    text, expected = CONFIG_CASES[case]
    source = _keras_with(mlp[".keras"], tmp_path / f"{case}.keras", {"config.json": text})
    message = convert_refused(source, tmp_path, capsys)
    assert expected in message, message


@pytest.mark.parametrize("case", sorted(EDIT_CASES))
def test_config_structure_later_stages_rely_on_is_checked(case, mlp, tmp_path, capsys):
    edit, expected = EDIT_CASES[case]
    source = _edited_config(mlp[".keras"], tmp_path / f"{case}.keras", edit)
    message = convert_refused(source, tmp_path, capsys)
    assert expected in message and RESAVE in message, message


def test_legacy_model_config_nested_too_deeply(mlp, tmp_path, capsys):
    source = tmp_path / "deep.h5"
    source.write_bytes(mlp[".h5"].read_bytes())
    with h5py.File(source, "r+") as handle:
        handle.attrs["model_config"] = np.bytes_(mutants.DEEP_JSON[: mutants.MAX_ATTRIBUTE_BYTES])
    assert "model_config nests its JSON too deeply" in convert_refused(source, tmp_path, capsys)


# --- declared sizes ----------------------------------------------------------------------------------------------


def test_config_size_overflowing_int64_is_refused(mlp, tmp_path, capsys):
    """Dense(2**62) after 8 inputs: a kernel of 2**65 values, whose bytes overflow int64."""
    source = _edited_config(mlp[".keras"], tmp_path / "units.keras", lambda c: c["config"]["layers"][1]["config"].update(units=2**62))
    message = convert_refused(source, tmp_path, capsys)
    assert f"layer #1 of model 'mlp' ('hidden'): 'units' is {2**62}, not a size TF.js can hold" in message, message


def test_stored_shape_overflowing_int64_is_refused_before_allocating(tmp_path):
    """A layer outside the variable table (its variables are taken as stored) whose dataset declares a shape of 2**80
    values: refused from the HDF5 metadata, by the reader and by check_keras_file, before anything is allocated."""
    import keras

    model = keras.Sequential([keras.Input((6, 4)), keras.layers.GroupNormalization(groups=2)], name="grouped")
    base = tmp_path / "base.keras"
    model.save(base)
    weights = tmp_path / "store.h5"
    weights.write_bytes(_members(base)["model.weights.h5"])
    with h5py.File(weights, "r+") as store:
        del store["layers/group_normalization/vars/0"]
        store.create_dataset("layers/group_normalization/vars/0", shape=mutants.OVERFLOWING_SHAPE, dtype="float32", chunks=(1, 1))
    source = _keras_with(base, tmp_path / "overflow.keras", {"model.weights.h5": weights.read_bytes()})
    values = mutants.OVERFLOWING_SHAPE[0] * mutants.OVERFLOWING_SHAPE[1]
    expected = f"declares shape {mutants.OVERFLOWING_SHAPE} ({values * 4} bytes), more than the whole file holds"
    before = _digest(source)
    for check in (read_with_h5py, check_keras_file):
        with pytest.raises(ModelReadError) as info:
            check(source, model_name="overflow", display=source.name)
        assert str(info.value).startswith("overflow.keras: cannot read model 'overflow': ") and expected in str(info.value)
    assert _digest(source) == before


DENSE_BILLION = textwrap.dedent(
    """
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from pathlib import Path
    from hatch_tfjs.errors import ModelReadError
    from hatch_tfjs.read import check_keras_file
    for source in sys.argv[1:]:
        try:
            check_keras_file(Path(source), model_name="billion", display=Path(source).name)
            print("accepted")
        except ModelReadError as exc:
            print(exc)
        # VmHWM, not ru_maxrss: the latter keeps the peak of the forking parent across exec
        print(next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM")))
    """
)


@pytest.fixture(scope="module")
def dense_billion(mlp, tmp_path_factory) -> dict[str, Path]:
    """The MLP with 'hidden' declared Dense(10**9) (a 32 GB kernel) and its tiny stored weights, as .keras and .h5."""
    directory = tmp_path_factory.mktemp("billion")
    keras_file = _edited_config(mlp[".keras"], directory / "billion.keras", lambda c: c["config"]["layers"][1]["config"].update(units=10**9))
    h5_file = directory / "billion.h5"
    h5_file.write_bytes(mlp[".h5"].read_bytes())
    with h5py.File(h5_file, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        config["config"]["layers"][1]["config"]["units"] = 10**9
        handle.attrs["model_config"] = json.dumps(config)
    return {".keras": keras_file, ".h5": h5_file}


def test_check_keras_file_refuses_a_billion_unit_dense_in_bounded_memory(dense_billion):
    """What the graph route calls before Keras loads a file: refused under a 1 GiB address-space cap."""
    proc = subprocess.run(
        [sys.executable, "-c", DENSE_BILLION, *map(str, dense_billion.values())],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    for suffix, (message, peak) in zip(dense_billion, zip(lines[0::2], lines[1::2])):
        assert message.startswith(f"billion{suffix}: cannot read model 'billion': "), message
        assert "layer 'hidden' (Dense)" in message and "has shape (8, 16) but the config implies" in message, message
        assert "1000000000)" in message, message
        assert int(peak.split()[1]) < 256 * 1024, f"{suffix}: peak {peak}"


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_reader_checks_the_file_before_keras_allocates(suffix, dense_billion, tmp_path, capsys):
    source = dense_billion[suffix]
    before = _digest(source)
    with pytest.raises(ModelReadError) as info:
        read_with_keras(source, model_name="billion", display=source.name)
    message = str(info.value)
    assert message.startswith(f"{source.name}: cannot read model 'billion': layer 'hidden' (Dense)"), message
    assert "has shape (8, 16) but the config implies" in message and "1000000000)" in message, message
    assert _digest(source) == before
    assert "1000000000)" in convert_refused(source, tmp_path, capsys)


# --- damaged HDF5 ----------------------------------------------------------------------------------------------------


def test_byte_damaged_h5_files_fail_cleanly_naming_the_file(mlp, tmp_path, monkeypatch):
    """40 byte-level mutants of an .h5 (flips, truncations, zeroed ranges): each reads or fails with one
    ModelReadError naming the file and the model; h5py's own errors are among the causes. (A mutant that sends HDF5
    into an endless loop is given up on after 2 s instead of the default 30.)"""
    monkeypatch.setattr(h5_reader, "HDF5_PARSE_SECONDS", 2.0)
    made = mutants.make_mutants([mlp[".h5"]], tmp_path, per_base=40, seed=40, operators=tuple(mutants.BYTE_OPERATORS))
    causes = []
    for mutant in made:
        before = _digest(mutant.path)
        try:
            read_with_h5py(mutant.path, model_name="mlp", display=mutant.path.name)
        except ModelReadError as exc:
            message = str(exc)
            assert message.startswith(f"{mutant.path.name}: cannot read model 'mlp': "), message
            causes.append(message)  # (a trial in a fresh interpreter reports the cause in the text only)
        assert _digest(mutant.path) == before
    assert len(causes) >= 20, "most byte damage to a small .h5 is fatal"
    assert any("(KeyError: " in c or "(RuntimeError: " in c for c in causes), "h5py's KeyError/RuntimeError reach the user as ModelReadError"


def test_h5_whose_damage_makes_hdf5_loop_forever_is_refused(mlp, tmp_path, capsys, monkeypatch):
    """Zeroing the 200 bytes after the model_config attribute sends HDF5 into an endless loop inside one C call;
    the reader's trial parse in a child process is stopped at the deadline."""
    data = mlp[".h5"].read_bytes()
    end = data.index(b"\x00", data.index(b'{"class_name"'))
    source = tmp_path / "endless.h5"
    source.write_bytes(data[:end] + bytes(200) + data[end + 200 :])
    monkeypatch.setattr(h5_reader, "HDF5_PARSE_SECONDS", 2.0)
    message = convert_refused(source, tmp_path, capsys)
    assert "the HDF5 file is damaged: the HDF5 library found no end parsing it (2 s)" in message, message


def test_weight_names_attribute_of_numbers_is_refused(mlp, tmp_path, capsys):
    source = tmp_path / "names.h5"
    source.write_bytes(mlp[".h5"].read_bytes())
    with h5py.File(source, "r+") as handle:
        handle.attrs["model_config"] = np.arange(3)
    assert "model_config is a ndarray, not JSON text" in convert_refused(source, tmp_path, capsys)


def test_valid_sources_still_convert_through_the_same_command(mlp, tmp_path, capsys):
    """The checks refuse damage, not models: the originals convert, and check_keras_file accepts them."""
    for suffix, source in mlp.items():
        check_keras_file(source, model_name="mlp", display=source.name)
        out = tmp_path / suffix[1:]
        assert cli_main(["convert", str(source), str(out)]) == 0, capsys.readouterr().err
        assert (out / "model.json").is_file()


def test_damaged_keras_archive_member_is_named(mlp, tmp_path, capsys):
    """HDF5 damage inside the archive, where the zip checksum is recomputed and does not catch it."""
    weights = bytearray(_members(mlp[".keras"])["model.weights.h5"])
    weights[:512] = bytes(512)
    source = _keras_with(mlp[".keras"], tmp_path / "inner.keras", {"model.weights.h5": bytes(weights)})
    assert "model.weights.h5 inside the archive is damaged (OSError: " in convert_refused(source, tmp_path, capsys)


def test_check_keras_file_leaves_what_the_reader_cannot_map_to_keras(mlp, tmp_path):
    """A variable this reader does not know (a newer Keras?) makes the h5py reader refuse the file, but not
    check_keras_file, which hands the file to Keras; a wrong declared size in another layer is still caught."""
    weights = tmp_path / "store.h5"
    weights.write_bytes(_members(mlp[".keras"])["model.weights.h5"])
    with h5py.File(weights, "r+") as store:
        store["layers/dense/vars/2"] = np.zeros((16,), "float32")  # an unknown third variable of 'hidden'
    newer = _keras_with(mlp[".keras"], tmp_path / "newer.keras", {"model.weights.h5": weights.read_bytes()})
    with pytest.raises(ModelReadError, match="newer Keras"):
        read_with_h5py(newer, model_name="newer", display=newer.name)
    check_keras_file(newer, model_name="newer", display=newer.name)

    config = _config(newer)
    config["config"]["layers"][3]["config"]["units"] = 10**9  # 'mid', after the layer left to Keras
    both = _keras_with(newer, tmp_path / "both.keras", {"config.json": json.dumps(config).encode()})
    with pytest.raises(ModelReadError, match=r"layer 'mid' \(Dense\).*but the config implies \(16, 1000000000\)"):
        check_keras_file(both, model_name="both", display=both.name)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_transposed_window_larger_than_its_input_is_valid_and_converts(suffix, tmp_path, capsys, tfjs):
    """A transposed convolution grows its input, so a kernel larger than the input with 'valid' padding is a valid
    model (the window check is for shrinking windows only): it converts and matches Keras in TF.js."""
    import keras
    from helpers import assert_parity, keras_predict

    inputs = keras.Input((2, 2, 3))
    model = keras.Model(inputs, keras.layers.Conv2DTranspose(4, 5, strides=2, padding="valid", name="up")(inputs))
    source = tmp_path / f"up{suffix}"
    model.save(source)
    out = tmp_path / "out"
    assert cli_main(["convert", str(source), str(out)]) == 0, capsys.readouterr().err
    x = np.random.default_rng(3).normal(size=(2, 2, 2, 3)).astype("float32")
    got, _ = tfjs.run(out, [x], format=json.loads((out / "model.json").read_text())["format"].split("-")[0])
    assert_parity(got, keras_predict(model, [x]))
