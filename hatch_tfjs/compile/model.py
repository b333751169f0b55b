"""Walking a Keras model config (Sequential, Functional, nested models, shared layers) and emitting each layer call.

Tensors are keyed ``(layer, call index, output index)`` where the call index counts a layer's calls in the order of its
``inbound_nodes``. References use Keras's own node numbering, which differs for nested models: Keras 2 configs (and
TF.js) count a nested model's construction as its node 0, Keras 3 does not in ``inbound_nodes`` references but does
in a Functional's ``output_layers`` (not a Sequential's); :meth:`Scope.call_index` maps each back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hatch_tfjs.compile import masks
from hatch_tfjs.compile.builder import DTYPES, GraphBuilder, NotCoveredError, Tensor
from hatch_tfjs.compile.registry import CALL_KWARGS, LAYERS, OPS, LayerCall
from hatch_tfjs.compile.rnn import output_count as rnn_output_count
from hatch_tfjs.keras_names import MODEL_CLASSES
from hatch_tfjs.translate.keras_config import contains_tensor, describe, entry_name, is_op, tensor_history

Key = tuple[str, int, int]


@dataclass(frozen=True)
class UncoveredLayer:
    """A layer (or ``keras.ops`` call) the compiler does not translate, and why."""

    name: str
    class_name: str
    reason: str

    def describe(self) -> str:
        return f"layer '{self.name}' ({self.class_name}): {self.reason}"


class UpstreamUncoveredError(Exception):
    """A layer's input comes from an uncovered layer: nothing to emit, nothing new to report."""


