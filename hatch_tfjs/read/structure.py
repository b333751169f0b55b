"""What a serialised Keras model must look like before anything downstream touches it.

A model file's config is untrusted JSON. The reader walks it to place variables, the translator rewrites it for TF.js
and the writer copies parts of it into ``model.json``; all of them assume the shapes Keras itself writes (a model is
an object, its ``layers`` a list of objects with string names, inbound nodes refer to layers by name and index, an
initializer is a string or an object, ...). :func:`config_problem` checks exactly those assumptions once, where the
file is read, so that a damaged or hand-edited config becomes one clear error naming the key instead of a crash deep
inside a later stage. It never rejects what Keras writes: values of classes TF.js does not know are left alone
(the translator reports those classes), and only the keys the later stages read are looked at.
"""

from __future__ import annotations

from typing import Any

from hatch_tfjs.keras_names import LAYER_CLASSES, LAYER_RENAMES, MODEL_CLASSES

# Far deeper than any Keras config (a layer inside a model nested ten deep is ~60 levels); bounds every recursive walk
# of the config in later stages well below Python's recursion limit.
MAX_NESTING = 200
_NESTED_LAYER_KEYS = ("layer", "cell", "backward_layer")
_SHAPE_KEYS = ("batch_shape", "shape", "batch_input_shape")
# Config keys that hold sizes, counts or axes (TF.js keeps shapes as int32); "padding" may also be a mode name.
_SIZE_KEYS = frozenset(
    {
        "units", "filters", "kernel_size", "strides", "pool_size", "dilation_rate", "depth_multiplier", "input_dim",
        "output_dim", "size", "cropping", "padding", "target_shape", "dims", "n", "num_tokens", "height", "width",
        "groups",
    }
)  # fmt: skip
MAX_SIZE = 2**31
# Sizes of a sliding window, which are at least 1.
_WINDOW_KEYS = frozenset({"kernel_size", "strides", "pool_size", "dilation_rate"})
_FEATURE_AXIS_CLASSES = frozenset({"BatchNormalization", "LayerNormalization"})
_JSON_KINDS = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


class _MalformedError(ValueError):
    """One structural problem, with where it is."""


def _json_kind(value: Any) -> str:
    """How JSON calls the type of a parsed value: ``array``, ``string``, ``null``, ..."""
    return "null" if value is None else _JSON_KINDS.get(type(value), type(value).__name__)


def config_problem(config: Any) -> str | None:
    """None when ``config`` (a parsed ``config.json`` / ``model_config``) has the structure Keras writes, else the
    first problem found, naming the layer and key."""
    depth = nesting_depth(config, limit=MAX_NESTING)
    if depth > MAX_NESTING:
        return f"it nests more than {MAX_NESTING} levels deep, which no Keras model does"
    try:
        _model_entry(config, "the model config", top=True)
    except _MalformedError as problem:
        return str(problem)
    return None


