"""Real architectures the real-model tests build: every keras.applications family (``weights=None``: nothing
downloads) and models a keras.io reader writes (masked text RNNs, a Transformer block, preprocessing + augmentation,
``keras.ops`` arithmetic, several inputs and outputs, exact GELU).

Sizes are the smallest each family accepts (32 px, 71 px for Xception, 75 px for the Inceptions, the narrowest
MobileNet widths) and ``classes=10`` with no softmax, so conversions stay fast and outputs are logits of order 1.
Weights are random but seeded (``zoo.randomize``), then made to behave like a trained network's on the tested
inputs: kernels scaled by fan-in, BatchNormalization statistics fitted to what each layer receives and then
perturbed (far from the identity, so a converter that drops or misorders them fails), and the last kernel of each
output standardised. Without that, 50-layer random networks overflow, collapse to a constant, or amplify float32
rounding beyond the 1e-4 tolerance (see ``calibrate_batch_norms``).
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from zoo import randomize

BATCH = 4
CALIBRATION_BATCH = 32  # BatchNormalization statistics are fitted on 32 inputs, the first BATCH of which are tested
CLASSES = 10
VOCAB = 40  # token ids of the text models; 0 is padding (masked)
SEQUENCE = 12


@dataclass(frozen=True)
class RealModel:
    name: str
    build: Callable[[], Any]
    pixels: bool = False  # fed raw 0-255 pixels: the model starts with its own rescaling / normalisation


def _application(constructor: str, size: int, **options: Any) -> Callable[[], Any]:
    """A keras.applications constructor with random weights, a small classifier without softmax, at ``size`` px."""

    def build() -> Any:
        import keras

        factory = getattr(keras.applications, constructor)
        return factory(
            weights=None, input_shape=(size, size, 3), classes=CLASSES, classifier_activation=None, **options
        )

    build.__name__ = f"build_{constructor}"
    return build


def _masked_text_rnn(cell: str) -> Callable[[], Any]:
    """Padded token ids -> Embedding(mask_zero=True) -> recurrent layers that skip the padding -> logits."""

    def build() -> Any:
        import keras
        from keras import layers

        tokens = keras.Input((SEQUENCE,), dtype="int32", name="tokens")
        x = layers.Embedding(VOCAB, 16, mask_zero=True)(tokens)
        if cell == "gru":
            x = layers.GRU(12, return_sequences=True)(x)  # Keras' default reset_after=True
            x = layers.GRU(8)(x)
        else:
            x = layers.Bidirectional(layers.LSTM(8, return_sequences=True))(x)
            x = layers.LSTM(8)(x)
        x = layers.Dense(16, activation="relu")(x)
        return keras.Model(tokens, layers.Dense(3)(x), name=f"masked_{cell}")

    return build


def _transformer() -> Any:
    """keras.io's text classification with a Transformer block, written functionally: token embedding plus a
    position embedding looked up over ``keras.ops.arange``, multi-head self-attention, residuals with
    LayerNormalization, a feed-forward block, pooling and a classifier."""
    import keras
    from keras import layers, ops

    embed, heads = 16, 2
    tokens = keras.Input((SEQUENCE,), dtype="int32", name="tokens")
    positions = ops.zeros_like(tokens) + ops.arange(SEQUENCE, dtype="int32")
    x = layers.Embedding(VOCAB, embed)(tokens) + layers.Embedding(SEQUENCE, embed)(positions)
    attention = layers.MultiHeadAttention(num_heads=heads, key_dim=embed // heads)(x, x)
    x = layers.LayerNormalization(epsilon=1e-6)(x + layers.Dropout(0.1)(attention))
    feed_forward = layers.Dense(embed)(layers.Dense(32, activation="relu")(x))
    x = layers.LayerNormalization(epsilon=1e-6)(x + layers.Dropout(0.1)(feed_forward))
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dense(20, activation="relu")(layers.Dropout(0.1)(x))
    return keras.Model(tokens, layers.Dense(2)(x), name="transformer")


def _preprocessing_cnn() -> Any:
    """Raw 0-255 pixels -> augmentation (identity at inference) -> Rescaling -> Normalization adapted on data -> CNN."""
    import keras
    from keras import layers

    normalization = layers.Normalization()
    samples = np.random.default_rng(5).uniform(0, 1, size=(64, 16, 16, 3)) * [1.0, 0.5, 0.8]
    normalization.adapt(samples.astype("float32"))
    images = keras.Input((16, 16, 3), name="images")
    x = layers.RandomFlip("horizontal")(images)
    x = layers.RandomRotation(0.1)(x)
    x = layers.Rescaling(1.0 / 255)(x)
    x = normalization(x)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(12, 3, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    return keras.Model(images, layers.Dense(4)(x), name="preprocessing_cnn")


def _ops_arithmetic() -> Any:
    """A functional model doing its own normalisation with keras.ops on KerasTensors (mean, subtract, multiply, sqrt,
    add, sum) and scalar arithmetic between layers."""
    import keras
    from keras import layers, ops

    features = keras.Input((6,), name="features")
    h = layers.Dense(10)(features)
    centred = ops.subtract(h, ops.mean(h, axis=-1, keepdims=True))
    spread = ops.sqrt(ops.add(ops.mean(ops.multiply(centred, centred), axis=-1, keepdims=True), 1e-3))
    normalised = ops.relu(ops.divide(centred, spread))
    total = ops.sum(normalised, axis=-1, keepdims=True)
    x = ops.add(ops.multiply(normalised, 0.5), 1.0)
    x = layers.Dense(5, activation="tanh")(x)
    return keras.Model(features, layers.Concatenate()([layers.Dense(3)(x), total]), name="ops_arithmetic")


def _multi_io() -> Any:
    """An image and a feature vector in, a class logit vector and a regression value out."""
    import keras
    from keras import layers

    image = keras.Input((16, 16, 1), name="image")
    meta = keras.Input((5,), name="meta")
    x = layers.Conv2D(6, 3, activation="relu")(image)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    y = layers.Dense(8, activation="relu")(meta)
    joined = layers.Concatenate()([x, y])
    label = layers.Dense(3, name="label")(joined)
    score = layers.Dense(1, name="score")(layers.Dense(8, activation="relu")(joined))
    return keras.Model([image, meta], [label, score], name="multi_io")


def _exact_gelu() -> Any:
    """Dense layers with Keras' exact (erf-based) GELU, the default of activation="gelu"."""
    import keras
    from keras import layers

    inp = keras.Input((8,), name="features")
    x = layers.Dense(16, activation="gelu")(inp)
    x = layers.Dense(8, activation="gelu")(x)
    return keras.Model(inp, layers.Dense(3)(x), name="exact_gelu")


