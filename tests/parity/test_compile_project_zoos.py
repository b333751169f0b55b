"""The project's other model zoos (tests/zoos/zoo.py, the Keras models of tests/zoos/graph_zoo.py) through the TF-free graph
compiler: each model compiles and matches Keras in real TF.js 4.22, or is refused naming the exact layers it cannot
translate (and why), never compiled wrong. Compiled in a process where TensorFlow and Keras cannot be imported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import compile_zoo
import graph_zoo
import numpy as np
import pytest
import zoo
from helpers import assert_parity

# Models the compiler must refuse: (layer name, class, words of the reason) per uncovered layer.
EXPECTED_UNCOVERED = {
    "graph/lambda": [("lambda", "Lambda", "a Lambda layer (its Python code must be traced by TensorFlow)")],
    "graph/custom": [
        ("scaled_softsign", "ScaledSoftsign", "a custom layer (class 'ScaledSoftsign' from module 'graph_zoo')"),
    ],
}


@dataclass
class ZooModel:
    inputs: list[np.ndarray]
    expected: list[np.ndarray]
    source: Path


def _zoo_models(directory: Path) -> dict[str, ZooModel]:
    models = {}
    for seed, (name, entry) in enumerate(zoo.ZOO.items()):
        model = zoo.build(entry, seed)
        inputs = zoo.inputs_for(entry)
        source = directory / f"zoo_{name}.keras"
        model.save(source)
        models[f"zoo/{name}"] = ZooModel(inputs, compile_zoo.keras_outputs(model, inputs), source)
    builders = {**{name: builder for name, (builder, _) in graph_zoo.KERAS_BUILDERS.items()},
                "unsupported_ops": graph_zoo.unsupported_ops_model}
    for seed, (name, builder) in enumerate(builders.items()):
        case = graph_zoo.save_keras_case(f"graph_{name}", builder(), "keras", directory, seed)
        models[f"graph/{name}"] = ZooModel(case.inputs, case.expected, case.source)
    return models


@pytest.fixture(scope="module")
def project_zoos(tmp_path_factory) -> tuple[dict[str, ZooModel], dict[str, dict], Path]:
    directory = tmp_path_factory.mktemp("project_zoos")
    models = _zoo_models(directory)
    jobs = [
        {"name": name, "source": str(model.source), "output": str(directory / "graph" / name)}
        for name, model in models.items()
    ]
    return models, compile_zoo.compile_without_tensorflow(jobs, directory), directory / "graph"


ZOO_NAMES = [f"zoo/{name}" for name in zoo.ZOO]
ZOO_NAMES += [f"graph/{name}" for name in [*graph_zoo.KERAS_BUILDERS, "unsupported_ops"]]


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_project_zoo_model_compiles_with_parity_or_names_its_uncovered_layers(name, project_zoos, tfjs):
    models, reports, output = project_zoos
    report = reports[name]
    assert "error" not in report, report["error"]
    if name in EXPECTED_UNCOVERED:
        assert "uncovered" in report and not (output / name).exists()
        got = [(layer, class_name) for layer, class_name, _ in report["uncovered"]]
        assert got == [(layer, class_name) for layer, class_name, _ in EXPECTED_UNCOVERED[name]]
        for (_, _, reason), (_, _, words) in zip(report["uncovered"], EXPECTED_UNCOVERED[name], strict=True):
            assert words in reason, reason
        return
    assert "uncovered" not in report, report["uncovered"]
    got, _ = tfjs.run(output / name, models[name].inputs, format="graph")
    assert_parity(got, models[name].expected)