def nesting_depth(value: Any, *, limit: int) -> int:
    """How deeply objects and arrays nest in ``value`` (a scalar is 0), counted without recursion and stopping once
    past ``limit``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        deepest = max(deepest, depth)
        if depth > limit:
            break
        stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise _MalformedError(message)


def _class_and_config(entry: Any, where: str) -> tuple[str, dict[str, Any]]:
    _require(isinstance(entry, dict), f"{where} is a JSON {_json_kind(entry)}, not an object")
    class_name = entry.get("class_name")
    _require(isinstance(class_name, str) and bool(class_name), f"{where} has no class_name string")
    cfg = entry.get("config")
    _require(isinstance(cfg, dict), f"{where} ({class_name}): 'config' is a JSON {_json_kind(cfg)}, not an object")
    return LAYER_RENAMES.get(class_name, class_name), cfg


def _model_entry(entry: Any, where: str, *, top: bool = False) -> None:
    class_name, cfg = _class_and_config(entry, where)
    _dtype(cfg.get("dtype"), where)
    if class_name not in MODEL_CLASSES:
        if not top:
            _layer_values(class_name, cfg, where)
            if "Transpose" not in class_name:  # a transposed window grows its input: any size fits
                _window_fits(cfg, recorded_input_shape(entry), where)
        return  # at the top: a subclassed model, which the translator reports
    if "layers" not in cfg:
        return  # a subclassed model saved under a base class name: the translator reports it
    layers = cfg["layers"]
    _require(isinstance(layers, list), f"{where}: 'layers' is a JSON {_json_kind(layers)}, not an array")
    _require("name" not in cfg or isinstance(cfg["name"], str), f"{where}: 'name' is not a string")
    if "name" in cfg:
        where = f"model '{cfg['name']}'"
    functional = class_name != "Sequential"
    calls: dict[str, int] = {}  # layer name -> how many node indices refer to it
    references: list[tuple[list[Any], str]] = []
    for index, layer in enumerate(layers):
        name, layer_calls, layer_references = _layer_entry(layer, f"layer #{index} of {where}", functional=functional)
        _require(name not in calls, f"{where}: two layers are named '{name}'")
        calls[name] = layer_calls
        references.extend(layer_references)
    if functional:
        for key in ("input_layers", "output_layers"):
            references.extend((triple, f"{where}: {key}") for triple in _endpoints(cfg.get(key), f"{where}: {key}"))
    for (layer, node, _), place in references:
        _require(layer in calls, f"{place} refers to layer '{layer}', which the model does not have")
        _require(
            0 <= node <= calls[layer], f"{place} refers to call #{node} of layer '{layer}', which it does not have"
        )
    _inputs_agree(layers, where, functional=functional)


def _inputs_agree(layers: list[dict[str, Any]], where: str, *, functional: bool) -> None:
    """An input layer's shape is the shape its consumers recorded for it. TF.js sizes every variable from the input
    shapes, while the variable checks rely on the shapes the consumers recorded: the two must be the same."""
    declared = {_name(layer): _declared_shape(layer) for layer in layers if layer["class_name"] == "InputLayer"}
    if functional:
        for layer in layers:
            for shape, (source, _, _) in recorded_inputs(layer.get("inbound_nodes", [])):
                expected = declared.get(source)
                _require(
                    expected is None or shape is None or expected == shape,
                    f"{where}: input '{source}' has shape {expected}, but layer '{_name(layer)}' records {shape} for "
                    "it",
                )
    elif len(layers) > 1 and layers[0]["class_name"] == "InputLayer":
        build = layers[1].get("build_config")
        recorded = build.get("input_shape") if isinstance(build, dict) else None
        expected = declared[_name(layers[0])]
        _require(
            expected is None or recorded is None or expected == recorded,
            f"{where}: input '{_name(layers[0])}' has shape {expected}, but layer '{_name(layers[1])}' records "
            f"{recorded}",
        )


def _name(layer: dict[str, Any]) -> str:
    name: str = layer.get("name") or layer["config"].get("name")
    return name


def _declared_shape(layer: dict[str, Any]) -> list[Any] | None:
    cfg = layer["config"]
    for key in ("batch_shape", "batch_input_shape"):
        if isinstance(cfg.get(key), list):
            shape: list[Any] = cfg[key]
            return shape
    return [None, *cfg["shape"]] if isinstance(cfg.get("shape"), list) else None


def recorded_inputs(nodes: list[Any]) -> list[tuple[list[Any] | None, list[Any]]]:
    """``(recorded shape, keras_history)`` of every Keras 3 tensor argument in ``nodes``."""
    found: list[tuple[list[Any] | None, list[Any]]] = []
    stack: list[Any] = [node for node in nodes if isinstance(node, dict)]
    while stack:
        value = stack.pop()
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            shape = value["config"].get("shape")
            found.append((shape if isinstance(shape, list) else None, value["config"]["keras_history"]))
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def _layer_entry(entry: Any, where: str, *, functional: bool) -> tuple[str, int, list[tuple[list[Any], str]]]:
    """``(name, node indices other layers may use, [layer, node, tensor] references it makes)`` of a model's layer."""
    class_name, cfg = _class_and_config(entry, where)
    for holder in (entry, cfg):
        _require("name" not in holder or isinstance(holder["name"], str), f"{where}: 'name' is not a string")
    name = entry.get("name") or cfg.get("name")
    if not name:
        raise _MalformedError(f"{where} has no name")
    where = f"{where} ('{name}')"
    references: list[tuple[list[Any], str]] = []
    nodes = entry.get("inbound_nodes", []) if functional else []
    _require(isinstance(nodes, list), f"{where}: 'inbound_nodes' is a JSON {_json_kind(nodes)}, not an array")
    for node in nodes:
        references.extend((history, where) for history in node_references(node, where))
    _model_entry(entry, where)
    # Node indices count a layer's calls (an input layer's node 0 is itself); a nested model may also be referred to
    # by one more, its own construction (Keras 2 and TF.js number that node 0).
    return name, max(len(nodes), 1) - (class_name not in MODEL_CLASSES), references


