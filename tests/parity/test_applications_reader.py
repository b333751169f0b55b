"""The h5py reader reads every keras.applications family exactly as the Keras reader does.

One small member per family (``weights=None``, the smallest input each accepts, 10 classes), saved as ``.keras`` and
``.h5``. The weights the h5py reader takes from either file must be the Keras reader's (names, order, shapes, dtypes,
bytes), read from the ``.keras`` file: Keras itself cannot load some of these ``.h5`` files (MobileNetV3's ``x + 3.0``
op, unregistered custom layers), so the ``.keras`` reading is the oracle for both. These files are where the store
naming rules show: ops called on symbolic tensors (MobileNetV3's hard-swish) are in the config but not in the store.

Where a family uses a layer class with variables that ``read/layouts.py`` does not map yet, the reader names those
variables as stored; the test then expects a difference on exactly those layers and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hatch_tfjs.keras_names import MODEL_CLASSES
from hatch_tfjs.read import layouts
from hatch_tfjs.read.h5_reader import read_with_h5py
from hatch_tfjs.read.keras_tf import read_with_keras

FAMILIES: dict[str, tuple[str, tuple[int, int, int]]] = {
    "ConvNeXt": ("ConvNeXtTiny", (32, 32, 3)),
    "DenseNet": ("DenseNet121", (32, 32, 3)),
    "EfficientNet": ("EfficientNetB0", (32, 32, 3)),
    "EfficientNetV2": ("EfficientNetV2B0", (32, 32, 3)),
    "InceptionResNetV2": ("InceptionResNetV2", (75, 75, 3)),
    "InceptionV3": ("InceptionV3", (75, 75, 3)),
    "MobileNet": ("MobileNet", (32, 32, 3)),
    "MobileNetV2": ("MobileNetV2", (32, 32, 3)),
    "MobileNetV3Small": ("MobileNetV3Small", (32, 32, 3)),
    "MobileNetV3Large": ("MobileNetV3Large", (32, 32, 3)),
    "NASNetMobile": ("NASNetMobile", (32, 32, 3)),
    "ResNet": ("ResNet50", (32, 32, 3)),
    "ResNetV2": ("ResNet50V2", (32, 32, 3)),
    "VGG": ("VGG16", (32, 32, 3)),
    "Xception": ("Xception", (71, 71, 3)),
}


def _save(family: str, directory: Path) -> dict[str, Path]:
    import keras

    constructor, shape = FAMILIES[family]
    options: dict[str, Any] = {"weights": None, "input_shape": shape, "classes": 10}
    if constructor.startswith("MobileNetV3"):
        options["minimalistic"] = False
    model = getattr(keras.applications, constructor)(**options)
    paths = {suffix: directory / f"{constructor}{suffix}" for suffix in (".keras", ".h5")}
    for path in paths.values():
        model.save(path)
    return paths


def _unmapped_layers(config: dict[str, Any]) -> dict[str, str]:
    """Layer name -> class for the layers whose variables the table does not map (read as stored)."""
    found: dict[str, str] = {}
    for entry in config["config"]["layers"]:
        if entry["class_name"] in MODEL_CLASSES:
            found.update(_unmapped_layers(entry))
        elif not layouts.layer_layout(entry).known:
            found[entry["config"]["name"]] = entry["class_name"]
    return found


def _described(model) -> list[tuple[str, tuple[int, ...], str, bytes]]:
    return [(w.name, tuple(w.array.shape), str(w.array.dtype), w.array.tobytes()) for w in model.weights]


# Families quick enough for every run (the MobileNetV3 pair shows the op naming); the larger ones are marked slow.
QUICK = frozenset({"MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "EfficientNetV2"})


@pytest.mark.parametrize(
    "family", [name if name in QUICK else pytest.param(name, marks=pytest.mark.slow) for name in sorted(FAMILIES)]
)
def test_h5py_reader_reads_application_like_keras(family, tmp_path):
    paths = _save(family, tmp_path)
    oracle = _described(read_with_keras(paths[".keras"], model_name=family))
    unmapped = _unmapped_layers(read_with_h5py(paths[".keras"], model_name=family).config)
    differing: set[str] = set()
    for suffix, path in paths.items():
        ours = _described(read_with_h5py(path, model_name=family))
        assert len(ours) == len(oracle), suffix
        layers = {o[0].split("/")[0] for o, k in zip(ours, oracle) if o != k}
        assert layers <= set(unmapped), f"{suffix}: weights differ on mapped layers {sorted(layers - set(unmapped))}"
        assert all(o[1:] == k[1:] for o, k in zip(ours, oracle)), f"{suffix}: only the names of unmapped layers may differ"
        differing |= layers
    if differing:
        classes = sorted({unmapped[name] for name in differing})
        pytest.xfail(f"read/layouts.py does not map {', '.join(classes)} yet: their variables keep their stored names")
