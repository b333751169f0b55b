"""Models the graph-model tests convert: Keras 3 models (saved as SavedModels with ``Model.export`` or as .keras
files) and a raw ``tf.Module`` with a hash table. Weights are random but seeded, with non-trivial statistics where a
layer has them (BatchNormalization moving mean/variance, PReLU alphas), so parity checks mean something."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from zoo import randomize


@dataclass(frozen=True)
class GraphCase:
    name: str
    source: Path  # SavedModel directory or .keras file
    inputs: list[np.ndarray]
    expected: list[np.ndarray]
    input_names: list[str] | None = None
    options: dict[str, Any] | None = None


def _mlp():
    import keras
    from keras import layers

    return keras.Sequential(
        [keras.Input((8,), name="features"), layers.Dense(16, activation="relu"), layers.Dropout(0.2),
         layers.Dense(8, activation="tanh"), layers.Dense(3, activation="softmax")],
        name="mlp",
    )


def _two_input_cnn():
    import keras
    from keras import layers

    image = keras.Input((12, 12, 3), name="image")
    extra = keras.Input((4,), name="extra")
    x = layers.Conv2D(6, 3, activation="relu", padding="same")(image)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Concatenate()([x, layers.Dense(4, activation="relu")(extra)])
    return keras.Model([image, extra], layers.Dense(5)(x), name="two_input_cnn")


def _conv_bn():
    import keras
    from keras import layers

    inp = keras.Input((10, 10, 3), name="image")
    x = layers.Conv2D(8, 3, use_bias=False)(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(4, 3)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(6)(x)
    x = layers.BatchNormalization()(x)
    return keras.Model(inp, x, name="conv_bn")


def _depthwise_relu6():
    import keras
    from keras import layers

    inp = keras.Input((9, 9, 4), name="image")
    x = layers.DepthwiseConv2D(3, padding="same")(inp)
    x = layers.Activation("relu6")(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2)(x)
    x = layers.Activation("relu6")(x)
    return keras.Model(inp, layers.GlobalAveragePooling2D()(x), name="depthwise")


def _prelu():
    import keras
    from keras import layers

    inp = keras.Input((8, 8, 3), name="image")
    x = layers.Conv2D(4, 3)(inp)
    x = layers.PReLU(shared_axes=[1, 2])(x)
    x = layers.Flatten()(x)
    x = layers.Dense(5)(x)
    x = layers.PReLU()(x)
    return keras.Model(inp, x, name="prelu")


def _rnn(kind: str):
    import keras
    from keras import layers

    inp = keras.Input((6, 4), name="sequence")
    if kind == "lstm":
        x = layers.LSTM(5)(inp)
    elif kind == "gru":
        x = layers.GRU(5, return_sequences=True)(inp)
        x = layers.GRU(3)(x)
    elif kind == "bilstm":
        x = layers.Bidirectional(layers.LSTM(4))(inp)
    else:
        x = layers.SimpleRNN(5)(inp)
    return keras.Model(inp, layers.Dense(2)(x), name=kind)


def _lambda():
    import keras
    from keras import layers

    inp = keras.Input((6,), name="features")
    x = layers.Dense(6)(inp)
    x = layers.Lambda(lambda t: keras.ops.square(t) - 0.5 * t)(x)
    return keras.Model(inp, layers.Dense(2)(x), name="lambda_model")


def _custom_layer():
    import keras
    from keras import layers

    class ScaledSoftsign(layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

        def call(self, x):
            return self.scale * x / (1.0 + keras.ops.abs(x))

    inp = keras.Input((7,), name="features")
    x = ScaledSoftsign()(layers.Dense(5)(inp))
    return keras.Model(inp, layers.Dense(3)(x), name="custom")


def _named_outputs():
    import keras
    from keras import layers

    inp = keras.Input((6,), name="features")
    h = layers.Dense(8, activation="relu")(inp)
    return keras.Model(
        inp,
        {"score": layers.Dense(1, activation="sigmoid")(h), "label": layers.Dense(3, activation="softmax")(h)},
        name="named_outputs",
    )


def _exact_gelu():
    import keras
    from keras import layers

    inp = keras.Input((6,), name="features")
    x = layers.Dense(4, activation="gelu")(inp)  # exact GELU: Erfc, which TF.js 4.22 lacks (rewritten as 1 - Erf)
    return keras.Model(inp, layers.Dense(2)(x), name="gelu")


def _einsum_attention():
    """Attention written with the einsum equations keras-hub uses (EinsumDense projections "abc,cde->abde" and
    "abcd,cde->abe", scores "aecd,abcd->acbe", values "acbe,aecd->abcd", Keras's "btnh,bsnh->bnts"), over a
    sequence whose length is known only at run time: TensorFlow traces each as an Einsum node."""
    import keras
    from keras import layers

    inp = keras.Input((None, 8), name="tokens")
    q, k, v = (layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 4), bias_axes="de")(inp) for _ in range(3))
    scores = keras.ops.softmax(keras.ops.einsum("aecd,abcd->acbe", k, q) * 0.5, axis=-1)
    attended = keras.ops.einsum("acbe,aecd->abcd", scores, v)
    other = keras.ops.softmax(keras.ops.einsum("btnh,bsnh->bnts", q, k), axis=-1)
    mixed = attended + keras.ops.einsum("bnts,bsnh->btnh", other, v)
    out = layers.EinsumDense("abcd,cde->abe", output_shape=(None, 8), bias_axes="e")(mixed)
    return keras.Model(inp, [out, keras.ops.einsum("bnts->bt", other)], name="einsum_attention")


def unsupported_ops_model():
    """Ops TF.js 4.22 lacks: Softsign from a layer's activation and from an Activation layer, Erfinv from a
    keras.ops call (the TensorFlow route refuses them; the TF-free compiler writes both with ops TF.js has)."""
    import keras
    from keras import layers

    inp = keras.Input((6,), name="features")
    x = layers.Dense(4, activation="softsign", name="squash")(inp)
    x = layers.Activation("softsign", name="squash_2")(x)
    x = keras.ops.erfinv(keras.ops.tanh(x) * 0.5)
    return keras.Model(inp, layers.Dense(2, name="head")(x), name="unsupported")


KERAS_BUILDERS: dict[str, tuple[Callable[[], Any], str]] = {
    # name: (builder, "savedmodel" | "keras")
    "mlp": (_mlp, "keras"),
    "two_input_cnn": (_two_input_cnn, "savedmodel"),
    "conv_bn": (_conv_bn, "savedmodel"),
    "depthwise": (_depthwise_relu6, "savedmodel"),
    "prelu": (_prelu, "savedmodel"),
    "lstm": (lambda: _rnn("lstm"), "savedmodel"),
    "lstm_keras": (lambda: _rnn("lstm"), "keras"),
    "gru": (lambda: _rnn("gru"), "savedmodel"),
    "bilstm": (lambda: _rnn("bilstm"), "savedmodel"),
    "simple_rnn": (lambda: _rnn("simple"), "keras"),
    "lambda": (_lambda, "savedmodel"),
    "custom": (_custom_layer, "savedmodel"),
    "named_outputs": (_named_outputs, "keras"),
    "gelu": (_exact_gelu, "keras"),
    "gelu_savedmodel": (_exact_gelu, "savedmodel"),
    "einsum": (_einsum_attention, "savedmodel"),
}


def keras_inputs(model: Any, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3, *(d or 5 for d in t.shape[1:]))).astype("float32") for t in model.inputs]


def build_keras_case(name: str, directory: Path, seed: int) -> tuple[GraphCase, Any]:
    builder, kind = KERAS_BUILDERS[name]
    model = builder()
    return save_keras_case(name, model, kind, directory, seed), model


def save_keras_case(name: str, model: Any, kind: str, directory: Path, seed: int) -> GraphCase:
    """Randomize ``model``, record Keras's outputs for fixed inputs, and save it as a .keras file (``kind`` "keras")
    or export it as a SavedModel directory."""
    randomize(model, seed)
    inputs = keras_inputs(model, seed + 100)
    out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    if isinstance(out, dict):
        keys = sorted(out)
        expected = [np.asarray(out[k]) for k in keys]
    else:
        expected = [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
    if kind == "keras":
        source = directory / f"{name}.keras"
        model.save(source)
    else:
        source = directory / name
        model.export(str(source), verbose=False)
    names = [t.name for t in model.inputs] if len(model.inputs) > 1 else None
    return GraphCase(name, source, inputs, expected, input_names=names)


def build_table_module(directory: Path) -> GraphCase:
    """A tf.Module SavedModel: string keys -> ids through a StaticHashTable, then a gather from a variable."""
    import tensorflow as tf

    class Vocab(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            keys = tf.constant(["cat", "dog", "bird", "fish"])
            values = tf.constant([0, 1, 2, 3], dtype=tf.int64)
            self.table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), default_value=-1)
            self.embedding = tf.Variable(np.random.default_rng(7).normal(size=(5, 3)).astype("float32"))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
        def __call__(self, words):
            ids = self.table.lookup(words)
            return {"ids": ids, "vectors": tf.gather(self.embedding, ids + 1)}

    module = Vocab()
    source = directory / "vocab"
    tf.saved_model.save(module, str(source), signatures={"serving_default": module.__call__})
    words = np.array(["dog", "unknown", "fish", "cat", "bird"], dtype=object)
    out = module(tf.constant(words.astype(str)))
    expected = [np.asarray(out["ids"]).astype(np.int32), np.asarray(out["vectors"])]
    return GraphCase("vocab", source, [words], expected)