def _dtype(value: Any, where: str) -> None:
    """A dtype is a name or a DTypePolicy object whose config holds a name."""
    if isinstance(value, dict):
        policy = value.get("config")
        _require(policy is None or isinstance(policy, dict), f"{where}: 'dtype' config is not an object")
        value = (policy or {}).get("name")
    _require(value is None or isinstance(value, str), f"{where}: 'dtype' is a JSON {_json_kind(value)}, not a name")


def node_references(node: Any, where: str) -> list[list[Any]]:
    """The ``[layer, node, tensor]`` references of an inbound node: a Keras 3 call record ``{"args", "kwargs"}`` or a
    Keras 2 list of ``[layer, node, tensor, kwargs]``."""
    if isinstance(node, list):
        for item in node:
            _require(
                isinstance(item, list)
                and len(item) in (3, 4)
                and is_triple(item[:3])
                and (len(item) == 3 or isinstance(item[3], dict)),
                f"{where}: inbound node entry {short(item)} is not [layer name, node index, tensor index, kwargs]",
            )
        return [item[:3] for item in node]
    _require(isinstance(node, dict), f"{where}: an inbound node is a JSON {_json_kind(node)}")
    kwargs = node.get("kwargs", {})
    _require(isinstance(kwargs, dict), f"{where}: inbound node 'kwargs' is a JSON {_json_kind(kwargs)}, not an object")
    return _tensor_references(node.get("args", []), where) + _tensor_references(kwargs, where)


