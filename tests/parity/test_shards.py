"""The shard writer: exact shard sizes, weights spanning shards, every dtype, quantized entries, and streaming memory.

Weights are read back by TF.js 4.22 itself (tf.io.decodeWeights, the reader loadLayersModel/loadGraphModel use).
"""

from __future__ import annotations

import base64
import json
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from hatch_tfjs.errors import ConversionError
from hatch_tfjs.neutral import Weight
from hatch_tfjs.write import write_model_dir
from hatch_tfjs.write.quantize import dequantize

JS_DIR = Path(__file__).parents[1] / "js"
DOCUMENT = {"format": "layers-model", "modelTopology": {}}
NUMPY_OF = {"float32": "<f4", "int32": "<i4", "bool": "u1"}


def decode_in_tfjs(model_dir: Path) -> dict[str, np.ndarray | list[bytes]]:
    """Every weight as TF.js restores it from model.json + shards."""
    proc = subprocess.run(
        ["node", str(JS_DIR / "decode_weights.mjs"), str(model_dir)], capture_output=True, text=True, cwd=JS_DIR, check=False
    )
    assert proc.returncode == 0, proc.stderr
    decoded = {}
    for name, entry in json.loads(proc.stdout).items():
        if entry["dtype"] == "string":
            decoded[name] = [base64.b64decode(s) for s in entry["strings"]]
        else:
            raw = np.frombuffer(base64.b64decode(entry["data"]), dtype=NUMPY_OF[entry["dtype"]])
            decoded[name] = raw.reshape(entry["shape"])
    return decoded


def shard_sizes(model_dir: Path) -> list[int]:
    manifest = json.loads((model_dir / "model.json").read_text())["weightsManifest"]
    assert len(manifest) == 1
    return [(model_dir / p).stat().st_size for p in manifest[0]["paths"]]


def concatenated_shards(model_dir: Path) -> bytes:
    manifest = json.loads((model_dir / "model.json").read_text())["weightsManifest"]
    return b"".join((model_dir / p).read_bytes() for p in manifest[0]["paths"])


def test_weights_span_shard_boundaries(tmp_path):
    rng = np.random.default_rng(0)
    weights = [
        Weight("a/kernel", rng.normal(size=(3, 5)).astype(np.float32)),  # 60 bytes
        Weight("a/bias", rng.normal(size=(7,)).astype(np.float32)),  # 28 bytes
        Weight("b/kernel", rng.normal(size=(2, 2, 3)).astype(np.float32)),  # 48 bytes
    ]
    written = write_model_dir(tmp_path / "m", DOCUMENT, weights, shard_size=50)

    assert shard_sizes(tmp_path / "m") == [50, 50, 36]
    assert written.files == ["model.json", "group1-shard1of3.bin", "group1-shard2of3.bin", "group1-shard3of3.bin"]
    assert written.weight_bytes == written.weight_bytes_before == 136
    assert concatenated_shards(tmp_path / "m") == b"".join(w.array.astype("<f4").tobytes() for w in weights)
    decoded = decode_in_tfjs(tmp_path / "m")
    for weight in weights:
        assert np.array_equal(decoded[weight.name], weight.array)


def test_total_an_exact_multiple_of_the_shard_size_has_no_empty_last_shard(tmp_path):
    weights = [Weight(f"w{i}/kernel", np.full((5,), i, dtype=np.float32)) for i in range(4)]  # 4 x 20 bytes
    write_model_dir(tmp_path / "m", DOCUMENT, weights, shard_size=40)
    assert shard_sizes(tmp_path / "m") == [40, 40]
    write_model_dir(tmp_path / "m", DOCUMENT, weights, shard_size=20)
    assert shard_sizes(tmp_path / "m") == [20, 20, 20, 20]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        ".hatch-tfjs-stamp.json", "group1-shard1of4.bin", "group1-shard2of4.bin", "group1-shard3of4.bin",
        "group1-shard4of4.bin", "model.json",
    ]


