"""Which TF.js backends run a graph model (hatch_tfjs.backends): the per-backend kernel lists generated from the TF.js
packages in tests/js, the build note and the index's "backends" for a graph using an op a backend lacks, checked
against what real TF.js does on the WASM backend."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from hatch_tfjs.backends import BACKENDS, backends_note, kernel_lists, missing_by_backend, runnable_backends
from hatch_tfjs.describe import describe_model_dir
from hatch_tfjs.index import build_index
from hatch_tfjs.neutral import Weight
from hatch_tfjs.tools.generate_kernel_lists import build_document, read_kernel_lists
from hatch_tfjs.write import graph_model_json, write_model_dir
from tfjs import TfjsError

JS_DIR = Path(__file__).resolve().parents[1] / "js"


@pytest.mark.requires_node
def test_shipped_kernel_lists_match_the_installed_tfjs_packages():
    regenerated = build_document(read_kernel_lists(JS_DIR))
    shipped = {name: sorted(kernels) for name, kernels in kernel_lists().items()}
    assert regenerated["tfjs_version"] == "4.22.0"
    assert shipped == regenerated["backends"], f"run: {sys.executable} -m hatch_tfjs.tools.generate_kernel_lists tests/js"
    assert set(shipped) == set(BACKENDS)


def test_ops_without_a_kernel_somewhere_are_named_per_backend():
    assert runnable_backends(["_FusedConv2D", "FusedBatchNormV3", "BatchMatMulV2", "Const", "While"]) == list(BACKENDS)
    assert missing_by_backend(["Einsum", "RFFT", "StringSplit", "MatMul"]) == {
        "webgpu": ["StringSplit"], "wasm": ["Einsum", "RFFT"]}
    assert backends_note(["Einsum", "Conv2D"]) == (
        'runs on TF.js backends webgpu, webgl, cpu only (wasm has no kernel for Einsum); the browser loader\'s backend '
        '"auto" skips the others')
    assert backends_note(["Conv2D", "HashTableV2"]) is None


def test_kernels_a_backend_gets_wrong_take_it_off_the_list():
    """backends.WRONG_ON (checked in real WebGPU by test_compile.py): Conv3D anywhere, or two loops in one graph."""
    assert runnable_backends({"Conv3D": 1, "Pad": 2}) == ["webgl", "wasm", "cpu"]
    assert runnable_backends({"StatelessWhile": 1}) == list(BACKENDS)
    assert runnable_backends({"StatelessWhile": 2}) == ["webgl", "wasm", "cpu"]
    assert backends_note({"Conv3D": 1, "Einsum": 1}) == (
        "runs on TF.js backends webgl, cpu only (wasm has no kernel for Einsum; webgpu gets Conv3D wrong in TF.js "
        '4.22); the browser loader\'s backend "auto" skips the others')


def _einsum_model(directory: Path) -> np.ndarray:
    """A graph model computing einsum('ij,jk->ik', x, w) with TensorFlow's Einsum op; returns w."""
    w = np.arange(12, dtype="float32").reshape(3, 4) / 10
    equation = base64.b64encode(b"ij,jk->ik").decode()
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [{"size": "-1"}, {"size": "3"}]}}}},
        {"name": "w", "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}},
        {"name": "y", "op": "Einsum", "input": ["x", "w"],
         "attr": {"equation": {"s": equation}, "N": {"i": "2"}, "T": {"type": "DT_FLOAT"}}},
    ]
    signature = {"inputs": {"x:0": {"name": "x:0", "dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "-1"}, {"size": "3"}]}}},
                 "outputs": {"y:0": {"name": "y:0", "dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": "-1"}, {"size": "4"}]}}}}
    document = graph_model_json({"node": nodes, "versions": {"producer": 1}}, signature, generated_by="test")
    write_model_dir(directory, document, [Weight("w", w)], shard_size=0)
    return w


@pytest.mark.requires_node
def test_a_graph_with_an_op_wasm_lacks_is_indexed_without_wasm_and_really_fails_there(tmp_path, tfjs):
    w = _einsum_model(tmp_path / "einsum")
    info = describe_model_dir(tmp_path / "einsum")
    assert info["backends"] == ["webgpu", "webgl", "cpu"]
    index = build_index([("einsum", tmp_path / "einsum")], tmp_path)
    assert index["models"][0]["backends"] == ["webgpu", "webgl", "cpu"]
    x = np.ones((2, 3), "float32")
    got, _ = tfjs.run(tmp_path / "einsum", [x], format="graph", backend="cpu")
    np.testing.assert_allclose(got[0], x @ w, rtol=1e-6)
    with pytest.raises(TfjsError, match="Kernel 'Einsum' not registered for backend 'wasm'"):
        tfjs.run(tmp_path / "einsum", [x], format="graph", backend="wasm")