def _tensor_references(value: Any, where: str) -> list[list[Any]]:
    """The ``keras_history`` of every ``__keras_tensor__`` in call arguments: ``[layer, node, tensor]``."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            cfg = value.get("config")
            history: Any = cfg.get("keras_history") if isinstance(cfg, dict) else None
            _require(is_triple(history), f"{where}: a tensor argument has no [layer, node, tensor] keras_history")
            return [history]
        values = list(value.values())
    elif isinstance(value, list):
        values = value
    else:
        return []
    return [history for item in values for history in _tensor_references(item, where)]


def _endpoints(value: Any, where: str) -> list[list[Any]]:
    """The triples of ``input_layers`` / ``output_layers`` (other shapes are the translator's to report)."""
    if is_triple(value):
        return [value]
    if not isinstance(value, list):
        return []
    triples = []
    for item in value:
        if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            _require(is_triple(item), f"{where}: {short(item)} is not a [layer, node index, tensor index] triple")
            triples.append(item)
    return triples


def _layer_values(class_name: str, cfg: dict[str, Any], where: str) -> None:
    """The config values the translator and the variable table read, for the classes they read them of."""
    if class_name not in LAYER_CLASSES:
        return
    for key, value in cfg.items():
        if key.endswith(("_initializer", "_regularizer", "_constraint", "activation")):
            _object_or_name(value, f"{where}: '{key}'", inner=not key.endswith("activation"))
        elif key in _NESTED_LAYER_KEYS and isinstance(value, dict) and "class_name" in value:
            _model_entry(value, f"{where}: '{key}'")
        elif key == "cells" and isinstance(value, list):
            for index, cell in enumerate(value):
                _model_entry(cell, f"{where}: cells[{index}]")
        elif key in _SHAPE_KEYS and value is not None:
            _require(
                isinstance(value, list) and all(d is None or (_is_int(d) and 0 <= d < MAX_SIZE) for d in value),
                f"{where}: '{key}' {short(value)} is not a list of sizes",
            )
        elif key in ("alpha", "l1", "l2") and value is not None:
            _require(_is_number(value), f"{where}: '{key}' is a JSON {_json_kind(value)}, not a number")
        elif key in _WINDOW_KEYS and value is not None:
            _require(
                _is_sizes(value, least=1),
                f"{where}: '{key}' is {short(value)}, not a window size (whole numbers from 1 below 2**31)",
            )
        elif key == "axis" and class_name in _FEATURE_AXIS_CLASSES:
            _require(value not in (0, [0]), f"{where}: 'axis' 0 is the batch axis, which a layer cannot normalize over")
        elif key in _SIZE_KEYS and value is not None and not (key == "padding" and isinstance(value, str)):
            _require(
                _is_sizes(value),
                f"{where}: '{key}' is {short(value)}, not a size TF.js can hold (a whole number below 2**31, or a "
                "list of them)",
            )


def recorded_input_shape(entry: dict[str, Any]) -> list[Any] | None:
    """The input shape a layer's entry records: its ``build_config``, else the shape of the tensor it was called on."""
    build = entry.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if isinstance(shape, list):
        return shape
    nodes = entry.get("inbound_nodes")
    recorded = recorded_inputs(nodes[:1]) if isinstance(nodes, list) else []
    return recorded[0][0] if len(recorded) == 1 else None


def _window_fits(cfg: dict[str, Any], shape: list[Any] | None, where: str) -> None:
    """With 'valid' padding, a (dilated) convolution or pooling window must fit in the input it records: otherwise
    the output would have no size at all, which Keras refuses to build and TF.js refuses to load."""
    window = cfg.get("kernel_size", cfg.get("pool_size"))
    if cfg.get("padding", "valid") != "valid" or shape is None or window is None:
        return
    spatial = shape[2:] if cfg.get("data_format") == "channels_first" else shape[1:-1]
    rank = len(spatial)
    windows = window if isinstance(window, list) else [window] * rank
    dilations = cfg.get("dilation_rate", 1)
    dilations = dilations if isinstance(dilations, list) else [dilations] * rank
    for size, length, dilation in zip(spatial, windows, dilations, strict=False):
        if _is_int(size) and _is_int(length) and _is_int(dilation):
            _require(
                dilation * (length - 1) + 1 <= size,
                f"{where}: its window ({length}, dilated {dilation}) is larger than its input ({size}) with 'valid' "
                "padding",
            )


def _object_or_name(value: Any, where: str, *, inner: bool = True) -> None:
    """An initializer, regularizer or constraint: absent, a registered name, or ``{"class_name", "config"}``; an
    activation (``inner=False``): absent, a name, or an object (a serialised function's config is its name)."""
    if value is None or isinstance(value, str):
        return
    _require(isinstance(value, dict), f"{where} is a JSON {_json_kind(value)}, not a name or an object")
    if not inner:
        return
    class_name = value.get("class_name")
    _require(class_name is None or isinstance(class_name, str), f"{where}: 'class_name' is not a string")
    cfg = value.get("config")
    _require(cfg is None or isinstance(cfg, dict), f"{where}: 'config' is a JSON {_json_kind(cfg)}, not an object")
    for key in ("l1", "l2"):
        number = (cfg or {}).get(key)
        _require(number is None or _is_number(number), f"{where}: '{key}' is a JSON {_json_kind(number)}, not a number")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_sizes(value: Any, *, least: int = -1) -> bool:
    """A size, or a (nested) list of sizes: whole numbers TF.js's int32 shapes can hold (-1: "the rest")."""
    if isinstance(value, list):
        return bool(value) and all(_is_sizes(item, least=least) for item in value)
    return _is_int(value) and least <= value < MAX_SIZE


def is_triple(value: Any) -> bool:
    """``[layer name, node index, tensor index]``."""
    return (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and all(_is_int(v) and 0 <= v < MAX_SIZE for v in value[1:])
    )


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