@pytest.mark.parametrize("shard_size", [0, 10**9])
def test_one_shard_holds_every_weight(tmp_path, shard_size):
    weights = [Weight(f"w{i}/kernel", np.arange(1000, dtype=np.float32) + i) for i in range(5)]
    written = write_model_dir(tmp_path / "m", DOCUMENT, weights, shard_size=shard_size)
    assert written.files == ["model.json", "group1-shard1of1.bin"]
    assert shard_sizes(tmp_path / "m") == [20000]
    decoded = decode_in_tfjs(tmp_path / "m")
    assert all(np.array_equal(decoded[w.name], w.array) for w in weights)


def test_every_dtype_round_trips_through_tfjs(tmp_path):
    weights = [
        Weight("f/kernel", np.array([[1.5, -2.25]], dtype=np.float64)),  # written as float32
        Weight("lookup/keys", np.array([["héllo", ""], ["naïve ✓", "x"]], dtype=object)),
        Weight("lookup/raw", np.array([b"\x00\x01bytes"], dtype=object)),
        Weight("mask/flags", np.array([True, False, True])),  # 3 bytes: following entries are unaligned
        Weight("count/steps", np.array([[7, -2**31], [2**31 - 1, 0]], dtype=np.int64)),
        Weight("e/empty", np.zeros((0, 4), dtype=np.float32)),
        Weight("s/scalar", np.float32(3.0)),
    ]
    write_model_dir(tmp_path / "m", DOCUMENT, weights, shard_size=5)
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())["weightsManifest"][0]["weights"]
    assert [(e["name"], e["dtype"], e["shape"]) for e in manifest] == [
        ("f/kernel", "float32", [1, 2]),
        ("lookup/keys", "string", [2, 2]),
        ("lookup/raw", "string", [1]),
        ("mask/flags", "bool", [3]),
        ("count/steps", "int32", [2, 2]),
        ("e/empty", "float32", [0, 4]),
        ("s/scalar", "float32", []),
    ]
    # String encoding: per element a uint32 little-endian byte length, then the UTF-8 bytes.
    data = concatenated_shards(tmp_path / "m")
    strings = data[8:8 + 4 + 6 + 4 + 0 + 4 + 10 + 4 + 1]
    assert strings == (b"\x06\x00\x00\x00h\xc3\xa9llo" + b"\x00\x00\x00\x00" + b"\x0a\x00\x00\x00na\xc3\xafve \xe2\x9c\x93"
                       + b"\x01\x00\x00\x00x")

    decoded = decode_in_tfjs(tmp_path / "m")
    assert decoded["f/kernel"].tolist() == [[1.5, -2.25]]
    assert decoded["lookup/keys"] == ["héllo".encode(), b"", "naïve ✓".encode(), b"x"]
    assert decoded["lookup/raw"] == [b"\x00\x01bytes"]
    assert decoded["mask/flags"].tolist() == [1, 0, 1]
    assert decoded["count/steps"].tolist() == [[7, -2**31], [2**31 - 1, 0]]
    assert decoded["e/empty"].shape == (0, 4)
    assert decoded["s/scalar"].tolist() == 3.0


