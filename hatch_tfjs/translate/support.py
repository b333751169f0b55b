"""What tfjs-layers 4.22 can deserialize and compute like Keras, as data.

Class names are the ones TF.js registers (checked against ``@tensorflow/tfjs-layers@4.22.0``); where Keras 3 uses
another name for the same thing, ``*_RENAMES`` maps it (the layer and weight tables the readers share are in
:mod:`hatch_tfjs.keras_names`). Also here: what TF.js registers but computes differently or
cannot run (``TFJS_IGNORED_KEYS``, ``TFJS_BROKEN``, the mask tables), and the tables the rewrites of Keras 3
constructs TF.js lacks work from (see rewrites.py). Every entry was checked by running Keras and TF.js side by side.
"""

from __future__ import annotations

from hatch_tfjs.keras_names import LAYER_CLASSES, LAYER_RENAMES, MODEL_CLASSES, WEIGHT_RENAMES, snake_case

# Keras's own class and weight names live in keras_names.py, where the readers find them too; the translator reads
# them through this module with the rest of its tables.
__all__ = ["LAYER_CLASSES", "LAYER_RENAMES", "MODEL_CLASSES", "WEIGHT_RENAMES", "snake_case"]

# What to suggest for common layers TF.js does not have.
LAYER_HINTS = {
    "Lambda": 'replace the Lambda with built-in layers (or use format = "graph")',
    "TFOpLambda": "replace the raw TensorFlow op with a built-in layer",
    "MultiHeadAttention": "attention layers only run as TF.js graph models",
    "Attention": "attention layers only run as TF.js graph models",
    "GroupNormalization": "use LayerNormalization or BatchNormalization",
    "UpSampling1D": "reshape to 2D and use UpSampling2D",
    "Conv1DTranspose": "reshape to 2D and use Conv2DTranspose",
    "SeparableConv1D": "use Conv1D, or reshape to 2D and use SeparableConv2D",
    "RandomCrop": "Keras versions differ on what RandomCrop does at inference (crop or pass through); remove it from "
    "the exported model or use CenterCrop",
    "AutoContrast": "AutoContrast rescales every image at inference too; TF.js has no such layer",
}

INITIALIZER_CLASSES = frozenset(
    {
        "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "TruncatedNormal", "Identity",
        "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LeCunNormal", "LeCunUniform",
        "Orthogonal",
    }
)  # fmt: skip
INITIALIZER_RENAMES = {
    "OrthogonalInitializer": "Orthogonal",
    "IdentityInitializer": "Identity",
    "ZerosInitializer": "Zeros",
    "OnesInitializer": "Ones",
    "ConstantInitializer": "Constant",
    "LecunNormal": "LeCunNormal",
    "LecunUniform": "LeCunUniform",
}
INITIALIZER_STRINGS = {
    "zeros": "Zeros",
    "ones": "Ones",
    "glorot_uniform": "GlorotUniform",
    "glorot_normal": "GlorotNormal",
    "he_normal": "HeNormal",
    "he_uniform": "HeUniform",
    "lecun_normal": "LeCunNormal",
    "lecun_uniform": "LeCunUniform",
    "orthogonal": "Orthogonal",
    "identity": "Identity",
    "random_normal": "RandomNormal",
    "random_uniform": "RandomUniform",
    "truncated_normal": "TruncatedNormal",
}

CONSTRAINT_CLASSES = frozenset({"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"})
CONSTRAINT_STRINGS = {"max_norm": "MaxNorm", "min_max_norm": "MinMaxNorm", "non_neg": "NonNeg", "unit_norm": "UnitNorm"}

