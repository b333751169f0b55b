"""The model zoo the parity tests convert: small Keras 3 models covering the layers TF.js runs.

Each builder returns a model whose weights are random but fixed (seeded), with non-trivial statistics where a layer
has them (BatchNormalization moving mean/variance), and ``inputs`` returns fixed inputs for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class ZooEntry:
    name: str
    build: Callable[[], object]
    input_shapes: tuple[tuple[int, ...], ...]
    int_inputs: tuple[int, ...] = ()  # positions of integer inputs, with their vocabulary size below
    vocab: int = 0


def randomize(model, seed: int) -> None:
    """Give every float weight non-trivial values (BatchNorm variances positive, PReLU slopes small and positive) so
    parity checks mean something. Shared by the layers zoo, the graph zoo and the compiler's zoo; Keras 3 and
    tf_keras models alike (tf_keras variables have a name, not a path, and a tf.DType)."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        path = getattr(variable, "path", variable.name)
        dtype = str(getattr(variable.dtype, "name", variable.dtype))
        if dtype.startswith("int"):
            continue
        if "moving_variance" in path:
            value = rng.uniform(0.5, 2.0, size=shape)
        elif "moving_mean" in path:
            value = rng.normal(0.0, 0.5, size=shape)
        elif "gamma" in path:
            value = rng.uniform(0.5, 1.5, size=shape)
        elif "alpha" in path:
            value = rng.uniform(0.05, 0.5, size=shape)
        else:
            value = rng.normal(0.0, 0.4, size=shape)
        variable.assign(value.astype(dtype))


def _sequential_mlp():
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((8,)),
            layers.Dense(16, activation="relu", name="hidden"),
            layers.Dropout(0.3),
            layers.Dense(8, activation="tanh", kernel_regularizer="l2", name="mid"),
            layers.Dense(3, activation="softmax", name="probs"),
        ],
        name="mlp",
    )


def _multi_input_cnn():
    import keras
    from keras import layers

    image = keras.Input((12, 12, 3), name="image")
    extra = keras.Input((4,), name="extra")
    x = layers.Conv2D(6, 3, padding="same", activation="relu")(image)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(8, 3, strides=1, padding="valid", activation="elu")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Flatten()(x)
    y = layers.Dense(8, activation="swish")(extra)
    x = layers.Concatenate()([x, y])
    out = layers.Dense(5, activation="softmax", name="out")(x)
    return keras.Model([image, extra], out, name="multi_input_cnn")


def _conv1d():
    import keras
    from keras import layers

    inp = keras.Input((20, 4))
    x = layers.Conv1D(6, 3, activation="relu", padding="same", dilation_rate=2)(inp)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(5, 3, activation="sigmoid")(x)
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inp, layers.Dense(2)(x), name="conv1d")


def _recurrent():
    import keras
    from keras import layers

    inp = keras.Input((7, 5))
    x = layers.LSTM(6, return_sequences=True)(inp)
    x = layers.GRU(4, return_sequences=True, reset_after=False)(x)
    x = layers.Bidirectional(layers.LSTM(3))(x)
    return keras.Model(inp, layers.Dense(2)(x), name="recurrent")


def _bidirectional_gru():
    import keras
    from keras import layers

    inp = keras.Input((6, 3))
    x = layers.Bidirectional(layers.GRU(4, return_sequences=True, reset_after=False), merge_mode="sum")(inp)
    x = layers.SimpleRNN(3)(x)
    return keras.Model(inp, x, name="bidirectional_gru")


def _embedding():
    import keras
    from keras import layers

    inp = keras.Input((9,), dtype="int32", name="tokens")
    x = layers.Embedding(30, 8)(inp)
    x = layers.LayerNormalization()(x)
    x = layers.GlobalMaxPooling1D()(x)
    return keras.Model(inp, layers.Dense(4, activation="gelu")(x), name="embedding")


def _merge_and_shared():
    import keras
    from keras import layers

    a = keras.Input((6,), name="a")
    b = keras.Input((6,), name="b")
    shared = layers.Dense(5, activation="relu", name="shared")
    sa, sb = shared(a), shared(b)  # shared layer: node index 1 for b
    added = layers.Add()([sa, sb])
    mult = layers.Multiply()([sa, sb])
    maxed = layers.Maximum()([added, mult])
    avg = layers.Average()([added, mult])
    return keras.Model([a, b], [layers.Concatenate()([maxed, avg]), layers.Dense(2)(added)], name="merge_shared")