def test_quantized_weights_span_shards_and_only_floats_are_quantized(tmp_path):
    rng = np.random.default_rng(5)
    weights = [
        Weight("a/kernel", rng.normal(size=(13,)).astype(np.float32)),  # 13 uint8 bytes
        Weight("a/bias", rng.normal(size=(5,)).astype(np.float32)),  # 10 float16 bytes
        Weight("b/kernel", rng.normal(size=(9,)).astype(np.float32)),  # 18 uint16 bytes at an odd offset
        Weight("b/steps", np.array([3, 4], dtype=np.int32)),
        Weight("b/flags", np.array([True])),
        Weight("b/names", np.array(["x"], dtype=object)),
        Weight("e/empty", np.zeros((0,), dtype=np.float32)),
    ]
    written = write_model_dir(
        tmp_path / "m", DOCUMENT, weights, shard_size=7, quantize={"uint8": ["a/kernel"], "uint16": ["b/*"], "float16": ["*"]}
    )
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())["weightsManifest"][0]["weights"]
    quantized = {e["name"]: e.get("quantization", {}).get("dtype") for e in manifest}
    assert quantized == {"a/kernel": "uint8", "a/bias": "float16", "b/kernel": "uint16", "b/steps": None,
                         "b/flags": None, "b/names": None, "e/empty": None}
    assert all(e["dtype"] == d for e, d in zip(manifest, ["float32", "float32", "float32", "int32", "bool", "string", "float32"]))
    assert written.quantized_weights == 3
    assert written.weight_bytes == 13 + 10 + 18 + 8 + 1 + 5
    assert written.weight_bytes_before == 52 + 20 + 36 + 8 + 1 + 5
    assert sum(shard_sizes(tmp_path / "m")) == written.weight_bytes

    decoded = decode_in_tfjs(tmp_path / "m")
    errors = []
    for weight, entry in zip(weights[:3], manifest[:3]):
        got = decoded[weight.name]
        # TF.js restores exactly what our dequantize() predicts ...
        stored = {"uint8": "<u1", "uint16": "<u2", "float16": "<f2"}[entry["quantization"]["dtype"]]
        offset = sum(int(np.prod(e["shape"])) * {"uint8": 1, "uint16": 2, "float16": 2}[e["quantization"]["dtype"]]
                     for e in manifest[: manifest.index(entry)])
        raw = np.frombuffer(concatenated_shards(tmp_path / "m"), dtype=stored, count=weight.array.size, offset=offset)
        assert np.array_equal(got, dequantize(raw, entry["quantization"]))
        # ... within half a quantization step (the scale in the manifest) of the original.
        error = np.abs(got.astype(np.float64) - weight.array)
        if "scale" in entry["quantization"]:
            assert error.max() <= entry["quantization"]["scale"] / 2 + np.abs(weight.array).max() * 2**-24
        errors.append(error.max())
    assert written.max_abs_error == max(errors)
    assert written.max_error_weight == weights[int(np.argmax(errors))].name
    assert decoded["b/steps"].tolist() == [3, 4] and decoded["b/names"] == [b"x"]


def test_int64_outside_int32_is_rejected(tmp_path):
    with pytest.raises(ConversionError, match="outside the int32 range"):
        write_model_dir(tmp_path / "m", DOCUMENT, [Weight("c/n", np.array([2**40]))], shard_size=0)
    assert not (tmp_path / "m").exists()


def test_a_model_whose_weights_are_all_empty_writes_no_shard(tmp_path):
    written = write_model_dir(tmp_path / "m", DOCUMENT, [Weight("e/empty", np.zeros((0, 2), np.float32))], shard_size=0)
    assert written.files == ["model.json"] and written.weight_bytes == 0
    assert json.loads((tmp_path / "m" / "model.json").read_text())["weightsManifest"] == [
        {"paths": [], "weights": [{"name": "e/empty", "shape": [0, 2], "dtype": "float32"}]}
    ]


@pytest.mark.parametrize("quantize", [None, "uint8", "uint16", "float16"])
def test_writing_streams_one_tensor_at_a_time(tmp_path, quantize):
    """Peak memory while writing is bounded by the largest tensor plus slack, not by the model's size."""
    count, elements = 8, 1 << 20  # 8 tensors of 4 MiB: 32 MiB in all
    weights = [Weight(f"layer{i}/kernel", np.full(elements, i, dtype=np.float32) + np.linspace(-1, 1, elements, dtype=np.float32))
               for i in range(count)]
    largest = max(w.nbytes for w in weights)
    slack = 1 << 20  # 1 MiB: chunk temporaries, the manifest, file objects
    tracemalloc.start()
    try:
        written = write_model_dir(tmp_path / "m", DOCUMENT, iter(weights), shard_size=3 << 20, quantize=quantize)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written.weight_bytes_before == count * largest
    assert peak < largest + slack, f"peak {peak / 2**20:.1f} MiB while writing {count * largest / 2**20:.0f} MiB of weights"
