"""Names of Keras classes and weights that both the readers and the translator go by, as data.

The readers check a model's config and place its weights with these; the translator maps the same names to TF.js.
Keeping them here, outside both stages, lets ``read/`` stay independent of ``translate/``. The layer classes are the
ones tfjs-layers 4.22 registers under Keras's own names (checked against ``@tensorflow/tfjs-layers@4.22.0``); the
renames are the Keras 3 spellings of the same classes and weights.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

LAYER_CLASSES = frozenset(
    {
        # core
        "InputLayer", "Dense", "Activation", "Dropout", "SpatialDropout1D", "Flatten", "Reshape", "Permute",
        "RepeatVector", "Masking", "Embedding",
        # convolution
        "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "Conv3DTranspose", "SeparableConv2D", "DepthwiseConv2D",
        "Cropping2D", "UpSampling2D", "ZeroPadding2D",
        # pooling
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
        # recurrent
        "SimpleRNN", "GRU", "LSTM", "SimpleRNNCell", "GRUCell", "LSTMCell", "RNN", "StackedRNNCells", "ConvLSTM2D",
        "Bidirectional", "TimeDistributed",
        # merge
        "Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply",
        # normalization
        "BatchNormalization", "LayerNormalization",
        # advanced activations
        "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax",
        # noise
        "GaussianNoise", "GaussianDropout", "AlphaDropout",
        # preprocessing
        "Rescaling", "CenterCrop", "Resizing", "CategoryEncoding",
    }
)  # fmt: skip
MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")  # Keras 3 archives, and HDF5 files of Keras 3 or Keras 2


def is_keras_file(path: Path) -> bool:
    """Whether ``path`` names a Keras model file (anything else a model's source names is a SavedModel directory)."""
    return path.suffix.lower() in KERAS_SUFFIXES and not path.is_dir()

# Modules whose classes are Keras Operations that are not Layers (what ``serialize_keras_object`` records as "module").
KERAS_OPERATION_MODULES = ("keras.src.ops.", "keras.src.quantizers.")


def is_operation(entry: dict[str, Any]) -> bool:
    """A Keras op called on symbolic tensors (``x + 3.0``, ``keras.ops.multiply``) rather than a layer: a functional
    config lists it among its layers (its class name may be a layer's: ``Add``, ``Reshape``), but Keras never stores
    it as one (``Functional.layers`` holds Layers only)."""
    module = entry.get("module")
    return isinstance(module, str) and module.startswith(KERAS_OPERATION_MODULES)


# RNN layers over a fixed sequence length are unrolled (no loop in TF.js, which runs that faster) up to this many
# steps; longer ones become a While loop, so converting them takes the same time and memory whatever their length.
MAX_UNROLLED_STEPS = 256


def looped_note(layers: list[str]) -> str:
    """The build's note for fixed-length RNN layers too long to unroll (``layers``: ``"name (N steps)"``)."""
    return (
        f"RNN layer(s) {', '.join(layers)} run as a While loop (executeAsync in TF.js): fixed lengths of more than "
        f"{MAX_UNROLLED_STEPS} steps are not unrolled"
    )

# Keras 3 aliases of pooling layers.
LAYER_RENAMES = {
    "MaxPool1D": "MaxPooling1D",
    "MaxPool2D": "MaxPooling2D",
    "MaxPool3D": "MaxPooling3D",
    "AvgPool1D": "AveragePooling1D",
    "AvgPool2D": "AveragePooling2D",
    "AvgPool3D": "AveragePooling3D",
    "GlobalMaxPool1D": "GlobalMaxPooling1D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "Convolution1D": "Conv1D",
    "Convolution2D": "Conv2D",
    "Convolution3D": "Conv3D",
}

# Keras 3 weight names that TF.js knows under another name, per layer class.
WEIGHT_RENAMES = {
    "DepthwiseConv2D": {"kernel": "depthwise_kernel"},
}


def snake_case(class_name: str) -> str:
    """The name Keras 3 derives from a class name: ``Conv2D`` -> ``conv2d``, ``HardSilu`` -> ``hard_silu``."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
