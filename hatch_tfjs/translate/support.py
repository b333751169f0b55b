"""What tfjs-layers 4.22 can deserialize, as data.

Class names are the ones TF.js registers (checked against ``@tensorflow/tfjs-layers@4.22.0``); where Keras 3 uses
another name for the same thing, ``*_RENAMES`` maps it.
"""

from __future__ import annotations

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

# What to suggest for common layers TF.js does not have.
LAYER_HINTS = {
    "Lambda": "replace the Lambda with built-in layers (or use format = \"graph\")",
    "TFOpLambda": "replace the raw TensorFlow op with a built-in layer",
    "Subtract": "use Add with a negated input (e.g. Rescaling(-1) on the second input) instead of Subtract",
    "Normalization": "fold the normalisation into the data pipeline or use Rescaling with fixed constants",
    "MultiHeadAttention": "attention layers only run as TF.js graph models",
    "Attention": "attention layers only run as TF.js graph models",
    "GroupNormalization": "use LayerNormalization or BatchNormalization",
    "UpSampling1D": "reshape to 2D and use UpSampling2D",
    "Conv1DTranspose": "reshape to 2D and use Conv2DTranspose",
    "SeparableConv1D": "use Conv1D, or reshape to 2D and use SeparableConv2D",
    "SpatialDropout2D": "use Dropout (it does nothing at inference)",
    "RandomFlip": "data augmentation does nothing at inference; remove it from the exported model",
    "RandomRotation": "data augmentation does nothing at inference; remove it from the exported model",
    "RandomZoom": "data augmentation does nothing at inference; remove it from the exported model",
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
ACTIVATION_HINTS = {
    "hard_sigmoid": "Keras 3 defines hard_sigmoid as relu6(x + 3) / 6 and TF.js as clip(0.2 * x + 0.5, 0, 1); they differ",
    "hard_silu": "TF.js has no hard_silu / hard_swish; use swish",
    "hard_swish": "TF.js has no hard_silu / hard_swish; use swish",
    "leaky_relu": "use a LeakyReLU layer instead of the leaky_relu activation",
    "exponential": "TF.js has no exponential activation",
}

# Keras 3 weight names that TF.js knows under another name, per layer class.
WEIGHT_RENAMES = {
    "DepthwiseConv2D": {"kernel": "depthwise_kernel"},
}
