"""The layer graph of a Keras model config, checked the way Keras checks it when it rebuilds the model.

:mod:`hatch_tfjs.read.structure` checks that a config has the types and keys Keras writes; this module checks that the
graph those keys describe is one Keras could have built, before either route (layers or graph) sees it:

- every ``[layer, node, tensor]`` reference resolves to a call the layer makes and an output that call has;
- the calls form no cycle (TF.js hangs loading a layers model whose layers feed each other);
- a functional model has outputs, every call of every layer feeds one of them (Keras keeps no other layer in a
  config; TF.js drops such a layer and then refuses its weights), and every input layer they depend on is one of
  the model's ``input_layers``;
- where the config records shapes, they agree: the consumers of one tensor record one shape, and a ``Reshape``'s
  target holds as many values as its input and is the shape its consumers record.

Standard library only, linear in the size of the config, and without recursion deeper than the nesting of models
(which :data:`~hatch_tfjs.read.structure.MAX_NESTING` bounds). It runs on a config that
:func:`~hatch_tfjs.read.structure.config_problem` accepted, so it may rely on that structure.
"""

from __future__ import annotations

import math
from typing import Any

from hatch_tfjs.keras_names import LAYER_CLASSES, LAYER_RENAMES, MODEL_CLASSES, is_operation
from hatch_tfjs.read.structure import is_triple, node_references, recorded_inputs, short

Node = tuple[str, int]  # (layer name, position of the call in its inbound_nodes); an input layer's node is 0
Shape = list[Any]
# TF.js layer classes whose call may return more than one tensor (return_state, a None merge mode, a wrapped layer).
_MULTI_OUTPUT = frozenset(
    {"SimpleRNN", "GRU", "LSTM", "RNN", "ConvLSTM2D", "Bidirectional", "TimeDistributed", "SimpleRNNCell", "GRUCell",
     "LSTMCell", "StackedRNNCells"}
)  # fmt: skip
_SINGLE_OUTPUT = LAYER_CLASSES - _MULTI_OUTPUT


class _GraphError(ValueError):
    """One problem with the graph, naming the model and the layer."""


def graph_problem(config: dict[str, Any]) -> str | None:
    """None when the layer graph of ``config`` (accepted by ``config_problem``) is one Keras builds, else the first
    problem found, naming the model and the layer."""
    try:
        _check_model(config, "the model config")
    except _GraphError as problem:
        return str(problem)
    return None


def _class_name(entry: dict[str, Any]) -> str:
    class_name: str = entry["class_name"]
    return LAYER_RENAMES.get(class_name, class_name)


def _name(entry: dict[str, Any]) -> str:
    name: str = entry.get("name") or entry["config"].get("name")
    return name


def _check_model(entry: dict[str, Any], where: str) -> None:
    cfg = entry["config"]
    layers = cfg.get("layers")
    if _class_name(entry) not in MODEL_CLASSES or not isinstance(layers, list):
        return  # a subclassed model: the translator reports it
    if isinstance(cfg.get("name"), str):
        where = f"model '{cfg['name']}'"
    for index, layer in enumerate(layers):
        if _class_name(layer) in MODEL_CLASSES:
            _check_model(layer, f"layer #{index} of {where} ('{_name(layer)}')")
    if _class_name(entry) == "Sequential":
        _check_sequential(layers, where)
    else:
        _FunctionalGraph(layers, where).check(cfg)


def _check_sequential(layers: list[dict[str, Any]], where: str) -> None:
    """A Sequential's layers form a chain; a Reshape in it must fit the shapes its neighbours record."""
    declared = _declared_shape(layers[0]) if layers and _class_name(layers[0]) == "InputLayer" else None
    for position, layer in enumerate(layers):
        if _class_name(layer) != "Reshape":
            continue
        shape = _build_shape(layer)
        if shape is None and position == 1:
            shape = declared
        if shape is None and position == 0:  # Keras 2: the first layer declares the model's input shape
            shape = _declared_shape(layer)
        following = _build_shape(layers[position + 1]) if position + 1 < len(layers) else None
        _check_reshape(layer, shape, [following] if following is not None else [], f"layer '{_name(layer)}' of {where}")


