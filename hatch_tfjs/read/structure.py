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

from hatch_tfjs.translate.support import LAYER_CLASSES, LAYER_RENAMES, MODEL_CLASSES

# Far deeper than any Keras config (a layer inside a model nested ten deep is ~60 levels); bounds every recursive walk
# of the config in later stages well below Python's recursion limit.
MAX_NESTING = 200
_NESTED_LAYER_KEYS = ("layer", "cell", "backward_layer")
_SHAPE_KEYS = ("batch_shape", "shape", "batch_input_shape")
_JSON_KINDS = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


class _Malformed(ValueError):
    """One structural problem, with where it is."""


def json_kind(value: Any) -> str:
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
    except _Malformed as problem:
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
        raise _Malformed(message)


def _class_and_config(entry: Any, where: str) -> tuple[str, dict[str, Any]]:
    _require(isinstance(entry, dict), f"{where} is a JSON {json_kind(entry)}, not an object")
    class_name = entry.get("class_name")
    _require(isinstance(class_name, str) and bool(class_name), f"{where} has no class_name string")
    cfg = entry.get("config")
    _require(isinstance(cfg, dict), f"{where} ({class_name}): 'config' is a JSON {json_kind(cfg)}, not an object")
    return LAYER_RENAMES.get(class_name, class_name), cfg


def _model_entry(entry: Any, where: str, *, top: bool = False) -> None:
    class_name, cfg = _class_and_config(entry, where)
    _dtype(cfg.get("dtype"), where)
    if class_name not in MODEL_CLASSES:
        if not top:
            _layer_values(class_name, cfg, where)
        return  # at the top: a subclassed model, which the translator reports
    if "layers" not in cfg:
        return  # a subclassed model saved under a base class name: the translator reports it
    layers = cfg["layers"]
    _require(isinstance(layers, list), f"{where}: 'layers' is a JSON {json_kind(layers)}, not an array")
    _require("name" not in cfg or isinstance(cfg["name"], str), f"{where}: 'name' is not a string")
    if "name" in cfg:
        where = f"model '{cfg['name']}'"
    functional = class_name != "Sequential"
    for index, layer in enumerate(layers):
        _layer_entry(layer, f"layer #{index} of {where}", functional=functional)
    if functional:
        for key in ("input_layers", "output_layers"):
            _endpoints(cfg.get(key), f"{where}: {key}")


def _layer_entry(entry: Any, where: str, *, functional: bool) -> None:
    _, cfg = _class_and_config(entry, where)
    name = entry.get("name") or cfg.get("name")
    _require(isinstance(name, str) and bool(name), f"{where} has no name string")
    where = f"{where} ('{name}')"
    if functional:
        nodes = entry.get("inbound_nodes", [])
        _require(isinstance(nodes, list), f"{where}: 'inbound_nodes' is a JSON {json_kind(nodes)}, not an array")
        for node in nodes:
            _node(node, where)
    _model_entry(entry, where)


def _dtype(value: Any, where: str) -> None:
    """A dtype is a name or a DTypePolicy object whose config holds a name."""
    if isinstance(value, dict):
        policy = value.get("config")
        _require(policy is None or isinstance(policy, dict), f"{where}: 'dtype' config is not an object")
        value = (policy or {}).get("name")
    _require(value is None or isinstance(value, str), f"{where}: 'dtype' is a JSON {json_kind(value)}, not a name")


def _node(node: Any, where: str) -> None:
    """An inbound node: a Keras 3 call record ``{"args", "kwargs"}`` or a Keras 2 list of ``[layer, node, tensor,
    kwargs]``."""
    if isinstance(node, list):
        for item in node:
            _require(
                isinstance(item, list)
                and len(item) in (3, 4)
                and isinstance(item[0], str)
                and all(_is_int(v) for v in item[1:3])
                and (len(item) == 3 or isinstance(item[3], dict)),
                f"{where}: inbound node entry {_short(item)} is not [layer name, node index, tensor index, kwargs]",
            )
        return
    _require(isinstance(node, dict), f"{where}: an inbound node is a JSON {json_kind(node)}")
    kwargs = node.get("kwargs", {})
    _require(isinstance(kwargs, dict), f"{where}: inbound node 'kwargs' is a JSON {json_kind(kwargs)}, not an object")
    _tensor_references(node.get("args", []), where)
    _tensor_references(kwargs, where)


def _tensor_references(value: Any, where: str) -> None:
    """Every ``__keras_tensor__`` in call arguments names its layer, node and tensor index."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            cfg = value.get("config")
            history = cfg.get("keras_history") if isinstance(cfg, dict) else None
            _require(_is_triple(history), f"{where}: a tensor argument has no [layer, node, tensor] keras_history")
            return
        values = list(value.values())
    elif isinstance(value, list):
        values = value
    else:
        return
    for item in values:
        _tensor_references(item, where)


def _endpoints(value: Any, where: str) -> None:
    """``input_layers`` / ``output_layers``: triples hold a name and two indices (other shapes the translator reports)."""
    if _is_triple(value) or not isinstance(value, list):
        return
    for item in value:
        if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            _require(_is_triple(item), f"{where}: {_short(item)} is not a [layer, node index, tensor index] triple")


def _layer_values(class_name: str, cfg: dict[str, Any], where: str) -> None:
    """The config values the translator and the variable table read, for the classes they read them of."""
    if class_name not in LAYER_CLASSES:
        return
    for key, value in cfg.items():
        if key.endswith(("_initializer", "_regularizer", "_constraint")):
            _object_or_name(value, f"{where}: '{key}'")
        elif key in _NESTED_LAYER_KEYS and isinstance(value, dict) and "class_name" in value:
            _model_entry(value, f"{where}: '{key}'")
        elif key == "cells" and isinstance(value, list):
            for index, cell in enumerate(value):
                _model_entry(cell, f"{where}: cells[{index}]")
        elif key in _SHAPE_KEYS and value is not None:
            _require(
                isinstance(value, list) and all(d is None or _is_int(d) for d in value),
                f"{where}: '{key}' {_short(value)} is not a list of sizes",
            )
        elif key in ("alpha", "l1", "l2") and value is not None:
            _require(_is_number(value), f"{where}: '{key}' is a JSON {json_kind(value)}, not a number")


def _object_or_name(value: Any, where: str) -> None:
    """An initializer, regularizer or constraint: absent, a registered name, or ``{"class_name", "config"}``."""
    if value is None or isinstance(value, str):
        return
    _require(isinstance(value, dict), f"{where} is a JSON {json_kind(value)}, not a name or an object")
    class_name = value.get("class_name")
    _require(class_name is None or isinstance(class_name, str), f"{where}: 'class_name' is not a string")
    cfg = value.get("config")
    _require(cfg is None or isinstance(cfg, dict), f"{where}: 'config' is a JSON {json_kind(cfg)}, not an object")
    for key in ("l1", "l2"):
        number = (cfg or {}).get(key)
        _require(number is None or _is_number(number), f"{where}: '{key}' is a JSON {json_kind(number)}, not a number")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_triple(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and _is_int(value[1]) and _is_int(value[2])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
