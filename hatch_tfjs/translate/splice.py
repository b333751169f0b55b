"""Splicing rewrites into a model: each layer or ``keras.ops`` call a rewrite replaces (see
:mod:`hatch_tfjs.translate.rewrites`) is swapped for its replacement, and every reference to its output -- from later
layers, other calls of a shared layer, or the model's outputs -- is redirected to what replaced it. Also the masks
Keras 3 records as ops, which TF.js computes itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeGuard

from hatch_tfjs.translate import rewrites, support
from hatch_tfjs.translate.context import Context
from hatch_tfjs.translate.keras_config import (
    contains_tensor,
    describe,
    entry_name,
    flat_args,
    is_op,
    shifted,
    tensor_history,
    tensor_shape,
    tensors_in,
)


def _node_refs(node: Any, ctx: Context, entry: dict[str, Any], masks: _RecordedMasks) -> list[list[Any]]:
    """One inbound node of ``entry`` in the legacy form TF.js reads: ``[[layer, node_index, tensor_index, kwargs]]``.

    A ``mask`` argument Keras recorded for an Embedding or Masking layer (see :class:`_RecordedMasks`) is dropped when
    TF.js hands the layer that same mask itself (the layer is then noted in ``ctx.masked``), a problem otherwise."""
    where = describe(entry)
    if isinstance(node, list):  # already legacy (Keras 2 config)
        return [[entry[0], entry[1], entry[2], entry[3] if len(entry) > 3 else {}] for entry in node]
    args = node.get("args", [])
    kwargs = dict(node.get("kwargs", {}))
    tensors = tensors_in(args)
    if tensors is None:
        ctx.problem(where, "is called with a non-tensor positional argument, which TF.js layers cannot replay")
        return []
    call_kwargs: dict[str, Any] = {}
    for key, value in sorted(kwargs.items()):
        if value is None or key == "training":
            continue
        mask_op = (tensor_history(value) or [None])[0] if key == "mask" else None
        if masks.is_mask_op(mask_op):
            refusal = masks.refusal(str(entry.get("class_name")), mask_op, tensors)
            if refusal:
                ctx.problem(where, refusal)
            else:
                ctx.masked.add(entry_name(entry))
            continue
        if contains_tensor(value):
            ctx.problem(
                where, f"receives a tensor through the keyword argument '{key}', which TF.js layers cannot replay"
            )
            continue
        call_kwargs[key] = value
    return [[h[0], h[1], h[2], dict(call_kwargs)] for h in tensors]


# Marks a layer whose rewrite was refused: its problem is recorded, and it is not translated again.
REFUSED = "__refused__"


def _refused(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, REFUSED: True}


def _input_shapes(entry: dict[str, Any], node: Any) -> list[list[Any] | None]:
    """The shapes of a call's input tensors: from the Keras 3 node (each tensor records its shape), else from
    ``build_config``."""
    if isinstance(node, dict):
        shapes = [tensor_shape(arg) for arg in flat_args(node.get("args", []))]
        if any(shape is not None for shape in shapes):
            return shapes
    build = entry.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if isinstance(shape, list) and shape and all(isinstance(s, list) for s in shape):
        return list(shape)
    return [shape if isinstance(shape, list) else None]


class _Names:
    """Layer names of one model, handing out new unique ones."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._taken = {entry_name(entry) for entry in entries}

    def fresh(self, base: str) -> str:
        name, index = base, 0
        while name in self._taken:
            index += 1
            name = f"{base}_{index}"
        self._taken.add(name)
        return name


