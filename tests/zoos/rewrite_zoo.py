"""One tiny Keras 3 model per layers rewrite: each uses the construct TF.js lacks and little else, so a parity check in
TF.js tests that rewrite alone. ``inputs`` are fixed and cover the interesting ranges (hard activations' kinks,
zero-padded tokens, pixel-range values for normalisation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class RewriteCase:
    name: str
    build: Callable[[], object]
    inputs: Callable[[], list[np.ndarray]]
    note: str | None  # a piece of the note the conversion must report (None: it passes through unchanged)


def _rng(seed: int = 5) -> np.random.Generator:
    return np.random.default_rng(seed)


def _normalization():
    import keras
    from keras import layers

    data = _rng(1).normal(120.0, 40.0, size=(64, 4, 5)).astype("float32")
    inp = keras.Input((4, 5))
    last = layers.Normalization(axis=-1, name="adapted_last")
    last.adapt(data)
    middle = layers.Normalization(axis=1, name="adapted_axis1")
    middle.adapt(data)
    given = layers.Normalization(
        axis=-1, mean=[1.0, 2.0, 3.0, 4.0, 5.0], variance=[4.0, 0.25, 9.0, 1.0, 2.0], name="given"
    )
    scalar = layers.Normalization(axis=None, mean=100.0, variance=900.0, name="given_scalar")
    inverted = layers.Normalization(
        axis=-1, mean=[0.5] * 5, variance=[2.0, 3.0, 4.0, 5.0, 6.0], invert=True, name="inverted"
    )
    outputs = [last(inp), middle(inp), given(inp), scalar(inp), inverted(layers.Rescaling(0.01)(inp))]
    return keras.Model(inp, outputs, name="normalization")


def _normalization_inputs():
    return [_rng().normal(120.0, 40.0, size=(3, 4, 5)).astype("float32")]


def _augmentation():
    """Augmentation first after the input, in the middle, and as a model output; a removed layer feeding a removed one."""
    import keras
    from keras import layers

    inp = keras.Input((8, 8, 3))
    x = layers.RandomFlip(name="flip")(inp)
    x = layers.RandomRotation(0.2, name="rotate")(x)
    x = layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = layers.SpatialDropout2D(0.3, name="spatial_dropout")(x)
    x = layers.RandomZoom(0.1)(x)
    x = layers.Identity()(x)
    y = layers.RandomContrast(0.2, name="contrast")(x)
    z = layers.Flatten()(layers.ActivityRegularization(0.01)(x))
    z = layers.Dense(3, name="head")(layers.RandomTranslation(0.1, 0.1)(layers.Reshape((6, 6, 4))(z)))
    return keras.Model(inp, [y, layers.RandomBrightness(0.2, name="brightness")(z)], name="augmentation")


def _nested_augmentation():
    """The keras.io pattern: an augmentation Sequential called on the input; it becomes an empty (identity) model."""
    import keras
    from keras import layers

    augmentation = keras.Sequential(
        [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)], name="data_augmentation"
    )
    inputs = keras.Input((8, 8, 3))
    x = layers.Rescaling(1.0 / 255)(augmentation(inputs))
    x = layers.Conv2D(4, 3, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(2)(layers.GlobalAveragePooling2D()(x)), name="nested_augmentation")


def _sequential_augmentation():
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            layers.RandomFlip(),
            layers.Conv2D(3, 3, activation="hard_sigmoid"),
            layers.SpatialDropout2D(0.2),
            layers.Activation("hard_silu"),  # a branch: the model is written as a functional one
            layers.Flatten(),
            layers.Dense(2),
        ],
        name="sequential_augmentation",
    )


def _images():
    return [_rng().normal(0.0, 1.0, size=(3, 8, 8, 3)).astype("float32")]


def _hard_activations():
    import keras
    from keras import layers, ops

    inp = keras.Input((6,))
    a = layers.Dense(5, activation="hard_silu", name="dense_hard_silu")(inp)
    b = layers.Dense(5, activation="hard_sigmoid", name="dense_hard_sigmoid")(inp)
    c = layers.Activation("hard_swish", name="act_hard_swish")(inp)
    d = layers.Activation("hard_sigmoid", name="act_hard_sigmoid")(inp)
    e = ops.hard_silu(inp)
    return keras.Model(inp, [a, b, c, d, e], name="hard_activations")


def _wide_vectors():
    return [(_rng().normal(0.0, 1.0, size=(4, 6)) * 4.0).astype("float32")]


def _relu_variants():
    import keras
    from keras import layers

    inp = keras.Input((6,))
    return keras.Model(
        inp, [layers.ReLU(negative_slope=0.1)(inp), layers.ReLU(threshold=0.5)(inp)], name="relu_variants"
    )


def _keepdims_pooling():
    import keras
    from keras import layers

    image = keras.Input((5, 5, 3))
    a = layers.GlobalAveragePooling2D(keepdims=True)(image)
    a = layers.Conv2D(4, 1, name="conv_preds")(a)  # the MobileNet head
    b = layers.Flatten()(layers.GlobalMaxPooling2D(keepdims=True)(image))
    seq = keras.Input((6, 4))
    c = layers.Conv1D(2, 1)(layers.GlobalAveragePooling1D(keepdims=True)(seq))
    d = layers.GlobalMaxPooling1D(keepdims=True)(seq)
    return keras.Model([image, seq], [a, b, c, d], name="keepdims_pooling")


def _keepdims_inputs():
    rng = _rng()
    return [rng.normal(size=(3, 5, 5, 3)).astype("float32"), rng.normal(size=(3, 6, 4)).astype("float32")]


def _subtract():
    import keras
    from keras import layers

    a, b = keras.Input((5,)), keras.Input((5,))
    return keras.Model([a, b], layers.Subtract()([layers.Dense(5)(a), b]), name="subtract")


def _two_vectors():
    rng = _rng()
    return [rng.normal(size=(3, 5)).astype("float32"), rng.normal(size=(3, 5)).astype("float32")]


def _grouped_conv():
    import keras
    from keras import layers

    inp = keras.Input((7, 7, 3))
    x = layers.Conv2D(6, 3, groups=3, padding="same", activation="relu", name="grouped")(inp)
    x4 = layers.Conv2D(4, 1)(x)
    y = layers.Conv2D(8, 3, groups=4, strides=2, use_bias=False, name="grouped_no_bias")(x4)
    return keras.Model(inp, [x, y], name="grouped_conv")


def _grouped_inputs():
    return [_rng().normal(size=(2, 7, 7, 3)).astype("float32")]


def _layer_scale():
    import keras
    from keras import layers
    from keras.src.applications.convnext import LayerScale

    inp = keras.Input((4, 4, 6))
    x = layers.Dense(6)(inp)
    return keras.Model(inp, LayerScale(0.5, 6, name="layer_scale")(x), name="layer_scale")


def _custom_scale():
    import keras
    from keras import layers
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    inp = keras.Input((4, 4, 3))
    residual = layers.Conv2D(3, 1)(inp)
    return keras.Model(inp, CustomScaleLayer(0.17, name="scaled_sum")([inp, residual]), name="custom_scale")


def _layer_scale_inputs():
    return [_rng().normal(size=(2, 4, 4, 6)).astype("float32")]


def _masked_text():
    import keras
    from keras import layers

    tokens = keras.Input((7,), dtype="int32", name="tokens")
    embedded = layers.Embedding(20, 6, mask_zero=True, name="embed")(tokens)
    direct = layers.LSTM(5, name="lstm")(embedded)
    x = layers.Dense(4)(layers.Dropout(0.2)(embedded))  # the mask passes through both, in Keras and in TF.js
    x = layers.Bidirectional(layers.LSTM(3, return_sequences=True))(x)
    through = layers.GRU(3, reset_after=False)(x)
    return keras.Model(tokens, [layers.Dense(2)(direct), through], name="masked_text")


def _masked_sequence():
    import keras
    from keras import layers

    steps = keras.Input((6, 3))
    x = layers.Masking(mask_value=0.5, name="masking")(steps)
    x = layers.GRU(4, return_sequences=True, reset_after=False)(x)
    return keras.Model(steps, layers.SimpleRNN(2)(layers.Dropout(0.1)(x)), name="masked_sequence")


def _padded_steps():
    steps = _rng().normal(size=(3, 6, 3)).astype("float32")
    steps[0, 3:] = 0.5
    steps[1, 1:] = 0.5
    steps[2, 2, :] = 0.5
    return [steps]


def _padded_tokens():
    tokens = _rng().integers(1, 20, size=(4, 7)).astype("int32")
    tokens[0, 4:] = 0
    tokens[1, 2:] = 0
    tokens[2, :] = 0
    tokens[2, 0] = 3
    return [tokens]


def _ops_arithmetic():
    import keras
    from keras import layers, ops

    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    x = layers.Dense(5)(a)
    outputs = [
        ops.add(ops.multiply(x, 2.5), 1.0),
        ops.subtract(3.0, x),
        ops.subtract(x, 0.5),
        ops.divide(x, 4.0),
        ops.relu(x),
        ops.sigmoid(x),
        ops.tanh(x),
        ops.add(x, b),
        ops.multiply(x, b),
        ops.subtract(x, b),
        ops.negative(b),
        ops.hard_sigmoid(x),
        x * 3.0 - b,
    ]
    return keras.Model([a, b], outputs, name="ops_arithmetic")


def _ops_tensors():
    """keras.ops reductions, reshapes and activations with parameters, as a keras.io functional model writes them."""
    import keras
    from keras import layers, ops

    seq, image = keras.Input((4, 6), name="seq"), keras.Input((3, 3, 2), name="image")
    x = layers.Dense(6)(seq)
    outputs = [
        ops.concatenate([x, seq], axis=-1),
        ops.mean(x, axis=1),
        ops.max(x, axis=1, keepdims=True),
        ops.mean(image, axis=[1, 2]),
        ops.reshape(x, (-1, 24)),
        ops.transpose(x, (0, 2, 1)),
        ops.softmax(x, axis=-1),
        ops.square(x),
        ops.maximum(x, 0.0),
        ops.clip(x, 0.0, 0.5),
        ops.expand_dims(x, -1),
        ops.gelu(x, approximate=False),
        ops.leaky_relu(x, negative_slope=0.1),
    ]
    return keras.Model([seq, image], outputs, name="ops_tensors")


def _seq_and_image():
    rng = _rng()
    return [rng.normal(size=(3, 4, 6)).astype("float32"), rng.normal(size=(3, 3, 3, 2)).astype("float32")]


def _rescaling_lists():
    import keras
    from keras import layers

    inp = keras.Input((4, 4, 3))
    x = layers.Rescaling(scale=[0.5, 1.0, 2.0], offset=[0.1, -0.2, 0.3])(inp)
    return keras.Model(inp, layers.Conv2D(2, 1)(x), name="rescaling_lists")


def _center_crop():
    import keras
    from keras import layers

    inp = keras.Input((8, 7, 2))
    odd = layers.CenterCrop(5, 4, name="odd")(inp)  # uneven margins: 1 top, 2 bottom; 1 left, 2 right
    same = layers.CenterCrop(8, 7, name="same")(inp)
    return keras.Model(inp, [odd, layers.Conv2D(2, 3)(same)], name="center_crop")


def _crop_inputs():
    return [_rng().normal(size=(2, 8, 7, 2)).astype("float32")]


def _small_images():
    return [_rng().normal(size=(2, 4, 4, 3)).astype("float32")]


CASES: dict[str, RewriteCase] = {
    case.name: case
    for case in (
        RewriteCase("normalization", _normalization, _normalization_inputs, "rewritten as Rescaling"),
        RewriteCase("augmentation", _augmentation, _images, "removed: it is the identity at inference"),
        RewriteCase("nested_augmentation", _nested_augmentation, _images, "removed: it is the identity"),
        RewriteCase("sequential_augmentation", _sequential_augmentation, _images, "removed: it is the identity"),
        RewriteCase("hard_activations", _hard_activations, _wide_vectors, "built from Rescaling, ReLU(max_value=6)"),
        RewriteCase("relu_variants", _relu_variants, _wide_vectors, "rewritten as ThresholdedReLU"),
        RewriteCase("keepdims_pooling", _keepdims_pooling, _keepdims_inputs, "keepdims=True rewritten"),
        RewriteCase("subtract", _subtract, _two_vectors, "rewritten as Add with the second input negated"),
        RewriteCase("grouped_conv", _grouped_conv, _grouped_inputs, "rewritten as DepthwiseConv2D"),
        RewriteCase("layer_scale", _layer_scale, _layer_scale_inputs, "per-channel scale (gamma)"),
        RewriteCase("custom_scale", _custom_scale, _small_images, "rewritten as Add with the residual scaled"),
        RewriteCase("masked_text", _masked_text, _padded_tokens, "computes an Embedding or Masking mask"),
        RewriteCase("masked_sequence", _masked_sequence, _padded_steps, "computes an Embedding or Masking mask"),
        RewriteCase("ops_arithmetic", _ops_arithmetic, _two_vectors, "rewritten as Rescaling(scale=2.5, offset=0)"),
        RewriteCase("center_crop", _center_crop, _crop_inputs, "rewritten as Cropping2D"),
        RewriteCase("ops_tensors", _ops_tensors, _seq_and_image, "rewritten as GlobalAveragePooling1D"),
        RewriteCase("rescaling_lists", _rescaling_lists, _small_images, None),
    )
}


# --- keras.applications that need the rewrites to be layers models --------------------------------------------------

APPLICATIONS: dict[str, Callable[[], object]] = {
    "MobileNetV3Small": lambda: _application("MobileNetV3Small", alpha=0.75),
    "MobileNetV3Large": lambda: _application("MobileNetV3Large", alpha=0.75),
    "EfficientNetB0": lambda: _application("EfficientNetB0"),
    "EfficientNetV2B0": lambda: _application("EfficientNetV2B0"),
    "ConvNeXtTiny": lambda: _application("ConvNeXtTiny"),
    "MobileNet": lambda: _application("MobileNet", alpha=0.25),
}


def _application(name: str, **options):
    """The smallest input each allows, no downloads, logits (pre-softmax) so outputs do not saturate."""
    import keras

    build = getattr(keras.applications, name)
    return build(input_shape=(32, 32, 3), weights=None, classifier_activation=None, **options)


def randomize_statistics(model, seed: int) -> None:
    """Non-trivial BatchNormalization/LayerNormalization parameters and ConvNeXt layer scales, the kernels as Keras
    initialised them: the outputs stay of order 1 through deep stacks, so a parity tolerance means something."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        path = getattr(variable, "path", variable.name).split(":")[0]  # Keras 3 path, tf_keras name ("...:0")
        shape = tuple(variable.shape)
        if "moving_variance" in path:
            value = rng.uniform(0.5, 2.0, size=shape)
        elif "moving_mean" in path:
            value = rng.normal(0.0, 0.2, size=shape)
        elif "layer_scale" in path:
            value = rng.uniform(0.3, 1.0, size=shape)
        elif path.endswith("gamma"):
            value = rng.uniform(0.7, 1.3, size=shape)
        elif path.endswith(("beta", "bias")):
            value = rng.normal(0.0, 0.1, size=shape)
        else:
            continue
        variable.assign(value.astype("float32"))


def pixels(batch: int = 2) -> list[np.ndarray]:
    return [_rng().uniform(0.0, 255.0, size=(batch, 32, 32, 3)).astype("float32")]
