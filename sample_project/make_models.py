"""Train the sample app's two small models on scikit-learn's bundled data sets (no download) and save them.

    python make_models.py        # writes models/iris.keras and models/digits.h5

Deterministic (fixed seeds); takes a few seconds on a CPU.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
from keras import layers
from sklearn.datasets import load_digits, load_iris

HERE = Path(__file__).parent


def train_iris() -> keras.Model:
    data = load_iris()
    x = data.data.astype("float32")
    y = data.target.astype("int32")
    mean, std = x.mean(axis=0), x.std(axis=0)
    model = keras.Sequential(
        [
            keras.Input((4,), name="measurements"),
            layers.Rescaling(scale=(1 / std).tolist(), offset=(-mean / std).tolist(), name="standardize"),
            layers.Dense(16, activation="relu", name="hidden"),
            layers.Dense(3, activation="softmax", name="species"),
        ],
        name="iris",
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=60, batch_size=16, verbose=0)
    return model


def train_digits() -> keras.Model:
    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    y = data.target.astype("int32")
    inputs = keras.Input((8, 8, 1), name="pixels")
    h = layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    h = layers.BatchNormalization()(h)
    h = layers.MaxPooling2D()(h)
    h = layers.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = layers.GlobalAveragePooling2D()(h)
    h = layers.Dropout(0.2)(h)
    outputs = layers.Dense(10, activation="softmax", name="digit")(h)
    model = keras.Model(inputs, outputs, name="digits")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    return model


def main() -> None:
    keras.utils.set_random_seed(7)
    (HERE / "models").mkdir(exist_ok=True)
    iris = train_iris()
    iris.save(HERE / "models" / "iris.keras")
    digits = train_digits()
    digits.save(HERE / "models" / "digits.h5")
    for name, model in (("iris", iris), ("digits", digits)):
        print(f"{name}: {model.count_params()} parameters")


if __name__ == "__main__":
    main()
