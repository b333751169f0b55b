"""Every zoo model, converted from .keras and from .h5, loads in real TF.js 4.22 and matches Keras."""

from __future__ import annotations

import json

import pytest
import zoo as zoo_module
from helpers import assert_parity

from hatch_tfjs.config import ModelSpec
from hatch_tfjs.convert import convert_model
from hatch_tfjs.describe import describe_model_dir
from hatch_tfjs.ownership import STAMP_NAME


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("name", sorted(zoo_module.ZOO))
def test_zoo_model_matches_keras_in_tfjs(name, suffix, zoo, tfjs, tmp_path):
    case = zoo[name]
    source = case.keras_path if suffix == ".keras" else case.h5_path
    spec = ModelSpec(name=name, source=source, output=tmp_path / name, root=source.parent)

    result = convert_model(spec)

    got, answer = tfjs.run(spec.output, case.inputs)
    assert_parity(got, case.expected)
    document = json.loads((spec.output / "model.json").read_text())
    assert document["format"] == "layers-model"
    assert answer["info"]["weights"] == result.weight_count
    # The shapes index.json and inspect give: worked out from model.json alone, as Keras has them (batch: None).
    described = describe_model_dir(spec.output)
    assert [o["shape"] for o in described["outputs"]] == [[None, *e.shape[1:]] for e in case.expected]
    assert [i["shape"] for i in described["inputs"]] == [[None, *x.shape[1:]] for x in case.inputs]
    assert sorted(p.name for p in spec.output.iterdir()) == sorted([*result.files, STAMP_NAME])


def test_small_shards_span_weights_and_still_load(zoo, tfjs, tmp_path):
    case = zoo["multi_input_cnn"]
    spec = ModelSpec(name="cnn", source=case.keras_path, output=tmp_path / "cnn", root=tmp_path, shard_size=1000)

    convert_model(spec)

    manifest = json.loads((spec.output / "model.json").read_text())["weightsManifest"]
    sizes = [(spec.output / p).stat().st_size for p in manifest[0]["paths"]]
    assert len(sizes) > 3
    assert all(size == 1000 for size in sizes[:-1]) and 0 < sizes[-1] <= 1000
    got, _ = tfjs.run(spec.output, case.inputs)
    assert_parity(got, case.expected)


def test_legacy_keras2_h5_matches(tfjs, tmp_path):
    """An .h5 written by Keras 2 (tf_keras), the format older projects have on disk."""
    import numpy as np

    tf_keras = pytest.importorskip("tf_keras")
    inp = tf_keras.Input((6,))
    x = tf_keras.layers.Dense(5, activation="relu")(inp)
    x = tf_keras.layers.BatchNormalization()(x)
    out = tf_keras.layers.Dense(2, activation="softmax")(x)
    model = tf_keras.Model(inp, out)
    rng = np.random.default_rng(3)
    model.set_weights([(np.abs(v) + 0.5 if i == 5 else v).astype("float32") for i, v in enumerate(rng.normal(size=w.shape) for w in model.get_weights())])
    source = tmp_path / "legacy.h5"
    model.save(source)
    x_in = rng.normal(size=(4, 6)).astype("float32")
    expected = [model.predict(x_in, verbose=0)]

    spec = ModelSpec(name="legacy", source=source, output=tmp_path / "legacy", root=tmp_path)
    convert_model(spec)

    got, _ = tfjs.run(spec.output, [x_in])
    assert_parity(got, expected)
