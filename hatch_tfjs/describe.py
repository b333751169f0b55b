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
    return document


def _prod(shape: list[Any]) -> int:
    return math.prod(int(d) for d in shape) if shape else 1


# --- layers models: inputs, outputs (shapes inferred for common layers), layer counts -----------------------------

_SAME_SHAPE = frozenset(
    {
        "Activation", "Dropout", "SpatialDropout1D", "Softmax", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU",
        "BatchNormalization", "LayerNormalization", "Rescaling", "GaussianNoise", "GaussianDropout", "AlphaDropout",
        "Masking",
    }
)  # fmt: skip
_MERGE_SAME = frozenset({"Add", "Average", "Maximum", "Minimum", "Multiply"})


def _window(size: int | None, kernel: int, stride: int, padding: str, dilation: int = 1) -> int | None:
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    effective = (kernel - 1) * dilation + 1
    return (size - effective) // stride + 1


def _as_tuple(value: Any, rank: int) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [int(value)] * rank


def _layer_output_shape(class_name: str, config: dict[str, Any], shapes: list[list[Any] | None]) -> list[Any] | None:
    """The output shape of one layer (batch dimension included as None), or None when not worked out here."""
    known = [s for s in shapes if s is not None]
    if not shapes or len(known) != len(shapes):
        return None
    shape = list(known[0])
    if class_name in _SAME_SHAPE or class_name in _MERGE_SAME:
        return shape
    if class_name == "Concatenate":
        return _concatenated(shape, known, config.get("axis", -1))
    if class_name in ("Dense", "Flatten", "Reshape", "RepeatVector"):
        return _reshaped(class_name, config, shape)
    return _pooled_or_convolved(class_name, config, shape)


def _concatenated(shape: list[Any], shapes: list[list[Any]], axis: int) -> list[Any]:
    total = 0
    for s in shapes:
        if s[axis] is None:
            shape[axis] = None
            return shape
        total += s[axis]
    shape[axis] = total
    return shape


def _reshaped(class_name: str, config: dict[str, Any], shape: list[Any]) -> list[Any]:
    """The output shape of a Dense, Flatten, Reshape or RepeatVector layer."""
    if class_name == "Dense":
        return [*shape[:-1], config.get("units")]
    if class_name == "RepeatVector":
        return [shape[0], config.get("n"), *shape[1:]]
    rest = shape[1:]
    if class_name == "Flatten":
        return [shape[0], None if any(d is None for d in rest) else _prod(rest)]
    target = list(config.get("target_shape") or [])
    if -1 in target:
        known = _prod([d for d in target if d != -1])
        target[target.index(-1)] = None if any(d is None for d in rest) else _prod(rest) // max(known, 1)
    return [shape[0], *target]


def _pooled_or_convolved(class_name: str, config: dict[str, Any], shape: list[Any]) -> list[Any] | None:
    """The output shape of a global pooling, 1D/2D pooling or 1D/2D convolution layer (channels last only)."""
    channels_last = config.get("data_format", "channels_last") == "channels_last"
    if class_name in ("GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        if config.get("keepdims"):
            return None
        return [shape[0], shape[-1] if channels_last else shape[1]]
    rank = {"1D": 1, "2D": 2}.get(class_name[-2:])
    if not (rank and channels_last and len(shape) == rank + 2):
        return None
    spatial = shape[1:-1]
    padding = config.get("padding", "valid")
    if class_name in ("Conv1D", "Conv2D", "SeparableConv2D", "DepthwiseConv2D"):
        kernel = _as_tuple(config.get("kernel_size"), rank)
        strides = _as_tuple(config.get("strides", 1), rank)
        dilation = _as_tuple(config.get("dilation_rate", 1), rank)
        windows = zip(spatial, kernel, strides, dilation, strict=False)
        dims = [_window(s, k, st, padding, d) for s, k, st, d in windows]
        if class_name == "DepthwiseConv2D":
            channels = None if shape[-1] is None else shape[-1] * int(config.get("depth_multiplier", 1))
        else:
            channels = config.get("filters")
        return [shape[0], *dims, channels]
    if class_name.startswith(("MaxPooling", "AveragePooling")):
        pool = _as_tuple(config.get("pool_size", 2), rank)
        strides = _as_tuple(config.get("strides") or pool, rank)
        dims = [_window(s, k, st, padding) for s, k, st in zip(spatial, pool, strides, strict=False)]
        return [shape[0], *dims, shape[-1]]
    return None


def _inbound_names(layer: dict[str, Any]) -> list[str]:
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) != 1:  # shared layers: several calls, several shapes
        return []
    return [entry[0] for entry in nodes[0] if isinstance(entry, list) and entry]