# Activation names TF.js knows, mapped from the Keras 3 name. Only functions with the same numerics in both are here.
ACTIVATIONS = {
    "linear": "linear",
    "relu": "relu",
    "relu6": "relu6",
    "elu": "elu",
    "selu": "selu",
    "sigmoid": "sigmoid",
    "softmax": "softmax",
    "softplus": "softplus",
    "softsign": "softsign",
    "tanh": "tanh",
    "swish": "swish",
    "silu": "swish",
    "mish": "mish",
    "gelu": "gelu",
    "log_softmax": "log_softmax",
}
# Activations Keras 2 defines as TF.js does: Keras 2's hard_sigmoid is clip(0.2 * x + 0.5, 0, 1), like TF.js's (Keras 3
# changed it to relu6(x + 3) / 6, built from layers instead; see rewrites.py). Old Keras 2 LSTM/GRU use it by default.
KERAS2_ACTIVATIONS = {"hard_sigmoid": "hard_sigmoid"}
ACTIVATION_HINTS = {
    "hard_sigmoid": "Keras 3 defines hard_sigmoid as relu6(x + 3) / 6 and TF.js as clip(0.2 * x + 0.5, 0, 1); they "
    "differ",
    "leaky_relu": "use a LeakyReLU layer instead of the leaky_relu activation",
    "exponential": "TF.js has no exponential activation",
}

# Keras 3 activations TF.js lacks (or defines differently) that the translation builds from layers TF.js has.
HARD_ACTIVATIONS = frozenset({"hard_sigmoid", "hard_silu", "hard_swish"})

