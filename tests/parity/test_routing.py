"""Which route a model takes: the format (format = "auto": a graph model compiled without TensorFlow when the compiler
covers the model, else layers when TF.js layers run it exactly, else a graph model through TensorFlow) and
whether converting it needs TensorFlow (a graph model from a Keras file is compiled without it unless it holds a
Lambda or custom layer, or something the compiler does not translate). Worked out with h5py (route_model) and with
the standard library alone before numpy and h5py are installed (route_hint, used by the hook's dependencies())."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hatch_tfjs.config import ModelSpec, options_from_table
from hatch_tfjs.route import FAST_REASON, Route, needs_tensorflow, route_hint, route_model


def _spec(source: Path, format: str = "auto", **options: object) -> ModelSpec:  # noqa: A002 - the config key
    return ModelSpec(name=source.stem, source=source, output=source.parent / "out" / source.stem, root=source.parent,
                     format=format, options=options_from_table(options, format))


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """Small Keras models saved as .keras and .h5: one each route, and one whose rewrite needs its weights."""
    import keras
    from keras import layers

    @keras.saving.register_keras_serializable(package="routing_tests")
    class Doubler(layers.Layer):
        def call(self, x):
            return x * 2.0

    directory = tmp_path_factory.mktemp("routing")
    inp = keras.Input((6,))
    dense = keras.Model(inp, layers.Dense(2, name="head")(layers.Dense(4, activation="relu")(inp)))
    seq = keras.Input((5, 2))
    gru = keras.Model(seq, layers.GRU(3, name="recurrent")(seq))
    norm = layers.Normalization(name="norm")
    norm.adapt(np.random.default_rng(0).normal(size=(32, 6)).astype("float32"))
    x = keras.Input((6,))
    normalized = keras.Model(x, layers.Dense(2)(norm(x)))
    custom = keras.Model(inp, layers.Dense(2)(Doubler(name="doubler")(inp)))
    lam = keras.Model(inp, layers.Lambda(lambda t: t + 1.0, name="plus_one")(inp))
    paths: dict[str, Path] = {}
    models = (("dense", dense), ("gru", gru), ("normalized", normalized), ("custom", custom), ("lambda", lam))
    for name, model in models:
        for suffix in (".keras", ".h5"):
            path = directory / f"{name}{suffix}"
            model.save(path)
            paths[f"{name}{suffix}"] = path
    return paths


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("name", ["dense", "gru", "normalized"])
def test_a_model_the_compiler_covers_is_a_compiled_graph_model_with_and_without_h5py(sources, suffix, name):
    """The faster form in TF.js (benchmarks/results/backends.md), whether or not TF.js layers could run it."""
    spec = _spec(sources[f"{name}{suffix}"])
    assert route_model(spec) == Route("graph", FAST_REASON)
    assert route_hint(spec) == Route("graph", FAST_REASON)
    assert not needs_tensorflow(spec)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_with_the_keras_reader_auto_is_layers_when_exact_else_graph_through_tensorflow(sources, suffix):
    dense = route_model(_spec(sources[f"dense{suffix}"], reader="keras"))
    assert dense == Route("layers", 'every layer has an exact TF.js layers equivalent; a graph model would need '
                          'TensorFlow (reader = "keras")', 'reader = "keras"')
    route = route_model(_spec(sources[f"gru{suffix}"], reader="keras"))
    assert route.format == "graph" and route.tensorflow == 'reader = "keras"'
    assert route.reason.startswith("layer 'recurrent' (GRU): uses reset_after=True")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("fmt", ["auto", "graph"])
@pytest.mark.parametrize(("name", "reason"), [
    ("custom", "layer 'doubler' ({}) is a custom layer"),
    ("lambda", "layer 'plus_one' (Lambda) runs Python code that only TensorFlow can trace"),
])
def test_a_custom_or_lambda_layer_needs_tensorflow_and_the_route_names_it(sources, suffix, fmt, name, reason):
    spec = _spec(sources[f"{name}{suffix}"], format=fmt)
    route = route_model(spec)
    assert route.format == "graph" and needs_tensorflow(spec, route)
    registered = "Doubler" if suffix == ".keras" else "routing_tests>Doubler"  # .h5 names no module
    assert route.tensorflow.startswith(reason.format(registered)), route.tensorflow
    assert route_hint(spec) == route


@pytest.mark.parametrize("fmt", ["auto", "graph"])
def test_the_keras_reader_forces_the_tensorflow_route(sources, fmt):
    spec = _spec(sources["gru.keras"], format=fmt, reader="keras")
    assert route_model(spec) == route_hint(spec)
    assert route_model(spec).tensorflow == 'reader = "keras"'


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_rewrite_that_needs_the_weights_stays_layers_for_the_hint(sources, suffix):
    spec = _spec(sources[f"normalized{suffix}"], reader="keras")
    assert route_model(spec).format == "layers"
    assert route_hint(spec) == route_model(spec)


def test_layers_the_keras_reader_and_saved_models_decide_without_reading(tmp_path):
    missing = tmp_path / "never-read.keras"
    spec = ModelSpec(name="m", source=missing, output=tmp_path / "o", root=tmp_path, format="layers")
    assert route_model(spec) == Route("layers") == route_hint(spec)
    for fmt in ("layers", "graph"):
        keras_read = ModelSpec(name="m", source=missing, output=tmp_path / "o", root=tmp_path, format=fmt,
                               options=options_from_table({"reader": "keras"}, fmt))
        assert route_model(keras_read) == route_hint(keras_read) == Route(fmt, tensorflow='reader = "keras"')
    saved = ModelSpec(name="m", source=tmp_path, output=tmp_path / "o", root=tmp_path, format="graph")
    assert route_model(saved) == route_hint(saved) == Route("graph", tensorflow="a SavedModel directory")


def test_the_shipped_list_of_compiled_layers_is_the_compilers_registry():
    from hatch_tfjs.coverage import compiled_classes
    from hatch_tfjs.tools.generate_compiled_list import build_document

    document = build_document()
    assert compiled_classes() == (frozenset(document["layers"]), frozenset(document["ops"])), (
        "run: python -m hatch_tfjs.tools.generate_compiled_list")


def test_the_hint_says_it_cannot_tell_when_no_config_is_found(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 64)
    assert route_hint(_spec(junk)) is None


def test_the_hint_imports_neither_numpy_nor_h5py(sources):
    script = (
        "import sys; from pathlib import Path; from hatch_tfjs.config import ModelSpec; from hatch_tfjs.route import route_hint; "
        f"p = Path({str(sources['gru.h5'])!r}); "
        "r = route_hint(ModelSpec(name='m', source=p, output=p.parent / 'o', root=p.parent, format='auto')); "
        "print(r.format, 'numpy' in sys.modules, 'h5py' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["graph", "False", "False"]


def test_only_models_that_need_tensorflow_share_the_tensorflow_worker(sources, tmp_path):
    """Compiled graph models get a worker each, like layers models; the one TensorFlow worker gets only the rest."""
    from hatch_tfjs.workers import Task, batches_of

    specs = {name: _spec(sources[f"{name}.keras"], format=fmt) for name, fmt in
             (("dense", "auto"), ("gru", "graph"), ("custom", "graph"), ("lambda", "auto"))}
    tasks = [Task(spec, route_model(spec)) for spec in specs.values()]
    batches = [[task.spec.name for task in batch] for batch in batches_of(tasks)]
    assert sorted(batches) == sorted([["custom", "lambda"], ["dense"], ["gru"]])


def test_a_layer_the_compiler_refuses_for_an_argument_falls_back_to_an_exact_layers_model(tmp_path, tfjs):
    """The class is covered, so the route says compiled graph; the compiler refuses ``invert=True`` at conversion,
    and ``auto`` then makes the layers model (which translates it exactly), not a graph through TensorFlow."""
    import keras
    from keras import layers

    from hatch_tfjs.convert import convert_model
    from helpers import assert_parity, keras_predict

    inp = keras.Input((3,), name="features")
    norm = layers.Normalization(invert=True, mean=[1.0, 2.0, 3.0], variance=[4.0, 1.0, 0.25], name="denorm")
    model = keras.Model(inp, layers.Dense(2, name="head")(norm(inp)))
    source = tmp_path / "inverted.keras"
    model.save(source)
    spec = _spec(source)
    assert route_model(spec) == Route("graph", FAST_REASON)

    result = convert_model(spec)

    assert (result.format, result.tensorflow_reason) == ("layers", "")
    assert result.format_reason == ("every layer has an exact TF.js layers equivalent; a graph model would need "
                                    "TensorFlow (the compiler does not cover it)")
    inputs = [np.random.default_rng(3).normal(size=(4, 3)).astype("float32")]
    got, _ = tfjs.run(spec.output, inputs, format="layers")
    assert_parity(got, keras_predict(model, inputs))


def test_a_route_is_worked_out_once_per_source_content(tmp_path):
    """dependencies(), initialize() and the worker are separate processes; the route of a source the compiler does
    not cover (worked out by reading the whole file and translating it) is kept by content hash, so the processes
    after the first read nothing for it, and a source rewritten in place is routed again."""
    import keras
    from helpers import opened_files
    from keras import layers

    from hatch_tfjs.hashing import hash_source

    source = tmp_path / "encoded.keras"
    inp = keras.Input((4,))
    keras.Model(inp, layers.Dense(2)(layers.CategoryEncoding(num_tokens=8, output_mode="multi_hot")(inp))).save(source)
    spec, source_hash = _spec(source), hash_source(source)
    with opened_files() as first:
        route = route_model(spec, source_hash)
    assert route.format == "graph" and "(CategoryEncoding): TF.js 4.22's CategoryEncoding" in route.reason
    assert str(source) in first  # read (and translated: it is no layers model) to be routed
    with opened_files() as again:
        assert route_model(spec, source_hash) == route
    assert str(source) not in again  # another process of the build: the route comes from the cache
    assert needs_tensorflow(spec, route)
    keras.Model(inp, layers.Dense(2, name="head")(inp)).save(source)  # the same path, new content: routed again
    assert route_model(spec, hash_source(source)) == Route("graph", FAST_REASON)