class _LastAxis:
    """The size of a layer output's last axis, traced through a config that records no shapes (Keras 2): from the
    layer that sets it (Conv filters, Dense units, the input's shape) through the layers that keep it."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._entries = {entry_name(entry): entry for entry in entries}
        self._known: dict[str, int | None] = {}

    def of_input(self, entry: dict[str, Any]) -> int | None:
        nodes = entry.get("inbound_nodes") or []
        first = nodes[0] if nodes and isinstance(nodes[0], list) and nodes[0] else None
        return self.of(first[0][0]) if first and isinstance(first[0], list) else None

    def of(self, name: str) -> int | None:
        if name not in self._known:
            self._known[name] = None  # a cycle (malformed config) ends here
            self._known[name] = self._traced(self._entries.get(name) or {})
        return self._known[name]

    def _traced(self, entry: dict[str, Any]) -> int | None:
        class_name, cfg = entry.get("class_name"), entry.get("config") or {}
        if cfg.get("data_format") == "channels_first":
            return None
        if class_name == "InputLayer":
            shape = cfg.get("batch_input_shape") or cfg.get("batch_shape") or [None]
            size = shape[-1]
        elif class_name in support.SETS_CHANNELS:
            size = cfg.get(support.SETS_CHANNELS[class_name])
        elif class_name == "DepthwiseConv2D":
            channels = self.of_input(entry)
            size = channels * int(cfg.get("depth_multiplier") or 1) if channels else None
        elif class_name in support.KEEPS_CHANNELS:
            size = self.of_input(entry)
        else:
            size = None
        return size if isinstance(size, int) and not isinstance(size, bool) else None


def _site(
    entry: dict[str, Any],
    ctx: Context,
    names: _Names,
    *,
    node: Any = None,
    call: rewrites.OpCall | None = None,
    last_axis: _LastAxis | None = None,
) -> rewrites.Site:
    class_name: Any = entry.get("class_name")  # a JSON value, a string in a valid config
    shapes = _input_shapes(entry, node)
    traced = last_axis.of_input(entry) if last_axis is not None and shapes == [None] else None
    return rewrites.Site(
        class_name=support.LAYER_RENAMES.get(class_name, class_name),
        cfg=entry.get("config") or {},
        name=entry_name(entry),
        input_shapes=shapes,
        input_channels=traced,
        call=call or rewrites.OpCall(),
        weights=ctx.layer_weights(entry_name(entry)),
        fresh_name=names.fresh,
        keras_major=ctx.keras_major,
        module=entry.get("module") if isinstance(entry.get("module"), str) else None,
    )


def sequential_layers(entries: list[dict[str, Any]], ctx: Context) -> list[dict[str, Any]]:
    """A Sequential model's layers with rewrites applied; a rewrite must stay a chain there (no branches). A Keras 2
    Sequential keeps its input shape on its first layer: if that layer is replaced, the shape moves to what follows."""
    names = _Names(entries)
    out = _rewritten_chain(entries, ctx, names)
    first = entries[0].get("config") or {} if entries else {}
    if "batch_input_shape" in first and out and "batch_input_shape" not in (out[0].get("config") or {}):
        out[0] = {**out[0], "config": {**(out[0].get("config") or {}), "batch_input_shape": first["batch_input_shape"]}}
    return out


def _rewritten_chain(entries: list[dict[str, Any]], ctx: Context, names: _Names) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in entries:
        where = describe(entry)
        try:
            replacement = rewrites.layer_rewrite(_site(entry, ctx, names))
            if replacement is not None:
                _check_chain(replacement)
        except rewrites.RewriteRefusedError as refusal:
            ctx.refusal(where, refusal)
            out.append(_refused(entry))
            continue
        if replacement is None:
            out.append(entry)
            continue
        _apply_weights(replacement, entry_name(entry), ctx, where)
        out.extend({"class_name": new.class_name, "config": new.config} for new in replacement.layers)
    return out


def _check_chain(replacement: rewrites.Replacement) -> None:
    previous: rewrites.Source = 0
    for new in replacement.layers:
        if new.inputs != (previous,):
            raise rewrites.RewriteRefusedError(
                "needs a branch once rewritten for TF.js, which a Sequential model cannot hold; build the model with "
                "the functional API"
            )
        previous = new.name
    if replacement.output != previous:
        raise rewrites.RewriteRefusedError(
            "cannot be rewritten inside a Sequential model; build it with the functional API"
        )


def _apply_weights(replacement: rewrites.Replacement, name: str, ctx: Context, where: str) -> None:
    ctx.note(where, replacement.note)
    if replacement.weights is not None:
        ctx.replace_weights(name, replacement.weights)


def branching_sequential_as_functional(cfg: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """The same model as a functional config when a rewrite needs a branch, which a Sequential model cannot hold
    (weight names do not change); None when no rewrite does, or when the model has no input shape to start from."""
    entries = [entry for entry in cfg.get("layers", []) if isinstance(entry, dict)]
    if not any(
        rewrites.needs_branch(str(e.get("class_name")), e.get("config") or {}, ctx.keras_major) for e in entries
    ):
        return None
    names = _Names(entries)
    if entries and entries[0].get("class_name") == "InputLayer":
        first, rest = entries[0], entries[1:]
    else:
        shape = (entries[0].get("config") or {}).get("batch_input_shape") if entries else None
        if shape is None:
            return None
        first = {"class_name": "InputLayer", "config": {"batch_input_shape": shape, "name": names.fresh("input")}}
        rest = entries
    previous = entry_name(first)
    layers = [{**first, "name": previous, "inbound_nodes": []}]
    for entry in rest:
        called = 1 if layers[-1].get("class_name") in support.MODEL_CLASSES else 0  # a nested model's node 0 is itself
        layers.append({**entry, "name": entry_name(entry), "inbound_nodes": [[[previous, called, 0, {}]]]})
        previous = entry_name(entry)
    last = 1 if layers[-1].get("class_name") in support.MODEL_CLASSES else 0
    out = {
        "name": cfg.get("name", "sequential"),
        "layers": layers,
        "input_layers": [[entry_name(first), 0, 0]],
        "output_layers": [[previous, last, 0]],
    }
    return {"class_name": "Functional", "config": out}


class _RecordedMasks:
    """The mask computations Keras 3 records as ``keras.ops`` calls and passes as ``mask=`` to later layers:
    ``not_equal(tokens, 0)`` for ``Embedding(mask_zero=True)``, ``any(not_equal(x, mask_value), axis=-1)`` for
    ``Masking``. TF.js's Embedding and Masking compute those masks themselves and carry them from layer to layer, so
    the ops are left out and the argument dropped, provided TF.js brings the same mask to the same layer and uses it
    as Keras does (recurrent layers); anything else is a problem."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._entries = {entry_name(entry): entry for entry in entries}
        sources: dict[tuple[Any, ...], list[tuple[str, str, Any]]] = {}  # input -> (layer, class, compared value)
        for entry in entries:
            cfg = entry.get("config") or {}
            if entry.get("class_name") == "Embedding" and cfg.get("mask_zero"):
                compared = 0
            elif entry.get("class_name") == "Masking":
                compared = cfg.get("mask_value", 0.0)
            else:
                continue
            for node in entry.get("inbound_nodes") or []:
                for history in (tensors_in(node.get("args", [])) or []) if isinstance(node, dict) else []:
                    sources.setdefault(tuple(history), []).append(
                        (entry_name(entry), str(entry.get("class_name")), compared)
                    )
        self._final: dict[str, set[str]] = {}  # op whose output is the mask -> the layers TF.js computes it in
        self._steps: set[str] = set()  # ops that only feed a final one
        masking: dict[str, set[str]] = {}
        for name, op, args in _single_calls(entries):
            if op == "NotEqual" and len(args) == 2 and tensor_history(args[0]) is not None:
                found = sources.get(tuple(tensor_history(args[0]) or []), [])
                embeddings = {layer for layer, cls, value in found if cls == "Embedding" and value == args[1]}
                maskings = {layer for layer, cls, value in found if cls == "Masking" and value == args[1]}
                if embeddings:
                    self._final[name] = embeddings
                elif maskings:
                    masking[name] = maskings
        for name, op, args in _single_calls(entries):
            source = (tensor_history(args[0]) or [None])[0] if op == "Any" and len(args) == 1 else None
            cfg = self._entries[name].get("config") or {}
            if source in masking and cfg.get("axis") in (-1, [-1]) and not cfg.get("keepdims"):
                self._final[name] = masking[source]
                self._steps.add(source)

    def is_mask_op(self, name: Any) -> TypeGuard[str]:
        return name in self._final or name in self._steps

    def refusal(self, consumer_class: str, op: str, tensors: list[list[Any]]) -> str | None:
        """None when the mask ``op`` computes reaches the consumer in TF.js too, used as Keras uses it; else why not."""
        if op not in self._final:
            return "receives a mask computed in a way TF.js layers cannot replay"
        if consumer_class not in support.MASK_CONSUMERS:
            return (
                f"uses a mask (Embedding mask_zero or Masking), which TF.js's {consumer_class} ignores "
                "(only recurrent layers use it there)"
            )
        ref = tensors[0] if tensors else None
        while ref is not None and ref[0] not in self._final[op]:
            entry = self._entries.get(ref[0])
            if entry is None or not _passes_mask(entry):
                through = describe(entry or {"name": ref[0]})
                return f"receives a mask through {through}, which TF.js does not pass it through"
            nodes = entry.get("inbound_nodes") or []
            node = nodes[ref[1]] if ref[1] < len(nodes) else None
            found = tensors_in(node.get("args", [])) if isinstance(node, dict) else None
            ref = found[0] if found else None
        return None if ref is not None else "receives a mask this translator cannot trace"