@dataclass
class ModelWalker:
    """Emits a whole model into ``builder``; what it cannot translate is listed in ``uncovered``."""

    builder: GraphBuilder
    weights: dict[str, np.ndarray]
    uncovered: list[UncoveredLayer] = field(default_factory=list)
    # Keras's implicit masks (``_keras_mask``), by the ref of the tensor they are attached to.
    masks: dict[str, Tensor] = field(default_factory=dict)

    def top_level(self, entry: dict[str, Any]) -> tuple[list[tuple[str, Tensor]], list[tuple[str, Tensor | None]]]:
        """``(named inputs, named outputs)`` of the model; an output is None when an uncovered layer feeds it."""
        inputs: list[tuple[str, Tensor]] = []
        outputs = self.model(entry, None, inputs)
        return inputs, outputs

    def model(
        self,
        entry: dict[str, Any],
        bound: list[Tensor | None] | None,
        placeholders: list[tuple[str, Tensor]] | None = None,
    ) -> list[tuple[str, Tensor | None]]:
        """Emit a model; ``bound`` gives its inputs when it is nested, else placeholders are made (and listed)."""
        class_name = entry.get("class_name")
        cfg = entry.get("config") or {}
        if class_name == "Sequential":
            return self._sequential(cfg, bound, placeholders)
        if class_name in ("Functional", "Model") and "layers" in cfg:
            return self._functional(cfg, bound, placeholders)
        raise NotCoveredError(
            f"model class '{class_name}' is a subclassed model, whose computation the file does not describe"
        )

    # --- Sequential ---------------------------------------------------------------------------------------------

    def _sequential(
        self, cfg: dict[str, Any], bound: list[Tensor | None] | None, placeholders: list[tuple[str, Tensor]] | None
    ) -> list[tuple[str, Tensor | None]]:
        layers = list(cfg.get("layers", []))
        first = layers[0] if layers else {}
        if first.get("class_name") == "InputLayer":
            layers = layers[1:]
            input_name, input_cfg = entry_name(first), first.get("config") or {}
        else:
            input_name, input_cfg = f"{entry_name(first)}_input", first.get("config") or {}
        if bound is None:
            x: Tensor | None = self._placeholder(input_name, input_cfg, placeholders)
        else:
            x = bound[0]
        last = input_name
        for layer_entry in layers:
            x = self._emit(layer_entry, [x], {})[0] if x is not None else None
            last = entry_name(layer_entry)
        return [(last, x)]

    # --- Functional ---------------------------------------------------------------------------------------------

    def _functional(
        self, cfg: dict[str, Any], bound: list[Tensor | None] | None, placeholders: list[tuple[str, Tensor]] | None
    ) -> list[tuple[str, Tensor | None]]:
        scope = Scope(cfg.get("layers", []))
        input_keys = [tuple(t) for t in _triples(cfg.get("input_layers"), "input_layers")]
        for index, (name, _, _) in enumerate(input_keys):
            if bound is None:
                layer_cfg = scope.by_name[name].get("config") or {}
                scope.tensors[(name, 0, 0)] = self._placeholder(name, layer_cfg, placeholders)
            else:
                scope.tensors[(name, 0, 0)] = bound[index]
        pending = [
            (entry, index, node)
            for entry in scope.by_name.values()
            if entry.get("class_name") != "InputLayer"
            for index, node in enumerate(entry.get("inbound_nodes") or [])
        ]
        while pending:  # configs list layers in call order, so one pass usually emits them all
            waiting = []
            for entry, index, node in pending:
                if all(scope.key(ref) in scope.tensors for ref in _references(node, with_kwargs=True)):
                    self._emit_node(scope, entry, index, node)
                else:
                    waiting.append((entry, index, node))
            if len(waiting) == len(pending):
                raise NotCoveredError("its layer graph references tensors no layer produces")
            pending = waiting
        # Outputs are named like Keras's output_names: by their layers, or by their keys for a dict of outputs.
        endpoints = cfg.get("output_layers")
        triples = _triples(endpoints, "output_layers")
        names = sorted(endpoints) if isinstance(endpoints, dict) else [name for name, _, _ in triples]
        outputs = []
        for key, (name, node, tensor) in zip(names, triples, strict=True):
            outputs.append((key, scope.tensors.get((name, scope.call_index(name, node, endpoint=True), tensor))))
        return outputs

    def _emit_node(self, scope: Scope, entry: dict[str, Any], index: int, node: Any) -> None:
        """Emit call ``index`` of ``entry`` and record its outputs (None where an uncovered layer feeds it)."""
        inputs = [scope.tensors[scope.key(ref)] for ref in _references(node)]
        produced = None
        if all(t is not None for t in inputs):
            produced = (
                self._emit_op(entry, node, scope)
                if is_op(entry)
                else self._emit(entry, inputs, _kwargs(node), scope, single_argument=_tensor_arguments(node) <= 1)
            )
        count = len(produced) if produced is not None else _output_count(entry)
        for out in range(count):
            scope.tensors[(entry_name(entry), index, out)] = produced[out] if produced is not None else None

    # --- one layer ----------------------------------------------------------------------------------------------

    def _placeholder(self, name: str, cfg: dict[str, Any], placeholders: list[tuple[str, Tensor]] | None) -> Tensor:
        shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
        if shape is None:
            raise NotCoveredError(f"input '{name}' declares no shape")
        dtype = cfg.get("dtype") or "float32"
        dtype = dtype if isinstance(dtype, str) else (dtype.get("config") or {}).get("name", "float32")
        if dtype not in DTYPES or cfg.get("sparse") or cfg.get("ragged"):
            raise NotCoveredError(
                f"input '{name}' of dtype {dtype} (sparse/ragged inputs included) is not translated yet"
            )
        tensor = self.builder.placeholder(name, tuple(None if d is None else int(d) for d in shape), DTYPES[dtype])
        if placeholders is not None:
            placeholders.append((name, tensor))
        return tensor

    def _emit(
        self,
        entry: dict[str, Any],
        inputs: list[Tensor | None],
        kwargs: dict[str, Any],
        scope: Scope | None = None,
        *,
        single_argument: bool = True,
    ) -> list[Tensor | None]:
        """Emit one call of layer ``entry``; an uncovered layer is recorded and its outputs become None.

        ``scope`` (a Keras 3 functional model) resolves tensors passed by keyword (a recorded ``mask=``). Masks also
        travel implicitly, attached to tensors (see :mod:`hatch_tfjs.compile.masks`); a recorded one takes
        precedence, as in Keras."""
        class_name = str(entry.get("class_name"))
        with self._recording(entry) as outputs:
            if any(x is None for x in inputs):
                raise UpstreamUncoveredError
            live = [x for x in inputs if x is not None]
            if class_name in MODEL_CLASSES:
                outputs.extend(t for _, t in self.model(entry, list(live)))
                return outputs
            emitter = LAYERS.get(class_name)
            if emitter is None:
                raise NotCoveredError(_untranslated(entry))
            recorded = kwargs if scope is None or scope.legacy else {k: scope.resolve(v) for k, v in kwargs.items()}
            input_masks = [self.masks.get(x.ref) for x in live]
            if scope is not None and scope.legacy and class_name in masks.MERGES and any(input_masks):
                raise NotCoveredError("it merges masked inputs, whose masks Keras 2 and Keras 3 combine differently")
            implicit = masks.call_mask(class_name, input_masks, single_argument=single_argument)
            resolved = {**implicit, **{k: v for k, v in recorded.items() if v is not None or k not in implicit}}
            plain = _check_kwargs(resolved, CALL_KWARGS.get(class_name, frozenset()))
            config = entry.get("config") or {}
            call = LayerCall(self.builder, entry_name(entry), class_name, config, live, self.weights, plain)
            call.input_masks = input_masks
            produced = emitter(call)
            attached = call.output_masks or masks.output_masks(class_name, config, input_masks, len(produced))
            outputs.extend(self._attach_masks(call.scope, produced, attached))
        return outputs

    def _attach_masks(self, scope: str, produced: list[Tensor], attached: list[Tensor | None]) -> list[Tensor]:
        """Record each output's mask; an input passed through by a layer that drops its mask is copied (an
        ``Identity``), so the mask stays on the input only."""
        outputs = []
        for produced_tensor, mask in zip(produced, attached, strict=True):
            tensor = produced_tensor
            if mask is None and tensor.ref in self.masks:
                tensor = self.builder.op(f"{scope}/Identity", "Identity", [tensor], tensor.shape, dtype=tensor.dtype)
            if mask is not None:
                self.masks[tensor.ref] = mask
            outputs.append(tensor)
        return outputs

    def _emit_op(self, entry: dict[str, Any], node: dict[str, Any], scope: Scope) -> list[Tensor | None]:
        """Emit one ``keras.ops`` call, its arguments resolved (tensors, ``__tensor__`` constants, plain values)."""
        with self._recording(entry) as outputs:
            emitter = OPS.get(str(entry.get("class_name")))
            if emitter is None:
                raise NotCoveredError(f"{describe(entry)} is not translated yet")
            args = [scope.resolve(a) for a in node.get("args", [])]
            kwargs = {k: scope.resolve(v) for k, v in (node.get("kwargs") or {}).items()}
            tensors = [t for t in _flatten(args) if isinstance(t, Tensor)]
            call = LayerCall(
                self.builder,
                entry_name(entry),
                str(entry.get("class_name")),
                entry.get("config") or {},
                tensors,
                self.weights,
                kwargs,
                args,
            )
            outputs.extend(emitter(call))
        return outputs

    @contextmanager
    def _recording(self, entry: dict[str, Any]) -> Iterator[list[Tensor | None]]:
        """Collects a call's outputs; on NotCoveredError records the layer (once) and fills the outputs with None.

        A config the translation cannot read (a missing key, a value of an unexpected type or shape) is reported the
        same way rather than as a traceback: the TensorFlow route then loads the file and says what is wrong."""
        outputs: list[Tensor | None] = []
        try:
            yield outputs
        except UpstreamUncoveredError:
            outputs[:] = [None] * _output_count(entry)
        except NotCoveredError as reason:
            self._uncovered(entry, str(reason))
            outputs[:] = [None] * _output_count(entry)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            self._uncovered(entry, f"its config could not be read ({type(error).__name__}: {error})")
            outputs[:] = [None] * _output_count(entry)

    def _uncovered(self, entry: dict[str, Any], reason: str) -> None:
        name = entry_name(entry)
        if not any(u.name == name for u in self.uncovered):
            self.uncovered.append(UncoveredLayer(name, str(entry.get("class_name")), reason))


