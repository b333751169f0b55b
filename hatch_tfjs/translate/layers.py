"""Translate a Keras model config into a topology that tfjs-layers 4.22 loads.

Pure functions over plain dicts: no TensorFlow, no Keras. The input is what Keras serialises (the ``config.json`` of
a ``.keras`` file, or a legacy Keras 2 ``model_config``); the output is the ``model_config`` TF.js reads.
Anything TF.js would refuse or compute differently is reported as a problem, all at once, instead of being written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from hatch_tfjs.translate import rewrites, support

if TYPE_CHECKING:
    from hatch_tfjs.neutral import Weight

# Keys that only Keras reads back; TF.js ignores them, so they are left out of the output.
DROPPED_KEYS = frozenset({"module", "registered_name", "build_config", "compile_config", "shared_object_id"})
FLOAT_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16"})
INT_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})
# How many layers one grouped problem or note names before "and N more".
NAMED_PER_LINE = 3


@dataclass
class Translation:
    """The TF.js ``model_config`` plus what stood in the way (``problems``) or was changed on the way (``notes``),
    and the weights to write with it (the given weights, minus those of removed layers, with rewritten ones in place).

    Problems and notes come one line per distinct reason, naming the layers it affects."""

    model_config: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    weights: list[Weight] = field(default_factory=list)

    @property
    def reason(self) -> str | None:
        """Why this is not a TF.js layers model, in one line (the first reason, and how many more there are)."""
        if not self.problems:
            return None
        more = len(self.problems) - 1
        return self.problems[0] + (f" (and {more} more reason{'s' if more > 1 else ''})" if more else "")


class _Context:
    def __init__(self, weights: Sequence[Weight] | None, keras_major: int) -> None:
        self.keras_major = keras_major
        self._problems: dict[str, list[str]] = {}
        self._notes: dict[str, list[str]] = {}
        self._weights = weights
        self._replaced: dict[str, list[Weight]] = {}

    def problem(self, where: str, message: str) -> None:
        self._problems.setdefault(message, []).append(where)

    def note(self, where: str, message: str) -> None:
        self._notes.setdefault(message, []).append(where)

    @property
    def problems(self) -> list[str]:
        return _grouped(self._problems)

    @property
    def notes(self) -> list[str]:
        return _grouped(self._notes)

    def layer_weights(self, layer_name: str) -> list[Any] | None:
        """The arrays of one layer's weights, in order (None when no weights were given)."""
        if self._weights is None:
            return None
        return [w.array for w in self._weights if _owner(w.name) == layer_name]

    def replace_weights(self, layer_name: str, weights: list[Weight]) -> None:
        self._replaced[layer_name] = weights

    def weights(self) -> list[Weight]:
        """The weights to write: each replaced layer's new weights where its old ones were, the rest unchanged."""
        out: list[Weight] = []
        placed: set[str] = set()
        for weight in self._weights or ():
            owner = _owner(weight.name)
            if owner not in self._replaced:
                out.append(weight)
            elif owner not in placed:
                placed.add(owner)
                out.extend(self._replaced[owner])
        for owner, weights in self._replaced.items():
            if owner not in placed:
                out.extend(weights)
        return out


def _major(keras_version: str | None) -> int:
    head = (keras_version or "3").split(".", 1)[0]
    return int(head) if head.isdigit() else 3


def _owner(weight_name: str) -> str:
    return weight_name.split("/", 1)[0]


def _grouped(reasons: dict[str, list[str]]) -> list[str]:
    """One line per distinct message: ``layer 'a' (X), layer 'b' (X) and 3 more: message``."""
    lines = []
    for message, wheres in reasons.items():
        unique = list(dict.fromkeys(wheres))
        named = ", ".join(unique[:NAMED_PER_LINE])
        more = len(unique) - NAMED_PER_LINE
        lines.append(f"{named}{f' and {more} more' if more > 0 else ''}: {message}")
    return lines


def translate_model_config(
    keras_config: dict[str, Any], weights: Sequence[Weight] | None = None, *, keras_version: str | None = None
) -> Translation:
    """Translate a serialised Keras model (``{"class_name": ..., "config": ...}``) for tfjs-layers.

    ``weights`` are the model's weights (:class:`hatch_tfjs.neutral.Weight`, named ``<layer>/<weight>``): rewrites
    that fold a layer's weights into another layer need them; without them such a layer is a problem. The result's
    ``weights`` are the ones to write with the translated config. ``keras_version`` is the Keras that wrote the
    config (default: Keras 3); a few functions differ between Keras 2 and 3."""
    ctx = _Context(weights, _major(keras_version))
    config = keras_config.get("model_config", keras_config)  # a whole legacy modelTopology is accepted too
    model_config = _model(config, ctx, where=_describe(config))
    return Translation(model_config=model_config, problems=ctx.problems, notes=ctx.notes, weights=ctx.weights())