def _layers_io(model_config: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Counter[str]]:
    config = model_config.get("config") or {}
    layers = config.get("layers") or []
    counts: Counter[str] = Counter(layer.get("class_name", "?") for layer in layers)
    shapes: dict[str, list[Any] | None] = {}
    dtypes: dict[str, str] = {}
    inputs: list[dict[str, Any]] = []
    sequential = model_config.get("class_name") == "Sequential"
    previous: str | None = None
    for layer in layers:
        cfg = layer.get("config") or {}
        name: Any = cfg.get("name") or layer.get("name")  # JSON values: strings in a valid config
        class_name: Any = layer.get("class_name")
        raw_dtype = cfg.get("dtype")
        dtype = raw_dtype if isinstance(raw_dtype, str) else "float32"
        dtypes[name] = dtype
        if class_name == "InputLayer":
            shapes[name] = list(cfg.get("batch_input_shape") or []) or None
            inputs.append({"name": name, "shape": shapes[name], "dtype": dtype})
        else:
            sources = ([previous] if previous else []) if sequential else _inbound_names(layer)
            shapes[name] = _layer_output_shape(class_name, cfg, [shapes.get(s) for s in sources]) if sources else None
        previous = name
    if sequential:
        outputs = []
        if previous:
            outputs.append({"name": previous, "shape": shapes.get(previous), "dtype": dtypes.get(previous, "float32")})
    else:
        outputs = [
            {"name": entry[0], "shape": shapes.get(entry[0]), "dtype": dtypes.get(entry[0], "float32")}
            for entry in config.get("output_layers") or []
        ]
        order = [entry[0] for entry in config.get("input_layers") or []]
        inputs.sort(key=lambda i: order.index(i["name"]) if i["name"] in order else len(order))
    counts.pop("InputLayer", None)
    return inputs, outputs, counts


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
    document = read_model_json(model_dir)
    try:
        return _describe_document(model_dir, document)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise ModelDirError(
            f"{model_dir / 'model.json'}: not a TF.js model document TF.js could load ({type(exc).__name__}: {exc})"
        ) from exc


def _describe_document(model_dir: Path, document: dict[str, Any]) -> dict[str, Any]:
    is_graph = document.get("format") == "graph-model" or "node" in (document.get("modelTopology") or {})
    if is_graph:
        inputs, outputs, counts = _graph_io(document)
    else:
        inputs, outputs, counts = _layers_io((document.get("modelTopology") or {}).get("model_config") or {})

    by_dtype: dict[str, dict[str, int]] = {}  # by the dtype TF.js gives the weight (quantized ones dequantized)
    by_storage: dict[tuple[str, str], dict[str, Any]] = {}  # by (that dtype, the dtype its shard bytes hold)
    quantization: dict[str, int] = {}
    parameters = 0
    expected_bytes = 0
    weight_count = 0
    shard_paths: list[str] = []
    for group in document.get("weightsManifest") or []:
        shard_paths += list(group.get("paths") or [])
        for weight in group.get("weights") or []:
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
        path = model_dir / relative
        shard_size = path.stat().st_size if path.is_file() else None
        if shard_size is None:
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
