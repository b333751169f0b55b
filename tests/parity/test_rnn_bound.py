"""Long fixed-length RNNs (issue 21.2): a SimpleRNN over 100,000 steps was unrolled step by step and took minutes to
convert. Fixed lengths up to MAX_UNROLLED_STEPS are still unrolled; longer ones become the StatelessWhile loop that
variable-length RNNs use, so the graph (and the work to build it) is the same size whatever the length, and the
result still matches Keras in TF.js (run with executeAsync)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import assert_parity, keras_predict

from hatch_tfjs.cli import main as cli_main
from hatch_tfjs.compile import CompiledGraph, Uncovered, compile_keras_model
from hatch_tfjs.keras_names import MAX_UNROLLED_STEPS
from hatch_tfjs.read import read_keras_model

LONG = MAX_UNROLLED_STEPS + 44


def _ops(graph: dict[str, Any]) -> Counter[str]:
    functions = graph.get("library", {}).get("function", [])
    nodes = [*graph["node"], *(node for function in functions for node in function["nodeDef"])]
    return Counter(node["op"] for node in nodes)


def _compiled(model: Any, path: Path) -> CompiledGraph | Uncovered:
    model.save(path)
    return compile_keras_model(read_keras_model(path, model_name=path.stem), model_name=path.stem, source_rel=path.name)


def _rnn(steps: int, **options: Any) -> Any:
    import keras

    x = keras.Input((steps, 3), name="x")
    return keras.Model(x, keras.layers.Dense(2, name="out")(keras.layers.SimpleRNN(4, name="rnn", **options)(x)))


def test_the_graph_of_a_long_rnn_does_not_grow_with_its_length(tmp_path):
    """100,000 steps compile to the very graph 300 steps do (a loop); at the bound, the RNN is still unrolled."""
    long, longer = (_compiled(_rnn(steps), tmp_path / f"rnn{steps}.keras") for steps in (LONG, 100_000))
    assert isinstance(long, CompiledGraph) and isinstance(longer, CompiledGraph)
    assert _ops(long.topology) == _ops(longer.topology) and _ops(longer.topology)["StatelessWhile"] == 1
    assert sum(w.array.size for w in long.weights) == sum(w.array.size for w in longer.weights)
    assert longer.notes[-1] == (
        f"RNN layer(s) rnn (100000 steps) run as a While loop (executeAsync in TF.js): fixed lengths of more than "
        f"{MAX_UNROLLED_STEPS} steps are not unrolled"
    )
    at_bound = _compiled(_rnn(MAX_UNROLLED_STEPS), tmp_path / "bound.keras")
    assert isinstance(at_bound, CompiledGraph) and "StatelessWhile" not in _ops(at_bound.topology)
    assert f"rnn ({MAX_UNROLLED_STEPS} steps)" in at_bound.notes[-1] and "unrolled" in at_bound.notes[-1]


def test_a_long_conv_lstm_is_left_to_tensorflow_with_the_reason(tmp_path):
    import keras

    x = keras.Input((LONG, 3, 3, 1), name="frames")
    model = keras.Model(x, keras.layers.ConvLSTM2D(2, 2, name="clstm")(x))
    result = _compiled(model, tmp_path / "clstm.keras")
    assert isinstance(result, Uncovered)
    assert f"its {LONG} steps are more than the {MAX_UNROLLED_STEPS} this compiler unrolls" in result.describe()


def _long_models() -> dict[str, Any]:
    """Models whose RNNs run longer than the bound, fed by ``[2, LONG, 3]`` inputs."""
    import keras

    layers = keras.layers
    x = keras.Input((LONG, 3), name="x")
    both = layers.Bidirectional(layers.LSTM(4, return_sequences=True), name="both")(x)
    backwards = layers.GRU(3, go_backwards=True, name="backwards")(x)
    sequences = keras.Model(x, [layers.Dense(2, name="head")(layers.Flatten()(both)), backwards], name="sequences")
    tokens = keras.Input((LONG,), dtype="int32", name="tokens")
    embedded = layers.Embedding(7, 3, mask_zero=True, name="embed")(tokens)
    masked = keras.Model(tokens, layers.SimpleRNN(4, name="rnn")(embedded), name="masked")
    return {"sequences": sequences, "masked": masked}


def _inputs(name: str) -> list[np.ndarray]:
    rng = np.random.default_rng(21)
    if name == "masked":
        tokens = rng.integers(1, 7, size=(2, LONG)).astype("int32")
        tokens[0, LONG // 2 :] = 0  # padding: masked steps keep the state
        return [tokens]
    return [rng.normal(size=(2, LONG, 3)).astype("float32")]


@pytest.mark.parametrize("name", ["sequences", "masked"])
def test_long_rnns_run_as_loops_that_match_keras_in_tfjs(name, tmp_path, capsys, tfjs):
    model = _long_models()[name]
    source = tmp_path / f"{name}.keras"
    model.save(source)
    out = tmp_path / "out"
    assert cli_main(["convert", "--format", "graph", str(source), str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "run as a While loop (executeAsync in TF.js)" in printed and "unrolled RNN" not in printed, printed
    document = json.loads((out / "model.json").read_text())
    assert _ops(document["modelTopology"])["StatelessWhile"] >= 1
    got, _ = tfjs.run(out, _inputs(name), format="graph")
    assert_parity(got, keras_predict(model, _inputs(name)))


def test_the_tensorflow_route_also_loops_over_a_long_length(tmp_path, capsys, tfjs):
    """reader = "keras": Keras traces the model; a long RNN is not unrolled there either (not even with unroll=True)."""
    model = _rnn(LONG, unroll=True)
    source = tmp_path / "traced.keras"
    model.save(source)
    out = tmp_path / "out"
    assert cli_main(["convert", "--format", "graph", "--reader", "keras", str(source), str(out)]) == 0, capsys.readouterr().err
    assert f"rnn ({LONG} steps) run as a While loop" in capsys.readouterr().out
    inputs = [np.random.default_rng(2).normal(size=(2, LONG, 3)).astype("float32")]
    got, _ = tfjs.run(out, inputs, format="graph")
    assert_parity(got, keras_predict(model, inputs))