def _single_calls(entries: list[dict[str, Any]]) -> list[tuple[str, str, list[Any]]]:
    """``(name, class, positional args)`` of every ``keras.ops`` call recorded once, in the Keras 3 node form."""
    calls = []
    for entry in entries:
        nodes = entry.get("inbound_nodes") or []
        if is_op(entry) and len(nodes) == 1 and isinstance(nodes[0], dict):
            calls.append((entry_name(entry), str(entry.get("class_name")), list(nodes[0].get("args", []))))
    return calls


def _passes_mask(entry: dict[str, Any]) -> bool:
    """Whether both Keras and TF.js hand a layer's input mask on to its output unchanged."""
    class_name = entry.get("class_name")
    cfg = entry.get("config") or {}
    if class_name == "Bidirectional":
        cfg = (cfg.get("layer") or {}).get("config") or {}
    if class_name in support.MASK_CONSUMERS:
        return bool(cfg.get("return_sequences"))
    return class_name in support.MASK_PASS_THROUGH


def _op_call(node: Any) -> tuple[list[list[Any]], rewrites.OpCall]:
    """A ``keras.ops`` call: its tensor arguments (histories, a list argument's tensors in order) and the rest."""
    if not isinstance(node, dict):
        raise rewrites.RewriteRefusedError("is recorded in a form this translator does not know")
    if any(value is not None for value in (node.get("kwargs") or {}).values()):
        raise rewrites.RewriteRefusedError("is called with keyword arguments, which TF.js layers cannot replay")
    args = node.get("args", [])
    tensors: list[list[Any]] = []
    constants: list[tuple[int, Any]] = []
    tensor_list = False
    for position, arg in enumerate(args):
        history = tensor_history(arg)
        listed = tensors_in(arg) if history is None and isinstance(arg, list) else None
        if history is not None:
            tensors.append(history)
        elif listed and len(args) == 1:
            tensors.extend(listed)
            tensor_list = True
        elif contains_tensor(arg):
            raise rewrites.RewriteRefusedError(
                "takes tensors nested in its arguments, which TF.js layers cannot replay"
            )
        else:
            constants.append((position, arg))
    return tensors, rewrites.OpCall(constants, len(args), tensor_list)