def _shared_functional():
    """A functional encoder called twice (node 1 and 2 of the nested model) feeding further layers."""
    import keras
    from keras import layers

    enc_in = keras.Input((4,), name="enc_in")
    h = layers.Dense(5, activation="relu", name="enc_hidden")(enc_in)
    encoder = keras.Model(enc_in, layers.Dense(3, name="enc_out")(h), name="encoder")
    a = keras.Input((4,), name="left")
    b = keras.Input((4,), name="right")
    merged = layers.Concatenate(name="pair")([encoder(a), encoder(b)])
    return keras.Model([a, b], layers.Dense(2, name="score")(merged), name="siamese")


def _nested():
    import keras
    from keras import layers

    inner = keras.Sequential([keras.Input((6,)), layers.Dense(7, activation="relu"), layers.Dense(4)], name="inner_seq")
    inp = keras.Input((5,))
    x = layers.Dense(6, activation="tanh")(inp)
    x = inner(x)
    inner_fn_in = keras.Input((4,))
    inner_fn = keras.Model(inner_fn_in, layers.Dense(3, activation="sigmoid")(inner_fn_in), name="inner_fn")
    return keras.Model(inp, inner_fn(x), name="nested")


def _convolutions():
    import keras
    from keras import layers

    inp = keras.Input((10, 10, 3))
    x = layers.Rescaling(1 / 127.5, offset=-1)(inp)
    x = layers.ZeroPadding2D(1)(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, activation="relu6")(x)
    x = layers.SeparableConv2D(6, 3, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    x = layers.LeakyReLU(negative_slope=0.2)(x)
    x = layers.Cropping2D(2)(x)
    x = layers.UpSampling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Dense(3, activation="softplus")(x), name="convolutions")


def _activations():
    import keras
    from keras import layers

    inp = keras.Input((6,))
    parts = [
        layers.Dense(4, activation=act)(inp)
        for act in ("selu", "softsign", "mish", "sigmoid", "linear", "silu")
    ]
    x = layers.Concatenate()(parts)
    x = layers.PReLU()(x)
    x = layers.ELU()(x)
    x = layers.ReLU(max_value=2.0)(x)
    x = layers.Reshape((4, 6))(x)
    x = layers.Permute((2, 1))(x)
    x = layers.Softmax()(x)
    x = layers.Flatten()(x)
    x = layers.RepeatVector(2)(x)
    x = layers.TimeDistributed(layers.Dense(3))(x)
    return keras.Model(inp, x, name="activations")


def _layer_options():
    """Options that change a layer's variable list: no bias, no center/scale, depth multipliers, a frozen layer."""
    import keras
    from keras import layers

    inp = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, use_bias=False, padding="same")(inp)
    x = layers.BatchNormalization(center=False)(x)
    x = layers.Conv2D(4, 1, use_bias=False)(x)
    frozen = layers.BatchNormalization(scale=False)
    x = frozen(x)
    frozen.trainable = False
    x = layers.DepthwiseConv2D(3, depth_multiplier=3, use_bias=False)(x)
    x = layers.SeparableConv2D(5, 3, depth_multiplier=2, use_bias=False, padding="same")(x)
    x = layers.Conv2DTranspose(3, 2, strides=2, use_bias=False)(x)
    x = layers.PReLU(shared_axes=[1, 2])(x)
    x = layers.Flatten()(x)
    x = layers.LayerNormalization(center=False)(x)
    x = layers.Dense(6, use_bias=False)(x)
    x = layers.LayerNormalization(scale=False)(x)
    return keras.Model(inp, layers.Dense(2)(x), name="layer_options")


def _rnn_options():
    import keras
    from keras import layers

    inp = keras.Input((6, 4))
    x = layers.SimpleRNN(5, return_sequences=True, use_bias=False)(inp)
    x = layers.GRU(4, return_sequences=True, reset_after=False, use_bias=False)(x)
    x = layers.LSTM(3, return_sequences=True, unit_forget_bias=False)(x)
    x = layers.Bidirectional(layers.SimpleRNN(3, return_sequences=True), merge_mode="mul")(x)
    x = layers.RNN(layers.GRUCell(3, reset_after=False), return_sequences=True)(x)
    x = layers.Bidirectional(layers.LSTM(2, use_bias=False), merge_mode="ave")(x)
    return keras.Model(inp, x, name="rnn_options")