class Scope:
    """The layers of one functional model and the tensors produced so far."""

    def __init__(self, layers: list[dict[str, Any]]) -> None:
        self.by_name = {entry_name(e): e for e in layers}
        self.tensors: dict[Key, Tensor | None] = {}
        self.legacy = any(isinstance(node, list) for e in layers for node in e.get("inbound_nodes") or [])

    def call_index(self, name: str, node: int, *, endpoint: bool = False) -> int:
        """The position in ``inbound_nodes`` of the call Keras numbers ``node`` (see the module docstring)."""
        class_name = (self.by_name.get(name) or {}).get("class_name")
        if class_name not in MODEL_CLASSES:
            return node
        if self.legacy:
            return node - 1
        return node - 1 if endpoint and class_name != "Sequential" else node

    def key(self, ref: list[Any]) -> Key:
        return (ref[0], self.call_index(ref[0], int(ref[1])), int(ref[2]))

    def resolve(self, value: Any) -> Any:
        """A serialised call argument with keras tensors as :class:`Tensor`, ``__tensor__`` / ``__numpy__``
        constants as arrays."""
        history = tensor_history(value)
        if history is not None:
            tensor = self.tensors.get(self.key(history))
            if tensor is None:
                raise UpstreamUncoveredError
            return tensor
        if isinstance(value, dict) and value.get("class_name") in ("__tensor__", "__numpy__"):
            config = value.get("config") or {}
            return np.asarray(config.get("value"), dtype=config.get("dtype") or "float32")
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value