class Splice:
    """A functional model's layers with every rewrite spliced in.

    ``layers`` are the translated layers with their inbound nodes in TF.js form (node indices already shifted for
    nested models). Every reference to a replaced layer's output (by a later layer, another call of a shared layer,
    or a model output) is redirected to what replaced it; references inside a replacement are final as written."""

    def __init__(
        self,
        entries: list[dict[str, Any]],
        ctx: Context,
        shift: dict[str, int],
        translate: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        self._ctx = ctx
        self._shift = shift
        self._names = _Names(entries)
        self._masks = _RecordedMasks(entries)
        self._last_axis = _LastAxis(entries)
        self._redirect: dict[tuple[str, int, int], list[Any]] = {}
        pending: list[tuple[dict[str, Any], list[list[Any]]]] = []
        for entry in entries:  # translated in model order, so problems come in model order too
            pending.extend((translate(new), nodes) for new, nodes in self._rewritten(entry))
        self.layers = [
            {**layer, "inbound_nodes": [[self._final(ref) for ref in node] for node in nodes]}
            for layer, nodes in pending
        ]

    def _rewritten(self, entry: dict[str, Any]) -> list[tuple[dict[str, Any], list[list[Any]]]]:
        ctx, where, name = self._ctx, describe(entry), entry_name(entry)
        raw_nodes = entry.get("inbound_nodes") or []
        if self._masks.is_mask_op(name):
            ctx.note(where, "removed: it computes an Embedding or Masking mask, which TF.js computes itself")
            return []
        try:
            if is_op(entry):
                if len(raw_nodes) != 1:
                    raise rewrites.RewriteRefusedError(
                        "is called more than once, which this translator does not rewrite"
                    )
                tensors, call = _op_call(raw_nodes[0])
                nodes = [shifted([[*h, {}] for h in tensors], self._shift)]
                site = _site(entry, ctx, self._names, node=raw_nodes[0], call=call)
                replacement: rewrites.Replacement | None = rewrites.op_rewrite(site)
            else:
                nodes = [shifted(_node_refs(node, ctx, entry, self._masks), self._shift) for node in raw_nodes]
                replacement = rewrites.layer_rewrite(
                    _site(entry, ctx, self._names, node=raw_nodes[0] if raw_nodes else None, last_axis=self._last_axis)
                )
            if replacement is None:
                return [(entry, nodes)]
            out = [
                (
                    {"class_name": new.class_name, "config": new.config, "name": new.name},
                    [[self._source(src, node, index) for src in new.inputs] for index, node in enumerate(nodes)],
                )
                for new in replacement.layers
            ]
            targets = [self._source(replacement.output, node, index) for index, node in enumerate(nodes)]
        except rewrites.RewriteRefusedError as refusal:
            ctx.refusal(where, refusal)
            return [(_refused(entry), [])]
        _apply_weights(replacement, name, ctx, where)
        for index, target in enumerate(targets):
            if list(target[:3]) != [name, index, 0]:
                self._redirect[(name, index, 0)] = list(target)
        return out

    @staticmethod
    def _source(source: rewrites.Source, node: list[list[Any]], index: int) -> Any:
        """A new layer's input for call ``index``: one of the replaced call's inputs (a reference still to be
        resolved, a list) or another new layer (final, a tuple)."""
        if isinstance(source, int):
            if source >= len(node):
                raise rewrites.RewriteRefusedError("is called with fewer tensors than its rewrite needs")
            return [*node[source][:3], {}]
        return (source, index, 0, {})

    def _final(self, ref: Any) -> list[Any]:
        return list(ref) if isinstance(ref, tuple) else self.resolve(ref)

    def resolve(self, ref: list[Any]) -> list[Any]:
        """Where a reference to a layer's output points once rewrites are spliced in (kwargs kept)."""
        seen: set[tuple[str, int, int]] = set()
        target = list(ref)
        while (key := (target[0], target[1], target[2])) in self._redirect and key not in seen:
            seen.add(key)
            target = [*self._redirect[key][:3], *target[3:]]
        return target

    def check_masked_sequences(self, model_config: dict[str, Any], ctx: Context) -> None:
        """At masked steps Keras outputs zeros when ``zero_output_for_mask`` (Bidirectional sets it on the layers it
        wraps when they return sequences); TF.js repeats the previous output there. Harmless when only recurrent
        layers given the same mask read that output (they skip masked steps); otherwise a problem."""
        readers: dict[str, list[str]] = {}
        for layer in model_config["layers"]:
            for node in layer.get("inbound_nodes", []):
                for ref in node:
                    readers.setdefault(ref[0], []).append(layer["name"])
        outputs = {ref[0] for ref in model_config["output_layers"]}
        classes = {layer["name"]: layer["class_name"] for layer in model_config["layers"]}
        for layer in model_config["layers"]:
            if layer["name"] not in ctx.masked or not _zeroes_masked_steps(layer["config"]):
                continue
            seen_by = readers.get(layer["name"], [])
            hidden = layer["name"] not in outputs and all(
                reader in ctx.masked and classes[reader] in support.MASK_CONSUMERS for reader in seen_by
            )
            if not hidden:
                ctx.problem(
                    f"layer '{layer['name']}' ({layer['class_name']})",
                    "returns masked sequences with zero_output_for_mask=True to a layer that reads the masked steps; "
                    "TF.js repeats the previous output there where Keras writes zeros",
                )

    def check_references(self, model_config: dict[str, Any], ctx: Context, where: str) -> None:
        """Every reference must name a layer of the model (a removed layer's output may not be used elsewhere)."""
        present = {layer["name"] for layer in model_config["layers"]}
        for layer in model_config["layers"]:
            for node in layer.get("inbound_nodes", []):
                for ref in node:
                    if ref[0] not in present:
                        ctx.problem(
                            f"layer '{layer['name']}' ({layer['class_name']})",
                            f"uses '{ref[0]}', which TF.js cannot compute",
                        )
        for ref in model_config["output_layers"]:
            if ref[0] not in present:
                ctx.problem(where, f"outputs '{ref[0]}', which TF.js cannot compute")


def _zeroes_masked_steps(cfg: dict[str, Any]) -> bool:
    inner = (cfg.get("layer") or {}).get("config") or {}
    return any(rnn.get("zero_output_for_mask") and rnn.get("return_sequences") for rnn in (cfg, inner))
