"""Models TF.js cannot run fail the conversion with every reason, and leave no output behind."""

from __future__ import annotations

import pytest

from hatch_tfjs.config import ModelSpec
from hatch_tfjs.convert import convert_model
from hatch_tfjs.errors import ModelReadError, UnsupportedModelError


@pytest.fixture(scope="module")
def unsupported_model_file(tmp_path_factory):
    import keras
    from keras import layers

    inp = keras.Input((6, 3), name="seq")
    x = layers.GRU(4, return_sequences=True, name="gru_default")(inp)  # reset_after=True by default in Keras 3
    x = layers.UpSampling1D(2, name="up")(x)
    x = layers.Flatten()(x)
    out = layers.Dense(2, activation="exponential", name="head")(x)
    path = tmp_path_factory.mktemp("unsupported") / "bad.keras"
    keras.Model(inp, out).save(path)
    return path


def test_unsupported_model_names_model_layers_and_fixes(unsupported_model_file, tmp_path):
    spec = ModelSpec(name="bad", source=unsupported_model_file, output=tmp_path / "out", root=unsupported_model_file.parent)
    with pytest.raises(UnsupportedModelError) as info:
        convert_model(spec)
    message = str(info.value)
    assert message.startswith("model 'bad' (bad.keras) cannot be converted to a TF.js layers model:")
    assert "layer 'gru_default' (GRU): uses reset_after=True (the Keras 3 default), which TF.js's GRU does not implement; build the GRU with reset_after=False" in message
    assert "layer 'up' (UpSampling1D): layer class 'UpSampling1D' does not exist in TF.js 4.22: reshape to 2D and use UpSampling2D" in message
    assert "layer 'head' (Dense): activation 'exponential' is not supported by TF.js: TF.js has no exponential activation" in message
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_conversion_keeps_the_previous_output(unsupported_model_file, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.json").write_text("previous")
    spec = ModelSpec(name="bad", source=unsupported_model_file, output=out, root=unsupported_model_file.parent)
    with pytest.raises(UnsupportedModelError):
        convert_model(spec)
    assert (out / "model.json").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_corrupt_source_is_a_clear_read_error(tmp_path):
    source = tmp_path / "broken.keras"
    source.write_bytes(b"this is not a zip file")
    spec = ModelSpec(name="broken", source=source, output=tmp_path / "out", root=tmp_path)
    with pytest.raises(ModelReadError) as info:
        convert_model(spec)
    assert "broken.keras" in str(info.value) and "broken" in str(info.value)
    assert not (tmp_path / "out").exists()
