"""Translate a Keras model config into a topology that tfjs-layers 4.22 loads.

Pure functions over plain dicts: no TensorFlow, no Keras. The input is what Keras serialises (the ``config.json`` of
a ``.keras`` file, or a legacy Keras 2 ``model_config``); the output is the ``model_config`` TF.js reads.
Anything TF.js would refuse or compute differently is reported as a problem, all at once, instead of being written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hatch_tfjs.libraries import library_of
from hatch_tfjs.read.structure import recorded_input_shape
from hatch_tfjs.translate import support
from hatch_tfjs.translate.context import Context, keras_major
from hatch_tfjs.translate.keras_config import describe, entry_name, shifted
from hatch_tfjs.translate.splice import REFUSED, Splice, branching_sequential_as_functional, sequential_layers

if TYPE_CHECKING:
    from hatch_tfjs.neutral import Weight

# Keys that only Keras reads back; TF.js ignores them, so they are left out of the output.
DROPPED_KEYS = frozenset({"module", "registered_name", "build_config", "compile_config", "shared_object_id"})
FLOAT_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16"})
INT_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})


@dataclass
class Translation:
    """The TF.js ``model_config`` plus what stood in the way (``problems``) or was changed on the way (``notes``),
    and the weights to write with it (the given weights, minus those of removed layers, with rewritten ones in place).

    Problems and notes come one line per distinct reason, naming the layers it affects."""

    model_config: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    weights: list[Weight] = field(default_factory=list)
    needs_only_weights: bool = False  # every problem is a rewrite that needs the weights, and none were given

    @property
    def reason(self) -> str | None:
        """Why this is not a TF.js layers model, in one line (the first reason, and how many more there are)."""
        if not self.problems:
            return None
        more = len(self.problems) - 1
        return self.problems[0] + (f" (and {more} more reason{'s' if more > 1 else ''})" if more else "")


def translate_model_config(
    keras_config: dict[str, Any], weights: Sequence[Weight] | None = None, *, keras_version: str | None = None
) -> Translation:
    """Translate a serialised Keras model (``{"class_name": ..., "config": ...}``) for tfjs-layers.

    ``weights`` are the model's weights (:class:`hatch_tfjs.neutral.Weight`, named ``<layer>/<weight>``): rewrites
    that fold a layer's weights into another layer need them; without them such a layer is a problem. The result's
    ``weights`` are the ones to write with the translated config. ``keras_version`` is the Keras that wrote the
    config (default: Keras 3); a few functions differ between Keras 2 and 3."""
    ctx = Context(weights, keras_major(keras_version))
    config = keras_config.get("model_config", keras_config)  # a whole legacy modelTopology is accepted too
    model_config = _model(config, ctx, where=describe(config))
    return Translation(
        model_config=model_config,
        problems=ctx.problems,
        notes=ctx.notes,
        weights=ctx.weights(),
        needs_only_weights=ctx.needs_only_weights,
    )


def _model(entry: dict[str, Any], ctx: Context, where: str) -> dict[str, Any]:
    class_name = entry.get("class_name")
    cfg = entry.get("config") or {}
    if class_name == "Sequential":
        functional = branching_sequential_as_functional(cfg, ctx)
        if functional is not None:
            ctx.note(where, "written as a functional model: a rewritten layer uses its input twice (hard_silu)")
            return _model(functional, ctx, where)
        layers = [_layer(layer, ctx) for layer in sequential_layers(cfg.get("layers", []), ctx)]
        out = {"name": cfg.get("name", "sequential"), "layers": layers}
        return {"class_name": "Sequential", "config": out}
    if class_name in ("Functional", "Model") and "layers" in cfg:
        inbound_shift, endpoint_shift = _node_shifts(cfg.get("layers", []))
        splice = Splice(cfg.get("layers", []), ctx, inbound_shift, lambda layer: _layer(layer, ctx, nodes=[]))
        layers = splice.layers
        inputs = shifted(_endpoints(cfg.get("input_layers"), ctx, where, "input_layers"), endpoint_shift)
        outputs = shifted(_endpoints(cfg.get("output_layers"), ctx, where, "output_layers"), endpoint_shift)
        out = {
            "name": cfg.get("name", "model"),
            "layers": layers,
            "input_layers": inputs,
            "output_layers": [splice.resolve(triple) for triple in outputs],
        }
        splice.check_references(out, ctx, where)
        splice.check_masked_sequences(out, ctx)
        return {"class_name": "Functional", "config": out}
    library = library_of(entry)
    if library is not None:
        # A library's model class (a keras-hub backbone) holds its constructor arguments, not its layers: the library
        # rebuilds it, so TensorFlow traces it. Nothing for the user to change.
        ctx.problem(
            where,
            f"model class '{class_name}' comes from {library} (module '{entry.get('module')}'), which builds its "
            "layers from the constructor arguments the file holds, so TensorFlow traces it",
        )
        return {"class_name": class_name, "config": {}}
    ctx.problem(
        where,
        f"model class '{class_name}' is a subclassed model; only Sequential and functional models can be TF.js "
        "layers models. Rebuild it with keras.Sequential or the functional API",
    )
    return {"class_name": class_name, "config": {}}


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
        raw_class: Any = layer.get("class_name")  # a JSON value, a string in a valid config
        class_name = support.LAYER_RENAMES.get(raw_class, raw_class)
        name: Any = layer.get("name") or (layer.get("config") or {}).get("name")
        if class_name == "Sequential":
            inbound[name] = endpoints[name] = 1
        elif class_name in ("Functional", "Model"):
            inbound[name] = 1
    return inbound, endpoints


def _endpoints(value: Any, ctx: Context, where: str, key: str) -> list[list[Any]]:
    """``input_layers`` / ``output_layers`` as a list of ``[layer, node, tensor]`` triples."""
    if isinstance(value, dict):
        ctx.problem(
            where, f"{key} is a dict (a model called on a dict of inputs); TF.js needs a list: pass a list of inputs"
        )
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
            ctx.problem(
                where, f"{key} entry {item!r} is not a [layer, node, tensor] triple (nested inputs are not supported)"
            )
    return triples


def _layer(entry: dict[str, Any], ctx: Context, *, nodes: list[list[list[Any]]] | None = None) -> dict[str, Any]:
    """One layer in TF.js form; ``nodes`` (functional models only) are its inbound nodes, already in TF.js form."""
    raw_class: Any = entry.get("class_name")  # a JSON value, a string in a valid config
    class_name = support.LAYER_RENAMES.get(raw_class, raw_class)
    where = describe(entry)
    if entry.get(REFUSED):
        out: dict[str, Any] = {"class_name": class_name, "config": {}}
    elif class_name in support.MODEL_CLASSES:
        out = _model({**entry, "class_name": class_name}, ctx, where)
    else:
        out = {"class_name": class_name, "config": _layer_config(class_name, entry.get("config") or {}, ctx, where)}
        _check_last_axis(class_name, out["config"], entry, ctx, where)
        _resolve_reshape(class_name, out["config"], entry, ctx, where)
    if nodes is not None:
        out["name"] = entry_name(entry)
        out["inbound_nodes"] = nodes
    return out


def _check_last_axis(class_name: str, cfg: dict[str, Any], entry: dict[str, Any], ctx: Context, where: str) -> None:
    """TF.js's CPU backend applies BatchNormalization's statistics along the last axis whatever ``axis`` says
    (its kernel cycles through them element by element), so another axis is refused where the config records the
    input's rank (Keras 3 always does; Keras 2 configs write every axis as a positive index and no shapes)."""
    build = entry.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    axis = cfg.get("axis")
    if class_name != "BatchNormalization" or not isinstance(shape, list) or not isinstance(axis, int):
        return
    if axis % len(shape) != len(shape) - 1:
        ctx.problem(
            where,
            f"normalizes over axis {axis} of a rank-{len(shape)} input; TF.js applies BatchNormalization's statistics "
            "along the last axis only (use channels_last)",
        )


