"""The TF-free reader (h5py + numpy) against the TF-based reader (Keras itself), real TF.js, and hostile files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import zoo as zoo_module
from helpers import REPO, assert_parity

from hatch_tfjs.config import ModelSpec, load_settings, options_from_table, spec_from_json, spec_to_json
from hatch_tfjs.convert import convert_model
from hatch_tfjs.errors import ConfigError, ModelReadError, UnsupportedModelError
from hatch_tfjs.route import needs_tensorflow
from hatch_tfjs.read.h5_reader import read_with_h5py
from hatch_tfjs.read.keras_tf import read_with_keras
from hatch_tfjs.translate import translate_model_config


def _translated(model) -> dict:
    translation = translate_model_config(model.config)
    # JSON is what gets written; Keras hands tuples where a file holds lists.
    return {"model_config": json.loads(json.dumps(translation.model_config)), "problems": translation.problems}


def _assert_same_weights(got, expected) -> None:
    assert [w.name for w in got.weights] == [w.name for w in expected.weights]
    for g, e in zip(got.weights, expected.weights):
        assert g.array.shape == e.array.shape, g.name
        assert g.array.dtype == e.array.dtype, g.name
        assert g.array.tobytes() == e.array.tobytes(), f"{g.name}: bytes differ"


# --- the zoo: Keras 3 .keras and .h5 ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("name", sorted(zoo_module.ZOO))
def test_zoo_h5py_reader_equals_keras_reader(name, suffix, zoo):
    case = zoo[name]
    source = case.keras_path if suffix == ".keras" else case.h5_path

    ours = read_with_h5py(source, model_name=name)
    oracle = read_with_keras(source, model_name=name)

    assert ours.weights, "every zoo model has weights"
    _assert_same_weights(ours, oracle)
    assert _translated(ours) == _translated(oracle)
    assert _translated(ours)["problems"] == []


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("name", sorted(zoo_module.ZOO))
def test_zoo_outputs_identical_across_readers_and_run_in_tfjs(name, suffix, zoo, tfjs, tmp_path):
    case = zoo[name]
    source = case.keras_path if suffix == ".keras" else case.h5_path
    outputs = {}
    for reader in ("h5py", "keras"):
        spec = ModelSpec(name=name, source=source, output=tmp_path / reader, root=tmp_path, options=options_from_table({"reader": reader}, "layers"))
        result = convert_model(spec)
        outputs[reader] = {f: (spec.output / f).read_bytes() for f in result.files}

    h5py_doc = json.loads(outputs["h5py"].pop("model.json"))
    keras_doc = json.loads(outputs["keras"].pop("model.json"))
    assert h5py_doc["modelTopology"] == keras_doc["modelTopology"]
    assert h5py_doc["weightsManifest"] == keras_doc["weightsManifest"]
    assert outputs["h5py"] == outputs["keras"], "shards differ between readers"

    got, _ = tfjs.run(tmp_path / "h5py", case.inputs)
    assert_parity(got, case.expected)


# --- Keras 2 (tf_keras) .h5 ---------------------------------------------------------------------------------------

# Keys one Keras version writes and the other does not; TF.js ignores them or treats absence and default alike.
VERSION_SPECIFIC_KEYS = frozenset(
    {
        "input_axes", "output_axes", "renorm", "renorm_clipping", "renorm_momentum", "synchronized",
        "activity_regularizer", "input_length", "batch_input_shape", "time_major", "groups", "optional", "ragged",
    }
)  # fmt: skip


def _assert_equivalent(ours, oracle, path="model_config"):
    """Equal, except keys only one side has, which must be version-specific ones."""
    if isinstance(ours, dict) and isinstance(oracle, dict):
        for key in set(ours) ^ set(oracle):
            side = "Keras 2 file" if key in ours else "Keras 3 re-serialisation"
            assert key in VERSION_SPECIFIC_KEYS, f"{path}.{key} only in the {side}"
        for key in set(ours) & set(oracle):
            _assert_equivalent(ours[key], oracle[key], f"{path}.{key}")
    elif isinstance(ours, list) and isinstance(oracle, list):
        assert len(ours) == len(oracle), f"{path}: {len(ours)} != {len(oracle)} items"
        for index, (a, b) in enumerate(zip(ours, oracle)):
            _assert_equivalent(a, b, f"{path}[{index}]")
    else:
        assert ours == oracle, f"{path}: {ours!r} != {oracle!r}"


def _keras2_models():
    """tf_keras models; the first ones Keras 3 can load (so the TF-based reader is an oracle), the others only
    tf_keras itself can run (Keras 3 rejects their configs: time_major, groups on separable convolutions)."""
    tf_keras = pytest.importorskip("tf_keras")
    layers = tf_keras.layers

    def dense_bn_nested():
        inp = tf_keras.Input((10, 10, 3))
        x = layers.Conv2D(4, 3, padding="same", use_bias=False)(inp)
        x = layers.BatchNormalization(scale=False)(x)
        x = layers.Conv2D(5, 3, activation="relu")(x)
        x = layers.PReLU(shared_axes=[1, 2])(x)
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.LayerNormalization(center=False)(x)
        inner_in = tf_keras.Input((5,))
        frozen = layers.Dense(4)
        inner = tf_keras.Model(inner_in, layers.Dense(3)(frozen(layers.BatchNormalization()(inner_in))), name="inner")
        frozen.trainable = False  # legacy .h5 order: BatchNormalization's gamma/beta, Dense(3), then the rest
        return tf_keras.Model(inp, inner(layers.Dense(5)(x)), name="k2_cnn")

    def embedding_seq():
        return tf_keras.Sequential(
            [layers.Embedding(20, 6, input_length=5), layers.Flatten(), layers.Dense(4, activation="tanh"), layers.Dense(2)],
            name="k2_seq",
        )

    def recurrent():
        inp = tf_keras.Input((7, 5))
        x = layers.LSTM(6, return_sequences=True)(inp)
        x = layers.GRU(4, return_sequences=True, reset_after=False)(x)
        x = layers.Bidirectional(layers.LSTM(3, return_sequences=True))(x)
        x = layers.TimeDistributed(layers.Dense(3))(x)
        x = layers.SimpleRNN(2)(x)
        return tf_keras.Model(inp, x, name="k2_rnn")

    def separable():
        inp = tf_keras.Input((9, 9, 2))
        x = layers.DepthwiseConv2D(3, depth_multiplier=2)(inp)
        x = layers.SeparableConv2D(4, 3, depth_multiplier=2, activation="relu")(x)
        x = layers.Flatten()(x)
        return tf_keras.Model(inp, layers.Dense(2)(x), name="k2_separable")

    return {"k2_cnn": (dense_bn_nested, ((10, 10, 3),), True), "k2_seq": (embedding_seq, ((5,),), True),
            "k2_rnn": (recurrent, ((7, 5),), False), "k2_separable": (separable, ((9, 9, 2),), False)}  # fmt: skip


@pytest.fixture(scope="module")
def keras2_zoo(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keras2")
    cases = {}
    for name, (build, shapes, keras3_loads) in _keras2_models().items():
        model = build()
        rng = np.random.default_rng(7)
        values = []
        for weight in model.weights:
            value = rng.normal(0.0, 0.4, size=weight.shape)
            if "moving_variance" in weight.name:
                value = np.abs(value) + 0.5
            values.append(value.astype("float32"))
        model.set_weights(values)
        path = directory / f"{name}.h5"
        model.save(path)
        inputs = [
            rng.integers(0, 20, size=(3, *s)).astype("int32") if name == "k2_seq" else rng.normal(size=(3, *s)).astype("float32")
            for s in shapes
        ]
        cases[name] = (path, inputs, [np.asarray(model.predict(inputs[0], verbose=0))], keras3_loads)
    return cases


@pytest.mark.parametrize("name", ["k2_cnn", "k2_seq"])
def test_keras2_h5_equals_keras_reader(name, keras2_zoo):
    path, _, _, keras3_loads = keras2_zoo[name]
    assert keras3_loads
    ours = read_with_h5py(path, model_name=name)
    oracle = read_with_keras(path, model_name=name)

    _assert_same_weights(ours, oracle)
    assert ours.keras_version.startswith("2."), "the stored Keras 2 config is what the h5py reader hands on"
    ours_t, oracle_t = _translated(ours), _translated(oracle)
    assert ours_t["problems"] == oracle_t["problems"] == []
    _assert_equivalent(ours_t["model_config"], oracle_t["model_config"])


@pytest.mark.parametrize("name", ["k2_cnn", "k2_seq", "k2_rnn", "k2_separable"])
def test_keras2_h5_runs_in_tfjs_like_tf_keras(name, keras2_zoo, tfjs, tmp_path):
    path, inputs, expected, _ = keras2_zoo[name]
    spec = ModelSpec(name=name, source=path, output=tmp_path / name, root=tmp_path)

    result = convert_model(spec)

    got, answer = tfjs.run(spec.output, inputs)
    assert_parity(got, expected)
    assert answer["info"]["weights"] == result.weight_count


# --- hostile and broken files -------------------------------------------------------------------------------------


def _rewrite_keras(source: Path, target: Path, edit_store=None, extra_entries=()) -> Path:
    """Copy a .keras archive, letting ``edit_store(h5py.File)`` change its weights and adding raw entries."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if edit_store is not None:
        weights = target.with_suffix(".weights.h5")
        weights.write_bytes(members["model.weights.h5"])
        with h5py.File(weights, "r+") as store:
            edit_store(store)
        members["model.weights.h5"] = weights.read_bytes()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, data in extra_entries:
            archive.writestr(zipfile.ZipInfo(name), data)
    return target


