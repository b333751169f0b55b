"""Reading the pieces of a serialised Keras model: layer entries, ``keras.ops`` calls and the tensors they are called on
(Keras 3 ``__keras_tensor__`` arguments, or the legacy ``[layer, node, tensor, kwargs]`` form)."""

from __future__ import annotations

from typing import Any

from hatch_tfjs.translate import support


def is_op(entry: dict[str, Any]) -> bool:
    """A ``keras.ops`` call recorded in a functional model. A ``.keras`` config names its module
    (``keras.src.ops.numpy``); an ``.h5`` one names no module, but only layers have ``trainable`` in their config."""
    module = entry.get("module")
    if isinstance(module, str):
        return module.startswith(("keras.src.ops", "keras.ops"))
    cfg = entry.get("config")
    nodes = entry.get("inbound_nodes") or []
    return (
        isinstance(cfg, dict)
        and "trainable" not in cfg
        and entry.get("class_name") not in ("InputLayer", *support.MODEL_CLASSES)
        and any(isinstance(node, dict) for node in nodes)
    )


def entry_name(entry: dict[str, Any]) -> str:
    cfg: dict[str, Any] = entry["config"] if isinstance(entry.get("config"), dict) else {}
    name: str = entry.get("name") or cfg.get("name") or "?"
    return name


def describe(entry: dict[str, Any]) -> str:
    if is_op(entry):
        return f"op '{entry_name(entry)}' (keras.ops.{support.snake_case(str(entry.get('class_name', '?')))})"
    return f"layer '{entry_name(entry)}' ({entry.get('class_name', '?')})"


def shifted(triples: list[list[Any]], shift: dict[str, int]) -> list[list[Any]]:
    return [[t[0], t[1] + shift.get(t[0], 0), *t[2:]] for t in triples]


def tensor_history(value: Any) -> list[Any] | None:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return list(value["config"]["keras_history"])
    return None


def tensors_in(value: Any) -> list[list[Any]] | None:
    """Flatten nested args into keras-tensor histories; None when a non-tensor value is found."""
    history = tensor_history(value)
    if history is not None:
        return [history]
    if isinstance(value, (list, tuple)):
        found: list[list[Any]] = []
        for item in value:
            inner = tensors_in(item)
            if inner is None:
                return None
            found.extend(inner)
        return found
    return None


def contains_tensor(value: Any) -> bool:
    if tensor_history(value) is not None:
        return True
    if isinstance(value, (list, tuple)):
        return any(contains_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(contains_tensor(v) for v in value.values())
    return False


def flat_args(args: Any) -> list[Any]:
    if isinstance(args, (list, tuple)):
        return [item for arg in args for item in flat_args(arg)] if tensor_history(args) is None else [args]
    return [args]


def tensor_shape(value: Any) -> list[Any] | None:
    if tensor_history(value) is None:
        return None
    shape = (value.get("config") or {}).get("shape")
    return list(shape) if isinstance(shape, list) else None