APPLICATIONS: tuple[RealModel, ...] = (
    RealModel("convnext_tiny", _application("ConvNeXtTiny", 32), pixels=True),
    RealModel("densenet121", _application("DenseNet121", 32)),
    RealModel("efficientnet_b0", _application("EfficientNetB0", 32), pixels=True),
    RealModel("efficientnet_v2_b0", _application("EfficientNetV2B0", 32), pixels=True),
    RealModel("inception_resnet_v2", _application("InceptionResNetV2", 75)),
    RealModel("inception_v3", _application("InceptionV3", 75)),
    RealModel("mobilenet", _application("MobileNet", 32, alpha=0.25)),
    RealModel("mobilenet_v2", _application("MobileNetV2", 32, alpha=0.35)),
    RealModel("mobilenet_v3_small", _application("MobileNetV3Small", 32, alpha=0.35), pixels=True),
    RealModel("mobilenet_v3_large", _application("MobileNetV3Large", 32, alpha=0.35), pixels=True),
    RealModel("nasnet_mobile", _application("NASNetMobile", 32)),
    RealModel("resnet50", _application("ResNet50", 32)),
    RealModel("resnet50_v2", _application("ResNet50V2", 32)),
    RealModel("vgg16", _application("VGG16", 32)),
    RealModel("xception", _application("Xception", 71)),
)