class _FunctionalGraph:
    """The calls of one functional model's layers and the tensors they pass each other."""

    def __init__(self, layers: list[dict[str, Any]], where: str) -> None:
        self.where = where
        self.by_name = {_name(layer): layer for layer in layers}
        self.order = [_name(layer) for layer in layers]
        # Keras 2 numbers a nested model's construction as its node 0 (Keras 3 does only in a model's output_layers).
        self.legacy = any(isinstance(node, list) for layer in layers for node in layer.get("inbound_nodes", []))
        self.inputs_of: dict[Node, list[Node]] = {}
        # (producer call, tensor index) -> [(consumer layer, shape it records)]
        self.recorded: dict[tuple[Node, int], list[tuple[str, Shape]]] = {}
        for layer in layers:
            if _class_name(layer) == "InputLayer":
                self.inputs_of[(_name(layer), 0)] = []
                continue
            for index, node in enumerate(layer.get("inbound_nodes", [])):
                self.inputs_of[(_name(layer), index)] = self._call_inputs(layer, index, node)

    def _call_inputs(self, layer: dict[str, Any], index: int, node: Any) -> list[Node]:
        name = _name(layer)
        place = f"layer '{name}' of {self.where}" + (f" (call #{index})" if index else "")
        found = [self._resolve(reference, place) for reference in node_references(node, place)]
        if isinstance(node, list):  # Keras 2 records tensors passed by keyword (a mask) as triples in the kwargs
            found.extend(self._keyword_tensors(node))
        for shape, history in recorded_inputs([node]):
            if shape is not None:
                key = (self._resolve(history, place), history[2])
                self.recorded.setdefault(key, []).append((name, shape))
        if not found:
            raise _GraphError(f"{place} is called on no tensor, so nothing connects it to the model's inputs")
        return found

    def _keyword_tensors(self, node: list[Any]) -> list[Node]:
        """The calls whose outputs a Keras 2 call receives by keyword: lenient, as these are not always tensors."""
        found: list[Node] = []
        stack: list[Any] = [item[3] for item in node if len(item) == 4]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, list) and len(value) == 3 and value[0] in self.by_name:
                try:
                    found.append(self._resolve(value, ""))
                except (_GraphError, TypeError):
                    continue
            elif isinstance(value, list):
                stack.extend(value)
        return found

    def _resolve(self, reference: list[Any], place: str, *, endpoint: bool = False) -> Node:
        """The call a ``[layer, node, tensor]`` reference names, once it is one the layer makes, with that output."""
        name, node, tensor = reference
        entry = self.by_name[name]
        class_name = _class_name(entry)
        if class_name == "InputLayer":
            call = 0
        else:
            call = node
            if class_name in MODEL_CLASSES and (self.legacy or (endpoint and class_name != "Sequential")):
                call = node - 1
            calls = len(entry.get("inbound_nodes", []))
            if not 0 <= call < calls:
                made = "is never called" if calls == 0 else f"is called {calls} time{'s' * (calls > 1)}"
                raise _GraphError(
                    f"{place} refers to call #{node} of layer '{name}', which {made} in {self.where}"
                )
        count = _output_count(entry)
        if not isinstance(tensor, int) or isinstance(tensor, bool):
            raise TypeError(tensor)  # only from a Keras 2 keyword value that is not a tensor reference
        if count is not None and tensor >= count:
            raise _GraphError(
                f"{place} refers to output #{tensor} of layer '{name}', which has {count} output{'s' * (count > 1)}"
            )
        return (name, call)

    def check(self, cfg: dict[str, Any]) -> None:
        place = f"{self.where}: output_layers"
        outputs = [self._resolve(triple, place, endpoint=True) for triple in _triples(cfg, "output_layers", self.where)]
        if not outputs:
            raise _GraphError(f"{self.where}: 'output_layers' is empty, so the model has no outputs")
        inputs = {self._resolve(t, f"{self.where}: input_layers") for t in _triples(cfg, "input_layers", self.where)}
        self._acyclic()
        self._all_feed_outputs(outputs, inputs)
        self._shapes_agree()

    def _acyclic(self) -> None:
        """Depth first over every call, without recursion; a call met again while still open closes a cycle."""
        state: dict[Node, int] = {}  # 1: open (on the current path), 2: done
        for start in self.inputs_of:
            if start in state:
                continue
            path = [start]
            stack = [iter(self.inputs_of[start])]
            state[start] = 1
            while stack:
                following = next(stack[-1], None)
                if following is None:
                    state[path.pop()] = 2
                    stack.pop()
                elif state.get(following) == 1:
                    cycle = [name for name, _ in path[path.index(following) :]]
                    names = " -> ".join(f"'{name}'" for name in [*reversed(cycle), cycle[-1]])
                    raise _GraphError(
                        f"{self.where}: layers {names} feed each other in a cycle, which no Keras model can compute"
                    )
                elif following not in state:
                    state[following] = 1
                    path.append(following)
                    stack.append(iter(self.inputs_of[following]))

    def _all_feed_outputs(self, outputs: list[Node], inputs: set[Node]) -> None:
        needed: set[Node] = set()
        pending = list(outputs)
        while pending:
            call = pending.pop()
            if call in needed:
                continue
            needed.add(call)
            if call in inputs:
                continue
            if _class_name(self.by_name[call[0]]) == "InputLayer":
                raise _GraphError(
                    f"{self.where}: its outputs depend on input '{call[0]}', which is not among its 'input_layers'"
                )
            pending.extend(self.inputs_of[call])
        for call in self.inputs_of:
            name, index = call
            if call not in needed and _class_name(self.by_name[name]) != "InputLayer":
                which = f"call #{index} of layer '{name}'" if index else f"layer '{name}'"
                raise _GraphError(
                    f"{self.where}: {which} ({self.by_name[name]['class_name']}) feeds none of the model's outputs "
                    "(Keras keeps only layers that do)"
                )

    def _shapes_agree(self) -> None:
        for (call, tensor), records in self.recorded.items():
            (first, shape), *others = records
            for other, other_shape in others:
                if other_shape != shape:
                    raise _GraphError(
                        f"{self.where}: layers '{first}' and '{other}' record different shapes ({shape} and "
                        f"{other_shape}) for output #{tensor} of layer '{call[0]}'"
                    )
        for call, sources in self.inputs_of.items():
            entry = self.by_name[call[0]]
            if _class_name(entry) != "Reshape" or is_operation(entry):
                continue
            recorded = recorded_inputs([entry["inbound_nodes"][call[1]]])
            given: Shape | None = recorded[0][0] if len(recorded) == 1 and len(sources) == 1 else None
            consumers = [s for _, s in self.recorded.get((call, 0), [])]
            _check_reshape(entry, given, consumers, f"layer '{call[0]}' of {self.where}")


