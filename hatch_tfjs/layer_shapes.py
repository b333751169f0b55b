"""The input and output shapes of a TF.js layers model, worked out from its ``model_config`` alone.

Standard library only (``describe.py``, and through it the package index and ``hatch-tfjs inspect``, use it). A
layers model.json holds only its inputs' shapes; each layer's output shape follows from its class, its config and its
inputs' shapes, as TF.js's ``computeOutputShape`` works it out, for the layers TF.js runs. A shape that cannot be
worked out here is None ("unknown"), never a guess. Shapes include the batch dimension (None).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

Shape = list[Any]  # dimensions: int, or None where unknown (the batch dimension always)

SAME_SHAPE = frozenset(
    {
        "Activation", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Softmax", "ReLU",
        "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "BatchNormalization", "LayerNormalization", "Rescaling",
        "GaussianNoise", "GaussianDropout", "AlphaDropout", "Masking", "Add", "Average", "Maximum", "Minimum",
        "Multiply",
    }
)  # fmt: skip
MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})
_RNN_STATES = {"SimpleRNN": 1, "GRU": 1, "LSTM": 2}


def model_io(model_config: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Counter[str]]:
    """``(inputs, outputs, layer counts)`` of a TF.js ``model_config``: each input and output as
    ``{"name", "shape", "dtype"}`` (shape None when unknown), and how many layers of each class it has."""
    config = model_config.get("config") or {}
    layers = config.get("layers") or []
    counts: Counter[str] = Counter(str(layer.get("class_name", "?")) for layer in layers)
    counts.pop("InputLayer", None)
    inputs, outputs = _walk(model_config)
    return inputs, outputs, counts


def _name(layer: dict[str, Any]) -> Any:
    return (layer.get("config") or {}).get("name") or layer.get("name")


def _dtype(layer: dict[str, Any]) -> str:
    dtype = (layer.get("config") or {}).get("dtype")
    return dtype if isinstance(dtype, str) else "float32"


def _walk(model_config: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The inputs and outputs of a Sequential or functional model (nested models included)."""
    config = model_config.get("config") or {}
    layers: list[dict[str, Any]] = config.get("layers") or []
    if model_config.get("class_name") == "Sequential":
        return _walk_sequential(layers)
    # Functional: every call of every layer, in order; shapes by (layer, node) and tensor index.
    shapes: dict[tuple[str, int], list[Shape | None]] = {}
    nested: dict[str, list[Shape | None]] = {}  # nested models: their outputs do not depend on the node
    inputs = []
    dtypes = {}
    for layer in layers:
        name, class_name, cfg = _name(layer), layer.get("class_name"), layer.get("config") or {}
        dtypes[name] = _dtype(layer)
        if class_name == "InputLayer":
            shape = list(cfg.get("batch_input_shape") or []) or None
            shapes[name, 0] = [shape]
            inputs.append({"name": name, "shape": shape, "dtype": dtypes[name]})
            continue
        if class_name in MODEL_CLASSES:
            nested[name] = [o["shape"] for o in _walk(layer)[1]]
            continue
        for index, node in enumerate(layer.get("inbound_nodes") or []):
            sources = [_lookup(shapes, nested, entry) for entry in node if isinstance(entry, list)]
            shapes[name, index] = _call(str(class_name), cfg, sources)
    order = [entry[0] for entry in config.get("input_layers") or []]
    inputs.sort(key=lambda i: order.index(i["name"]) if i["name"] in order else len(order))
    outputs = [
        {"name": entry[0], "shape": _lookup(shapes, nested, entry), "dtype": dtypes.get(entry[0], "float32")}
        for entry in config.get("output_layers") or []
    ]
    return inputs, outputs


def _lookup(
    shapes: dict[tuple[str, int], list[Shape | None]], nested: dict[str, list[Shape | None]], entry: list[Any]
) -> Shape | None:
    """The shape of ``[layer, node, tensor, ...]`` (an inbound node or an output layer entry)."""
    if len(entry) < 3:
        return None
    name, node, tensor = entry[0], entry[1], entry[2]
    found = nested.get(name) or shapes.get((name, node)) or []
    return found[tensor] if isinstance(tensor, int) and 0 <= tensor < len(found) else None


