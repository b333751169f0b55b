"""Malformed layer graphs and retyped weights (issue 21.1): ``format = "auto"`` wrote them as layers models that TF.js
refused or hung on (a cycle), while the graph route refused them. Now the reader checks the graph as Keras would,
before either route is chosen: each case is one clear error naming the file, the model and the layer, with the fix,
through ``hatch-tfjs convert`` (both formats) and through a real hatchling build; nothing is written and no user file
is touched. The valid neighbours of these cases (an identity model, Reshape with -1) still convert and match Keras.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np
import pytest
from helpers import assert_parity, keras_predict
from projects import hatchling_build, user_files, write_app_project
from test_hostile_sources import _config, _edited_config, _keras_with, _members, convert_refused

from hatch_tfjs.cli import main as cli_main
from hatch_tfjs.read.h5_reader import MISMATCH_HINT, RESAVE_HINT


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> Path:
    """Functional 'net': x (4) -> Dense 'a' (6) -> Reshape 'r' (2, 3) -> Flatten 'f' -> Dense 'b' (2)."""
    import keras

    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(6, name="a")(x)
    h = keras.layers.Flatten(name="f")(keras.layers.Reshape((2, 3), name="r")(h))
    model = keras.Model(x, keras.layers.Dense(2, name="b")(h), name="net")
    path = tmp_path_factory.mktemp("graph") / "net.keras"
    model.save(path)
    return path


def _layer(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(layer for layer in config["config"]["layers"] if layer["name"] == name)


def _history(config: dict[str, Any], name: str) -> list[Any]:
    """keras_history of the first argument of layer ``name``'s first call."""
    history: list[Any] = _layer(config, name)["inbound_nodes"][0]["args"][0]["config"]["keras_history"]
    return history


def _retyped(dtype: str) -> Callable[[h5py.File], None]:
    def edit(store: h5py.File) -> None:
        values = store["layers/dense/vars/0"][()]
        del store["layers/dense/vars/0"]
        store["layers/dense/vars/0"] = values.astype(dtype)

    return edit


CONFIG_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    # TF.js hung loading the layers model
    "cycle": (
        lambda c: _history(c, "a").__setitem__(slice(None), ["f", 0, 0]),
        "model 'net': layers 'r' -> 'f' -> 'a' -> 'r' feed each other in a cycle, which no Keras model can compute",
    ),
    "tensor-index": (
        lambda c: _history(c, "b").__setitem__(2, 3),
        "layer 'b' of model 'net' refers to output #3 of layer 'f', which has 1 output",
    ),
    "call-index": (
        lambda c: _history(c, "b").__setitem__(1, 0) or _layer(c, "f").__setitem__("inbound_nodes", []),
        "layer 'b' of model 'net' refers to call #0 of layer 'f', which is never called in model 'net'",
    ),
    "no-outputs": (
        lambda c: c["config"].__setitem__("output_layers", []),
        "model 'net': 'output_layers' is empty, so the model has no outputs",
    ),
    # an output that is also the input: the model's other layers feed nothing, and TF.js refused their weights
    "output-is-input": (
        lambda c: c["config"].__setitem__("output_layers", ["x", 0, 0]),
        "model 'net': layer 'a' (Dense) feeds none of the model's outputs (Keras keeps only layers that do)",
    ),
    "reshape-target": (
        lambda c: _layer(c, "r")["config"].__setitem__("target_shape", [5, 2]),
        "layer 'r' of model 'net': 'target_shape' [5, 2] does not hold the 6 values of its input of shape [None, 6]",
    ),
    "reshape-recorded": (
        lambda c: _layer(c, "r")["config"].__setitem__("target_shape", [3, 2]),
        "layer 'r' of model 'net': 'target_shape' [3, 2] is not the shape [None, 2, 3] its output is used with",
    ),
}
WEIGHT_CASES: dict[str, tuple[Callable[[h5py.File], None], str]] = {
    dtype: (
        _retyped(dtype),
        f"layer 'a' (Dense) at layers/dense: variable 'kernel' (layers/dense/vars/0) is stored as {dtype}, but the "
        "layer's variables are float32",
    )
    for dtype in ("int64", "bool")
}
CASES = sorted([*CONFIG_CASES, *WEIGHT_CASES])


def _hostile(net: Path, case: str, target: Path) -> tuple[Path, str]:
    """The case's file at ``target`` and the problem its error must name."""
    if case in CONFIG_CASES:
        edit, message = CONFIG_CASES[case]
        return _edited_config(net, target, edit), f"config.json is malformed: {message}; {RESAVE_HINT}"
    retype, message = WEIGHT_CASES[case]
    store = target.with_suffix(".h5")
    store.write_bytes(_members(net)["model.weights.h5"])
    with h5py.File(store, "r+") as handle:
        retype(handle)
    return _keras_with(net, target, {"model.weights.h5": store.read_bytes()}), f"{message}; {MISMATCH_HINT}"


@pytest.mark.parametrize("format", ["auto", "graph", "layers"])
@pytest.mark.parametrize("case", CASES)
def test_convert_refuses_a_malformed_graph_on_every_route(case, format, net, tmp_path, capsys):
    source, expected = _hostile(net, case, tmp_path / f"{case}.keras")
    message = convert_refused(source, tmp_path, capsys, "--format", format)
    assert f"{source}: cannot read model '{case}': {expected}" in message, message


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_a_build_refuses_a_malformed_graph_and_touches_nothing(case, net, tmp_path):
    project = write_app_project(tmp_path / "proj", '\n[tool.hatch.build.hooks.tfjs.models.net]\nsource = "models/net.keras"\n')
    (project / "models").mkdir()
    _, expected = _hostile(net, case, project / "models" / "net.keras")
    for leftover in (project / "models").glob("*.h5"):
        leftover.unlink()
    before = user_files(project, "src/app/web_models")
    proc = hatchling_build(project, "-t", "wheel", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-2000:]
    assert f"models/net.keras: cannot read model 'net': {expected}" in output, output[-3000:]
    assert output.count("cannot read model") == 1 and "Traceback" not in output and "internal error" not in output
    assert not (project / "src" / "app" / "web_models").exists() and not list((project / "dist").glob("*.whl"))
    assert user_files(project, "src/app/web_models") == before


def test_the_valid_neighbours_still_convert_and_match_keras(net, tmp_path, capsys, tfjs):
    """What the checks must not refuse: the original, a Reshape with -1, and a model whose output is its input (Keras
    builds it; TF.js runs it), each as a layers and as a graph model."""
    import keras

    x = keras.Input((4,), name="x")
    identity = keras.Model(x, x, name="identity")
    identity.save(tmp_path / "identity.keras")
    flexible = _edited_config(net, tmp_path / "flexible.keras", lambda c: _layer(c, "r")["config"].__setitem__("target_shape", [-1, 3]))
    inputs = [np.random.default_rng(5).normal(size=(3, 4)).astype("float32")]
    for source, model in ((net, keras.saving.load_model(net)), (flexible, keras.saving.load_model(net)), (tmp_path / "identity.keras", identity)):
        for form in ("layers", "graph"):
            out = tmp_path / "out" / form / source.stem
            assert cli_main(["convert", str(source), str(out), "--format", form]) == 0, capsys.readouterr().err
            assert json.loads((out / "model.json").read_text())["format"] == f"{form}-model"
            got, _ = tfjs.run(out, inputs, format=form)
            assert_parity(got, keras_predict(model, inputs))
    assert _config(flexible)["config"]["layers"][2]["config"]["target_shape"] == [-1, 3]