def _time_distributed():
    import keras
    from keras import layers

    inp = keras.Input((3, 6, 6, 2))
    x = layers.TimeDistributed(layers.Conv2D(3, 3, activation="relu"))(inp)
    x = layers.TimeDistributed(layers.BatchNormalization())(x)
    x = layers.TimeDistributed(layers.Flatten())(x)
    x = layers.TimeDistributed(layers.Dense(4, use_bias=False))(x)
    return keras.Model(inp, layers.LSTM(3)(x), name="time_distributed")


def _conv3d():
    import keras
    from keras import layers

    inp = keras.Input((6, 6, 6, 2))
    x = layers.Conv3D(3, 3, padding="same", activation="relu")(inp)
    x = layers.MaxPooling3D(2)(x)
    x = layers.Conv3D(4, 2, use_bias=False)(x)
    x = layers.AveragePooling3D(1)(x)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(2)(x), name="conv3d")


def _conv_lstm():
    import keras
    from keras import layers

    inp = keras.Input((3, 6, 6, 2))
    x = layers.ConvLSTM2D(3, 3, padding="same")(inp)
    x = layers.Flatten()(x)
    return keras.Model(inp, layers.Dense(2)(x), name="conv_lstm")


def _shared_nested():
    """A nested Sequential called twice (shared), with BatchNormalization before Dense and a frozen layer inside it
    (the legacy .h5 order lists trainable weights first), feeding a nested functional model (a nested functional
    model that feeds further layers is ``shared_functional``)."""
    import keras
    from keras import layers

    body = keras.Sequential(
        [keras.Input((6,)), layers.BatchNormalization(), layers.Dense(5, activation="relu"), layers.Dense(4)], name="body"
    )
    body.layers[2].trainable = False
    tail_in = keras.Input((4,))
    tail = keras.Model(tail_in, layers.Dense(3)(layers.BatchNormalization()(tail_in)), name="tail")
    inp = keras.Input((6,))
    x = layers.Dense(6)(inp)
    x = layers.Add()([body(x), body(layers.Dense(6)(x))])
    return keras.Model(inp, tail(x), name="shared_nested")


ZOO: dict[str, ZooEntry] = {
    e.name: e
    for e in (
        ZooEntry("mlp", _sequential_mlp, ((8,),)),
        ZooEntry("multi_input_cnn", _multi_input_cnn, ((12, 12, 3), (4,))),
        ZooEntry("conv1d", _conv1d, ((20, 4),)),
        ZooEntry("recurrent", _recurrent, ((7, 5),)),
        ZooEntry("bidirectional_gru", _bidirectional_gru, ((6, 3),)),
        ZooEntry("embedding", _embedding, ((9,),), int_inputs=(0,), vocab=30),
        ZooEntry("merge_shared", _merge_and_shared, ((6,), (6,))),
        ZooEntry("nested", _nested, ((5,),)),
        ZooEntry("shared_functional", _shared_functional, ((4,), (4,))),
        ZooEntry("convolutions", _convolutions, ((10, 10, 3),)),
        ZooEntry("activations", _activations, ((6,),)),
        ZooEntry("layer_options", _layer_options, ((8, 8, 3),)),
        ZooEntry("rnn_options", _rnn_options, ((6, 4),)),
        ZooEntry("time_distributed", _time_distributed, ((3, 6, 6, 2),)),
        ZooEntry("conv3d", _conv3d, ((6, 6, 6, 2),)),
        ZooEntry("conv_lstm", _conv_lstm, ((3, 6, 6, 2),)),
        ZooEntry("shared_nested", _shared_nested, ((6,),)),
    )
}


def build(entry: ZooEntry, seed: int = 0):
    model = entry.build()
    randomize(model, seed)
    return model


def inputs_for(entry: ZooEntry, batch: int = 3, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = []
    for index, shape in enumerate(entry.input_shapes):
        if index in entry.int_inputs:
            arrays.append(rng.integers(0, entry.vocab, size=(batch, *shape)).astype("int32"))
        else:
            arrays.append(rng.normal(0.0, 1.0, size=(batch, *shape)).astype("float32"))
    return arrays