def _walk_sequential(layers: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    inputs: list[dict[str, Any]] = []
    shape: Shape | None = None
    name = None
    for layer in layers:
        class_name, cfg = layer.get("class_name"), layer.get("config") or {}
        name = _name(layer)
        if class_name == "InputLayer" or (not inputs and cfg.get("batch_input_shape")):
            shape = list(cfg.get("batch_input_shape") or []) or None
            inputs.append({"name": name, "shape": shape, "dtype": _dtype(layer)})
            if class_name == "InputLayer":
                continue
        if class_name in MODEL_CLASSES:
            shape = ([o["shape"] for o in _walk(layer)[1]] or [None])[0]
        else:
            shape = _call(str(class_name), cfg, [shape])[0]
    outputs = [{"name": name, "shape": shape, "dtype": _dtype(layers[-1])}] if layers and name is not None else []
    return inputs, outputs


# --- one layer call -------------------------------------------------------------------------------------------------


def _call(class_name: str, cfg: dict[str, Any], shapes: list[Shape | None]) -> list[Shape | None]:
    """The output shapes of one call of a layer on inputs of these shapes (one entry per output tensor)."""
    if not shapes or any(s is None for s in shapes):
        return [None]
    known: list[Shape] = [list(s) for s in shapes if s is not None]
    try:
        return _outputs(class_name, cfg, known)
    except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError):
        return [None]  # a config this does not understand: unknown, not an error


def _outputs(class_name: str, cfg: dict[str, Any], shapes: list[Shape]) -> list[Shape | None]:
    shape = shapes[0]
    if class_name in SAME_SHAPE:
        return [shape]
    if class_name in _RNN_STATES:
        return _recurrent(cfg, shape, cfg["units"], _RNN_STATES[class_name])
    if class_name == "RNN":  # over a cell: SimpleRNNCell, GRUCell, LSTMCell
        cell = cfg["cell"]
        kind = str(cell.get("class_name")).removesuffix("Cell")
        return _recurrent(cfg, shape, cell["config"]["units"], _RNN_STATES[kind])
    if class_name == "Bidirectional":
        return [_bidirectional(cfg, shape)]
    if class_name == "TimeDistributed":
        inner = cfg["layer"]
        out = _call(str(inner.get("class_name")), inner.get("config") or {}, [[shape[0], *shape[2:]]])[0]
        return [None if out is None else [shape[0], shape[1], *out[1:]]]
    return [_single(class_name, cfg, shapes)]


def _single(class_name: str, cfg: dict[str, Any], shapes: list[Shape]) -> Shape | None:
    shape = shapes[0]
    if class_name == "Concatenate":
        return _concatenated(shape, shapes, int(cfg.get("axis", -1)))
    if class_name == "Dense":
        return [*shape[:-1], cfg["units"]]
    if class_name == "Embedding":
        return [*shape, cfg["output_dim"]]
    if class_name == "RepeatVector":
        return [shape[0], cfg["n"], *shape[1:]]
    if class_name == "Flatten":
        rest = shape[1:]
        return [shape[0], None if None in rest else math.prod(rest)]
    if class_name == "Reshape":
        return _reshaped(cfg, shape)
    if class_name == "Permute":
        return [shape[0], *(shape[int(d)] for d in cfg["dims"])]
    if class_name in ("CenterCrop", "Resizing"):
        return [shape[0], cfg["height"], cfg["width"], shape[-1]]
    if class_name in ("ZeroPadding2D", "Cropping2D", "UpSampling2D"):
        return _padded(class_name, cfg, shape)
    return _windowed(class_name, cfg, shape)


def _concatenated(shape: Shape, shapes: list[Shape], axis: int) -> Shape:
    out = list(shape)
    sizes = [s[axis] for s in shapes]
    out[axis] = None if None in sizes else sum(sizes)
    return out


def _reshaped(cfg: dict[str, Any], shape: Shape) -> Shape:
    rest = shape[1:]
    target = list(cfg.get("target_shape") or [])
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        target[target.index(-1)] = None if None in rest else math.prod(rest) // max(known, 1)
    return [shape[0], *target]


def _recurrent(cfg: dict[str, Any], shape: Shape, units: int, states: int) -> list[Shape | None]:
    main = [shape[0], shape[1], units] if cfg.get("return_sequences") else [shape[0], units]
    return [main, *([[shape[0], units]] * states if cfg.get("return_state") else [])]


