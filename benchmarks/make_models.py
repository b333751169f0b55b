"""Generate the benchmark models once, locally (no downloads), so that every tool reads the very same files.

    python benchmarks/make_models.py OUTDIR keras2   # tf_keras (Keras 2) .h5 files: the layers comparison
    python benchmarks/make_models.py OUTDIR keras3   # Keras 3 .keras files + SavedModel exports: the graph comparison

Weights are drawn from a seeded numpy generator (not Keras's initializers), so the Keras 2 and Keras 3 versions of a
model hold identical weights. For each model the fixed inputs and the Keras outputs for them are saved next to it
(``<name>_<variant>.npz``: ``x`` and ``y``), to check what TF.js computes from each converter's output.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# name -> (input shape, layer plan). Plans use only classes both Keras 2 and Keras 3 have, with the same variables.
MODELS = {
    # ~25 KB of float32 weights
    "small": ((32,), [("dense", 64, "relu"), ("dense", 64, "relu"), ("dense", 10, "softmax")]),
    # ~10 MB of float32 weights (2.55 M parameters)
    "medium": (
        (32, 32, 3),
        [
            ("conv", 32, "relu"),
            ("pool",),
            ("conv", 64, "relu"),
            ("bn",),
            ("pool",),
            ("conv", 128, "relu"),
            ("flatten",),
            ("dense", 300, "relu"),
            ("dense", 10, "softmax"),
        ],
    ),
    # ~251 MB of float32 weights (62.8 M parameters)
    "large": (
        (2048,),
        [("dense", 4096, "relu")] * 4 + [("dense", 1000, "softmax")],
    ),
}
SEED = 20241123


def build(layers_module, keras_input, sequential, name: str):
    input_shape, plan = MODELS[name]
    stack = [keras_input(input_shape)]
    for index, step in enumerate(plan):
        kind = step[0]
        layer_name = f"{kind}_{index}"
        if kind == "dense":
            stack.append(layers_module.Dense(step[1], activation=step[2], name=layer_name))
        elif kind == "conv":
            stack.append(layers_module.Conv2D(step[1], 3, padding="same", activation=step[2], name=layer_name))
        elif kind == "pool":
            stack.append(layers_module.MaxPooling2D(2, name=layer_name))
        elif kind == "bn":
            stack.append(layers_module.BatchNormalization(name=layer_name))
        elif kind == "flatten":
            stack.append(layers_module.Flatten(name=layer_name))
        else:  # pragma: no cover
            raise ValueError(kind)
    return sequential(stack, name=name)


def fixed_weights(model, name: str) -> None:
    """Seeded weights of a sensible scale (fan-in), BatchNorm statistics non-trivial; same for Keras 2 and 3."""
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        values = []
        for array in layer.get_weights():
            shape = array.shape
            kind = type(layer).__name__
            if kind == "BatchNormalization":
                position = len(values)  # gamma, beta, moving_mean, moving_variance
                low, high = [(0.5, 1.5), (-0.2, 0.2), (-0.2, 0.2), (0.5, 1.5)][position]
                values.append(rng.uniform(low, high, size=shape).astype(np.float32))
            elif len(shape) == 1:
                values.append((rng.standard_normal(shape, dtype=np.float32) * np.float32(0.01)))
            else:
                fan_in = int(np.prod(shape[:-1]))
                values.append(rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in)))
        layer.set_weights(values)


def fixed_inputs(name: str) -> np.ndarray:
    input_shape, _ = MODELS[name]
    return np.random.default_rng(SEED + 1).uniform(0.0, 1.0, size=(2, *input_shape)).astype(np.float32)


def make_keras2(outdir: Path) -> None:
    import tf_keras

    for name in MODELS:
        model = build(tf_keras.layers, lambda s: tf_keras.Input(s), tf_keras.Sequential, name)
        fixed_weights(model, name)
        x = fixed_inputs(name)
        y = model.predict(x, verbose=0)
        model.save(outdir / f"{name}_k2.h5", save_format="h5")
        np.savez(outdir / f"{name}_k2.npz", x=x, y=y)
        print(f"wrote {name}_k2.h5 ({model.count_params()} parameters)", flush=True)


def make_keras3(outdir: Path) -> None:
    import keras

    for name in ("small", "medium"):  # the graph comparison; the large model is compared as a layers model only
        model = build(keras.layers, lambda s: keras.Input(s), keras.Sequential, name)
        fixed_weights(model, name)
        x = fixed_inputs(name)
        y = model.predict(x, verbose=0)
        model.save(outdir / f"{name}.keras")
        model.export(str(outdir / f"{name}_savedmodel"), verbose=False)
        np.savez(outdir / f"{name}_k3.npz", x=x, y=y)
        print(f"wrote {name}.keras and {name}_savedmodel/ ({model.count_params()} parameters)", flush=True)


def main(argv: list[str]) -> int:
    outdir, variant = Path(argv[0]), argv[1]
    outdir.mkdir(parents=True, exist_ok=True)
    {"keras2": make_keras2, "keras3": make_keras3}[variant](outdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