def _resolve_reshape(class_name: str, cfg: dict[str, Any], entry: dict[str, Any], ctx: Context, where: str) -> None:
    """TF.js 4.22's Reshape leaves a -1 of ``target_shape`` unresolved when it works out shapes at load (it does so
    whenever its input has an unknown dimension, and the batch always is one), so a layer after it that needs that
    size (Flatten, Dense) fails to load. The -1 becomes the size the recorded input shape implies, as Keras computes
    it; without a recorded shape the model is not written as a layers model."""
    target = cfg.get("target_shape")
    if class_name != "Reshape" or not isinstance(target, list) or -1 not in target:
        return
    shape = recorded_input_shape(entry)
    known = shape is not None and all(isinstance(d, int) and not isinstance(d, bool) for d in shape[1:])
    fixed = math.prod(d for d in target if d != -1)
    if shape is None or not known or not fixed or math.prod(shape[1:]) % fixed:
        ctx.problem(
            where,
            f"target_shape {target} leaves a size for TF.js to infer, which TF.js 4.22's Reshape does not do when it "
            "builds the model (the layers after it fail to load); give every size in target_shape",
        )
        return
    cfg["target_shape"] = [math.prod(shape[1:]) // fixed if d == -1 else d for d in target]


def _dtype(value: Any, ctx: Context, where: str) -> str:
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


def _activation(value: Any, ctx: Context, where: str, key: str) -> Any:
    name = value
    if isinstance(value, dict):
        name = value.get("config") if isinstance(value.get("config"), str) else value.get("class_name")
    if name is None:
        return None
    if isinstance(name, str) and name in support.ACTIVATIONS:
        return support.ACTIVATIONS[name]
    if ctx.keras_major < 3 and name in support.KERAS2_ACTIVATIONS:
        return support.KERAS2_ACTIVATIONS[name]
    hint = support.ACTIVATION_HINTS.get(
        str(name), "TF.js knows only " + ", ".join(sorted(set(support.ACTIVATIONS.values())))
    )
    ctx.problem(where, f"{key} {name!r} is not supported by TF.js: {hint}")
    return "linear"


def _initializer(value: Any, ctx: Context, where: str, key: str) -> Any:
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


def _regularizer(value: Any, ctx: Context, where: str, key: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"class_name": {"l1": "L1", "l2": "L2", "l1_l2": "L1L2"}.get(value, value), "config": {}}
    class_name = value.get("class_name")
    cfg = value.get("config") or {}
    if class_name in ("L1", "L2", "L1L2"):
        # TF.js registers only L1L2; regularizers do nothing at inference, but keep them faithful for training.
        return {
            "class_name": "L1L2",
            "config": {"l1": float(cfg.get("l1", 0.0) or 0.0), "l2": float(cfg.get("l2", 0.0) or 0.0)},
        }
    ctx.note(where, f"{key} '{class_name}' dropped (TF.js has no such regularizer; it has no effect at inference)")
    return None


def _constraint(value: Any, ctx: Context, where: str, key: str) -> Any:
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
            f"{key} '{class_name}' is not a constraint TF.js knows; use one of "
            f"{', '.join(sorted(support.CONSTRAINT_CLASSES))} "
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


def _nested(value: Any, ctx: Context, where: str) -> Any:
    """A layer held inside another (Bidirectional/TimeDistributed ``layer``, RNN ``cell``)."""
    if not isinstance(value, dict) or "class_name" not in value:
        return value
    raw_class: str = value["class_name"]
    class_name = support.LAYER_RENAMES.get(raw_class, raw_class)
    inner_where = f"{where} -> {describe(value)}"
    if class_name in support.MODEL_CLASSES:
        return _model({**value, "class_name": class_name}, ctx, inner_where)
    return {"class_name": class_name, "config": _layer_config(class_name, value.get("config") or {}, ctx, inner_where)}


def _layer_config(class_name: str, cfg: dict[str, Any], ctx: Context, where: str) -> dict[str, Any]:
    if class_name not in support.LAYER_CLASSES:
        hint = support.LAYER_HINTS.get(class_name, "rebuild that part with layers TF.js has (see the README's list)")
        ctx.problem(where, f"layer class '{class_name}' does not exist in TF.js 4.22: {hint}")
        return {}
    if class_name in support.TFJS_BROKEN:
        ctx.problem(where, support.TFJS_BROKEN[class_name])
        return {}
    if cfg.get("quantization_config"):
        ctx.problem(
            where,
            "is quantized by Keras (quantization_config); TF.js needs float weights: convert the unquantized model",
        )

    out = {
        key: _config_value(key, value, ctx, where)
        for key, value in cfg.items()
        if key not in DROPPED_KEYS and key != "quantization_config"
    }
    special = _SPECIAL.get(class_name)
    if special is not None:
        special(out, ctx, where)
    _check_ignored_keys(class_name, out, ctx, where)
    return out


def _config_value(key: str, value: Any, ctx: Context, where: str) -> Any:
    """One config value in TF.js form (objects such as activations and initializers checked against TF.js's)."""
    if key == "dtype":
        return _dtype(value, ctx, where)
    if key in ("activation", "recurrent_activation"):
        return _activation(value, ctx, where, key)
    if key.endswith("_initializer"):
        return _initializer(value, ctx, where, key)
    if key.endswith("_regularizer"):
        return _regularizer(value, ctx, where, key)
    if key.endswith("_constraint"):
        return _constraint(value, ctx, where, key)
    if key in ("layer", "cell", "backward_layer"):
        return _nested(value, ctx, where)
    if key == "cells" and isinstance(value, list):
        return [_nested(v, ctx, where) for v in value]
    return _plain(value)


def _check_ignored_keys(class_name: str, cfg: dict[str, Any], ctx: Context, where: str) -> None:
    """Refuse Keras settings that change the result but that TF.js's class ignores (MobileNet's keepdims=True once
    loaded in TF.js and failed one layer later); the neutral ones are left out of the output."""
    for key, neutral, instead in support.TFJS_IGNORED_KEYS.get(class_name, ()):
        value = cfg.pop(key, None)
        if (list(value) if isinstance(value, tuple) else value) not in neutral:
            ctx.problem(where, f"uses {key}={value!r}, which TF.js's {class_name} ignores ({instead})")


# --- class-specific rules ------------------------------------------------------------------------------------------


def _input_layer(cfg: dict[str, Any], ctx: Context, where: str) -> None:
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


def _batch_norm(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    # Keras 2 writes the axis as a one-element list ([3]); TF.js's BatchNormalization reads a number.
    axis = cfg.get("axis")
    if isinstance(axis, list) and len(axis) == 1 and isinstance(axis[0], int):
        cfg["axis"] = axis[0]
    elif isinstance(axis, list):
        ctx.problem(where, f"normalizes over several axes {axis}; TF.js's BatchNormalization takes a single axis")


def _separable_conv(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    # Keras 2 also writes kernel_* settings (unused by a separable convolution); TF.js refuses them there.
    for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
        cfg.pop(key, None)
    _conv(cfg, ctx, where)


def _leaky_relu(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    if "negative_slope" in cfg:  # Keras 3 name; TF.js keeps the Keras 2 name
        cfg["alpha"] = cfg.pop("negative_slope")


def _relu(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    if cfg.pop("negative_slope", 0.0) or cfg.pop("threshold", 0.0):
        ctx.problem(
            where, "uses negative_slope or threshold, which the TF.js ReLU layer lacks; use LeakyReLU or a plain ReLU"
        )
    cfg.pop("negative_slope", None)
    cfg.pop("threshold", None)


def _gru(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    if cfg.get("reset_after"):
        ctx.problem(
            where,
            "uses reset_after=True (the Keras 3 default), which TF.js's GRU does not implement; "
            "build the GRU with reset_after=False and retrain",
        )


def _conv(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    _causal(cfg, ctx, where)
    if cfg.get("groups", 1) not in (1, None):
        ctx.problem(where, f"uses groups={cfg['groups']}, which TF.js convolutions lack; use groups=1")
    cfg.pop("groups", None)
    _lora(cfg, ctx, where)


def _lora(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    if cfg.get("lora_rank"):
        ctx.problem(where, "has LoRA enabled; merge the LoRA weights (disable_lora / save the merged model) first")
    for key in ("lora_rank", "lora_alpha"):
        cfg.pop(key, None)


def _layer_norm(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    if cfg.pop("rms_scaling", False):
        ctx.problem(where, "uses rms_scaling=True, which TF.js's LayerNormalization lacks")


def _bidirectional(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    backward = cfg.pop("backward_layer", None)
    forward = cfg.get("layer")
    # TF.js names the wrapped layers "forward_<name>" / "backward_<name>" itself; Keras 3 stores the prefixed name.
    inner = (forward or {}).get("config") if isinstance(forward, dict) else None
    if isinstance(inner, dict) and str(inner.get("name", "")).startswith("forward_"):
        inner["name"] = inner["name"][len("forward_") :]
    if isinstance(backward, dict) and isinstance(forward, dict):
        ignore = {"name", "go_backwards"}
        fwd = {k: v for k, v in (forward.get("config") or {}).items() if k not in ignore}
        bwd = {k: v for k, v in (backward.get("config") or {}).items() if k not in ignore}
        if backward.get("class_name") != forward.get("class_name") or fwd != bwd:
            ctx.problem(
                where, "has a backward_layer that differs from its forward layer; TF.js mirrors the forward layer"
            )


def _elu(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    if float(cfg.get("alpha", 1.0)) != 1.0:
        ctx.problem(where, f"uses alpha={cfg['alpha']}; TF.js's ELU layer supports only alpha=1.0")


def _causal(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    if cfg.get("padding") == "causal":
        ctx.problem(
            where,
            "uses padding='causal', which TF.js does not implement; use padding='valid' after a left zero-padding",
        )


def _upsampling(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    if cfg.get("interpolation", "nearest") != "nearest":
        ctx.problem(
            where,
            f"uses interpolation={cfg['interpolation']!r}; TF.js's UpSampling2D places the samples differently "
            "from Keras except with 'nearest'",
        )


def _softmax(cfg: dict[str, Any], ctx: Context, where: str) -> None:
    if cfg.get("axis", -1) not in (-1, [-1]):
        ctx.problem(
            where, f"uses axis={cfg['axis']!r}; TF.js's Softmax only runs over the last axis (use Permute around it)"
        )
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