KERAS_IO: tuple[RealModel, ...] = (
    RealModel("masked_gru", _masked_text_rnn("gru")),
    RealModel("masked_lstm", _masked_text_rnn("lstm")),
    RealModel("transformer", _transformer),
    RealModel("preprocessing_cnn", _preprocessing_cnn, pixels=True),
    RealModel("ops_arithmetic", _ops_arithmetic),
    RealModel("multi_io", _multi_io),
    RealModel("exact_gelu", _exact_gelu),
)

REAL_MODELS: dict[str, RealModel] = {m.name: m for m in (*APPLICATIONS, *KERAS_IO)}

# Kernels whose fan-in is the product of all but the last axis; depthwise kernels only see their window.
_FAN_IN_KERNELS = ("kernel", "pointwise_kernel", "recurrent_kernel", "depthwise_kernel")
_GAIN = np.sqrt(2.0)  # He scaling: keeps the signal's variance through ReLU layers


def _fan_in(name: str, shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[:2] if name == "depthwise_kernel" else shape[:-1]))


def scale_for_depth(model: Any) -> None:
    """Rescale ``randomize``'s N(0, 0.4) kernels to N(0, 2/fan_in), keep biases small, and make every variance
    positive (``randomize`` only knows BatchNormalization's ``moving_variance``; Normalization has ``variance``)."""
    for variable in model.weights:
        name, shape = variable.name, tuple(variable.shape)
        value = np.asarray(variable.numpy(), dtype="float64")
        if name in _FAN_IN_KERNELS:
            value = value / 0.4 * _GAIN / np.sqrt(max(_fan_in(name, shape), 1))
        elif name == "bias":
            value = value * 0.25
        elif name == "variance":
            value = np.abs(value) + 0.5
        else:
            continue
        variable.assign(value.astype(variable.dtype))


def refresh_adapted_constants(model: Any) -> None:
    """Normalization computes with constants it derives from its mean/variance variables when it is adapted or
    built; after the variables change, only a model loaded from the file would see them. Derive them again, so the
    model in memory computes what the saved file does."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization):
            layer.finalize_state()


def _in_inference_mode(operation: Any) -> Any:
    """``operation`` called with training=False where it takes the argument: augmentation layers left to their
    default transform their input (RandomFlip flips)."""
    if "training" in inspect.signature(operation.call).parameters:
        return functools.partial(operation, training=False)
    return operation


# Channels that (nearly) never vary must not be normalised up to unit variance: that would amplify float rounding
# into the outputs, where Keras and TF.js legitimately differ.
_VARIANCE_FLOOR = 1e-2


def calibrate_batch_norms(model: Any, inputs: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Set every BatchNormalization's moving statistics from what it actually receives, then perturb them: the
    variance scaled by 0.5-2 and the mean lowered by about one standard deviation (N(1, 0.3)), so most units
    after the normalisation are in the near-linear part of their activation.

    Random deep networks are otherwise either ordered (every input gives the same output) or chaotic (a 1e-6
    change of the input moves the output by 1e-3, far above the float32 differences between Keras and TF.js);
    with these statistics the outputs depend on the input and are about as sensitive as the input itself, while
    the statistics stay far from the identity, so a converter that drops or misorders them fails.

    One inference pass through the functional graph (Keras' ``_run_through_graph``, the loop ``Functional.call``
    itself runs) calibrates each BatchNormalization just before it runs, on the output of the calibrated layers
    before it; the pass's outputs are therefore the calibrated model's outputs, which it returns."""
    import keras

    rng = np.random.default_rng(seed)

    def calibrated(operation: Any) -> Any:
        if not isinstance(operation, keras.layers.BatchNormalization):
            return _in_inference_mode(operation)

        def call(value: Any, *args: Any, **kwargs: Any) -> Any:
            array = np.asarray(value, dtype="float64")
            axes = tuple(i for i in range(array.ndim) if i != operation.axis % array.ndim)
            mean, var = array.mean(axis=axes), array.var(axis=axes) + _VARIANCE_FLOOR
            lowered_by = rng.normal(1.0, 0.3, size=mean.shape)
            operation.moving_mean.assign((mean - lowered_by * np.sqrt(var)).astype("float32"))
            operation.moving_variance.assign((var * rng.uniform(0.5, 2.0, size=mean.shape)).astype("float32"))
            return operation(value, *args, **kwargs)

        return call

    return _as_arrays(model._run_through_graph(inputs, operation_fn=calibrated))