def _untranslated(entry: dict[str, Any]) -> str:
    """Why a layer class has no translation: Python code only TensorFlow can trace, a class defined outside Keras,
    or a Keras layer not translated yet."""
    class_name = str(entry.get("class_name"))
    module = entry.get("module")
    if class_name == "Lambda":
        return "a Lambda layer (its Python code must be traced by TensorFlow)"
    if class_name in ("TFOpLambda", "SlicingOpLambda"):
        return "a TensorFlow op call recorded by Keras 2 (it must be traced by TensorFlow)"
    if isinstance(module, str) and module.split(".")[0] not in ("keras", "tf_keras"):
        return f"a custom layer (class '{class_name}' from module '{module}')"
    if ">" in class_name:  # a Keras 2 config names a registered custom class "package>Class"
        return f"a custom layer (class '{class_name}')"
    return "a Keras layer class not translated yet" if module else "a layer class not translated yet"


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [item for v in value for item in _flatten(v)]
    return [value]


def _output_count(entry: dict[str, Any]) -> int:
    if entry.get("class_name") in MODEL_CLASSES:
        outputs = (entry.get("config") or {}).get("output_layers")
        return len(_triples(outputs, "output_layers")) if outputs is not None else 1
    return rnn_output_count(entry)


def _triples(value: Any, key: str) -> list[list[Any]]:
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int):
        return [list(value)]  # Keras >= 3.11 writes a single tensor as one flat triple
    if isinstance(value, dict):
        return [list(v) for _, v in sorted(value.items())]
    if not isinstance(value, list) or not all(isinstance(t, list) and len(t) == 3 for t in value):
        raise NotCoveredError(f"its {key} are not a list of [layer, node, tensor] references")
    return [list(t) for t in value]


def _references(node: Any, *, with_kwargs: bool = False) -> list[list[Any]]:
    """The ``[layer, node, tensor]`` references of one inbound node's arguments, in order (both config forms);
    ``with_kwargs`` adds the tensors passed by keyword (a mask), which the call also waits for."""
    if isinstance(node, list):  # Keras 2: [[layer, node, tensor, kwargs], ...]
        return [list(item[:3]) for item in node]
    found: list[list[Any]] = []

    def visit(value: Any) -> None:
        history = tensor_history(value)
        if history is not None:
            found.append(history)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)

    visit(node.get("args", []))
    if with_kwargs:
        visit(list((node.get("kwargs") or {}).values()))
    return found


def _tensor_arguments(node: Any) -> int:
    """How many arguments of a Keras 3 call hold tensors (a list of tensors is one), besides an explicit mask;
    a Keras 2 call (one list of inputs) counts as one."""
    if isinstance(node, list):
        return 1
    kwargs = node.get("kwargs") or {}
    return sum(contains_tensor(a) for a in node.get("args", [])) + sum(
        contains_tensor(v) for k, v in kwargs.items() if k != "mask"
    )


def _kwargs(node: Any) -> dict[str, Any]:
    if isinstance(node, list):
        merged: dict[str, Any] = {}
        for item in node:
            if len(item) > 3 and isinstance(item[3], dict):
                merged.update(item[3])
        return merged
    return dict(node.get("kwargs") or {})


def _check_kwargs(kwargs: dict[str, Any], accepted: frozenset[str]) -> dict[str, Any]:
    """The plain call arguments the layer's emitter reads; others that change the computation (a mask, tensors by
    keyword, training=True) make the call uncovered."""
    plain = {}
    for key, value in kwargs.items():
        # training: a functional model passes its own training=False to every layer at inference, whatever a call
        # recorded
        if key == "training" or (key.endswith("mask") and value is None):
            continue
        if key in accepted and (isinstance(value, Tensor) or not contains_tensor(value)):
            plain[key] = value
            continue
        raise NotCoveredError(f"it is called with {key}={_short(value)}, which is not translated yet")
    return plain


def _short(value: Any) -> str:
    if tensor_history(value) is not None or isinstance(value, (list, dict)):
        return "a tensor" if tensor_history(value) is not None else type(value).__name__
    return repr(value)
