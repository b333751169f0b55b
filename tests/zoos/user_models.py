"""The models users really have (issue 20), shared by the tests that build them into projects: keras-hub families
with small configs and random weights (never presets), and keras.io-style functional models. Each comes with the
inputs the user calls it with and Keras's outputs for them; ``check_in_tfjs`` runs the converted output in real
TF.js 4.22 and compares."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from helpers import assert_parity

ATOL = 1e-4
RTOL = 1e-3  # and at most this fraction of the largest output
Feed = dict[str, np.ndarray]


# The user's own layer, as a project keeps it in its package (src/app/layers.py), registered for Keras.
USER_LAYERS = '''
import keras


@keras.saving.register_keras_serializable(package="app")
class Scale(keras.layers.Layer):
    """Multiplies by a learned per-feature factor, then adds a constant: the user's own layer."""

    def __init__(self, offset=0.5, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def build(self, input_shape):
        self.factor = self.add_weight(shape=(input_shape[-1],), initializer="random_normal", name="factor")

    def call(self, x):
        return x * self.factor + self.offset

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}
'''


@dataclass
class Case:
    feed: Feed  # by the names the user calls the model with
    expected: list[np.ndarray]  # outputs in the graph's signature order (dict outputs by sorted key)


def expected_outputs(outputs: Any) -> list[np.ndarray]:
    if isinstance(outputs, dict):
        return [np.asarray(outputs[key]) for key in sorted(outputs)]
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def text_feed(rng: np.random.Generator, *keys: str) -> Feed:
    ids = rng.integers(1, 50, size=(2, 7)).astype("int32")
    mask = np.ones((2, 7), "int32")
    mask[1, 5:] = 0  # a padded sequence
    values = {"token_ids": ids, "padding_mask": mask, "segment_ids": (ids % 2).astype("int32")}
    return {key: values[key] for key in keys}


def save_cases(models: dict[str, tuple[Any, Feed]], folder: Path) -> dict[str, Case]:
    """Saves each model as ``folder/<name>.keras``; Keras's outputs for its feed (a dict when the model takes one)."""
    cases = {}
    for name, (model, feed) in models.items():
        model.save(folder / f"{name}.keras")
        if isinstance(getattr(model, "_inputs_struct", None), dict):  # a functional model on a dict
            call: Any = feed
        else:  # a list model's feed is in the order of its inputs
            call = list(feed.values()) if len(feed) > 1 else next(iter(feed.values()))
        cases[name] = Case(feed, expected_outputs(model(call, training=False)))
    return cases


def models_table(names: list[str]) -> str:
    """The hook's models table, each model with the default configuration (only its source)."""
    return "\n[tool.hatch.build.hooks.tfjs.models]\n" + "".join(
        f'{name} = {{ source = "models/{name}.keras" }}\n' for name in sorted(names)
    )


@dataclass
class BuildLine:
    route: str  # "layers", "graph (compiled)" or "graph through TensorFlow"
    seconds: float


def build_line(output: str, name: str) -> BuildLine:
    """What the build said about model ``name``: the route it took and its conversion time."""
    match = re.search(rf"^tfjs: {name}: (layers|graph) model .*\(.*?([\d.]+) s\)(.*)$", output, re.MULTILINE)
    assert match, output
    route = match.group(1)
    if route == "graph":
        route = "graph through TensorFlow" if "graph through TensorFlow" in match.group(3) else "graph (compiled)"
    return BuildLine(route, float(match.group(2)))


def check_in_tfjs(tfjs: Any, output: Path, case: Case, backend: str = "cpu") -> float:
    """Runs the converted model in TF.js (on ``backend``) on the case's feed; asserts parity within ATOL and returns
    the largest absolute difference. Inputs go by the names the user calls the model with (the graph's signature
    keys, the layers model's input layers)."""
    document = json.loads((output / "model.json").read_text())
    graph = document["format"] == "graph-model"
    if len(case.feed) == 1:  # one input: fed by position, named or not
        got, _ = tfjs.run(output, list(case.feed.values()), format="graph" if graph else "layers", backend=backend)
    elif graph:
        assert sorted(document["signature"]["inputs"]) == sorted(case.feed)  # the user's names, kept
        names = sorted(case.feed)
        got, _ = tfjs.run(output, [case.feed[k] for k in names], format="graph", input_names=names, backend=backend)
    else:
        names = [layer[0] for layer in document["modelTopology"]["model_config"]["config"]["input_layers"]]
        assert sorted(names) == sorted(case.feed)
        got, _ = tfjs.run(output, [case.feed[k] for k in names], format="layers", backend=backend)
    assert_parity(got, case.expected, atol=ATOL)
    diff = max(float(np.max(np.abs(g.astype(np.float64) - e))) if e.size else 0.0 for g, e in zip(got, case.expected))
    # Random weights can make small outputs (a MobileNet's are ~3e-4), where 1e-4 alone would say little.
    scale = max(float(np.max(np.abs(e))) if e.size else 0.0 for e in case.expected)
    assert diff <= RTOL * scale, f"max abs difference {diff:.3g} > {RTOL} x the largest output {scale:.3g}"
    return diff


def _image(rng: np.random.Generator, side: int) -> Feed:
    return {"images": rng.normal(size=(2, side, side, 3)).astype("float32")}


TEXT = {"vocabulary_size": 50, "num_layers": 2, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16}


def hub_families(rng: np.random.Generator) -> dict[str, tuple[Any, Feed]]:
    """keras-hub families beyond the text backbones, each small: Whisper, DeiT, MobileNet, EfficientNet, CSPNet and a
    task model (a BertTextClassifier without preprocessor)."""
    import keras_hub

    models = keras_hub.models
    builders: dict[str, Callable[[], tuple[Any, Feed]]] = {
        "whisper": lambda: (
            models.WhisperBackbone(**TEXT, num_mels=8, max_encoder_sequence_length=16, max_decoder_sequence_length=8),
            {"encoder_features": rng.normal(size=(2, 16, 8)).astype("float32"),
             "decoder_token_ids": rng.integers(1, 50, size=(2, 8)).astype("int32"),
             "decoder_padding_mask": np.array([[1] * 8, [1] * 5 + [0] * 3], "int32")},
        ),
        "deit": lambda: (
            models.DeiTBackbone(image_shape=(16, 16, 3), patch_size=4, num_layers=2, num_heads=2, hidden_dim=8,
                                intermediate_dim=16),
            _image(rng, 16),
        ),
        "mobilenet": lambda: (
            models.MobileNetBackbone(
                stackwise_expansion=[[16], [24, 24]], stackwise_num_blocks=[1, 2], stackwise_num_filters=[[8], [16, 16]],
                stackwise_kernel_size=[[3], [5, 5]], stackwise_num_strides=[[2], [2, 1]],
                stackwise_se_ratio=[[None], [0.25, 0.25]], stackwise_activation=[["relu"], ["hard_swish", "hard_swish"]],
                stackwise_padding=[[1], [2, 2]], output_num_filters=32, depthwise_filters=8, depthwise_stride=2,
                depthwise_residual=False, last_layer_filter=32, squeeze_and_excite=0.5, image_shape=(32, 32, 3),
                input_num_filters=8,
            ),
            _image(rng, 32),
        ),
        # num_features left at its default: keras-hub 0.32's get_config does not record it (see efficientnet_narrow)
        "efficientnet": lambda: (efficientnet(), _image(rng, 32)),
        "cspnet": lambda: (cspnet(), _image(rng, 32)),
        "bert_classifier": lambda: (
            models.BertTextClassifier(models.BertBackbone(**TEXT, max_sequence_length=12), num_classes=3,
                                      preprocessor=None),
            text_feed(rng, "token_ids", "segment_ids", "padding_mask"),
        ),
    }
    return {name: build() for name, build in builders.items()}


def cspnet() -> Any:
    """A two-stage CSPNet on 32x32 images (its input layer unnamed, as keras-hub builds it)."""
    import keras_hub

    return keras_hub.models.CSPNetBackbone(
        stem_filters=8, stem_kernel_size=3, stem_strides=1, stackwise_depth=[1, 1], stackwise_strides=[1, 2],
        stackwise_num_filters=[8, 16], block_type="bottleneck_block", stage_type="csp", expand_ratio=[2.0],
        bottle_ratio=[0.5], image_shape=(32, 32, 3),
    )


def efficientnet(**overrides: Any) -> Any:
    """A two-stage EfficientNet (one fused, one MBConv block with squeeze-and-excite) on 32x32 images."""
    import keras_hub

    arguments: dict[str, Any] = {
        "stackwise_kernel_sizes": [3, 3], "stackwise_num_repeats": [1, 1], "stackwise_input_filters": [8, 8],
        "stackwise_output_filters": [8, 16], "stackwise_expansion_ratios": [1, 4],
        "stackwise_squeeze_and_excite_ratios": [0.0, 0.25], "stackwise_strides": [1, 2],
        "stackwise_block_types": ["fused", "unfused"], "stackwise_width_coefficients": [1.0, 1.0],
        "stackwise_depth_coefficients": [1.0, 1.0], "input_shape": (32, 32, 3), "dropout": 0.0,
    }
    return keras_hub.models.EfficientNetBackbone(**{**arguments, **overrides})


def keras_io_models(rng: np.random.Generator) -> dict[str, tuple[Any, Feed]]:
    """Functional models as keras.io examples write them: two inputs of two dtypes (int token ids and float
    features), a small U-Net (Conv2DTranspose up-sampling, concatenated skips) and a Conv1D + LSTM forecaster."""
    import keras
    from keras import layers

    tokens = keras.Input((6,), dtype="int32", name="token_ids")
    features = keras.Input((4,), name="features")
    text = layers.GlobalAveragePooling1D()(layers.Embedding(20, 8)(tokens))
    merged = layers.Concatenate()([text, layers.Dense(8, activation="relu")(features)])
    two_dtypes = keras.Model([tokens, features], layers.Dense(1, activation="sigmoid")(merged), name="two_dtypes")

    image = keras.Input((32, 32, 3), name="image")
    skips, x = [], image
    for filters in (8, 16):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.BatchNormalization()(x)
        skips.append(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    for filters, skip in zip((16, 8), reversed(skips)):
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
        x = layers.Concatenate()([x, skip])
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
    unet = keras.Model(image, layers.Conv2D(3, 1, activation="softmax")(x), name="unet")
    _random_statistics(unet, rng)

    series = keras.Input((24, 3), name="series")
    x = layers.Conv1D(8, 3, padding="causal", activation="relu")(series)
    x = layers.LSTM(16, return_sequences=True)(x)
    x = layers.LSTM(8)(x)
    forecaster = keras.Model(series, layers.Dense(4)(x), name="forecaster")  # the next 4 steps

    return {
        "two_dtypes": (two_dtypes, {"token_ids": rng.integers(0, 20, size=(2, 6)).astype("int32"),
                                    "features": rng.normal(size=(2, 4)).astype("float32")}),
        "unet": (unet, {"image": rng.normal(size=(2, 32, 32, 3)).astype("float32")}),
        "forecaster": (forecaster, {"series": rng.normal(size=(2, 24, 3)).astype("float32")}),
    }


def _random_statistics(model: Any, rng: np.random.Generator) -> None:
    """Moving statistics of every BatchNormalization made random, so inference-mode normalisation is not the
    identity a fresh layer computes."""
    from keras import layers

    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            shape = mean.shape
            layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.1, shape), rng.normal(0, 0.2, shape),
                               rng.uniform(0.5, 2.0, shape)])


def standard_models(rng: np.random.Generator) -> dict[str, tuple[Any, Feed]]:
    """Standard models of the Keras backend they are built under (JAX in the tests): a small CNN classifier, a
    keras.applications MobileNetV3Small (weights=None), a GRU text classifier and a Transformer encoder block."""
    import keras
    from keras import layers

    cnn = keras.Sequential([
        keras.Input((28, 28, 1), name="digits"), layers.Conv2D(8, 3, activation="relu"), layers.BatchNormalization(),
        layers.MaxPooling2D(), layers.Conv2D(16, 3, activation="relu"), layers.GlobalAveragePooling2D(),
        layers.Dropout(0.2), layers.Dense(10, activation="softmax"),
    ], name="cnn")
    _random_statistics(cnn, rng)
    mobilenet = keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), weights=None, classes=5,
                                                    include_preprocessing=True)
    _random_statistics(mobilenet, rng)
    text = keras.Sequential([
        keras.Input((10,), dtype="int32", name="words"), layers.Embedding(30, 8),
        layers.Bidirectional(layers.GRU(6)), layers.Dense(2),
    ], name="gru_text")
    tokens = keras.Input((8, 16), name="embeddings")
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=8)(tokens, tokens)
    x = layers.LayerNormalization()(layers.Add()([tokens, attended]))
    x = layers.LayerNormalization()(layers.Add()([x, layers.Dense(16)(layers.Dense(32, activation="gelu")(x))]))
    encoder = keras.Model(tokens, x, name="encoder")
    return {
        "cnn": (cnn, {"digits": rng.normal(size=(2, 28, 28, 1)).astype("float32")}),
        "mobilenet_v3": (mobilenet, {"image": rng.uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")}),
        "gru_text": (text, {"words": rng.integers(0, 30, size=(2, 10)).astype("int32")}),
        "encoder": (encoder, {"embeddings": rng.normal(size=(2, 8, 16)).astype("float32")}),
    }


def save_standard_models(folder: Path) -> None:
    """Run under the backend to test (``KERAS_BACKEND=jax python -c ...``): each standard model saved as
    ``folder/<name>.keras``, its feed and that backend's outputs as ``folder/<name>.npz``."""
    import keras

    keras.utils.set_random_seed(22)
    for name, case in save_cases(standard_models(np.random.default_rng(22)), folder).items():
        np.savez(folder / f"{name}.npz", **{f"in:{k}": v for k, v in case.feed.items()},
                 **{f"out:{i}": e for i, e in enumerate(case.expected)})


def load_cases(folder: Path, names: list[str]) -> dict[str, Case]:
    cases = {}
    for name in names:
        with np.load(folder / f"{name}.npz") as saved:
            feed = {key[3:]: saved[key] for key in saved.files if key.startswith("in:")}
            outputs = sorted((int(key[4:]), saved[key]) for key in saved.files if key.startswith("out:"))
        cases[name] = Case(feed, [o for _, o in outputs])
    return cases