def _last_weighted_layer(tensor: Any) -> Any:
    """The layer with a kernel that last shaped ``tensor``, walking back through Flatten/Activation/Dropout-like
    single-input layers (MobileNetV3 ends with Conv2D -> Flatten -> Activation)."""
    layer = tensor._keras_history.operation
    while not hasattr(layer, "kernel") and len(layer._inbound_nodes[0].input_tensors) == 1:
        layer = layer._inbound_nodes[0].input_tensors[0]._keras_history.operation
    return layer if hasattr(layer, "kernel") else None


def standardize_outputs(model: Any, outputs: list[np.ndarray]) -> None:
    """Rescale each output's last kernel so that the model's ``outputs`` (on the calibration inputs) get mean 0 and
    std 1: logits of order 1, so that the 1e-4 tolerance means a relative error of about 1e-4 too."""
    for tensor, value in zip(model.outputs, outputs):
        layer = _last_weighted_layer(tensor)
        if layer is None:
            continue
        mean, std = float(value.mean()), float(value.std()) or 1.0
        layer.kernel.assign(layer.kernel.numpy() / std)
        if getattr(layer, "bias", None) is not None:
            layer.bias.assign((layer.bias.numpy() - mean) / std)


def build(entry: RealModel, seed: int) -> tuple[Any, list[np.ndarray]]:
    """The model with seeded random weights, and the fixed inputs it is tested on: the weights are calibrated on
    those inputs (see ``scale_for_depth``, ``calibrate_batch_norms``, ``standardize_outputs``), so that every depth
    carries an input-dependent signal and the outputs are of order 1."""
    model = entry.build()
    randomize(model, seed)
    scale_for_depth(model)
    refresh_adapted_constants(model)
    calibration = inputs_for(model, seed + 1000, pixels=entry.pixels, batch=CALIBRATION_BATCH)
    standardize_outputs(model, calibrate_batch_norms(model, calibration, seed))
    return model, [array[:BATCH] for array in calibration]