def _is_op(entry: dict[str, Any]) -> bool:
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


def _entry_name(entry: dict[str, Any]) -> str:
    cfg = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    return entry.get("name") or cfg.get("name") or "?"


def _describe(entry: dict[str, Any]) -> str:
    if _is_op(entry):
        return f"op '{_entry_name(entry)}' (keras.ops.{support.snake_case(str(entry.get('class_name', '?')))})"
    return f"layer '{_entry_name(entry)}' ({entry.get('class_name', '?')})"


def _model(entry: dict[str, Any], ctx: _Context, where: str) -> dict[str, Any]:
    class_name = entry.get("class_name")
    cfg = entry.get("config") or {}
    if class_name == "Sequential":
        functional = _branching_sequential_as_functional(cfg, ctx)
        if functional is not None:
            ctx.note(where, "written as a functional model: a rewritten layer uses its input twice (hard_silu)")
            return _model(functional, ctx, where)
        layers = [_layer(layer, ctx) for layer in _sequential_layers(cfg.get("layers", []), ctx)]
        out = {"name": cfg.get("name", "sequential"), "layers": layers}
        return {"class_name": "Sequential", "config": out}
    if class_name in ("Functional", "Model") and "layers" in cfg:
        inbound_shift, endpoint_shift = _node_shifts(cfg.get("layers", []))
        splice = _Splice(cfg.get("layers", []), ctx, inbound_shift)
        layers = splice.layers
        inputs = _shifted(_endpoints(cfg.get("input_layers"), ctx, where, "input_layers"), endpoint_shift)
        outputs = _shifted(_endpoints(cfg.get("output_layers"), ctx, where, "output_layers"), endpoint_shift)
        out = {
            "name": cfg.get("name", "model"),
            "layers": layers,
            "input_layers": inputs,
            "output_layers": [splice.resolve(triple) for triple in outputs],
        }
        splice.check_references(out, ctx, where)
        return {"class_name": "Functional", "config": out}
    ctx.problem(
        where,
        f"model class '{class_name}' is a subclassed model; only Sequential and functional models can be TF.js "
        "layers models. Rebuild it with keras.Sequential or the functional API",
    )
    return {"class_name": class_name, "config": {}}


def _branching_sequential_as_functional(cfg: dict[str, Any], ctx: _Context) -> dict[str, Any] | None:
    """The same model as a functional config when a rewrite needs a branch, which a Sequential model cannot hold
    (weight names do not change); None when no rewrite does, or when the model has no input shape to start from."""
    entries = [entry for entry in cfg.get("layers", []) if isinstance(entry, dict)]
    if not any(rewrites.needs_branch(str(e.get("class_name")), e.get("config") or {}, ctx.keras_major) for e in entries):
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
    previous = _entry_name(first)
    layers = [{**first, "name": previous, "inbound_nodes": []}]
    for entry in rest:
        called = 1 if layers[-1].get("class_name") in support.MODEL_CLASSES else 0  # a nested model's node 0 is itself
        layers.append({**entry, "name": _entry_name(entry), "inbound_nodes": [[[previous, called, 0, {}]]]})
        previous = _entry_name(entry)
    last = 1 if layers[-1].get("class_name") in support.MODEL_CLASSES else 0
    out = {"name": cfg.get("name", "sequential"), "layers": layers, "input_layers": [[_entry_name(first), 0, 0]], "output_layers": [[previous, last, 0]]}
    return {"class_name": "Functional", "config": out}