def _output_count(entry: dict[str, Any]) -> int | None:
    """How many tensors a call of the layer returns; None when the config alone does not bound it."""
    class_name = _class_name(entry)
    if class_name in MODEL_CLASSES:
        if class_name == "Sequential":
            return 1
        where = f"model '{_name(entry)}'"
        return len(_triples(entry["config"], "output_layers", where)) if "layers" in entry["config"] else None
    return 1 if class_name in _SINGLE_OUTPUT and not is_operation(entry) else None


def _triples(cfg: dict[str, Any], key: str, where: str) -> list[list[Any]]:
    """The ``[layer, node, tensor]`` triples of ``input_layers`` / ``output_layers``: one flat triple, or any nesting
    of lists and dicts of them (Keras 3 keeps the structure of a model's inputs and outputs)."""
    found: list[list[Any]] = []
    stack: list[Any] = [cfg.get(key, [])]
    while stack:
        value = stack.pop()
        if is_triple(value):
            found.append(value)
        elif isinstance(value, (list, dict)):
            stack.extend(reversed(list(value.values()) if isinstance(value, dict) else value))
        else:
            raise _GraphError(
                f"{where}: '{key}' holds {short(value)}, which is not a [layer, node index, tensor index] triple"
            )
    return found


def _declared_shape(layer: dict[str, Any]) -> Shape | None:
    cfg = layer["config"]
    for key in ("batch_shape", "batch_input_shape"):
        if isinstance(cfg.get(key), list):
            shape: Shape = cfg[key]
            return shape
    return None


def _build_shape(layer: dict[str, Any]) -> Shape | None:
    build = layer.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    return shape if isinstance(shape, list) and not any(isinstance(d, list) for d in shape) else None


def _check_reshape(entry: dict[str, Any], shape: Shape | None, consumers: list[Shape], where: str) -> None:
    """A Reshape's ``target_shape`` (at most one -1) holds exactly the values of its input (batch aside), and is the
    shape its consumers record for its output."""
    target = entry["config"].get("target_shape")
    if not isinstance(target, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in target):
        return  # structure.py checked the sizes; any other form is the translator's to report
    if target.count(-1) > 1:
        raise _GraphError(f"{where}: 'target_shape' {target} has more than one -1, which Keras cannot resolve")
    fixed = math.prod(d for d in target if d != -1)
    resolved: list[Any] = list(target)
    values = _values(shape)
    if values is not None:
        fits = values % fixed == 0 if -1 in target and fixed else values == fixed
        if not fits:
            raise _GraphError(
                f"{where}: 'target_shape' {target} does not hold the {values} values of its input of shape {shape}"
            )
        resolved = [values // fixed if d == -1 else d for d in target]
    for recorded in consumers:
        dims = recorded[1:]
        if len(dims) != len(resolved) or any(
            isinstance(r, int) and isinstance(d, int) and d not in (-1, r) for r, d in zip(dims, resolved, strict=True)
        ):
            raise _GraphError(f"{where}: 'target_shape' {target} is not the shape {recorded} its output is used with")


def _values(shape: Shape | None) -> int | None:
    """How many values one example of ``shape`` (batch dimension first) holds; None when a dimension is unknown."""
    if not shape or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape[1:]):
        return None
    return math.prod(shape[1:])