def inputs_for(model: Any, seed: int, *, pixels: bool = False, batch: int = BATCH) -> list[np.ndarray]:
    """Fixed inputs: padded token ids (zeros at the end, masked) for int inputs, 0-255 pixels for models that
    rescale their own input, standard normals otherwise."""
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in model.inputs:
        shape = (batch, *tensor.shape[1:])
        if "int" in str(tensor.dtype):
            ids = rng.integers(1, VOCAB, size=shape)
            lengths = rng.integers(shape[1] // 3, shape[1] + 1, size=batch)
            ids[np.arange(shape[1])[None, :] >= lengths[:, None]] = 0
            arrays.append(ids.astype("int32"))
        elif pixels:
            arrays.append(rng.uniform(0, 255, size=shape).astype("float32"))
        else:
            arrays.append(rng.normal(0.0, 1.0, size=shape).astype("float32"))
    return arrays


def _as_arrays(outputs: Any) -> list[np.ndarray]:
    """A model's outputs as a list of arrays (Keras returns a single output unwrapped)."""
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def keras_outputs(model: Any, inputs: list[np.ndarray]) -> list[np.ndarray]:
    return _as_arrays(model(inputs if len(inputs) > 1 else inputs[0], training=False))


# --- a project that declares every model, built by hatchling with the default configuration ------------------------

PACKAGE = "realzoo"
OUTPUT_DIR = f"src/{PACKAGE}/web_models"
# The hook's line per converted model, e.g. "tfjs: gru: graph model (auto: <why>) -> src/pkg/web_models/gru/ (...)".
BUILD_LINE = re.compile(
    r"tfjs: (?P<name>[\w.-]+): (?P<format>\w+) model(?: \(auto: (?P<reason>.*)\))? -> (?P<output>\S+) "
    r"\(.*?(?P<seconds>[\d.]+) s\)"
)


@dataclass
class RealCase:
    name: str
    source: Path
    inputs: list[np.ndarray]
    expected: list[np.ndarray]
    input_names: list[str]
    keras_seconds: float  # building, calibrating, running and saving the Keras model


@dataclass
class BuildOutcome:
    returncode: int
    log: str  # hatchling's stdout and stderr
    seconds: float
    wheel: Path | None
    formats: dict[str, str]  # model name -> format, from the hook's "tfjs: <name>: <format> model -> ..." lines
    convert_seconds: dict[str, float]  # model name -> seconds, from the same lines
    reasons: dict[str, str]  # model name -> why "auto" chose a graph model, from the same lines

    def complaints_about(self, name: str) -> list[str]:
        """The build's error messages about ``name``: each line naming "model '<name>'" (how every conversion error
        starts) with the indented lines that continue it. Notes on converted models are not complaints."""
        complaints: list[str] = []
        continuing = False
        for line in self.log.splitlines():
            continuing = f"model '{name}'" in line or (continuing and bool(re.match(r"(tfjs:)?\s{2,}", line)))
            if continuing:
                complaints.append(line)
        return complaints

    def failure_for(self, name: str) -> str:
        """What the build said about ``name``, or its whole tail when no line names it."""
        return "\n".join(self.complaints_about(name)) or self.log[-4000:]


def _pyproject(names: list[str]) -> str:
    models = "".join(f'\n[tool.hatch.build.hooks.tfjs.models.{n}]\nsource = "models/{n}.keras"\n' for n in names)
    return (
        '[build-system]\nrequires = ["hatchling>=1.26", "hatch-tfjs"]\nbuild-backend = "hatchling.build"\n\n'
        f'[project]\nname = "{PACKAGE}"\nversion = "0.1.0"\n\n'
        f'[tool.hatch.build.targets.wheel]\npackages = ["src/{PACKAGE}"]\n\n'
        f'[tool.hatch.build.hooks.tfjs]\noutput-dir = "{OUTPUT_DIR}"\n{models}'
    )


def write_zoo_project(root: Path, names: list[str] | None = None) -> dict[str, RealCase]:
    """A project at ``root`` declaring every zoo model (or ``names``) with nothing but its source: the default
    configuration. Each model is built, run by Keras on its fixed inputs and saved as ``models/<name>.keras``."""
    names = list(REAL_MODELS) if names is None else names
    (root / "models").mkdir(parents=True)
    (root / "src" / PACKAGE).mkdir(parents=True)
    (root / "src" / PACKAGE / "__init__.py").write_text('"""Real Keras models shipped as TensorFlow.js models."""\n')
    (root / "pyproject.toml").write_text(_pyproject(names))
    cases: dict[str, RealCase] = {}
    for seed, name in enumerate(REAL_MODELS):
        if name not in names:
            continue
        started = time.perf_counter()
        model, inputs = build(REAL_MODELS[name], seed)
        source = root / "models" / f"{name}.keras"
        model.save(source)
        expected = keras_outputs(model, inputs)
        input_names = [t.name for t in model.inputs]
        cases[name] = RealCase(name, source, inputs, expected, input_names, time.perf_counter() - started)
        del model  # freed with its weights; no clear_session(), which costs ~0.5 s a model
    return cases


def build_wheel(root: Path) -> BuildOutcome:
    """``python -m hatchling build -t wheel`` in ``root`` (this checkout's hook, through the installed plugin)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    command = [sys.executable, "-m", "hatchling", "build", "-t", "wheel"]
    proc = subprocess.run(command, check=False, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    log = proc.stdout + proc.stderr
    wheels = sorted((root / "dist").glob("*.whl"))
    lines = [m for m in map(BUILD_LINE.search, log.splitlines()) if m]
    return BuildOutcome(
        returncode=proc.returncode,
        log=log,
        seconds=seconds,
        wheel=wheels[0] if proc.returncode == 0 and wheels else None,
        formats={m["name"]: m["format"] for m in lines},
        convert_seconds={m["name"]: float(m["seconds"]) for m in lines},
        reasons={m["name"]: m["reason"] for m in lines if m["reason"]},
    )