def _node_shifts(layers: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """Node-index offsets for references to nested models: ``(for inbound nodes, for input/output_layers)``.

    TF.js (like Keras 2) counts a nested model's own construction as its node 0, so its calls are nodes 1, 2, ...
    everywhere. Keras 3 numbers calls from 0 in ``inbound_nodes``; in ``input_layers``/``output_layers`` it counts
    from 1 for a nested Functional and from 0 for a nested Sequential. Legacy (Keras 2) configs need no shift.
    """
    legacy = any(isinstance(node, list) for layer in layers for node in layer.get("inbound_nodes") or [])
    inbound: dict[str, int] = {}
    endpoints: dict[str, int] = {}
    if legacy:
        return inbound, endpoints
    for layer in layers:
        class_name = support.LAYER_RENAMES.get(layer.get("class_name"), layer.get("class_name"))
        name = layer.get("name") or (layer.get("config") or {}).get("name")
        if class_name == "Sequential":
            inbound[name] = endpoints[name] = 1
        elif class_name in ("Functional", "Model"):
            inbound[name] = 1
    return inbound, endpoints


def _shifted(triples: list[list[Any]], shift: dict[str, int]) -> list[list[Any]]:
    return [[t[0], t[1] + shift.get(t[0], 0), *t[2:]] for t in triples]


def _endpoints(value: Any, ctx: _Context, where: str, key: str) -> list[list[Any]]:
    """``input_layers`` / ``output_layers`` as a list of ``[layer, node, tensor]`` triples."""
    if isinstance(value, dict):
        ctx.problem(where, f"{key} is a dict (a model called on a dict of inputs); TF.js needs a list: pass a list of inputs")
        return []
    if not isinstance(value, list):
        ctx.problem(where, f"{key} is missing or malformed")
        return []
    if len(value) == 3 and isinstance(value[0], str) and all(isinstance(v, int) for v in value[1:]):
        return [list(value)]  # Keras >= 3.11 writes a single tensor as one flat triple
    triples: list[list[Any]] = []
    for item in value:
        if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            triples.append(list(item))
        else:
            ctx.problem(where, f"{key} entry {item!r} is not a [layer, node, tensor] triple (nested inputs are not supported)")
    return triples


def _layer(entry: dict[str, Any], ctx: _Context, *, nodes: list[list[list[Any]]] | None = None) -> dict[str, Any]:
    """One layer in TF.js form; ``nodes`` (functional models only) are its inbound nodes, already in TF.js form."""
    class_name = support.LAYER_RENAMES.get(entry.get("class_name"), entry.get("class_name"))
    where = _describe(entry)
    if entry.get(_REFUSED):
        out: dict[str, Any] = {"class_name": class_name, "config": {}}
    elif class_name in support.MODEL_CLASSES:
        out = _model({**entry, "class_name": class_name}, ctx, where)
    else:
        out = {"class_name": class_name, "config": _layer_config(class_name, entry.get("config") or {}, ctx, where)}
    if nodes is not None:
        out["name"] = _entry_name(entry)
        out["inbound_nodes"] = nodes
    return out


def _history(value: Any) -> list[Any] | None:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return list(value["config"]["keras_history"])
    return None


def _tensors_in(value: Any) -> list[list[Any]] | None:
    """Flatten nested args into keras-tensor histories; None when a non-tensor value is found."""
    history = _history(value)
    if history is not None:
        return [history]
    if isinstance(value, (list, tuple)):
        found: list[list[Any]] = []
        for item in value:
            inner = _tensors_in(item)
            if inner is None:
                return None
            found.extend(inner)
        return found
    return None


def _contains_tensor(value: Any) -> bool:
    if _history(value) is not None:
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_tensor(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_tensor(v) for v in value.values())
    return False


def _node(node: Any, ctx: _Context, where: str, masks: _RecordedMasks | None = None, class_name: str = "") -> list[list[Any]]:
    """One inbound node in the legacy form TF.js reads: ``[[layer, node_index, tensor_index, kwargs], ...]``.

    A ``mask`` argument Keras recorded for an Embedding or Masking layer (see :class:`_RecordedMasks`) is dropped when
    TF.js hands the layer that same mask itself, and is a problem otherwise."""
    if isinstance(node, list):  # already legacy (Keras 2 config)
        return [[entry[0], entry[1], entry[2], entry[3] if len(entry) > 3 else {}] for entry in node]
    args = node.get("args", [])
    kwargs = dict(node.get("kwargs", {}))
    tensors = _tensors_in(args)
    if tensors is None:
        ctx.problem(where, "is called with a non-tensor positional argument, which TF.js layers cannot replay")
        return []
    call_kwargs: dict[str, Any] = {}
    for key, value in sorted(kwargs.items()):
        if value is None or key == "training":
            continue
        mask_op = (_history(value) or [None])[0] if key == "mask" else None
        if masks is not None and masks.is_mask_op(mask_op):
            refusal = masks.refusal(class_name, mask_op, tensors)
            if refusal:
                ctx.problem(where, refusal)
            continue
        if _contains_tensor(value):
            ctx.problem(where, f"receives a tensor through the keyword argument '{key}', which TF.js layers cannot replay")
            continue
        call_kwargs[key] = value
    return [[h[0], h[1], h[2], dict(call_kwargs)] for h in tensors]


# --- rewrites spliced into the model -------------------------------------------------------------------------------

# Marks a layer whose rewrite was refused: its problem is recorded, and it is not translated again.
_REFUSED = "__refused__"


def _refused(entry: dict[str, Any]) -> dict[str, Any]:
    return {**entry, _REFUSED: True}


def _input_shapes(entry: dict[str, Any], node: Any) -> list[list[Any] | None]:
    """The shapes of a call's input tensors: from the Keras 3 node (each tensor records its shape), else from
    ``build_config``."""
    if isinstance(node, dict):
        shapes = [_tensor_shape(arg) for arg in _flat_args(node.get("args", []))]
        if any(shape is not None for shape in shapes):
            return shapes
    build = entry.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if isinstance(shape, list) and shape and all(isinstance(s, list) for s in shape):
        return list(shape)
    return [shape if isinstance(shape, list) else None]


def _flat_args(args: Any) -> list[Any]:
    if isinstance(args, (list, tuple)):
        return [item for arg in args for item in _flat_args(arg)] if _history(args) is None else [args]
    return [args]


def _tensor_shape(value: Any) -> list[Any] | None:
    if _history(value) is None:
        return None
    shape = (value.get("config") or {}).get("shape")
    return list(shape) if isinstance(shape, list) else None


class _Names:
    """Layer names of one model, handing out new unique ones."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._taken = {_entry_name(entry) for entry in entries}

    def fresh(self, base: str) -> str:
        name, index = base, 0
        while name in self._taken:
            index += 1
            name = f"{base}_{index}"
        self._taken.add(name)
        return name


def _site(entry: dict[str, Any], ctx: _Context, names: _Names, *, node: Any = None, call: rewrites.OpCall | None = None) -> rewrites.Site:
    class_name = entry.get("class_name")
    return rewrites.Site(
        class_name=support.LAYER_RENAMES.get(class_name, class_name),
        cfg=entry.get("config") or {},
        name=_entry_name(entry),
        input_shapes=_input_shapes(entry, node),
        call=call or rewrites.OpCall(),
        weights=ctx.layer_weights(_entry_name(entry)),
        fresh_name=names.fresh,
        keras_major=ctx.keras_major,
        module=entry.get("module") if isinstance(entry.get("module"), str) else None,
    )


def _sequential_layers(entries: list[dict[str, Any]], ctx: _Context) -> list[dict[str, Any]]:
    """A Sequential model's layers with rewrites applied; a rewrite must stay a chain there (no branches)."""
    names = _Names(entries)
    out: list[dict[str, Any]] = []
    for entry in entries:
        where = _describe(entry)
        try:
            replacement = rewrites.layer_rewrite(_site(entry, ctx, names))
            if replacement is not None:
                _check_chain(replacement)
        except rewrites.RewriteRefused as refusal:
            ctx.problem(where, str(refusal))
            out.append(_refused(entry))
            continue
        if replacement is None:
            out.append(entry)
            continue
        _apply_weights(replacement, _entry_name(entry), ctx, where)
        out.extend({"class_name": new.class_name, "config": new.config} for new in replacement.layers)
    return out


def _check_chain(replacement: rewrites.Replacement) -> None:
    previous: rewrites.Source = 0
    for new in replacement.layers:
        if new.inputs != (previous,):
            raise rewrites.RewriteRefused(
                "needs a branch once rewritten for TF.js, which a Sequential model cannot hold; build the model with "
                "the functional API"
            )
        previous = new.name
    if replacement.output != previous:
        raise rewrites.RewriteRefused("cannot be rewritten inside a Sequential model; build it with the functional API")


def _apply_weights(replacement: rewrites.Replacement, name: str, ctx: _Context, where: str) -> None:
    ctx.note(where, replacement.note)
    if replacement.weights is not None:
        ctx.replace_weights(name, replacement.weights)


class _RecordedMasks:
    """The mask computations Keras 3 records as ``keras.ops`` calls and passes as ``mask=`` to later layers:
    ``not_equal(tokens, 0)`` for ``Embedding(mask_zero=True)``, ``any(not_equal(x, mask_value), axis=-1)`` for
    ``Masking``. TF.js's Embedding and Masking compute those masks themselves and carry them from layer to layer, so
    the ops are left out and the argument dropped, provided TF.js brings the same mask to the same layer and uses it
    as Keras does (recurrent layers); anything else is a problem."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self._entries = {_entry_name(entry): entry for entry in entries}
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
                for history in (_tensors_in(node.get("args", [])) or []) if isinstance(node, dict) else []:
                    sources.setdefault(tuple(history), []).append((_entry_name(entry), str(entry.get("class_name")), compared))
        self._final: dict[str, set[str]] = {}  # op whose output is the mask -> the layers TF.js computes it in
        self._steps: set[str] = set()  # ops that only feed a final one
        masking: dict[str, set[str]] = {}
        for name, op, args in _single_calls(entries):
            if op == "NotEqual" and len(args) == 2 and _history(args[0]) is not None:
                found = sources.get(tuple(_history(args[0]) or []), [])
                embeddings = {layer for layer, cls, value in found if cls == "Embedding" and value == args[1]}
                maskings = {layer for layer, cls, value in found if cls == "Masking" and value == args[1]}
                if embeddings:
                    self._final[name] = embeddings
                elif maskings:
                    masking[name] = maskings
        for name, op, args in _single_calls(entries):
            source = (_history(args[0]) or [None])[0] if op == "Any" and len(args) == 1 else None
            cfg = self._entries[name].get("config") or {}
            if source in masking and cfg.get("axis") in (-1, [-1]) and not cfg.get("keepdims"):
                self._final[name] = masking[source]
                self._steps.add(source)

    def is_mask_op(self, name: Any) -> bool:
        return name in self._final or name in self._steps

    def refusal(self, consumer_class: str, op: str, tensors: list[list[Any]]) -> str | None:
        """None when the mask ``op`` computes reaches the consumer in TF.js too and is used as Keras does, else why not."""
        if op not in self._final:
            return "receives a mask computed in a way TF.js layers cannot replay"
        if consumer_class not in support.MASK_CONSUMERS:
            return f"uses a mask (Embedding mask_zero or Masking), which TF.js's {consumer_class} ignores (only recurrent layers use it there)"
        ref = tensors[0] if tensors else None
        while ref is not None and ref[0] not in self._final[op]:
            entry = self._entries.get(ref[0])
            if entry is None or not _passes_mask(entry):
                return f"receives a mask through {_describe(entry or {'name': ref[0]})}, which TF.js does not pass it through"
            nodes = entry.get("inbound_nodes") or []
            node = nodes[ref[1]] if ref[1] < len(nodes) else None
            found = _tensors_in(node.get("args", [])) if isinstance(node, dict) else None
            ref = found[0] if found else None
        return None if ref is not None else "receives a mask this translator cannot trace"


def _single_calls(entries: list[dict[str, Any]]) -> list[tuple[str, str, list[Any]]]:
    """``(name, class, positional args)`` of every ``keras.ops`` call recorded once, in the Keras 3 node form."""
    calls = []
    for entry in entries:
        nodes = entry.get("inbound_nodes") or []
        if _is_op(entry) and len(nodes) == 1 and isinstance(nodes[0], dict):
            calls.append((_entry_name(entry), str(entry.get("class_name")), list(nodes[0].get("args", []))))
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
        raise rewrites.RewriteRefused("is recorded in a form this translator does not know")
    if any(value is not None for value in (node.get("kwargs") or {}).values()):
        raise rewrites.RewriteRefused("is called with keyword arguments, which TF.js layers cannot replay")
    args = node.get("args", [])
    tensors: list[list[Any]] = []
    constants: list[tuple[int, Any]] = []
    tensor_list = False
    for position, arg in enumerate(args):
        history = _history(arg)
        listed = _tensors_in(arg) if history is None and isinstance(arg, list) else None
        if history is not None:
            tensors.append(history)
        elif listed and len(args) == 1:
            tensors.extend(listed)
            tensor_list = True
        elif _contains_tensor(arg):
            raise rewrites.RewriteRefused("takes tensors nested in its arguments, which TF.js layers cannot replay")
        else:
            constants.append((position, arg))
    return tensors, rewrites.OpCall(constants, len(args), tensor_list)


class _Splice:
    """A functional model's layers with every rewrite spliced in.

    ``layers`` are the translated layers with their inbound nodes in TF.js form (node indices already shifted for
    nested models). Every reference to a replaced layer's output (by a later layer, another call of a shared layer, or a model
    output) is redirected to what replaced it; references inside a replacement are final as written."""

    def __init__(self, entries: list[dict[str, Any]], ctx: _Context, shift: dict[str, int]) -> None:
        self._ctx = ctx
        self._shift = shift
        self._names = _Names(entries)
        self._masks = _RecordedMasks(entries)
        self._redirect: dict[tuple[str, int, int], list[Any]] = {}
        pending: list[tuple[dict[str, Any], list[list[Any]]]] = []
        for entry in entries:  # translated in model order, so problems come in model order too
            pending.extend((_layer(new, ctx, nodes=[]), nodes) for new, nodes in self._rewritten(entry))
        self.layers = [{**layer, "inbound_nodes": [[self._final(ref) for ref in node] for node in nodes]} for layer, nodes in pending]

    def _rewritten(self, entry: dict[str, Any]) -> list[tuple[dict[str, Any], list[list[Any]]]]:
        ctx, where, name = self._ctx, _describe(entry), _entry_name(entry)
        raw_nodes = entry.get("inbound_nodes") or []
        if self._masks.is_mask_op(name):
            ctx.note(where, "removed: it computes an Embedding or Masking mask, which TF.js computes itself")
            return []
        try:
            if _is_op(entry):
                if len(raw_nodes) != 1:
                    raise rewrites.RewriteRefused("is called more than once, which this translator does not rewrite")
                tensors, call = _op_call(raw_nodes[0])
                nodes = [_shifted([[*h, {}] for h in tensors], self._shift)]
                replacement = rewrites.op_rewrite(_site(entry, ctx, self._names, node=raw_nodes[0], call=call))
            else:
                class_name = str(entry.get("class_name"))
                nodes = [_shifted(_node(node, ctx, where, self._masks, class_name), self._shift) for node in raw_nodes]
                replacement = rewrites.layer_rewrite(_site(entry, ctx, self._names, node=raw_nodes[0] if raw_nodes else None))
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
        except rewrites.RewriteRefused as refusal:
            ctx.problem(where, str(refusal))
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
                raise rewrites.RewriteRefused("is called with fewer tensors than its rewrite needs")
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

    def check_references(self, model_config: dict[str, Any], ctx: _Context, where: str) -> None:
        """Every reference must name a layer of the model (a removed layer's output may not be used elsewhere)."""
        present = {layer["name"] for layer in model_config["layers"]}
        for layer in model_config["layers"]:
            for node in layer.get("inbound_nodes", []):
                for ref in node:
                    if ref[0] not in present:
                        ctx.problem(f"layer '{layer['name']}' ({layer['class_name']})", f"uses '{ref[0]}', which TF.js cannot compute")
        for ref in model_config["output_layers"]:
            if ref[0] not in present:
                ctx.problem(where, f"outputs '{ref[0]}', which TF.js cannot compute")


def _dtype(value: Any, ctx: _Context, where: str) -> str:
    name = value
    if isinstance(value, dict):
        name = (value.get("config") or {}).get("name", "float32")
    if name in FLOAT_DTYPES or name is None:
        return "float32"
    if name in INT_DTYPES:
        return "int32"
    if name == "bool":
        return "bool"
    ctx.problem(where, f"dtype {name!r} has no TF.js equivalent (TF.js layers compute in float32 or int32)")
    return "float32"


def _activation(value: Any, ctx: _Context, where: str, key: str) -> Any:
    name = value
    if isinstance(value, dict):
        name = value.get("config") if isinstance(value.get("config"), str) else value.get("class_name")
    if name is None:
        return None
    if isinstance(name, str) and name in support.ACTIVATIONS:
        return support.ACTIVATIONS[name]
    hint = support.ACTIVATION_HINTS.get(str(name), "TF.js knows only " + ", ".join(sorted(set(support.ACTIVATIONS.values()))))
    ctx.problem(where, f"{key} {name!r} is not supported by TF.js: {hint}")
    return "linear"


def _initializer(value: Any, ctx: _Context, where: str, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        if value in support.INITIALIZER_STRINGS:
            return {"class_name": support.INITIALIZER_STRINGS[value], "config": {}}
        ctx.problem(where, f"{key} {value!r} is not an initializer TF.js knows")
        return None
    class_name = support.INITIALIZER_RENAMES.get(value.get("class_name"), value.get("class_name"))
    if class_name not in support.INITIALIZER_CLASSES:
        ctx.problem(
            where,
            f"{key} '{value.get('class_name')}' is not an initializer TF.js knows; use a built-in initializer "
            f"({', '.join(sorted(support.INITIALIZER_CLASSES))})",
        )
        return None
    return {"class_name": class_name, "config": _plain(value.get("config") or {})}


def _regularizer(value: Any, ctx: _Context, where: str, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"class_name": {"l1": "L1", "l2": "L2", "l1_l2": "L1L2"}.get(value, value), "config": {}}
    class_name = value.get("class_name")
    cfg = value.get("config") or {}
    if class_name in ("L1", "L2", "L1L2"):
        # TF.js registers only L1L2; regularizers do nothing at inference, but keep them faithful for training.
        return {"class_name": "L1L2", "config": {"l1": float(cfg.get("l1", 0.0) or 0.0), "l2": float(cfg.get("l2", 0.0) or 0.0)}}
    ctx.note(where, f"{key} '{class_name}' dropped (TF.js has no such regularizer; it has no effect at inference)")
    return None


def _constraint(value: Any, ctx: _Context, where: str, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        if value in support.CONSTRAINT_STRINGS:
            return {"class_name": support.CONSTRAINT_STRINGS[value], "config": {}}
        value = {"class_name": value}
    class_name = value.get("class_name")
    if class_name not in support.CONSTRAINT_CLASSES:
        ctx.problem(
            where,
            f"{key} '{class_name}' is not a constraint TF.js knows; use one of {', '.join(sorted(support.CONSTRAINT_CLASSES))} "
            "or none (constraints only act during training)",
        )
        return None
    return {"class_name": class_name, "config": _plain(value.get("config") or {})}


def _plain(value: Any) -> Any:
    """A copy without the Keras-only bookkeeping keys."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in DROPPED_KEYS}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _nested(value: Any, ctx: _Context, where: str) -> Any:
    """A layer held inside another (Bidirectional/TimeDistributed ``layer``, RNN ``cell``)."""
    if not isinstance(value, dict) or "class_name" not in value:
        return value
    class_name = support.LAYER_RENAMES.get(value["class_name"], value["class_name"])
    inner_where = f"{where} -> {_describe(value)}"
    if class_name in support.MODEL_CLASSES:
        return _model({**value, "class_name": class_name}, ctx, inner_where)
    return {"class_name": class_name, "config": _layer_config(class_name, value.get("config") or {}, ctx, inner_where)}


def _layer_config(class_name: str, cfg: dict[str, Any], ctx: _Context, where: str) -> dict[str, Any]:
    if class_name not in support.LAYER_CLASSES:
        hint = support.LAYER_HINTS.get(class_name, "rebuild that part with layers TF.js has (see the README's list)")
        ctx.problem(where, f"layer class '{class_name}' does not exist in TF.js 4.22: {hint}")
        return {}
    if class_name in support.TFJS_BROKEN:
        ctx.problem(where, support.TFJS_BROKEN[class_name])
        return {}
    if cfg.get("quantization_config"):
        ctx.problem(where, "is quantized by Keras (quantization_config); TF.js needs float weights: convert the unquantized model")

    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if key in DROPPED_KEYS or key == "quantization_config":
            continue
        if key == "dtype":
            out[key] = _dtype(value, ctx, where)
        elif key in ("activation", "recurrent_activation"):
            out[key] = _activation(value, ctx, where, key)
        elif key.endswith("_initializer"):
            out[key] = _initializer(value, ctx, where, key)
        elif key.endswith("_regularizer"):
            out[key] = _regularizer(value, ctx, where, key)
        elif key.endswith("_constraint"):
            out[key] = _constraint(value, ctx, where, key)
        elif key in ("layer", "cell", "backward_layer"):
            out[key] = _nested(value, ctx, where)
        elif key == "cells" and isinstance(value, list):
            out[key] = [_nested(v, ctx, where) for v in value]
        else:
            out[key] = _plain(value)

    special = _SPECIAL.get(class_name)
    if special is not None:
        special(out, ctx, where)
    _check_ignored_keys(class_name, out, ctx, where)
    return out


def _check_ignored_keys(class_name: str, cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    """Refuse Keras settings that change the result but that TF.js's class ignores (MobileNet's keepdims=True once
    loaded in TF.js and failed one layer later); the neutral ones are left out of the output."""
    for key, neutral, instead in support.TFJS_IGNORED_KEYS.get(class_name, ()):
        value = cfg.pop(key, None)
        if (list(value) if isinstance(value, tuple) else value) not in neutral:
            ctx.problem(where, f"uses {key}={value!r}, which TF.js's {class_name} ignores ({instead})")


# --- class-specific rules ------------------------------------------------------------------------------------------


def _input_layer(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    if "batch_shape" in cfg:
        cfg["batch_input_shape"] = cfg.pop("batch_shape")
    elif "shape" in cfg and "batch_input_shape" not in cfg:
        cfg["batch_input_shape"] = [None, *cfg.pop("shape")]
    if "batch_input_shape" not in cfg:
        ctx.problem(where, "has no input shape; give keras.Input a shape")
    if cfg.get("sparse") or cfg.get("ragged"):
        ctx.problem(where, "takes sparse or ragged input, which TF.js layers cannot")
    for key in ("ragged", "optional", "batch_size", "input_tensor"):
        cfg.pop(key, None)
    cfg["sparse"] = False
    cfg.setdefault("dtype", "float32")


def _batch_norm(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    # Keras 2 writes the axis as a one-element list ([3]); TF.js's BatchNormalization reads a number.
    axis = cfg.get("axis")
    if isinstance(axis, list) and len(axis) == 1 and isinstance(axis[0], int):
        cfg["axis"] = axis[0]
    elif isinstance(axis, list):
        ctx.problem(where, f"normalizes over several axes {axis}; TF.js's BatchNormalization takes a single axis")


def _separable_conv(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    # Keras 2 also writes kernel_* settings (unused by a separable convolution); TF.js refuses them there.
    for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
        cfg.pop(key, None)
    _conv(cfg, ctx, where)


def _leaky_relu(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    if "negative_slope" in cfg:  # Keras 3 name; TF.js keeps the Keras 2 name
        cfg["alpha"] = cfg.pop("negative_slope")


def _relu(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    if cfg.pop("negative_slope", 0.0) or cfg.pop("threshold", 0.0):
        ctx.problem(where, "uses negative_slope or threshold, which the TF.js ReLU layer lacks; use LeakyReLU or a plain ReLU")
    cfg.pop("negative_slope", None)
    cfg.pop("threshold", None)


def _gru(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    if cfg.get("reset_after"):
        ctx.problem(
            where,
            "uses reset_after=True (the Keras 3 default), which TF.js's GRU does not implement; "
            "build the GRU with reset_after=False and retrain",
        )


def _conv(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    _causal(cfg, ctx, where)
    if cfg.get("groups", 1) not in (1, None):
        ctx.problem(where, f"uses groups={cfg['groups']}, which TF.js convolutions lack; use groups=1")
    cfg.pop("groups", None)
    _lora(cfg, ctx, where)


def _lora(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    if cfg.get("lora_rank"):
        ctx.problem(where, "has LoRA enabled; merge the LoRA weights (disable_lora / save the merged model) first")
    for key in ("lora_rank", "lora_alpha"):
        cfg.pop(key, None)


def _layer_norm(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    if cfg.pop("rms_scaling", False):
        ctx.problem(where, "uses rms_scaling=True, which TF.js's LayerNormalization lacks")


def _bidirectional(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    backward = cfg.pop("backward_layer", None)
    forward = cfg.get("layer")
    # TF.js names the wrapped layers "forward_<name>" / "backward_<name>" itself; Keras 3 stores the prefixed name.
    inner = (forward or {}).get("config") if isinstance(forward, dict) else None
    if isinstance(inner, dict) and str(inner.get("name", "")).startswith("forward_"):
        inner["name"] = inner["name"][len("forward_"):]
    if isinstance(backward, dict) and isinstance(forward, dict):
        ignore = {"name", "go_backwards"}
        fwd = {k: v for k, v in (forward.get("config") or {}).items() if k not in ignore}
        bwd = {k: v for k, v in (backward.get("config") or {}).items() if k not in ignore}
        if backward.get("class_name") != forward.get("class_name") or fwd != bwd:
            ctx.problem(where, "has a backward_layer that differs from its forward layer; TF.js mirrors the forward layer")


def _elu(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    if float(cfg.get("alpha", 1.0)) != 1.0:
        ctx.problem(where, f"uses alpha={cfg['alpha']}; TF.js's ELU layer supports only alpha=1.0")


def _causal(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    if cfg.get("padding") == "causal":
        ctx.problem(where, "uses padding='causal', which TF.js does not implement; use padding='valid' after a left zero-padding")


def _upsampling(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    if cfg.get("interpolation", "nearest") != "nearest":
        ctx.problem(
            where,
            f"uses interpolation={cfg['interpolation']!r}; TF.js's UpSampling2D places the samples differently from Keras "
            "except with 'nearest'",
        )


def _softmax(cfg: dict[str, Any], ctx: _Context, where: str) -> None:
    if cfg.get("axis", -1) not in (-1, [-1]):
        ctx.problem(where, f"uses axis={cfg['axis']!r}; TF.js's Softmax only runs over the last axis (use Permute around it)")
    cfg["axis"] = -1


_SPECIAL = {
    "InputLayer": _input_layer,
    "BatchNormalization": _batch_norm,
    "SeparableConv2D": _separable_conv,
    "LeakyReLU": _leaky_relu,
    "ReLU": _relu,
    "ELU": _elu,
    "GRU": _gru,
    "GRUCell": _gru,
    "Conv1D": _conv,
    "Conv2D": _conv,
    "Conv3D": _conv,
    "Conv2DTranspose": _conv,
    "Conv3DTranspose": _conv,
    "Dense": _lora,
    "Embedding": _lora,
    "LayerNormalization": _layer_norm,
    "Bidirectional": _bidirectional,
    "UpSampling2D": _upsampling,
    "Softmax": _softmax,
}