def _bidirectional(cfg: dict[str, Any], shape: Shape) -> Shape | None:
    """The merged output of both directions (None for merge_mode=None or return_state: several outputs)."""
    inner = cfg["layer"]
    merge = cfg.get("merge_mode", "concat")
    if merge is None or (inner.get("config") or {}).get("return_state"):
        return None
    out = _call(str(inner.get("class_name")), inner.get("config") or {}, [shape])[0]
    if out is None or merge != "concat":
        return out
    return [*out[:-1], out[-1] * 2]


def _pairs(value: Any) -> list[tuple[int, int]]:
    """ZeroPadding2D / Cropping2D amounts as ``[(top, bottom), (left, right)]``."""
    if isinstance(value, int):
        return [(value, value), (value, value)]
    return [(int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1])) for v in value]


def _padded(class_name: str, cfg: dict[str, Any], shape: Shape) -> Shape | None:
    if len(shape) != 4:
        return None
    last = cfg.get("data_format", "channels_last") != "channels_first"
    spatial = [1, 2] if last else [2, 3]
    out = list(shape)
    if class_name == "UpSampling2D":
        size = cfg.get("size", (2, 2))
        factors = [size, size] if isinstance(size, int) else [int(f) for f in size]
        for axis, factor in zip(spatial, factors, strict=True):
            out[axis] = None if out[axis] is None else out[axis] * factor
        return out
    padding = class_name == "ZeroPadding2D"
    amounts = _pairs(cfg.get("padding", 1) if padding else cfg.get("cropping", 0))
    for axis, (before, after) in zip(spatial, amounts, strict=True):
        change = before + after if padding else -(before + after)
        out[axis] = None if out[axis] is None else out[axis] + change
    return out


def _window(size: int | None, kernel: int, stride: int, padding: str, dilation: int = 1) -> int | None:
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    effective = (kernel - 1) * dilation + 1
    return (size - effective) // stride + 1


def _as_tuple(value: Any, rank: int) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)] * rank


def _windowed(class_name: str, cfg: dict[str, Any], shape: Shape) -> Shape | None:
    """Global pooling, 1D/2D/3D pooling and convolutions (channels last), ConvLSTM2D; None for anything else."""
    if cfg.get("data_format", "channels_last") != "channels_last":
        return None
    if class_name.startswith(("GlobalAveragePooling", "GlobalMaxPooling")):
        return [shape[0], *([1] * (len(shape) - 2)), shape[-1]] if cfg.get("keepdims") else [shape[0], shape[-1]]
    rank = {"1D": 1, "2D": 2, "3D": 3}.get(class_name.removesuffix("Transpose")[-2:])
    sequence = class_name == "ConvLSTM2D"
    if not rank or len(shape) != rank + 2 + sequence:
        return None
    spatial = shape[1 + sequence : -1]
    padding = cfg.get("padding", "valid")
    if class_name.startswith(("MaxPooling", "AveragePooling")):
        pool = _as_tuple(cfg.get("pool_size", 2), rank)
        strides = _as_tuple(cfg.get("strides") or pool, rank)
        return [shape[0], *map(_window, spatial, pool, strides, [padding] * rank), shape[-1]]
    kernel = _as_tuple(cfg["kernel_size"], rank)
    strides = _as_tuple(cfg.get("strides", 1), rank)
    if class_name.endswith("Transpose"):
        dims = [None if s is None else s * st if padding == "same" else (s - 1) * st + max(k, st)
                for s, k, st in zip(spatial, kernel, strides, strict=True)]  # fmt: skip
        return [shape[0], *dims, cfg["filters"]]
    if not class_name.startswith(("Conv", "SeparableConv", "DepthwiseConv")):
        return None
    dilation = _as_tuple(cfg.get("dilation_rate", 1), rank)
    dims = list(map(_window, spatial, kernel, strides, [padding] * rank, dilation))
    if class_name.startswith("DepthwiseConv"):
        channels = None if shape[-1] is None else shape[-1] * int(cfg.get("depth_multiplier", 1))
    else:
        channels = cfg["filters"]
    if sequence:
        return [shape[0], shape[1], *dims, channels] if cfg.get("return_sequences") else [shape[0], *dims, channels]
    return [shape[0], *dims, channels]