# Layers whose ``activation`` is applied to their output (so it can follow them as separate layers).
OUTPUT_ACTIVATION_LAYERS = frozenset(
    {"Dense", "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "Conv3DTranspose", "SeparableConv2D", "DepthwiseConv2D"}
)

# Layers that return their input unchanged at inference (checked against Keras 3: output == input, training=False).
# Data augmentation, noise and regularisation layers: removed from the TF.js model with a note.
IDENTITY_AT_INFERENCE = frozenset(
    {
        "Identity", "ActivityRegularization", "SpatialDropout2D", "SpatialDropout3D",
        "RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast", "RandomTranslation", "RandomBrightness",
        "RandomShear", "RandomHue", "RandomSaturation", "RandomGrayscale", "RandomColorJitter", "RandomPerspective",
        "RandomSharpness", "RandomInvert", "RandomPosterization", "RandomColorDegeneration", "RandomErasing",
        "RandomGaussianBlur", "RandomElasticTransform", "Solarization", "MixUp", "CutMix", "AugMix", "RandAugment",
    }
)  # fmt: skip

# Layers that use an Embedding(mask_zero=True) mask the same way in Keras and TF.js (masked steps skipped), and layers
# that both hand a mask on unchanged (recurrent layers too, when they return sequences).
MASK_CONSUMERS = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional"})
MASK_PASS_THROUGH = frozenset(
    {
        "Dropout", "SpatialDropout1D", "Dense", "Activation", "BatchNormalization", "LayerNormalization", "ReLU",
        "PReLU", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    }
)  # fmt: skip

# keras.applications layers the translation rewrites: class -> (their module, their own config keys).
APPLICATION_LAYERS = {
    "LayerScale": ("keras.src.applications.convnext", frozenset({"init_values", "projection_dim"})),
    "CustomScaleLayer": ("keras.src.applications.inception_resnet_v2", frozenset({"scale"})),
}

# Classes TF.js 4.22 registers but cannot run in a loaded layers model: what goes wrong there.
TFJS_BROKEN = {
    # Resizing.call hands its input list to resizeBilinear/resizeNearestNeighbor without unpacking it.
    "Resizing": 'TF.js 4.22\'s Resizing fails when run in a loaded model ("x must be rank 3 or 4, but got rank 1"); '
    'resize the images before the model, or use format = "graph"',
    # CenterCrop.computeOutputShape overwrites its input's shape, so the model's input check then rejects every input.
    # Same computeOutputShape defect as CenterCrop.
    "CategoryEncoding": "TF.js 4.22's CategoryEncoding corrupts the model's input shape when it builds; encode the "
    'categories before the model, or use format = "graph"',
    "CenterCrop": "TF.js 4.22's CenterCrop corrupts the model's input shape when it builds; crop to a size no larger "
    'than the input (it is then rewritten as Cropping2D), or use format = "graph"',
}

# For configs without shapes (Keras 2): the key that sets a layer's output channels, and the layers that keep their
# input's (channels_last).
SETS_CHANNELS = {
    "Conv1D": "filters", "Conv2D": "filters", "Conv3D": "filters", "Conv2DTranspose": "filters",
    "Conv3DTranspose": "filters", "SeparableConv2D": "filters", "Dense": "units",
}  # fmt: skip
KEEPS_CHANNELS = frozenset(
    {
        "BatchNormalization", "LayerNormalization", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
        "Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Rescaling",
        "ZeroPadding2D", "Cropping2D", "UpSampling2D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
        "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "Add", "Multiply", "Average", "Maximum", "Minimum",
        *IDENTITY_AT_INFERENCE,
    }
)  # fmt: skip

# Keras's backend epsilon, which Normalization uses as the smallest standard deviation.
KERAS_EPSILON = 1e-7

# keras.ops calls (by their snake_case name) that have an exact TF.js layer form.
BINARY_OPS = frozenset({"add", "subtract", "multiply", "divide", "true_divide", "maximum", "minimum"})
BINARY_OP_LAYERS = {"add": "Add", "multiply": "Multiply", "maximum": "Maximum", "minimum": "Minimum"}
ACTIVATION_OPS = {
    "relu": "relu", "relu6": "relu6", "sigmoid": "sigmoid", "tanh": "tanh", "silu": "swish", "swish": "swish",
    "softplus": "softplus", "softsign": "softsign", "selu": "selu", "elu": "elu",
}  # fmt: skip
# Conv2D config keys a DepthwiseConv2D does not take (the kernel_* ones become depthwise_*).
GROUPED_CONV_DROPPED = frozenset(
    {"filters", "groups", "kernel_initializer", "kernel_regularizer", "kernel_constraint", "lora_rank", "lora_alpha"}
)

# Keras config values that change what a layer computes at inference, on layers whose TF.js 4.22 class ignores the
# key (or reads it without implementing it): (key, the values TF.js computes the same way, what TF.js does instead).
# A layer with any other value is never written as a TF.js layer.
_CHANNELS_LAST = (None, "channels_last")
_ONES = (None, 1, [1], [1, 1], [1, 1, 1])
TFJS_IGNORED_KEYS: dict[str, tuple[tuple[str, tuple[object, ...], str], ...]] = {
    "GlobalAveragePooling1D": (
        ("data_format", _CHANNELS_LAST, "it always pools over axis 1"),
        ("keepdims", (None, False), "it always drops the pooled axis"),
    ),
    "GlobalMaxPooling1D": (
        ("data_format", _CHANNELS_LAST, "it always pools over axis 1"),
        ("keepdims", (None, False), "it always drops the pooled axis"),
    ),
    "GlobalAveragePooling2D": (("keepdims", (None, False), "it always drops the pooled axes"),),
    "GlobalMaxPooling2D": (("keepdims", (None, False), "it always drops the pooled axes"),),
    "Conv1D": (("data_format", _CHANNELS_LAST, "it always convolves over axis 1"),),
    "SeparableConv2D": (("data_format", _CHANNELS_LAST, "its bias is added along the last axis"),),
    "MaxPooling1D": (("data_format", _CHANNELS_LAST, "it always pools over axis 1"),),
    "AveragePooling1D": (("data_format", _CHANNELS_LAST, "it always pools over axis 1"),),
    "Conv2DTranspose": (
        ("output_padding", (None,), "it has no output padding"),
        ("dilation_rate", _ONES, "its transposed convolution is not dilated"),
    ),
    "Conv3DTranspose": (
        ("output_padding", (None,), "it has no output padding"),
        ("dilation_rate", _ONES, "its transposed convolution is not dilated"),
    ),
}
