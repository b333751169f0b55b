"""What a TF.js model directory holds, read from its ``model.json`` (and the sizes of its shards).

Standard library only: ``hatch-tfjs inspect``, the package index the hook writes (``index.py``) and the runtime API
use it, none of which may import numpy or TensorFlow.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from hatch_tfjs.backends import BACKENDS, runnable_backends
from hatch_tfjs.errors import HatchTfjsError
from hatch_tfjs.layer_shapes import model_io
from hatch_tfjs.names import file_name_problem

# Bytes per element as stored in the shards, by manifest dtype (quantized weights use their quantization dtype).
STORED_ITEMSIZE = {"float32": 4, "int32": 4, "bool": 1, "complex64": 8, "float16": 2, "uint8": 1, "uint16": 2}
GRAPH_DTYPES = {
    "DT_FLOAT": "float32",
    "DT_INT32": "int32",
    "DT_BOOL": "bool",
    "DT_STRING": "string",
    "DT_COMPLEX64": "complex64",
    "DT_INT64": "int32",  # TF.js has no int64: it reads them as int32
    "DT_HALF": "float16",
    "DT_DOUBLE": "float32",
    "DT_UINT8": "int32",
    "DT_INT8": "int32",
    "DT_INT16": "int32",
}


# Ops TF.js 4.22's GraphModel.execute() cannot run (its executor's control-flow, dynamic-shape and hash-table sets, plus
# the If/While ops it runs as asynchronous functions): a graph holding any of them needs executeAsync(). Without them,
# executeAsync() works but logs "This model execution did not contain any nodes with control flow ...", so execute().
ASYNC_OPS = frozenset(
    {
        "Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond", "If", "StatelessIf", "While", "StatelessWhile",
        "NonMaxSuppressionV2", "NonMaxSuppressionV3", "NonMaxSuppressionV5", "Where",
        "HashTable", "HashTableV2", "LookupTableImport", "LookupTableImportV2", "LookupTableFind", "LookupTableFindV2",
        "LookupTableSize", "LookupTableSizeV2",
    }
)  # fmt: skip


class ModelDirError(HatchTfjsError):
    """The directory is not a readable TF.js model (no model.json, bad JSON, not a model document)."""


def read_model_json(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / "model.json"
    if not Path(model_dir).is_dir():
        raise ModelDirError(f"{model_dir}: not a directory; pass the directory that holds model.json")
    if not path.is_file():
        raise ModelDirError(f"{model_dir}: no model.json here; pass the directory that holds a TF.js model.json")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or "modelTopology" not in document:
        raise ModelDirError(f"{path}: not a TF.js model.json (no modelTopology)")
    if not isinstance(document["modelTopology"], dict):
        kind = type(document["modelTopology"]).__name__
        raise ModelDirError(f"{path}: not a TF.js model.json (its modelTopology is {kind}, not an object)")
    problem = manifest_problem(document.get("weightsManifest"))
    if problem:
        raise ModelDirError(f"{path}: {problem}; TF.js could not load it as it is: convert the model again")
    return document


_MANIFEST_DTYPES = (*STORED_ITEMSIZE, "string")
_QUANTIZED_DTYPES = ("uint8", "uint16", "float16")


def _weight_problem(where: str, weight: object) -> str | None:
    if not isinstance(weight, dict):
        return f"{where} is {type(weight).__name__} {weight!r}, not a weight (an object with name, shape, dtype)"
    if not isinstance(weight.get("name"), str):
        return f"{where}.name is {weight.get('name')!r}, not a string"
    shape = weight.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        return f"{where}.shape is {shape!r}, not a list of sizes (whole numbers >= 0)"
    if weight.get("dtype", "float32") not in _MANIFEST_DTYPES:
        return f"{where}.dtype is {weight.get('dtype')!r}, not one of {', '.join(_MANIFEST_DTYPES)}"
    quantization = weight.get("quantization")
    if quantization is not None and (
        not isinstance(quantization, dict) or quantization.get("dtype") not in _QUANTIZED_DTYPES
    ):
        return f"{where}.quantization is {quantization!r}, not an object whose dtype is uint8, uint16 or float16"
    return None


def manifest_problem(manifest: object) -> str | None:
    """What is wrong with a weights manifest (None when nothing): each group an object whose ``paths`` are plain
    file names in the model's folder (TF.js fetches each next to model.json: nothing else is ever looked at) and whose
    ``weights`` have a name, a shape of sizes >= 0 and a TF.js dtype."""
    if manifest is None:
        return None
    if not isinstance(manifest, list):
        return f"weightsManifest is {type(manifest).__name__}, not a list of weight groups"
    for g, group in enumerate(manifest):
        where = f"weightsManifest[{g}]"
        if not isinstance(group, dict):
            return f"{where} is {type(group).__name__} {group!r}, not a weight group (an object with paths, weights)"
        paths, weights = group.get("paths"), group.get("weights")
        if not isinstance(paths, list):
            return f"{where}.paths is {paths!r}, not a list of shard file names"
        for p, name in enumerate(paths):
            problem = file_name_problem(name)
            if problem or name == "model.json":
                why = problem or "is model.json itself, not a shard"
                return f"{where}.paths[{p}] {why}; a shard is a file next to model.json"
        if not isinstance(weights, list):
            return f"{where}.weights is {weights!r}, not a list of weights"
        for w, weight in enumerate(weights):
            problem = _weight_problem(f"{where}.weights[{w}]", weight)
            if problem:
                return problem
    return None


def _prod(shape: list[Any]) -> int:
    return math.prod(int(d) for d in shape) if shape else 1


# --- graph models --------------------------------------------------------------------------------------------------


def _graph_tensors(entries: dict[str, Any] | None) -> list[dict[str, Any]]:
    found = []
    for key, tensor in (entries or {}).items():
        dims = (tensor.get("tensorShape") or {}).get("dim")
        shape = (
            None
            if dims is None and (tensor.get("tensorShape") or {}).get("unknownRank")
            else [None if int(d.get("size", -1)) < 0 else int(d.get("size")) for d in (dims or [])]
        )
        found.append(
            {"name": key, "shape": shape, "dtype": GRAPH_DTYPES.get(tensor.get("dtype", ""), tensor.get("dtype"))}
        )
    return found


def _graph_io(document: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Counter[str]]:
    topology = document.get("modelTopology") or {}
    nodes = list(topology.get("node") or [])
    for function in (topology.get("library") or {}).get("function") or []:
        nodes += function.get("nodeDef") or []
    counts: Counter[str] = Counter(node.get("op", "?") for node in nodes)
    signature: dict[str, Any] = document.get("signature") or {}
    return _graph_tensors(signature.get("inputs")), _graph_tensors(signature.get("outputs")), counts


def graph_execution(document: dict[str, Any], ops: Counter[str]) -> str:
    """``"async"`` when the graph needs ``executeAsync()`` (control flow, dynamic shapes, hash tables, an initializer
    graph), else ``"sync"``: ``execute()`` runs it."""
    if document.get("modelInitializer") or ASYNC_OPS.intersection(ops):
        return "async"
    return "sync"


# --- the whole directory --------------------------------------------------------------------------------------------


def describe_model_dir(model_dir: Path | str) -> dict[str, Any]:
    """A plain-data description of a TF.js model directory (what ``hatch-tfjs inspect --json`` prints).

    ``problems`` lists what would make TF.js fail to load it (missing or short shards). A model.json whose parts are
    not what TF.js writes raises :class:`ModelDirError` naming it."""
    model_dir = Path(model_dir)
    document = read_model_json(model_dir)  # checks the weights manifest: the shards are plain files in model_dir
    is_graph = document.get("format") == "graph-model" or "node" in document["modelTopology"]
    try:
        topology = document["modelTopology"]
        io = _graph_io(document) if is_graph else model_io(topology.get("model_config") or {})
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as exc:
        kind = "graph (node, library, signature)" if is_graph else "layers (model_config)"
        raise ModelDirError(
            f"{model_dir / 'model.json'}: its {kind} topology is not in the form TF.js writes and reads; convert the "
            "model again"
        ) from exc
    return _describe_document(model_dir, document, is_graph, io)


def _describe_document(
    model_dir: Path,
    document: dict[str, Any],
    is_graph: bool,
    io: tuple[list[dict[str, Any]], list[dict[str, Any]], Counter[str]],
) -> dict[str, Any]:
    inputs, outputs, counts = io

    by_dtype: dict[str, dict[str, int]] = {}  # by the dtype TF.js gives the weight (quantized ones dequantized)
    by_storage: dict[tuple[str, str], dict[str, Any]] = {}  # by (that dtype, the dtype its shard bytes hold)
    quantization: dict[str, int] = {}
    parameters = 0
    expected_bytes = 0
    weight_count = 0
    shard_paths: list[str] = []
    for group in document.get("weightsManifest") or []:  # checked by read_model_json
        shard_paths += group["paths"]
        for weight in group["weights"]:
            weight_count += 1
            elements = _prod(weight.get("shape") or [])
            parameters += elements
            dtype = weight.get("dtype", "float32")
            stored = dtype
            if weight.get("quantization"):
                stored = weight["quantization"].get("dtype", dtype)
                quantization[stored] = quantization.get(stored, 0) + 1
            size = elements * STORED_ITEMSIZE.get(stored, 0)
            expected_bytes += size
            for entry in (
                by_dtype.setdefault(dtype, {"count": 0, "parameters": 0, "bytes": 0}),
                by_storage.setdefault(
                    (dtype, stored), {"dtype": dtype, "stored": stored, "count": 0, "parameters": 0, "bytes": 0}
                ),
            ):
                entry["count"] += 1
                entry["parameters"] += elements
                entry["bytes"] += size

    problems: list[str] = []
    shards: list[dict[str, Any]] = []
    for relative in shard_paths:
        path = model_dir / relative  # a plain file name: never outside model_dir
        shard_size = path.lstat().st_size if path.is_file() and not path.is_symlink() else None
        if path.is_symlink():
            problems.append(f"shard {relative} is a symbolic link, not a file: servers refuse it; put the file there")
        elif shard_size is None:
            problems.append(
                f"shard {relative} is missing: TF.js fetches it relative to model.json and fails; ship the whole folder"
            )
        shards.append({"path": relative, "bytes": shard_size})
    shard_bytes = sum(s["bytes"] or 0 for s in shards)
    has_strings = "string" in by_dtype
    if not problems and not has_strings and shard_bytes != expected_bytes:
        problems.append(
            f"the shards hold {shard_bytes} bytes but the weights manifest needs {expected_bytes}; "
            "the model folder is incomplete or mixes two conversions: convert again"
        )
    model_json_bytes = (model_dir / "model.json").stat().st_size
    return {
        "path": str(model_dir),
        "format": "graph" if is_graph else "layers",
        "execution": graph_execution(document, counts) if is_graph else "sync",  # layers models: model.predict()
        "backends": runnable_backends(counts) if is_graph else list(BACKENDS),  # the TF.js backends that run it
        "generated_by": document.get("generatedBy"),
        "converted_by": document.get("convertedBy"),
        "inputs": inputs,
        "outputs": outputs,
        ("ops" if is_graph else "layers"): dict(sorted(counts.items())),
        "weights": {
            "count": weight_count,
            "parameters": parameters,
            "bytes": shard_bytes if has_strings else expected_bytes,
            "by_dtype": dict(sorted(by_dtype.items())),
            "by_storage": [by_storage[key] for key in sorted(by_storage)],
        },
        "quantization": dict(sorted(quantization.items())),
        "shards": shards,
        "total_bytes": model_json_bytes + shard_bytes,
        "metadata": document.get("userDefinedMetadata") or {},
        "problems": problems,
    }


def human_bytes(count: int | None) -> str:
    """``1.5 KiB``-style sizes for messages; ``?`` when unknown."""
    if count is None:
        return "?"
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"  # pragma: no cover
