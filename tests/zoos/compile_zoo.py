"""Models the TF-free graph compiler is tested on: one small Keras model per layer configuration, generated from
tables (activations x layers, padding x strides x dilations x groups, pooling kinds x sizes, ...), plus model
structures (nested, shared, multi-input/output). Weights are random but seeded (see ``zoo.randomize``).

Run as a script (``python compile_zoo.py jobs.json``) it compiles Keras files without importing TensorFlow or Keras:
``jobs.json`` lists ``{"source", "output", "name"}``; it prints one JSON line per job.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class CompileCase:
    name: str
    build: Callable[[], Any]  # -> a keras.Model
    inputs: tuple[tuple[tuple[int, ...], str], ...]  # (shape without batch, "float" | "int<n>" | "ids<n>") per input
    fused: tuple[str, ...] = ()  # ops the compiled graph must contain (the fusions this case is about)
    randomize: bool = True  # False: the build sets meaningful weights itself (adapted statistics)


def _seq(input_shape: tuple[int, ...], *make_layers: Callable[[Any], Any], dtype: str = "float32") -> Callable[[], Any]:
    def build() -> Any:
        import keras

        return keras.Sequential([keras.Input(input_shape, dtype=dtype), *(make(keras.layers) for make in make_layers)])

    return build


CASES: dict[str, CompileCase] = {}


def _add(name: str, build: Callable[[], Any], *shapes: tuple[int, ...], kind: str = "float", fused: tuple[str, ...] = (),
         randomize: bool = True) -> None:
    CASES[name] = CompileCase(name, build, tuple((s, kind) for s in shapes), fused, randomize)


# --- activations: every Keras activation on Dense (fused where TF.js fuses it) and as an Activation layer ---------

ACTIVATIONS = ["linear", "relu", "relu6", "elu", "selu", "sigmoid", "tanh", "softplus", "softsign", "silu", "swish",
               "gelu", "hard_sigmoid", "hard_silu", "mish", "exponential", "leaky_relu", "softmax", "log_softmax"]
FUSED_BY_TFJS = {"relu": "_FusedMatMul", "relu6": "_FusedMatMul", "elu": "_FusedMatMul", "sigmoid": "_FusedMatMul",
                 "leaky_relu": "_FusedMatMul", "linear": "_FusedMatMul"}

for _act in ACTIVATIONS:
    _add(f"dense_{_act}", _seq((6,), lambda L, a=_act: L.Dense(5, activation=a)), (6,), fused=(FUSED_BY_TFJS.get(_act, "_FusedMatMul"),))
    _add(f"activation_{_act}", _seq((4, 5), lambda L, a=_act: L.Activation(a)), (4, 5))
_add("dense_rank3", _seq((3, 6), lambda L: L.Dense(4, activation="relu")), (3, 6), fused=("_FusedMatMul",))
_add("dense_no_bias", _seq((6,), lambda L: L.Dense(4, use_bias=False, activation="tanh")), (6,))

# --- activation layers ------------------------------------------------------------------------------------------

for _name, _make in {
    "relu": lambda L: L.ReLU(),
    "relu_max6": lambda L: L.ReLU(max_value=6.0),
    "relu_max2_5": lambda L: L.ReLU(max_value=2.5),
    "relu_slope": lambda L: L.ReLU(negative_slope=0.1),
    "relu_slope_max": lambda L: L.ReLU(negative_slope=0.2, max_value=1.5),
    "leaky_relu_0_1": lambda L: L.LeakyReLU(negative_slope=0.1),
    "elu_1": lambda L: L.ELU(),
    "elu_0_7": lambda L: L.ELU(alpha=0.7),
    "prelu": lambda L: L.PReLU(),
    "prelu_shared": lambda L: L.PReLU(shared_axes=[1, 2]),
    "softmax_layer": lambda L: L.Softmax(),
}.items():
    _add(f"layer_{_name}", _seq((3, 3, 4), lambda L: L.Dense(4), _make), (3, 3, 4))
_add("conv_prelu_fused", _seq((6, 6, 3), lambda L: L.Conv2D(4, 3), lambda L: L.PReLU(shared_axes=[1, 2])), (6, 6, 3),
     fused=("_FusedConv2D",))

# --- layers that are the identity at inference, reshapes ---------------------------------------------------------

_add("dropout_noise", _seq((5,), lambda L: L.Dropout(0.5), lambda L: L.GaussianNoise(0.3), lambda L: L.GaussianDropout(0.2),
                           lambda L: L.Dense(3)), (5,))
_add("flatten", _seq((3, 4, 2), lambda L: L.Flatten(), lambda L: L.Dense(3)), (3, 4, 2))
_add("reshape", _seq((12,), lambda L: L.Reshape((3, -1)), lambda L: L.Dense(2)), (12,))
_add("permute", _seq((3, 4, 2), lambda L: L.Permute((2, 3, 1))), (3, 4, 2))
_add("repeat_vector", _seq((4,), lambda L: L.RepeatVector(3)), (4,))

# --- convolutions: padding x strides x dilation x groups ---------------------------------------------------------

for _rank, _padding, (_stride, _dilation), _groups in itertools.product(
    (1, 2), ("valid", "same", "causal"), ((1, 1), (2, 1), (1, 2)), (1, 2, 4)
):
    if _padding == "causal" and _rank == 2:
        continue
    _cls = "Conv1D" if _rank == 1 else "Conv2D"
    _shape = (9, 4) if _rank == 1 else (9, 8, 4)
    _act = ("relu", "linear", "sigmoid")[(_stride + _dilation + _groups) % 3]
    _add(
        f"{_cls.lower()}_{_padding}_s{_stride}_d{_dilation}_g{_groups}",
        _seq(_shape, lambda L, c=_cls, p=_padding, s=_stride, d=_dilation, g=_groups, a=_act: getattr(L, c)(
            4, 3, padding=p, strides=s, dilation_rate=d, groups=g, activation=a, use_bias=g != 2)),
        _shape,
        fused=("_FusedConv2D",) if _groups == 1 else (),
    )

for _padding, (_stride, _dilation), _multiplier in itertools.product(("valid", "same"), ((1, 1), (2, 1), (1, 2)), (1, 2)):
    _add(f"depthwise_{_padding}_s{_stride}_d{_dilation}_m{_multiplier}",
         _seq((8, 9, 3), lambda L, p=_padding, s=_stride, d=_dilation, m=_multiplier: L.DepthwiseConv2D(
             3, padding=p, strides=s, dilation_rate=d, depth_multiplier=m, activation="relu6")),
         (8, 9, 3), fused=("FusedDepthwiseConv2dNative",))
    _add(f"separable_{_padding}_s{_stride}_d{_dilation}_m{_multiplier}",
         _seq((8, 9, 3), lambda L, p=_padding, s=_stride, d=_dilation, m=_multiplier: L.SeparableConv2D(
             5, 3, padding=p, strides=s, dilation_rate=d, depth_multiplier=m, activation="elu")),
         (8, 9, 3), fused=("_FusedConv2D",))
_add("separable_1d", _seq((10, 3), lambda L: L.SeparableConv1D(4, 3, padding="same", activation="relu")), (10, 3))

# --- batch normalization: folded into a kernel, or Mul/Add where it cannot be ------------------------------------

_add("bn_after_conv", _seq((7, 7, 3), lambda L: L.Conv2D(5, 3, use_bias=False), lambda L: L.BatchNormalization(),
                           lambda L: L.ReLU()), (7, 7, 3), fused=("_FusedConv2D",))
_add("bn_after_conv_bias", _seq((7, 7, 3), lambda L: L.Conv2D(5, 3), lambda L: L.BatchNormalization(epsilon=0.01)),
     (7, 7, 3), fused=("_FusedConv2D",))
_add("bn_after_depthwise", _seq((7, 7, 3), lambda L: L.DepthwiseConv2D(3, use_bias=False), lambda L: L.BatchNormalization(),
                                lambda L: L.Activation("relu")), (7, 7, 3), fused=("FusedDepthwiseConv2dNative",))
_add("bn_after_dense", _seq((6,), lambda L: L.Dense(5), lambda L: L.BatchNormalization()), (6,), fused=("_FusedMatMul",))
_add("bn_after_activation", _seq((6, 6, 3), lambda L: L.Conv2D(4, 3, activation="relu"), lambda L: L.BatchNormalization(
    center=False)), (6, 6, 3))
_add("bn_no_scale", _seq((5, 4), lambda L: L.BatchNormalization(scale=False)), (5, 4))
_add("bn_axis_1", _seq((3, 5), lambda L: L.BatchNormalization(axis=1)), (3, 5))

# --- pooling ---------------------------------------------------------------------------------------------------

for _kind, _rank, _padding, (_pool, _stride) in itertools.product(("Max", "Average"), (1, 2), ("valid", "same"), ((2, None), (3, 2))):
    _shape = (9, 3) if _rank == 1 else (9, 7, 3)
    _add(f"{_kind.lower()}pool{_rank}d_{_padding}_p{_pool}_s{_stride}",
         _seq(_shape, lambda L, k=_kind, r=_rank, p=_padding, q=_pool, s=_stride: getattr(L, f"{k}Pooling{r}D")(q, strides=s, padding=p)),
         _shape)
for _kind, _rank, _keep in itertools.product(("Max", "Average"), (1, 2), (False, True)):
    _shape = (6, 3) if _rank == 1 else (5, 6, 3)
    _add(f"global_{_kind.lower()}{_rank}d_keep{int(_keep)}",
         _seq(_shape, lambda L, k=_kind, r=_rank, keep=_keep: getattr(L, f"Global{k}Pooling{r}D")(keepdims=keep)), _shape)

# --- padding, cropping, upsampling -------------------------------------------------------------------------------

_add("zero_padding1d", _seq((5, 3), lambda L: L.ZeroPadding1D((1, 2))), (5, 3))
_add("zero_padding2d", _seq((4, 5, 2), lambda L: L.ZeroPadding2D(((1, 0), (2, 3)))), (4, 5, 2))
_add("zero_padding2d_int", _seq((4, 5, 2), lambda L: L.ZeroPadding2D(1)), (4, 5, 2))
# ZeroPadding2D before a strided VALID convolution (MobileNet's and ResNet's pattern): folded into the convolution's
# explicit padding (no Pad left; test_compile checks)
_add("zero_padding2d_conv", _seq((9, 8, 3), lambda L: L.ZeroPadding2D(((0, 1), (2, 1))),
                                 lambda L: L.Conv2D(4, 3, strides=2, activation="relu")), (9, 8, 3),
     fused=("_FusedConv2D",))
_add("zero_padding2d_depthwise_bn", _seq((9, 9, 3), lambda L: L.ZeroPadding2D(((0, 1), (0, 1))),
                                         lambda L: L.DepthwiseConv2D(3, strides=2, use_bias=False),
                                         lambda L: L.BatchNormalization(), lambda L: L.ReLU(6.0)), (9, 9, 3),
     fused=("FusedDepthwiseConv2dNative",))
_add("cropping1d", _seq((7, 3), lambda L: L.Cropping1D((2, 1))), (7, 3))
_add("cropping2d", _seq((7, 8, 2), lambda L: L.Cropping2D(((1, 2), (0, 3)))), (7, 8, 2))
_add("upsampling1d", _seq((4, 3), lambda L: L.UpSampling1D(3)), (4, 3))
_add("upsampling2d", _seq((3, 4, 2), lambda L: L.UpSampling2D((2, 3))), (3, 4, 2))

# --- merges -----------------------------------------------------------------------------------------------------


def _merge(class_name: str, count: int, **kwargs: Any) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        inputs = [keras.Input((3, 4), name=f"in_{i}") for i in range(count)]
        return keras.Model(inputs, getattr(keras.layers, class_name)(**kwargs)(inputs))

    return build


for _cls in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"):
    for _count in (2, 3) if _cls != "Subtract" else (2,):
        _add(f"merge_{_cls.lower()}_{_count}", _merge(_cls, _count), *[(3, 4)] * _count)
_add("merge_concatenate_axis1", _merge("Concatenate", 2, axis=1), (3, 4), (3, 4))

# --- normalization, rescaling, embedding ------------------------------------------------------------------------


def _normalization() -> Any:
    import keras

    layer = keras.layers.Normalization()
    model = keras.Sequential([keras.Input((5,)), layer, keras.layers.Dense(2)])
    layer.adapt(np.random.default_rng(3).normal(2.0, 3.0, size=(64, 5)).astype("float32"))
    return model


_add("normalization_adapted", _normalization, (5,), randomize=False)
_add("rescaling", _seq((4, 4, 3), lambda L: L.Rescaling(1 / 127.5, offset=-1.0)), (4, 4, 3))
_add("layer_norm", _seq((3, 6), lambda L: L.LayerNormalization()), (3, 6))
_add("layer_norm_axes", _seq((3, 4, 2), lambda L: L.LayerNormalization(axis=[1, 2], epsilon=1e-5)), (3, 4, 2))
_add("layer_norm_plain", _seq((6,), lambda L: L.LayerNormalization(center=False, scale=False)), (6,))
_add("embedding_int", _seq((5,), lambda L: L.Embedding(11, 4), lambda L: L.Flatten(), dtype="int32"), (5,), kind="int11")
_add("embedding_float_ids", _seq((5,), lambda L: L.Embedding(9, 3)), (5,), kind="ids9")

# --- model structure --------------------------------------------------------------------------------------------


def _nested() -> Any:
    import keras
    from keras import layers

    inner_seq = keras.Sequential([keras.Input((6,)), layers.Dense(5, activation="relu"), layers.Dense(4)], name="inner_seq")
    a = keras.Input((6,), name="inner_in")
    inner_fn = keras.Model(a, layers.Dense(3, activation="tanh", name="inner_dense")(a), name="inner_fn")
    x = keras.Input((6,), name="x")
    h = inner_seq(x)
    h = layers.Concatenate()([h, inner_fn(x)])
    return keras.Model(x, layers.Dense(2, name="head")(h), name="outer")


def _shared() -> Any:
    import keras
    from keras import layers

    a, b = keras.Input((5,), name="left"), keras.Input((5,), name="right")
    shared = layers.Dense(4, activation="relu", name="shared")
    merged = layers.Subtract()([shared(a), shared(b)])
    return keras.Model([a, b], [layers.Dense(2, name="out_a")(merged), layers.Dense(3, activation="softmax", name="out_b")(merged)])


def _nested_twice() -> Any:
    import keras
    from keras import layers

    a = keras.Input((4,), name="block_in")
    block = keras.Model(a, layers.Dense(4, activation="elu", name="block_dense")(a), name="block")
    x = keras.Input((4,), name="x")
    return keras.Model(x, layers.Add()([block(x), block(block(x))]), name="twice")


def _resnet_block() -> Any:
    import keras
    from keras import layers

    x = keras.Input((8, 8, 3), name="image")
    h = layers.Conv2D(8, 3, padding="same", use_bias=False)(x)
    h = layers.BatchNormalization()(h)
    h = layers.ReLU()(h)
    skip = h
    h = layers.Conv2D(8, 3, padding="same")(h)
    h = layers.BatchNormalization()(h)
    h = layers.Add()([h, skip])
    h = layers.MaxPooling2D()(layers.Activation("relu")(h))
    return keras.Model(x, layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(h)), name="resnet_block")


def _dict_outputs() -> Any:
    import keras
    from keras import layers

    x = keras.Input((4,), name="x")
    hidden = layers.Dense(5, activation="relu", name="hidden")(x)
    return keras.Model(x, {"score": layers.Dense(1, name="s")(hidden), "label": layers.Dense(3, name="l")(hidden)})


_add("nested_models", _nested, (6,))
_add("dict_outputs", _dict_outputs, (4,))
_add("shared_layer_two_outputs", _shared, (5,), (5,))
_add("nested_model_called_twice", _nested_twice, (4,))
_add("resnet_block", _resnet_block, (8, 8, 3), fused=("_FusedConv2D",))

# --- recurrent layers, unrolled: kind x return_sequences x go_backwards (x reset_after for GRU) ---------------------

for _kind, _sequences, _backwards, _reset_after in itertools.product(("SimpleRNN", "LSTM", "GRU"), (False, True), (False, True), (True, False)):
    if _kind != "GRU" and not _reset_after:
        continue
    _options: dict[str, Any] = {"return_sequences": _sequences, "go_backwards": _backwards}
    if _kind == "GRU":
        _options["reset_after"] = _reset_after
    _suffix = "" if _kind != "GRU" else f"_reset_after{int(_reset_after)}"
    _add(f"{_kind.lower()}_seq{int(_sequences)}_back{int(_backwards)}{_suffix}",
         _seq((5, 3), lambda L, k=_kind, o=dict(_options): getattr(L, k)(4, **o)), (5, 3))
_add("lstm_hard_sigmoid_relu", _seq((4, 3), lambda L: L.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid")), (4, 3))
_add("gru_no_bias", _seq((4, 3), lambda L: L.GRU(3, use_bias=False, return_sequences=True)), (4, 3))
_add("stacked_rnn", _seq((6, 2), lambda L: L.GRU(5, return_sequences=True), lambda L: L.LSTM(4), lambda L: L.Dense(2)), (6, 2))
for _kind, _mode, _sequences in itertools.product(("LSTM", "GRU", "SimpleRNN"), ("concat", "sum", "mul", "ave"), (False, True)):
    _add(f"bidirectional_{_kind.lower()}_{_mode}_seq{int(_sequences)}",
         _seq((4, 3), lambda L, k=_kind, m=_mode, s=_sequences: L.Bidirectional(getattr(L, k)(3, return_sequences=s), merge_mode=m)),
         (4, 3))

for _cell, _sequences in itertools.product(("SimpleRNNCell", "LSTMCell", "GRUCell"), (False, True)):
    _add(f"rnn_{_cell.lower()}_seq{int(_sequences)}", _seq((4, 3), lambda L, c=_cell, s=_sequences: L.RNN(getattr(L, c)(3), return_sequences=s,
                                                                                                        go_backwards=s)), (4, 3))
_add("bidirectional_rnn_gru_cell", _seq((4, 3), lambda L: L.Bidirectional(L.RNN(L.GRUCell(2, reset_after=False), return_sequences=True))),
     (4, 3))

for _padding, _strides, _sequences in itertools.product(("valid", "same"), (1, 2), (False, True)):
    _add(f"conv_lstm2d_{_padding}_s{_strides}_seq{int(_sequences)}",
         _seq((3, 6, 5, 2), lambda L, p=_padding, s=_strides, q=_sequences: L.ConvLSTM2D(3, (3, 2), padding=p, strides=s, return_sequences=q,
                                                                                       go_backwards=q and s == 1)), (3, 6, 5, 2))
_add("conv_lstm2d_dilated_no_bias_relu", _seq((3, 6, 6, 2), lambda L: L.ConvLSTM2D(2, 2, dilation_rate=2, use_bias=False, activation="relu",
                                                                                   padding="same")), (3, 6, 6, 2))


def _rnn_states() -> Any:
    import keras
    from keras import layers

    x = keras.Input((5, 3), name="sequence")
    sequence, h, c = layers.LSTM(4, return_sequences=True, return_state=True, name="encoder")(x)
    last, h2 = layers.GRU(3, return_state=True, name="decoder")(sequence)
    both = layers.Bidirectional(layers.SimpleRNN(2), merge_mode=None, name="bi")(sequence)
    return keras.Model(x, [sequence, h, c, last, h2, *both], name="rnn_states")


_add("rnn_return_state_and_merge_none", _rnn_states, (5, 3))


def _encoder_decoder(kind: str, length: int | None, masked: bool) -> Callable[[], Any]:
    """A decoder starting from the encoder's final states (``initial_state``). Masked: Keras then passes the
    decoder no implicit mask (its call has several tensor arguments), so the decoder is given one explicitly."""

    def build() -> Any:
        import keras
        from keras import layers

        source = keras.Input((length,), dtype="int32", name="source")
        target = keras.Input((length, 2), name="target")
        encoded = layers.Embedding(5, 3, mask_zero=masked)(source)
        _, *states = getattr(layers, kind)(4, return_state=True, name="encoder")(encoded)
        decoder = getattr(layers, kind)(4, return_sequences=True, name="decoder")
        if masked:
            steps = keras.ops.any(keras.ops.not_equal(target, 0.0), axis=-1)
            decoded = decoder(layers.Masking()(target), initial_state=states, mask=steps)
        else:
            decoded = decoder(target, initial_state=states)
        return keras.Model([source, target], layers.Dense(2)(decoded))

    return build


for _kind, _length, _masked in itertools.product(("LSTM", "GRU", "SimpleRNN"), (5, None), (False, True)):
    CASES[f"encoder_decoder_{_kind.lower()}_{'variable' if _length is None else 'fixed'}_masked{int(_masked)}"] = CompileCase(
        f"encoder_decoder_{_kind.lower()}", _encoder_decoder(_kind, _length, _masked), (((5,), "int5"), ((5, 2), "ids2_start0")))


def _bidirectional_states(kind: str, merge_mode: str | None, length: int | None) -> Callable[[], Any]:
    def build() -> Any:
        import keras
        from keras import layers

        x = keras.Input((length, 3), name="sequence")
        outputs = layers.Bidirectional(getattr(layers, kind)(2, return_state=True, return_sequences=True),
                                       merge_mode=merge_mode)(x)
        return keras.Model(x, list(outputs))

    return build


for _kind, _mode, _length in itertools.product(("LSTM", "GRU"), ("concat", None), (4, None)):
    _add(f"bidirectional_states_{_kind.lower()}_{_mode}_{'variable' if _length is None else 'fixed'}",
         _bidirectional_states(_kind, _mode, _length), (4, 3))

# --- recurrent layers over a length known only at run time: a StatelessWhile loop per direction ---------------------

for _kind, _sequences, _backwards, _reset_after in itertools.product(("SimpleRNN", "LSTM", "GRU"), (False, True), (False, True), (True, False)):
    if _kind != "GRU" and not _reset_after:
        continue
    _options = {"return_sequences": _sequences, "go_backwards": _backwards}
    if _kind == "GRU":
        _options["reset_after"] = _reset_after
    _suffix = "" if _kind != "GRU" else f"_reset_after{int(_reset_after)}"
    _add(f"variable_length_{_kind.lower()}_seq{int(_sequences)}_back{int(_backwards)}{_suffix}",
         _seq((None, 3), lambda L, k=_kind, o=dict(_options): getattr(L, k)(4, **o)), (5, 3))
_add("variable_length_gru", _seq((None, 3), lambda L: L.GRU(5, name="gru")), (4, 3))
_add("variable_length_rnn_lstm_cell", _seq((None, 3), lambda L: L.RNN(L.LSTMCell(3), return_sequences=True)), (4, 3))
_add("variable_length_stack", _seq((None, 2), lambda L: L.LSTM(4, return_sequences=True), lambda L: L.GRU(3, return_sequences=True),
                                   lambda L: L.SimpleRNN(2)), (6, 2))
_add("variable_length_sequence_dense", _seq((None, 3), lambda L: L.GRU(4, return_sequences=True), lambda L: L.Dense(2, activation="relu"),
                                            lambda L: L.Dense(3)), (5, 3))
for _mode, _sequences in itertools.product(("concat", "sum", None), (False, True)):
    _add(f"variable_length_bidirectional_{_mode}_seq{int(_sequences)}",
         _seq((None, 3), lambda L, m=_mode, s=_sequences: L.Bidirectional(L.GRU(3, return_sequences=s), merge_mode=m or "concat")), (4, 3))


def _variable_length_states() -> Any:
    import keras
    from keras import layers

    x = keras.Input((None, 3), name="sequence")
    sequence, h, c = layers.LSTM(4, return_sequences=True, return_state=True, name="encoder")(x)
    both = layers.Bidirectional(layers.SimpleRNN(2, return_sequences=True), merge_mode=None, name="bi")(sequence)
    return keras.Model(x, [sequence, h, c, *both], name="variable_states")


_add("variable_length_states_merge_none", _variable_length_states, (5, 3))


def _variable_length_masked(make_layers: Callable[[Any], list[Any]], functional: bool) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        ids = keras.Input((None,), dtype="int32", name="ids")
        stack = [keras.layers.Embedding(5, 3, mask_zero=True), *make_layers(keras.layers)]
        if not functional:
            return keras.Sequential([ids, *stack])
        x = ids
        for layer in stack:
            x = layer(x)
        return keras.Model(ids, x)

    return build


for _name, _make in {
    "lstm": lambda L: [L.LSTM(3)],
    "gru_sequences_backwards": lambda L: [L.GRU(3, return_sequences=True, go_backwards=True)],
    "simple_rnn_zero_output": lambda L: [L.SimpleRNN(3, return_sequences=True, zero_output_for_mask=True)],
    "bidirectional_then_gru": lambda L: [L.Bidirectional(L.LSTM(2, return_sequences=True)), L.GRU(2)],
    "average_pooling": lambda L: [L.GlobalAveragePooling1D()],
}.items():
    for _functional in (False, True):
        _add(f"variable_length_masked_{_name}_{'functional' if _functional else 'sequential'}",
             _variable_length_masked(_make, _functional), (7,), kind="int4")


# --- keras.ops calls: elementwise with tensors and constants, unary, activations, reductions, reshapes ----------


def _ops_model(make: Callable[[Any, Any], Any], shape: tuple[int, ...] = (3, 4), dtype: str = "float32") -> Callable[[], Any]:
    def build() -> Any:
        import keras

        x = keras.Input(shape, dtype=dtype, name="x")
        return keras.Model(x, make(keras.ops, x))

    return build


for _name, _make in {
    "add_scalar": lambda o, x: o.add(x, 1.5), "subtract_tensor": lambda o, x: o.subtract(x, o.mean(x, axis=-1, keepdims=True)),
    "multiply_array": lambda o, x: o.multiply(x, np.arange(4, dtype="float32")), "divide": lambda o, x: o.divide(x, 3.0),
    "power": lambda o, x: o.power(o.abs(x), 1.5), "maximum": lambda o, x: o.maximum(x, 0.25), "minimum": lambda o, x: o.minimum(x, -0.1),
    "sqrt_square": lambda o, x: o.sqrt(o.add(o.square(x), 1.0)), "exp_log": lambda o, x: o.log(o.add(o.exp(x), 2.0)),
    "negative_erf": lambda o, x: o.negative(o.erf(x)), "mean_all": lambda o, x: o.mean(x), "sum_axis1": lambda o, x: o.sum(x, axis=1),
    "max_keepdims": lambda o, x: o.max(x, axis=-1, keepdims=True), "min_axes": lambda o, x: o.min(x, axis=[1, 2]),
    "relu_sigmoid": lambda o, x: o.sigmoid(o.relu(x)), "silu": lambda o, x: o.silu(x), "gelu_tanh": lambda o, x: o.gelu(x),
    "gelu_exact": lambda o, x: o.gelu(x, approximate=False), "softmax": lambda o, x: o.softmax(x),
    "leaky_relu": lambda o, x: o.leaky_relu(x, negative_slope=0.05), "hard_silu": lambda o, x: o.hard_silu(x),
    "reshape": lambda o, x: o.reshape(x, (-1, 12)), "transpose": lambda o, x: o.transpose(x, (0, 2, 1)),
    "expand_squeeze": lambda o, x: o.squeeze(o.expand_dims(x, 2), axis=2),
    "concatenate": lambda o, x: o.concatenate([x, o.tanh(x)], axis=1),
    "matmul": lambda o, x: o.matmul(x, o.transpose(x, (0, 2, 1))),
}.items():
    _add(f"ops_{_name}", _ops_model(_make), (3, 4))
# keras.ops calls of keras.io-style models (issue 20): indexing, selection, splitting, stacking, sorting, resizing, ...
for _name, _make in {
    "getitem_column": lambda o, x: x[:, 0], "getitem_slices": lambda o, x: x[:, 1:3, ::2],
    "getitem_ellipsis_newaxis_last": lambda o, x: x[..., None, -1], "getitem_step_index": lambda o, x: x[:, ::2, 1],
    "take_constant": lambda o, x: o.take(x, [0, 2, -1], axis=1), "where_scalar": lambda o, x: o.where(x > 0, x, 0.1 * x),
    "split_equal": lambda o, x: o.split(x, 2, axis=-1)[1], "split_indices": lambda o, x: o.split(x, [1], axis=1)[1],
    "stack": lambda o, x: o.stack([x, o.tanh(x)], axis=1), "unstack": lambda o, x: o.unstack(x, axis=1)[2],
    "tile": lambda o, x: o.tile(x, (1, 2, 1)), "tile_short": lambda o, x: o.tile(x, (3,)),
    "clip": lambda o, x: o.clip(x, -0.5, 0.5), "argmax_float": lambda o, x: o.cast(o.argmax(x, axis=-1), "float32"),
    "argmin_keepdims": lambda o, x: o.cast(o.argmin(x, axis=1, keepdims=True), "float32"),
    "cumsum": lambda o, x: o.cumsum(x, axis=1), "cumprod": lambda o, x: o.cumprod(x, axis=-1),
    "one_hot_argmax": lambda o, x: o.one_hot(o.argmax(x, axis=-1), 4), "einsum_batch": lambda o, x: o.einsum("bij,bkj->bik", x, x),
    "einsum_outer": lambda o, x: o.einsum("bij,bik->bijk", x, x),
    "einsum_one_operand": lambda o, x: o.einsum("bij->jb", x), "einsum_summed_alone": lambda o, x: o.einsum("bij,bkj->bk", x, x),
    "einsum_two_summed": lambda o, x: o.einsum("bij,bij->b", x, o.tanh(x)), "top_k_values": lambda o, x: o.top_k(x, 2)[0],
    "top_k_indices": lambda o, x: o.cast(o.top_k(x, 3)[1], "float32"), "flip": lambda o, x: o.flip(x, axis=1),
    "swapaxes": lambda o, x: o.swapaxes(x, 1, 2), "moveaxis": lambda o, x: o.moveaxis(o.expand_dims(x, 1), 1, 3),
    "trigonometry": lambda o, x: o.add(o.arctan(o.tan(o.clip(x, -1.0, 1.0))), o.arcsin(o.clip(x, -0.9, 0.9))),
    "hyperbolic": lambda o, x: o.add(o.arcsinh(o.sinh(x)), o.arctanh(o.clip(o.tanh(x), -0.9, 0.9))),
    "arccos_cosh": lambda o, x: o.add(o.arccos(o.clip(x, -0.9, 0.9)), o.arccosh(o.cosh(x) + 1.0)),
    "expm1_log1p_sign": lambda o, x: o.sign(x) * o.log1p(o.abs(o.expm1(x))), "round": lambda o, x: o.round(x * 3.0),
    "floor_divide_mod": lambda o, x: o.floor_divide(x, 0.3) + o.mod(x, 0.7), "arctan2": lambda o, x: o.arctan2(x, o.flip(x, axis=2)),
    "isfinite_not_xor": lambda o, x: o.cast(o.logical_xor(o.logical_not(o.isnan(x)), x > 0.5), "float32") + o.cast(o.isfinite(x), "float32"),
    "log2_log10": lambda o, x: o.log2(o.abs(x) + 1.0) + o.log10(o.abs(x) + 2.0), "log_sigmoid": lambda o, x: o.log_sigmoid(x),
    "amax_amin_fabs": lambda o, x: o.amax(x, axis=1) - o.amin(o.fabs(x), axis=1),
    "copy_stop_gradient": lambda o, x: o.stop_gradient(o.copy(x)) * 2.0, "deg2rad_rad2deg": lambda o, x: o.deg2rad(o.rad2deg(x) + 1.0),
    "exp2_trunc": lambda o, x: o.exp2(x) + o.trunc(x * 3.0), "hard_tanh_tanh_shrink": lambda o, x: o.hard_tanh(x * 2.0) + o.tanh_shrink(x),
    "squareplus_celu": lambda o, x: o.squareplus(x) + o.celu(x, alpha=0.5), "glu": lambda o, x: o.glu(x),
    "shrinks": lambda o, x: o.soft_shrink(x, 0.3) + o.hard_shrink(x, 0.4) + o.threshold(x, 0.2, -1.0),
    "tril_triu": lambda o, x: o.tril(x) + o.triu(x, k=1) * 2.0,
    "var_std": lambda o, x: o.var(x, axis=-1) + o.std(x, axis=-1, keepdims=True)[:, :, 0], "logsumexp": lambda o, x: o.logsumexp(x, axis=-1),
}.items():
    _add(f"ops_{_name}", _ops_model(_make), (3, 4))


def _take_tensor() -> Any:
    import keras

    x = keras.Input((5, 3), name="x")
    ids = keras.Input((4,), dtype="int32", name="ids")
    return keras.Model([x, ids], keras.ops.take(x, ids, axis=1))


def _image_resize(interpolation: str) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        x = keras.Input((6, 8, 3), name="image")
        return keras.Model(x, keras.ops.image.resize(x, (9, 5), interpolation=interpolation))

    return build


CASES["ops_take_tensor_indices"] = CompileCase("ops_take_tensor_indices", _take_tensor, (((5, 3), "float"), ((4,), "int5")))
_add("ops_image_resize_bilinear", _image_resize("bilinear"), (6, 8, 3))
_add("ops_image_resize_nearest", _image_resize("nearest"), (6, 8, 3))
CASES.update(__import__("compile_zoo_numpy").cases(CompileCase, _ops_model))  # keras.ops numpy calls, their own file
_add("ops_int_positions", _ops_model(lambda o, x: o.cast(o.add(o.zeros_like(x), o.arange(4, dtype="int32")), "float32"), (4,), "int32"),
     (4,), kind="int5")
_add("augmentation_is_identity_at_inference",
     _seq((6, 6, 3), lambda L: L.RandomFlip("horizontal"), lambda L: L.RandomRotation(0.2), lambda L: L.RandomZoom(0.1),
          lambda L: L.RandomContrast(0.2), lambda L: L.Conv2D(2, 3)), (6, 6, 3))

# --- attention --------------------------------------------------------------------------------------------------


def _attention(heads: int, key_dim: int, *, cross: bool = False, causal: bool = False, use_bias: bool = True,
               value_dim: int | None = None, separate_key: bool = False) -> Callable[[], Any]:
    def build() -> Any:
        import keras
        from keras import layers

        query = keras.Input((5, 6), name="query")
        inputs = [query]
        value = query
        if cross:
            value = keras.Input((4, 3), name="context")
            inputs.append(value)
        mha = layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim, value_dim=value_dim, use_bias=use_bias)
        if separate_key:
            key = keras.Input((4, 7), name="key")
            inputs.append(key)
            out = mha(query, value, key)
        else:
            out = mha(query, value, use_causal_mask=causal)
        return keras.Model(inputs, out)

    return build


_add("mha_self", _attention(2, 3), (5, 6))
_add("mha_one_head_no_bias", _attention(1, 4, use_bias=False), (5, 6))
_add("mha_causal", _attention(3, 2, causal=True), (5, 6))
_add("mha_cross_value_dim", _attention(2, 4, cross=True, value_dim=5), (5, 6), (4, 3))
_add("mha_separate_key", _attention(2, 2, cross=True, separate_key=True), (5, 6), (4, 3), (4, 7))

# --- masking: Embedding(mask_zero=True) feeding recurrent layers (Keras 3 records the mask as not_equal(ids, 0)) ----


def _masked(make_layers: Callable[[Any], list[Any]]) -> Callable[[], Any]:
    def build() -> Any:
        import keras
        from keras import layers

        ids = keras.Input((6,), dtype="int32", name="ids")
        x = layers.Embedding(5, 4, mask_zero=True)(ids)
        for make in make_layers(layers):
            x = make(x)
        return keras.Model(ids, x)

    return build


def _masking_layer() -> Any:
    import keras
    from keras import layers

    x = keras.Input((6, 1), name="x")  # 0/1 steps: about half of them masked
    return keras.Model(x, layers.GRU(4, return_sequences=True)(layers.Masking(mask_value=0.0)(x)))


_add("masking_layer_gru", _masking_layer, (6, 1), kind="ids2")

for _name, _make in {
    "lstm": lambda L: [L.LSTM(3)],
    "gru_sequences": lambda L: [L.GRU(3, return_sequences=True)],
    "gru_reset_before_backwards": lambda L: [L.GRU(3, reset_after=False, go_backwards=True)],
    "simple_rnn_zero_output": lambda L: [L.SimpleRNN(3, return_sequences=True, zero_output_for_mask=True)],
    "bidirectional_stack": lambda L: [L.Bidirectional(L.LSTM(2, return_sequences=True)), L.GRU(3)],
    "bidirectional_sum": lambda L: [L.Bidirectional(L.GRU(2), merge_mode="sum")],
    "average_pooling": lambda L: [L.Dense(3), L.GlobalAveragePooling1D()],
}.items():
    _add(f"masked_{_name}", _masked(_make), (6,), kind="int5")

# Implicit masks: a Sequential model records no mask; Keras attaches one to the Embedding / Masking output and passes it
# through the layers that support masking to the recurrent layers (and drops it at the others).


def _masked_sequential(make_layers: Callable[[Any], list[Any]]) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        layers = [keras.Input((6,), dtype="int32"), keras.layers.Embedding(5, 4, mask_zero=True)]
        return keras.Sequential(layers + make_layers(keras.layers))

    return build


for _name, _make in {
    "lstm": lambda L: [L.LSTM(3)],
    "gru_sequences_dense_lstm": lambda L: [L.GRU(3, return_sequences=True), L.Dense(4, activation="relu"), L.Dropout(0.2),
                                           L.LayerNormalization(), L.LSTM(2, go_backwards=True)],
    "bidirectional_concat": lambda L: [L.Bidirectional(L.SimpleRNN(2, return_sequences=True)), L.GRU(3, reset_after=False)],
    "dropped_by_conv": lambda L: [L.Conv1D(2, 2), L.GRU(2)],
    "rnn_last_output_then_dense": lambda L: [L.GRU(3), L.Dense(2)],
    "average_pooling": lambda L: [L.Dense(3), L.GlobalAveragePooling1D()],
    "average_pooling_keepdims": lambda L: [L.GlobalAveragePooling1D(keepdims=True)],
}.items():
    _add(f"sequential_mask_zero_{_name}", _masked_sequential(_make), (6,), kind="int5")
def _mask_from_nested_model() -> Any:
    import keras

    inner = keras.Sequential([keras.Input((6,), dtype="int32"), keras.layers.Embedding(5, 3, mask_zero=True)], name="inner")
    ids = keras.Input((6,), dtype="int32", name="ids")
    return keras.Model(ids, keras.layers.LSTM(2)(inner(ids)))


def _mask_into_nested_model() -> Any:
    import keras

    inner = keras.Sequential([keras.Input((6, 3)), keras.layers.Dense(3), keras.layers.GRU(2)], name="inner")
    ids = keras.Input((6,), dtype="int32", name="ids")
    return keras.Model(ids, inner(keras.layers.Embedding(5, 3, mask_zero=True)(ids)))


def _merged_masks(merge: str, both_masked: bool, axis: int = -1, nested: bool = False) -> Callable[[], Any]:
    """Two sequences merged before a GRU: Keras merges their masks (or-ed; a Concatenate's is all true where an
    input has none). The functional config records that mask for the GRU; ``nested``, the GRU is in a Sequential,
    which receives the merged mask implicitly."""

    def build() -> Any:
        import keras
        from keras import layers

        ids = keras.Input((6,), dtype="int32", name="ids")
        other = keras.Input((6,), dtype="int32", name="other")
        first = layers.Embedding(5, 3, mask_zero=True)(ids)
        second = layers.Embedding(4, 3, mask_zero=both_masked)(other)
        merge_layer = getattr(layers, merge)(axis=axis) if merge == "Concatenate" else getattr(layers, merge)()
        merged = merge_layer([first, second])
        gru = layers.GRU(2, return_sequences=True)
        if nested:
            gru = keras.Sequential([keras.Input(merged.shape[1:]), gru], name="inner")
        return keras.Model([ids, other], gru(merged))

    return build


for _merge, _both, _nested in itertools.product(("Add", "Subtract", "Average", "Concatenate"), (False, True), (False, True)):
    CASES[f"merged_masks_{_merge.lower()}_both{int(_both)}{'_nested' if _nested else ''}"] = CompileCase(
        f"merged_masks_{_merge.lower()}", _merged_masks(_merge, _both, nested=_nested), (((6,), "int5_start0"), ((6,), "int4_start0")))
for _nested in (False, True):
    CASES[f"merged_masks_concatenate_steps{'_nested' if _nested else ''}"] = CompileCase(
        "merged_masks_concatenate_steps", _merged_masks("Concatenate", True, axis=1, nested=_nested), (((6,), "int5"), ((6,), "int4")))


_add("mask_from_nested_model", _mask_from_nested_model, (6,), kind="int5")
_add("mask_into_nested_model", _mask_into_nested_model, (6,), kind="int5")
_add("sequential_masking_gru", _seq((6, 1), lambda L: L.Masking(), lambda L: L.GRU(3, return_sequences=True)), (6, 1), kind="ids2")
_add("masking_layer_lstm", _seq((6, 2), lambda L: L.Masking(name="masking"), lambda L: L.LSTM(5), lambda L: L.Dense(2)), (6, 2),
     kind="ids2")
_add("sequential_implicit_mask", _seq((4,), lambda L: L.Embedding(5, 3, mask_zero=True, name="embedding"), lambda L: L.LSTM(2),
                                      dtype="int32"), (4,), kind="int5")


# --- more layers: transposed convolutions, group/unit normalization, Dot, TimeDistributed ---------------------------

for _padding, _stride, _kernel in itertools.product(("valid", "same"), (1, 2, 3), (1, 2, 3)):
    _add(f"conv2d_transpose_{_padding}_s{_stride}_k{_kernel}",
         _seq((4, 5, 3), lambda L, p=_padding, s=_stride, k=_kernel: L.Conv2DTranspose(4, k, strides=s, padding=p, activation="relu")),
         (4, 5, 3))
for _groups, _center_scale in itertools.product((1, 2, 4), (True, False)):
    _add(f"group_norm_g{_groups}_affine{int(_center_scale)}",
         _seq((3, 5, 4), lambda L, g=_groups, c=_center_scale: L.GroupNormalization(groups=g, center=c, scale=c)), (3, 5, 4))
_add("group_norm_rank3", _seq((6, 4), lambda L: L.GroupNormalization(groups=2, epsilon=1e-5)), (6, 4))
_add("unit_norm", _seq((3, 4), lambda L: L.UnitNormalization()), (3, 4))
_add("unit_norm_axes", _seq((3, 4), lambda L: L.UnitNormalization(axis=[1, 2])), (3, 4))


def _dot(axes: Any, normalize: bool, left: tuple[int, ...], right: tuple[int, ...]) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        a, c = keras.Input(left, name="a"), keras.Input(right, name="b")
        return keras.Model([a, c], keras.layers.Dot(axes=axes, normalize=normalize)([a, c]))

    return build


_add("dot_vectors", _dot(1, False, (5,), (5,)), (5,), (5,))
_add("dot_cosine", _dot(1, True, (5,), (5,)), (5,), (5,))
for _axes, (_left, _right) in {(2, 2): ((3, 4), (5, 4)), (1, 1): ((3, 4), (3, 6)), (2, 1): ((3, 4), (4, 2)), (1, 2): ((3, 4), (5, 3))}.items():
    _add(f"dot_axes_{_axes[0]}{_axes[1]}", _dot(list(_axes), False, _left, _right), _left, _right)
_add("dot_axes_22_normalized", _dot([2, 2], True, (3, 4), (5, 4)), (3, 4), (5, 4))
_add("time_distributed_dense", _seq((3, 4), lambda L: L.TimeDistributed(L.Dense(2, activation="relu"))), (3, 4))
_add("time_distributed_conv", _seq((2, 5, 5, 3), lambda L: L.TimeDistributed(L.Conv2D(2, 3)),
                                   lambda L: L.TimeDistributed(L.GlobalAveragePooling2D())), (2, 5, 5, 3))

# --- more windowed and preprocessing layers -----------------------------------------------------------------------

_add("depthwise_conv1d", _seq((8, 3), lambda L: L.DepthwiseConv1D(3, depth_multiplier=2, padding="same", activation="relu")), (8, 3))
_add("zero_padding3d", _seq((2, 3, 2, 2), lambda L: L.ZeroPadding3D(((1, 0), (0, 2), (1, 1)))), (2, 3, 2, 2))
_add("cropping3d", _seq((4, 5, 4, 2), lambda L: L.Cropping3D(((1, 0), (1, 2), (0, 1)))), (4, 5, 4, 2))
_add("center_crop", _seq((7, 8, 3), lambda L: L.CenterCrop(4, 5)), (7, 8, 3))
for _method, (_height, _width) in itertools.product(("nearest", "bilinear"), ((6, 10), (3, 2), (5, 5))):
    _add(f"resizing_{_method}_{_height}x{_width}", _seq((5, 4, 2), lambda L, m=_method, h=_height, w=_width: L.Resizing(h, w, interpolation=m)),
         (5, 4, 2))

# --- 3-D convolutions and pooling (NDHWC) -------------------------------------------------------------------------

for _padding, (_stride, _dilation) in itertools.product(("valid", "same"), ((1, 1), (2, 1), (1, 2))):
    _add(f"conv3d_{_padding}_s{_stride}_d{_dilation}",
         _seq((5, 6, 5, 2), lambda L, p=_padding, s=_stride, d=_dilation: L.Conv3D(3, (3, 2, 3), strides=s, dilation_rate=d, padding=p,
                                                                                  activation="relu")), (5, 6, 5, 2))
_add("conv3d", _seq((4, 4, 4, 2), lambda L: L.Conv3D(3, 3), lambda L: L.Flatten()), (4, 4, 4, 2))
_add("conv3d_no_bias_flatten", _seq((4, 4, 4, 2), lambda L: L.Conv3D(3, 3, use_bias=False), lambda L: L.Flatten(), lambda L: L.Dense(2)),
     (4, 4, 4, 2))
for _kind, _padding, (_pool, _stride) in itertools.product(("Max", "Average"), ("valid", "same"), ((2, None), (3, 2), ((1, 2, 3), 1))):
    _add(f"{_kind.lower()}pool3d_{_padding}_p{''.join(map(str, _pool)) if isinstance(_pool, tuple) else _pool}_s{_stride}",
         _seq((5, 6, 7, 2), lambda L, k=_kind, p=_padding, q=_pool, s=_stride: getattr(L, f"{k}Pooling3D")(q, strides=s, padding=p)),
         (5, 6, 7, 2))
for _kind, _keep in itertools.product(("Max", "Average"), (False, True)):
    _add(f"global_{_kind.lower()}3d_keep{int(_keep)}", _seq((3, 4, 2, 3), lambda L, k=_kind, keep=_keep: getattr(L, f"Global{k}Pooling3D")(
        keepdims=keep)), (3, 4, 2, 3))
for _padding, (_stride, _kernel) in itertools.product(("valid", "same"), ((1, 2), (2, 3), (2, 2), (3, 2), ((2, 1, 3), (3, 2, 2)))):
    _name = "".join(map(str, _stride)) if isinstance(_stride, tuple) else _stride
    _add(f"conv3d_transpose_{_padding}_s{_name}_k{''.join(map(str, _kernel)) if isinstance(_kernel, tuple) else _kernel}",
         _seq((3, 4, 3, 2), lambda L, p=_padding, s=_stride, k=_kernel: L.Conv3DTranspose(3, k, strides=s, padding=p, activation="relu")),
         (3, 4, 3, 2))
_add("conv3d_transpose", _seq((3, 3, 3, 2), lambda L: L.Conv3DTranspose(2, 2, use_bias=False)), (3, 3, 3, 2))
_add("upsampling3d", _seq((2, 3, 2, 2), lambda L: L.UpSampling3D((2, 1, 3))), (2, 3, 2, 2))


def _dot_attention(use_scale: bool, causal: bool, with_key: bool) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        query, value = keras.Input((4, 3), name="query"), keras.Input((5, 3), name="value")
        inputs = [query, value]
        if with_key:
            inputs.append(keras.Input((5, 3), name="key"))
        return keras.Model(inputs, keras.layers.Attention(use_scale=use_scale)(inputs, use_causal_mask=causal))

    return build


for _scale, _causal, _key in itertools.product((False, True), (False, True), (False, True)):
    _add(f"attention_scale{int(_scale)}_causal{int(_causal)}_key{int(_key)}", _dot_attention(_scale, _causal, _key),
         (4, 3), (5, 3), *([(5, 3)] if _key else []))

def _masked_attention(causal: bool = False, cross: bool = False, separate_key: bool = False,
                      nested_tail: bool = False) -> Callable[[], Any]:
    """MultiHeadAttention over masked sequences: Keras masks the scores with the query's and the value's (and
    key's) masks. Its output keeps the query's mask (``nested_tail``: the GRU after it, inside a Sequential,
    receives that mask implicitly)."""

    def build() -> Any:
        import keras
        from keras import layers

        ids = keras.Input((6,), dtype="int32", name="ids")
        inputs = [ids]
        query = layers.Embedding(5, 4, mask_zero=True)(ids)
        value = query
        if cross:
            context = keras.Input((5,), dtype="int32", name="context")
            inputs.append(context)
            value = layers.Embedding(4, 3, mask_zero=True)(context)
        attention = layers.MultiHeadAttention(2, 2, name="attention")
        if separate_key:
            key_ids = keras.Input((5,), dtype="int32", name="key_ids")
            inputs.append(key_ids)
            out = attention(query, value, layers.Embedding(6, 3, mask_zero=True)(key_ids))
        else:
            out = attention(query, value, use_causal_mask=causal)
        tail = layers.GRU(2, return_sequences=True)
        if nested_tail:
            tail = keras.Sequential([keras.Input(out.shape[1:]), tail], name="tail")
        return keras.Model(inputs, tail(out))

    return build


def _masked_dot_attention() -> Any:
    import keras

    ids = keras.Input((6,), dtype="int32", name="ids")
    x = keras.layers.Embedding(5, 4, mask_zero=True)(ids)
    return keras.Model(ids, keras.layers.Attention(name="attention")([x, x]))  # Luong attention reads both masks


for _name, _options in {"self": {}, "causal": {"causal": True}, "cross": {"cross": True},
                        "separate_key": {"cross": True, "separate_key": True}, "nested_tail": {"nested_tail": True}}.items():
    _shapes = [((6,), "int5_start0"), ((5,), "int4")][: 1 + bool(_options.get("cross"))] + ([((5,), "int6")] if _options.get("separate_key") else [])
    CASES[f"masked_mha_{_name}"] = CompileCase(f"masked_mha_{_name}", _masked_attention(**_options), tuple(_shapes))


# --- Identity, RMSNormalization, EinsumDense, Conv1DTranspose, AdditiveAttention, inference-time augmentations ------

_add("identity", _seq((4, 5), lambda L: L.Identity(), lambda L: L.Dense(3)), (4, 5))
_add("rms_norm", _seq((3, 6), lambda L: L.RMSNormalization()), (3, 6))
_add("rms_norm_axes_epsilon", _seq((3, 4, 5), lambda L: L.RMSNormalization(axis=[2, 3], epsilon=1e-2)), (3, 4, 5))
_add("rms_norm_after_dense", _seq((5,), lambda L: L.Dense(4), lambda L: L.RMSNormalization(epsilon=1e-4)), (5,))

EINSUM_DENSE = {  # name: (equation, output_shape, bias_axes, activation, input shape)
    "ab_bc_ac": ("ab,bc->ac", 4, "c", "relu", (6,)),
    "abc_cd_abd": ("abc,cd->abd", (5, 4), "d", "gelu", (5, 6)),
    "abc_cde_abde": ("abc,cde->abde", (5, 2, 3), "de", None, (5, 6)),
    "abc_cde_abde_softmax": ("abc,cde->abde", (5, 2, 3), "e", "softmax", (5, 6)),
    "abcd_cde_abe": ("abcd,cde->abe", (5, 4), "e", "tanh", (5, 2, 3)),
    "abc_cd_abd_no_bias": ("abc,cd->abd", (5, 4), None, "relu", (5, 6)),
    "btd_dnh_btnh_variable": ("btd,dnh->btnh", (None, 2, 3), "nh", None, (None, 6)),
    "btnh_nhd_btd_variable": ("btnh,nhd->btd", (None, 4), "d", None, (None, 2, 3)),
    "ellipsis": ("...b,bc->...c", 4, "c", "sigmoid", (3, 5)),
    "output_transposed": ("abc,cd->adb", (4, 5), "b", "relu", (5, 6)),
    "kernel_axis_first": ("abc,dc->abd", (5, 4), "d", None, (5, 6)),
}
for _name, (_equation, _output, _bias, _act, _shape) in EINSUM_DENSE.items():
    _add(f"einsum_dense_{_name}",
         _seq(_shape, lambda L, e=_equation, o=_output, b=_bias, a=_act: L.EinsumDense(e, o, bias_axes=b, activation=a)),
         tuple(3 if d is None else d for d in _shape),  # a variable length: fed three steps
         fused=("_FusedMatMul",) if _name in ("ab_bc_ac", "abc_cde_abde") else ())

for _padding, _stride, _kernel in (("valid", 1, 3), ("valid", 2, 3), ("valid", 3, 2), ("valid", 2, 1), ("same", 1, 3),
                                   ("same", 2, 3), ("same", 3, 2), ("same", 2, 4)):
    _add(f"conv1d_transpose_{_padding}_s{_stride}_k{_kernel}",
         _seq((5, 3), lambda L, p=_padding, s=_stride, k=_kernel: L.Conv1DTranspose(4, k, strides=s, padding=p, activation="relu")),
         (5, 3))
_add("conv1d_transpose_no_bias", _seq((6, 2), lambda L: L.Conv1DTranspose(3, 2, strides=2, use_bias=False)), (6, 2))


def _score_attention(class_name: str, use_scale: bool, causal: bool, with_key: bool) -> Callable[[], Any]:
    def build() -> Any:
        import keras

        query, value = keras.Input((4, 3), name="query"), keras.Input((5, 3), name="value")
        inputs = [query, value]
        if with_key:
            inputs.append(keras.Input((5, 3), name="key"))
        layer = getattr(keras.layers, class_name)(use_scale=use_scale)
        return keras.Model(inputs, layer(inputs, use_causal_mask=causal))

    return build


for _scale, _causal, _key in itertools.product((False, True), (False, True), (False, True)):
    _add(f"additive_attention_scale{int(_scale)}_causal{int(_causal)}_key{int(_key)}",
         _score_attention("AdditiveAttention", _scale, _causal, _key), (4, 3), (5, 3), *([(5, 3)] if _key else []))

IDENTITY_AUGMENTATIONS = (
    lambda L: L.RandomGrayscale(1.0), lambda L: L.RandomHue(0.5, value_range=(0, 1)), lambda L: L.RandomSaturation(0.5),
    lambda L: L.RandomColorJitter(value_range=(0, 1), brightness_factor=0.2, contrast_factor=0.2, saturation_factor=0.5),
    lambda L: L.RandomColorDegeneration(0.5), lambda L: L.RandomSharpness(0.5), lambda L: L.RandomShear(0.3, 0.3),
    lambda L: L.RandomPerspective(1.0), lambda L: L.RandomElasticTransform(1.0), lambda L: L.RandomInvert(1.0),
    lambda L: L.RandomPosterization(4, value_range=(0, 1)), lambda L: L.RandomErasing(1.0),
    lambda L: L.RandomGaussianBlur(1.0), lambda L: L.Solarization(0.5, 0.5, value_range=(0, 1)),
    lambda L: L.AugMix(value_range=(0, 1)), lambda L: L.RandAugment(value_range=(0, 1)), lambda L: L.CutMix(),
    lambda L: L.MixUp(),
)
_add("image_augmentations_are_identity_at_inference", _seq((6, 6, 3), *IDENTITY_AUGMENTATIONS, lambda L: L.Conv2D(2, 3)),
     (6, 6, 3))


def _batched_einsum_dense() -> Any:
    import keras

    x = keras.Input((5, 6), name="x")
    return keras.Model(x, keras.layers.EinsumDense("abc,cb->ab", (5,), name="batched")(x))


# Models the compiler must refuse, and the layers it must name: never a wrong translation.
def _fresh_names(build: Callable[[], Any]) -> Callable[[], Any]:
    """``build`` after Keras's automatic names are reset (the op is then named ``get_item``, not ``get_item_7``)."""
    def fresh() -> Any:
        import keras

        keras.backend.clear_session()
        return build()

    return fresh


UNCOVERED = {
    "masked_attention": CompileCase("masked_attention", _masked_dot_attention, (((6,), "int5"),)),
    "einsum_dense_batched": CompileCase("einsum_dense_batched", _batched_einsum_dense, (((5, 6), "float"),)),
    # TF.js's StridedSlice computes negative strides differently: refused by name, not compiled wrong
    "getitem_negative_step": CompileCase("getitem_negative_step", _fresh_names(_ops_model(lambda o, x: x[:, ::-1, 1])),
                                         (((3, 4), "float"),)),
}
UNCOVERED_LAYERS = {"masked_attention": ["attention"], "einsum_dense_batched": ["batched"], "getitem_negative_step": ["get_item"]}


# Keras 3 models also compiled from their legacy .h5 form (same config, weights stored the legacy way).
H5_CASES = ("nested_models", "shared_layer_two_outputs", "nested_model_called_twice", "resnet_block", "bidirectional_lstm_concat_seq1",
            "rnn_return_state_and_merge_none", "normalization_adapted", "separable_1d", "einsum_dense_abc_cde_abde",
            "rms_norm_after_dense", "conv1d_transpose_same_s2_k3", "additive_attention_scale1_causal0_key1")


def _keras2_cnn() -> Any:
    import tf_keras
    from tf_keras import layers

    inp = tf_keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization(scale=False)(x)
    x = layers.Conv2D(5, 3, activation="relu")(x)
    x = layers.PReLU(shared_axes=[1, 2])(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.LayerNormalization(center=False)(x)
    inner_in = tf_keras.Input((5,))
    inner = tf_keras.Model(inner_in, layers.Dense(3)(layers.BatchNormalization()(inner_in)), name="inner")
    return tf_keras.Model(inp, inner(layers.Dense(5)(x)), name="k2_cnn")


def _keras2_sequential() -> Any:
    import tf_keras
    from tf_keras import layers

    return tf_keras.Sequential([layers.Embedding(20, 6, input_length=5), layers.Flatten(), layers.Dense(4, activation="tanh"),
                                layers.Dense(2)], name="k2_seq")


def _keras2_recurrent() -> Any:
    import tf_keras
    from tf_keras import layers

    inp = tf_keras.Input((6, 4))
    x = layers.LSTM(5, return_sequences=True)(inp)
    x = layers.GRU(4, return_sequences=True, reset_after=False)(x)
    x = layers.GRU(4, return_sequences=True)(x)
    x = layers.Bidirectional(layers.LSTM(3))(x)
    return tf_keras.Model(inp, layers.Dense(2)(x), name="k2_rnn")


def _keras2_shared_nested() -> Any:
    import tf_keras
    from tf_keras import layers

    a, b = tf_keras.Input((4,), name="a"), tf_keras.Input((4,), name="b")
    block_in = tf_keras.Input((4,))
    block = tf_keras.Model(block_in, layers.Dense(4, activation="relu")(block_in), name="block")
    shared = layers.Dense(3, name="shared")
    merged = layers.Concatenate()([shared(block(a)), shared(block(b)), layers.Subtract()([a, b])])
    return tf_keras.Model([a, b], [layers.Dense(2, name="y1")(merged), layers.Dense(1, name="y2")(merged)], name="k2_shared")


def _keras2_masked() -> Any:
    import tf_keras
    from tf_keras import layers

    ids = tf_keras.Input((6,), dtype="int32")
    x = layers.Embedding(5, 4, mask_zero=True)(ids)
    x = layers.Bidirectional(layers.LSTM(3, return_sequences=True))(x)
    x = layers.Dense(3, activation="tanh")(x)
    return tf_keras.Model(ids, layers.GRU(2)(x), name="k2_masked")


# Keras 2 (tf_keras) models saved as .h5: legacy inbound nodes, node numbering, weight layout.
KERAS2 = {
    "k2_cnn": CompileCase("k2_cnn", _keras2_cnn, (((8, 8, 3), "float"),)),
    "k2_sequential": CompileCase("k2_sequential", _keras2_sequential, (((5,), "ids20"),)),
    "k2_recurrent": CompileCase("k2_recurrent", _keras2_recurrent, (((6, 4), "float"),)),
    "k2_shared_nested": CompileCase("k2_shared_nested", _keras2_shared_nested, (((4,), "float"), ((4,), "float"))),
    "k2_masked": CompileCase("k2_masked", _keras2_masked, (((6,), "int5"),)),
}


def build_case(case: CompileCase, seed: int) -> Any:
    from zoo import randomize

    model = case.build()
    if case.randomize:
        randomize(model, seed)
    return model


def case_inputs(case: CompileCase, seed: int, batch: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = []
    for shape, kind in case.inputs:
        if kind.startswith(("int", "ids")):  # integers below n, as int32 or as the floats of a float input
            vocabulary, _, option = kind[3:].partition("_")
            ids = rng.integers(0, int(vocabulary), size=(batch, *shape))
            if option == "start0":  # every sequence starts with a zero (masked) step
                ids[:, 0] = 0
            arrays.append(ids.astype("int32" if kind.startswith("int") else "float32"))
        else:
            arrays.append(rng.normal(0.0, 1.0, size=(batch, *shape)).astype("float32"))
    return arrays


def keras_outputs(model: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Keras's outputs in signature order: a dict of outputs by sorted key, as the graph names them."""
    from helpers import keras_predict

    out = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    return [np.asarray(out[k]) for k in sorted(out)] if isinstance(out, dict) else keras_predict(model, inputs)


def compile_without_tensorflow(jobs: list[dict[str, str]], tmp: Path) -> dict[str, dict[str, Any]]:
    """Run this script's :func:`compile_jobs` over ``jobs`` in a subprocess where TensorFlow and Keras are blocked;
    its report per job name."""
    from projects import tensorflow_blocked_env

    (tmp / "jobs.json").write_text(json.dumps(jobs))
    here = Path(__file__).parent
    proc = subprocess.run([sys.executable, str(Path(__file__)), str(tmp / "jobs.json")], cwd=here,
                          env=tensorflow_blocked_env(tmp), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines[-1] == {"tensorflow_imported": False, "keras_imported": False}
    return {line["name"]: line for line in lines[:-1]}


def compile_jobs(jobs: list[dict[str, str]]) -> None:
    """Compile each Keras file into a graph-model directory; one JSON line per job (what was done, in how long)."""
    from hatch_tfjs.compile import CompiledGraph, compile_keras_model
    from hatch_tfjs.read import read_keras_model
    from hatch_tfjs.write import graph_model_json, write_model_dir

    for job in jobs:
        started = time.perf_counter()
        line: dict[str, Any] = {"name": job["name"]}
        try:
            model = read_keras_model(Path(job["source"]), model_name=job["name"])
            result = compile_keras_model(model, model_name=job["name"], source_rel=job["source"])
        except Exception as exc:  # noqa: BLE001 - reported for the test of this one model
            line["error"] = f"{type(exc).__name__}: {exc}"
            print(json.dumps(line), flush=True)
            continue
        if isinstance(result, CompiledGraph):
            document = graph_model_json(result.topology, result.signature, generated_by=result.generated_by)
            write_model_dir(Path(job["output"]), document, result.weights, shard_size=0)
            line.update(ops=result.op_counts, signature=result.signature)
        else:
            line["uncovered"] = [[u.name, u.class_name, u.reason] for u in result.layers]
        line["seconds"] = time.perf_counter() - started
        print(json.dumps(line), flush=True)
    print(json.dumps({"tensorflow_imported": "tensorflow" in sys.modules, "keras_imported": "keras" in sys.modules}))


if __name__ == "__main__":
    compile_jobs(json.loads(Path(sys.argv[1]).read_text()))