def _read_error(path: Path, name: str = "mlp") -> str:
    with pytest.raises(ModelReadError) as info:
        read_with_h5py(path, model_name=name, display=path.name)
    message = str(info.value)
    assert path.name in message and f"'{name}'" in message
    return message


@pytest.mark.parametrize("entry", ["../escape.txt", "/etc/escape.txt", "assets/../../escape.txt"])
def test_zip_entry_with_unsafe_path_is_refused(entry, zoo, tmp_path):
    path = _rewrite_keras(zoo["mlp"].keras_path, tmp_path / "evil.keras", extra_entries=[(entry, b"x")])
    assert "unsafe path" in _read_error(path)
    assert not (tmp_path.parent / "escape.txt").exists()


def test_zip_bomb_declared_size_is_refused_before_decompressing(zoo, tmp_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(zoo["mlp"].keras_path) as archive, zipfile.ZipFile(path, "w") as out:
        for name in archive.namelist():
            out.writestr(name, archive.read(name), compress_type=zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    # Declare 3.9 GB for model.weights.h5 in the central directory (what zipfile and the reader trust).
    central = data.index(b"PK\x01\x02")
    name = b"model.weights.h5"
    while True:
        name_len = int.from_bytes(data[central + 28 : central + 30], "little")
        if data[central + 46 : central + 46 + name_len] == name:
            break
        extra = int.from_bytes(data[central + 30 : central + 32], "little")
        comment = int.from_bytes(data[central + 32 : central + 34], "little")
        central += 46 + name_len + extra + comment
    data[central + 24 : central + 28] = (0xE8000000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert "zip bomb" in _read_error(path)


def test_deflated_archive_still_reads(zoo, tmp_path):
    path = tmp_path / "deflated.keras"
    with zipfile.ZipFile(zoo["recurrent"].keras_path) as archive, zipfile.ZipFile(path, "w") as out:
        for name in archive.namelist():
            out.writestr(name, archive.read(name), compress_type=zipfile.ZIP_DEFLATED)
    _assert_same_weights(read_with_h5py(path, model_name="r"), read_with_h5py(zoo["recurrent"].keras_path, model_name="r"))


def test_damaged_weights_fail_their_checksum(zoo, tmp_path):
    data = bytearray(zoo["mlp"].keras_path.read_bytes())
    with zipfile.ZipFile(zoo["mlp"].keras_path) as archive:
        info = archive.getinfo("model.weights.h5")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size - 100
    data[offset] ^= 0xFF
    path = tmp_path / "damaged.keras"
    path.write_bytes(bytes(data))
    assert "checksum" in _read_error(path)


def test_dataset_shape_disagreeing_with_config_is_refused(zoo, tmp_path):
    def edit(store):
        del store["layers/dense_1/vars/0"]  # layer 'mid': Dense(8) after Dense(16): kernel (16, 8)
        store["layers/dense_1/vars/0"] = np.zeros((16, 9), "float32")

    message = _read_error(_rewrite_keras(zoo["mlp"].keras_path, tmp_path / "shape.keras", edit))
    assert "layer 'mid' (Dense)" in message and "'kernel'" in message and "(16, 9)" in message


def test_input_dimension_is_checked_across_variables(zoo, tmp_path):
    """A kernel whose input size contradicts the layer's recorded input shape is refused too."""

    def edit(store):
        del store["layers/dense/vars/0"]  # 'hidden': Dense(16) on 8 inputs
        store["layers/dense/vars/0"] = np.zeros((9, 16), "float32")

    message = _read_error(_rewrite_keras(zoo["mlp"].keras_path, tmp_path / "input.keras", edit))
    assert "layer 'hidden' (Dense)" in message and "(8, 16)" in message


def test_missing_variable_is_refused(zoo, tmp_path):
    message = _read_error(
        _rewrite_keras(zoo["mlp"].keras_path, tmp_path / "missing.keras", lambda s: s.__delitem__("layers/dense_2/vars/1"))
    )
    assert "layer 'probs' (Dense)" in message and "'bias' is missing" in message


def test_unknown_variables_from_a_newer_keras_are_refused(zoo, tmp_path):
    def edit(store):
        store["layers/dense/vars/2"] = np.zeros((16,), "float32")

    message = _read_error(_rewrite_keras(zoo["mlp"].keras_path, tmp_path / "newer.keras", edit))
    assert "layer 'hidden' (Dense)" in message and "newer Keras" in message and 'reader = "keras"' in message


def test_unknown_store_layout_is_refused(zoo, tmp_path):
    """Groups moved around (a different naming scheme): the recorded layer names give it away."""

    def edit(store):
        store.move("layers/dense", "layers/tmp")
        store.move("layers/dense_1", "layers/dense")
        store.move("layers/tmp", "layers/dense_1")

    message = _read_error(_rewrite_keras(zoo["mlp"].keras_path, tmp_path / "layout.keras", edit))
    assert "store layout" in message and "'hidden'" in message


def test_compressed_dataset_is_refused(zoo, tmp_path):
    def edit(store):
        values = store["layers/dense/vars/0"][()]
        del store["layers/dense/vars/0"]
        store.create_dataset("layers/dense/vars/0", data=values, compression="gzip")

    assert "compressed or sparse" in _read_error(_rewrite_keras(zoo["mlp"].keras_path, tmp_path / "gzip.keras", edit))


def test_legacy_h5_shape_mismatch_and_external_link_are_refused(zoo, tmp_path):
    shape = tmp_path / "shape.h5"
    shutil.copy(zoo["mlp"].h5_path, shape)
    with h5py.File(shape, "r+") as handle:
        del handle["model_weights/probs/mlp/probs/kernel"]
        handle["model_weights/probs/mlp/probs/kernel"] = np.zeros((8, 4), "float32")
    message = _read_error(shape)
    assert "layer 'probs' (Dense)" in message and "(8, 4)" in message

    linked = tmp_path / "linked.h5"
    shutil.copy(zoo["mlp"].h5_path, linked)
    with h5py.File(linked, "r+") as handle:
        del handle["model_weights/probs/mlp/probs/kernel"]
        handle["model_weights/probs/mlp/probs/kernel"] = h5py.ExternalLink(str(shape), "/model_weights/probs/mlp/probs/kernel")
    assert "ExternalLink" in _read_error(linked)


def test_legacy_h5_weight_count_mismatch_is_refused(zoo, tmp_path):
    path = tmp_path / "count.h5"
    shutil.copy(zoo["mlp"].h5_path, path)
    with h5py.File(path, "r+") as handle:
        handle["model_weights/hidden"].attrs["weight_names"] = [b"mlp/hidden/kernel"]
    message = _read_error(path)
    assert "layer 'hidden' (Dense)" in message and "lists 1 weights" in message


def test_weights_only_h5_and_garbage_are_refused(tmp_path):
    weights_only = tmp_path / "weights.h5"
    with h5py.File(weights_only, "w") as handle:
        handle.create_group("dense")
    assert "weights only" in _read_error(weights_only)
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a model at all")
    assert "neither" in _read_error(garbage)


def test_unsupported_classes_are_still_reported_all_at_once(tmp_path):
    """A class TF.js lacks, with variables of its own, gets to the translator, which lists every problem."""
    import keras
    from keras import layers

    inp = keras.Input((6, 4))
    x = layers.GroupNormalization(groups=2)(inp)
    x = layers.Dense(3, activation="exponential")(x)
    model = keras.Model(inp, layers.Conv1DTranspose(2, 2)(x))
    for suffix in (".keras", ".h5"):
        source = tmp_path / f"unsupported{suffix}"
        model.save(source)
        spec = ModelSpec(name="unsupported", source=source, output=tmp_path / f"out{suffix}", root=tmp_path)
        with pytest.raises(UnsupportedModelError) as info:
            convert_model(spec)
        message = str(info.value)
        assert "GroupNormalization" in message and "exponential" in message and "Conv1DTranspose" in message


# --- configuration -------------------------------------------------------------------------------------------------


def test_reader_option_is_validated_and_decides_whether_tensorflow_is_needed(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "m.keras").write_bytes(b"PK")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path, {"reader": "tf", "models": {"m": {"source": "m.keras", "reader": 1}}}, wheel_packages=["pkg"])
    assert "tool.hatch.build.hooks.tfjs.reader: unknown reader 'tf'" in str(info.value)
    assert "tool.hatch.build.hooks.tfjs.models.m.reader" in str(info.value)

    settings = load_settings(
        tmp_path,
        # format = "layers": with "auto" only reading the file tells (tested in test_routing.py)
        {"models": {"a": {"source": "m.keras", "format": "layers"}, "b": {"source": "m.keras", "reader": "keras", "output": "pkg/b"}}},
        wheel_packages=["pkg"],
    )
    by_name = {spec.name: spec for spec in settings.models}
    assert (by_name["a"].reader, needs_tensorflow(by_name["a"])) == ("h5py", False)
    assert (by_name["b"].reader, needs_tensorflow(by_name["b"])) == ("keras", True)
    assert spec_from_json(spec_to_json(by_name["b"])).reader == "keras"
    hook_default = load_settings(tmp_path, {"reader": "keras", "models": {"a": {"source": "m.keras"}}}, wheel_packages=["pkg"])
    assert needs_tensorflow(hook_default.models[0])


# --- no TensorFlow at all -----------------------------------------------------------------------------------------

BLOCKED = ("tensorflow", "keras", "tf_keras", "tensorboard", "jax", "torch")

CONVERT_WITHOUT_TENSORFLOW = textwrap.dedent(
    """
    import importlib.abc, json, sys
    from pathlib import Path

    BLOCKED = {blocked!r}

    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} is blocked in this test")
            return None

    sys.meta_path.insert(0, Blocker())

    from hatch_tfjs.config import ModelSpec, options_from_table
    from hatch_tfjs.convert import convert_model
    from hatch_tfjs.errors import ModelReadError
    
    jobs = json.loads(sys.argv[1])
    results = {{}}
    for name, source, output in jobs:
        spec = ModelSpec(name=name, source=Path(source), output=Path(output), root=Path(output).parent)
        results[name] = convert_model(spec).weight_count
    try:
        convert_model(ModelSpec(name="fallback", source=Path(jobs[0][1]), output=Path(jobs[0][2] + "-keras"),
                                root=Path(jobs[0][2]).parent, options=options_from_table({{"reader": "keras"}}, "layers")))
        results["fallback"] = "converted"
    except ModelReadError as exc:
        results["fallback"] = str(exc)
    results["loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print(json.dumps(results))
    """
)


def test_conversion_with_tensorflow_and_keras_unimportable(zoo, tfjs, tmp_path):
    chosen = [(n, s) for n in ("recurrent", "shared_nested", "layer_options") for s in (".keras", ".h5")]
    jobs = [
        (f"{name}{suffix.replace('.', '_')}", str(zoo[name].keras_path if suffix == ".keras" else zoo[name].h5_path), str(tmp_path / f"{name}{suffix}"))
        for name, suffix in chosen
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", CONVERT_WITHOUT_TENSORFLOW.format(blocked=BLOCKED), json.dumps(jobs)],
        capture_output=True, text=True, cwd=REPO, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results["loaded"] == []
    assert "TensorFlow" in results["fallback"] and "pip install" in results["fallback"]

    for (name, _), (key, _, output) in zip(chosen, jobs):
        got, answer = tfjs.run(Path(output), zoo[name].inputs)
        assert_parity(got, zoo[name].expected)
        assert answer["info"]["weights"] == results[key]


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_large_weights_are_memory_mapped_and_identical(suffix, tmp_path, tfjs):
    """Contiguous datasets of a file on disk are mapped, not copied: same bytes as Keras, and the model runs."""
    import keras

    inp = keras.Input((300,))
    model = keras.Model(inp, keras.layers.Dense(7)(keras.layers.Dense(200, activation="relu", name="big")(inp)))
    source = tmp_path / f"big{suffix}"
    model.save(source)
    mapped = read_with_h5py(source, model_name="big")
    oracle = read_with_keras(source, model_name="big")
    kernels = [w for w in mapped.weights if w.name == "big/kernel"]
    assert len(kernels) == 1 and isinstance(kernels[0].array, np.memmap)
    assert [(w.name, w.array.tobytes()) for w in mapped.weights] == [(w.name, w.array.tobytes()) for w in oracle.weights]

    spec = ModelSpec(name="big", source=source, output=tmp_path / "out", root=tmp_path)
    convert_model(spec)
    x = np.random.default_rng(0).normal(size=(2, 300)).astype("float32")
    got, _ = tfjs.run(spec.output, [x])
    assert_parity(got, [model.predict(x, verbose=0)])
