"""Keras 3 constructs TF.js lacks, rewritten into TF.js layers that compute the same numbers.

Each rewrite looks at one layer (or ``keras.ops`` call) of a model config and returns a :class:`Replacement`: the
layers that stand in for it (possibly none: a layer that is the identity at inference is removed), which of them
gives its output, and the weights that replace its own. :mod:`hatch_tfjs.translate.layers` splices the replacement
into the model (rewiring consumers, model outputs and every call of a shared layer) before translating it as usual,
so every rewritten layer still goes through the same checks as a layer that was there from the start.

Every rewrite is exact: the same arithmetic as Keras, up to the float32 rounding of a constant (``x * (1/6)`` for
``x / 6``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hatch_tfjs.translate import support

if TYPE_CHECKING:
    import numpy as np

    from hatch_tfjs.neutral import Weight

# An input of a new layer: the position of one of the replaced layer's own inputs, or the name of another new layer.
Source = int | str


@dataclass(frozen=True)
class NewLayer:
    """A layer TF.js has, in Keras form (``config`` includes ``name``), wired to ``inputs``."""

    class_name: str
    config: dict[str, Any]
    inputs: tuple[Source, ...] = (0,)

    @property
    def name(self) -> str:
        name: str = self.config["name"]
        return name


@dataclass
class Replacement:
    """What stands in for one layer. ``output`` names the new layer giving its output, or an input position when the
    layer is removed. The layer's own weights are dropped and ``weights`` written instead (``None``: kept as they are,
    for a layer that stays under its own name)."""

    layers: list[NewLayer]
    output: Source
    note: str
    weights: list[Weight] | None = field(default_factory=list)  # None: the layer keeps its name and its weights


class RewriteRefusedError(Exception):
    """The layer looks rewritable but is not exactly expressible; the message says why (a translation problem)."""


class WeightsNeededError(RewriteRefusedError):
    """The rewrite reads the layer's weights, and the translation was given none (a config-only translation)."""


@dataclass(frozen=True)
class OpCall:
    """How a ``keras.ops`` call was made, beyond its tensors."""

    constants: list[tuple[int, Any]] = field(default_factory=list)  # (position, value) of non-tensor positional args
    arity: int = 0  # positional arguments, tensors and constants
    tensor_list: bool = False  # its one argument is a list of tensors (concatenate)


@dataclass
class Site:
    """One layer or op call as a rewrite sees it."""

    class_name: str
    cfg: dict[str, Any]
    name: str
    input_shapes: list[list[Any] | None]  # per input tensor of its first call, when the config records it
    call: OpCall  # ops: the arguments that are not tensors
    weights: list[np.ndarray] | None  # its own weights in Keras order; None when the caller passed no weights
    fresh_name: Callable[[str], str]  # a layer name not yet used in the model
    module: str | None = None  # where Keras says the class lives (a .keras config records it; an .h5 one does not)
    input_channels: int | None = None  # last-axis size of its input, traced where the config records no shapes
    keras_major: int = 3  # the Keras that wrote the config (Keras 2 defines hard_sigmoid as TF.js does, differently)

    def own_weights(self, count: int) -> list[np.ndarray]:
        if self.weights is None:
            raise WeightsNeededError("needs its weights to be rewritten for TF.js, and none were given")
        if len(self.weights) < count:
            raise RewriteRefusedError(f"has {len(self.weights)} weights where {count} were expected")
        return self.weights

    def input_rank(self) -> int | None:
        shape = self.input_shapes[0] if self.input_shapes else None
        return len(shape) if shape is not None else None


def _weight(name: str, array: Any) -> Weight:
    import numpy as np

    from hatch_tfjs.neutral import Weight

    return Weight(name, np.ascontiguousarray(array, dtype=np.float32))


def _plain_dtype(cfg: dict[str, Any]) -> Any:
    return cfg.get("dtype", "float32")


# --- removed layers ------------------------------------------------------------------------------------------------


def _identity(site: Site) -> Replacement:
    # Keras runs a functional model's layers with the caller's training flag (False in predict), whatever
    # training=... a layer was called with when the model was built.
    return Replacement([], 0, "removed: it is the identity at inference")


# --- activations built from layers ---------------------------------------------------------------------------------


def _hard_activation_layers(
    kind: str, base: str, source: Source, fresh: Callable[[str], str], dtype: Any
) -> list[NewLayer]:
    """``hard_sigmoid(x) = relu6(x + 3) / 6`` and ``hard_silu(x) = x * hard_sigmoid(x)`` (Keras 3's definitions)."""
    shift = NewLayer(
        "Rescaling", {"name": fresh(f"{base}_plus3"), "dtype": dtype, "scale": 1.0, "offset": 3.0}, (source,)
    )
    clip = NewLayer("ReLU", {"name": fresh(f"{base}_relu6"), "dtype": dtype, "max_value": 6.0}, (shift.name,))
    scale = NewLayer(
        "Rescaling", {"name": fresh(f"{base}_div6"), "dtype": dtype, "scale": 1.0 / 6.0, "offset": 0.0}, (clip.name,)
    )
    out = [shift, clip, scale]
    if kind in ("hard_silu", "hard_swish"):
        out.append(NewLayer("Multiply", {"name": fresh(f"{base}_times_x"), "dtype": dtype}, (source, scale.name)))
    return out


def _activation_name(cfg: dict[str, Any]) -> Any:
    value = cfg.get("activation")
    return value.get("config") if isinstance(value, dict) else value


def _hard_activation(site: Site) -> str | None:
    """The Keras 3 hard activation the layer's ``activation`` names, if any (Keras 2 configs are left to the
    translation, which refuses them: their hard_sigmoid is another function)."""
    name = _activation_name(site.cfg)
    return name if name in support.HARD_ACTIVATIONS and site.keras_major >= 3 else None


def needs_branch(class_name: str, cfg: dict[str, Any], keras_major: int) -> bool:
    """Whether the layer's rewrite uses its input twice (``x * hard_sigmoid(x)``), which a Sequential model cannot."""
    if class_name != "Activation" and class_name not in support.OUTPUT_ACTIVATION_LAYERS:
        return False
    return _activation_name(cfg) in ("hard_silu", "hard_swish") and keras_major >= 3


def _activation_layer(site: Site) -> Replacement | None:
    kind = _hard_activation(site)
    if kind is None:
        return None
    layers = _hard_activation_layers(kind, site.name, 0, site.fresh_name, _plain_dtype(site.cfg))
    return Replacement(
        layers, layers[-1].name, f"activation '{kind}' built from Rescaling, ReLU(max_value=6) and Multiply"
    )


def _with_hard_activation(site: Site) -> Replacement | None:
    """A layer with ``activation='hard_silu'`` (etc.): the layer itself, linear, followed by the activation's layers."""
    kind = _hard_activation(site)
    if kind is None or site.class_name not in support.OUTPUT_ACTIVATION_LAYERS:
        return None
    linear = NewLayer(
        site.class_name, {**site.cfg, "activation": "linear"}, tuple(range(max(1, len(site.input_shapes))))
    )
    tail = _hard_activation_layers(kind, site.name, site.name, site.fresh_name, _plain_dtype(site.cfg))
    note = f"activation '{kind}' built from Rescaling, ReLU(max_value=6) and Multiply after the linear layer"
    return Replacement([linear, *tail], tail[-1].name, note, weights=None)


# --- normalization -------------------------------------------------------------------------------------------------


def _normalization(site: Site) -> Replacement:
    """``(x - mean) / max(sqrt(var), 1e-7)`` as ``Rescaling(scale=1/std, offset=-mean/std)``; ``invert=True`` as
    ``Rescaling(scale=std, offset=mean)`` (Keras computes ``mean + x * std``, the same operations)."""
    import numpy as np

    cfg = site.cfg
    if cfg.get("mean") is not None and cfg.get("variance") is not None:
        mean, variance = np.asarray(cfg["mean"], np.float32), np.asarray(cfg["variance"], np.float32)
    else:
        arrays = site.own_weights(2)
        mean, variance = np.asarray(arrays[0], np.float32), np.asarray(arrays[1], np.float32)
    shape = _normalization_shape(site, mean.shape)
    mean, variance = _fit(mean, shape), _fit(variance, shape)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(variance)) and np.all(variance >= 0)):
        raise RewriteRefusedError("has a negative or non-finite variance or mean; Keras would compute NaN with it")
    std = np.maximum(np.sqrt(variance), np.float32(support.KERAS_EPSILON))
    if cfg.get("invert"):
        scale, offset = std.astype(np.float64), mean.astype(np.float64)
    else:
        scale = 1.0 / std.astype(np.float64)
        offset = -mean.astype(np.float64) * scale
    layer = NewLayer(
        "Rescaling",
        {"name": site.name, "dtype": _plain_dtype(cfg), "scale": _constant(scale), "offset": _constant(offset)},
    )
    return Replacement([layer], layer.name, "rewritten as Rescaling with the per-channel scale and offset it computes")


def _normalization_shape(site: Site, stats_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape Keras gives mean/variance for broadcasting (``_broadcast_shape``), without the batch axis."""
    axis = site.cfg.get("axis", -1)
    axes = [] if axis is None else [axis] if isinstance(axis, int) else list(axis)
    if not axes:
        return ()
    rank = site.input_rank()
    if rank is None:
        if axes == [-1]:
            return tuple(stats_shape[-1:])
        raise RewriteRefusedError("normalizes over axes of an input whose rank the config does not record")
    keep = sorted(a % rank for a in axes)
    if 0 in keep:
        raise RewriteRefusedError("normalizes over the batch axis, which a per-sample TF.js layer cannot")
    input_shape = site.input_shapes[0] or [None] * rank
    shape = [1] * rank
    for index, axis_index in enumerate(keep):
        size = stats_shape[index] if len(stats_shape) == len(keep) else input_shape[axis_index]
        if size is None:
            raise RewriteRefusedError("has statistics whose shape neither the config nor the weights fix")
        shape[axis_index] = int(size)
    return tuple(shape[1:])


def _fit(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Statistics laid out for broadcasting: reshaped when they hold one value per kept position, else broadcast."""
    import numpy as np

    size = int(np.prod(shape)) if shape else 1
    return array.reshape(shape) if array.size == size else np.broadcast_to(array, shape)


def _constant(array: Any) -> Any:
    """A float32 constant as JSON: a number for a scalar, nested lists otherwise."""
    import numpy as np

    value = np.asarray(array, dtype=np.float32)
    return float(value) if value.ndim == 0 else value.tolist()


# --- keras.applications' own layers ----------------------------------------------------------------------------------


def _is_application_layer(site: Site) -> bool:
    """Whether a class named like a keras.applications layer is that layer: its module when the config records one,
    else exactly its config keys (a user's class of the same name may compute something else)."""
    module, keys = support.APPLICATION_LAYERS[site.class_name]
    if site.module is not None:
        return site.module == module
    return set(site.cfg) - {"name", "trainable", "dtype"} == keys


def _layer_scale(site: Site) -> Replacement | None:
    """ConvNeXt's ``x * gamma`` over the last axis: Rescaling(scale=gamma, offset=0) computes ``x * gamma + 0``."""
    if not _is_application_layer(site):
        return None
    gamma = site.own_weights(1)[0]
    layer = NewLayer(
        "Rescaling", {"name": site.name, "dtype": _plain_dtype(site.cfg), "scale": _constant(gamma), "offset": 0.0}
    )
    return Replacement([layer], layer.name, "rewritten as Rescaling with its per-channel scale (gamma)")


def _custom_scale(site: Site) -> Replacement | None:
    """InceptionResNetV2's ``inputs[0] + inputs[1] * scale`` as ``Add([a, Rescaling(scale)(b)])``."""
    if not _is_application_layer(site):
        return None
    if isinstance(site.cfg["scale"], bool) or not isinstance(site.cfg["scale"], (int, float)):
        raise RewriteRefusedError(f"has scale={site.cfg['scale']!r}; only a number has a TF.js layer form")
    dtype = _plain_dtype(site.cfg)
    scaled = NewLayer(
        "Rescaling",
        {
            "name": site.fresh_name(f"{site.name}_scaled"),
            "dtype": dtype,
            "scale": float(site.cfg["scale"]),
            "offset": 0.0,
        },
        (1,),
    )
    total = NewLayer("Add", {"name": site.name, "dtype": dtype}, (0, scaled.name))
    return Replacement([scaled, total], total.name, "rewritten as Add with the residual scaled by Rescaling")


# --- global pooling with keepdims ------------------------------------------------------------------------------------


def _global_pooling(site: Site) -> Replacement | None:
    """``keepdims=True`` as pooling then ``Reshape`` to the kept shape (TF.js needs the channel count spelled out)."""
    if not site.cfg.get("keepdims"):
        return None
    channels_first = site.cfg.get("data_format") == "channels_first"
    shape = site.input_shapes[0] if site.input_shapes else None
    channels = shape[1 if channels_first else -1] if shape else None if channels_first else site.input_channels
    if not isinstance(channels, int):
        raise RewriteRefusedError("uses keepdims=True on an input whose channel count the config does not record")
    spatial = [1] * (2 if site.class_name.endswith("2D") else 1)
    target = [channels, *spatial] if channels_first else [*spatial, channels]
    pool = NewLayer(site.class_name, {**site.cfg, "keepdims": False})
    reshape = NewLayer(
        "Reshape",
        {"name": site.fresh_name(f"{site.name}_keepdims"), "dtype": _plain_dtype(site.cfg), "target_shape": target},
        (site.name,),
    )
    note = "keepdims=True rewritten as pooling followed by Reshape (TF.js ignores keepdims)"
    return Replacement([pool, reshape], reshape.name, note, weights=None)


# --- ReLU variants -----------------------------------------------------------------------------------------------


def _relu_variant(site: Site) -> Replacement | None:
    """Keras's ReLU with only ``negative_slope`` is leaky_relu (TF.js's LeakyReLU); with only ``threshold`` it is
    ``x if x > threshold else 0`` (TF.js's ThresholdedReLU). Other mixes stay with the ReLU layer's own checks."""
    slope = float(site.cfg.get("negative_slope") or 0.0)
    threshold = float(site.cfg.get("threshold") or 0.0)
    if site.cfg.get("max_value") is not None or (slope == 0.0) == (threshold == 0.0):
        return None
    dtype = _plain_dtype(site.cfg)
    if slope:
        layer = NewLayer("LeakyReLU", {"name": site.name, "dtype": dtype, "negative_slope": slope})
    else:
        layer = NewLayer("ThresholdedReLU", {"name": site.name, "dtype": dtype, "theta": threshold})
    return Replacement([layer], layer.name, f"rewritten as {layer.class_name}")


# --- CenterCrop ------------------------------------------------------------------------------------------------------


def _center_crop(site: Site) -> Replacement:
    """Keras crops ``(input - size) // 2`` from the top/left and the rest from the bottom/right: a Cropping2D.
    (TF.js's own CenterCrop cannot run in a loaded model; a crop to a larger size resizes in Keras: refused.)"""
    channels_first = site.cfg.get("data_format") == "channels_first"
    shape = site.input_shapes[0] if site.input_shapes else None
    spatial = (shape[2:4] if channels_first else shape[1:3]) if shape and len(shape) == 4 else None
    if spatial is None or not all(isinstance(d, int) for d in spatial):
        raise RewriteRefusedError(
            "crops an input whose height and width the config does not record (TF.js's own CenterCrop cannot run in "
            "a loaded model)"
        )
    (height, width), target = spatial, (int(site.cfg["height"]), int(site.cfg["width"]))
    diffs = (height - target[0], width - target[1])
    if min(diffs) < 0:
        raise RewriteRefusedError(
            "asks for a size larger than its input (Keras then resizes), which no TF.js layer computes the same way"
        )
    cropping = [[diff // 2, diff - diff // 2] for diff in diffs]
    layer = NewLayer(
        "Cropping2D",
        {
            "name": site.name,
            "dtype": _plain_dtype(site.cfg),
            "cropping": cropping,
            "data_format": site.cfg.get("data_format") or "channels_last",
        },
    )
    return Replacement([layer], layer.name, "rewritten as Cropping2D (the same centred window)")


# --- Subtract and arithmetic ops -----------------------------------------------------------------------------------


def _negated_sum(site: Site, name: str, dtype: Any) -> list[NewLayer]:
    """``a - b`` as ``Add([a, Rescaling(-1)(b)])``: IEEE subtraction is addition of the negation."""
    negate = NewLayer(
        "Rescaling",
        {"name": site.fresh_name(f"{site.name}_negated"), "dtype": dtype, "scale": -1.0, "offset": 0.0},
        (1,),
    )
    return [negate, NewLayer("Add", {"name": name, "dtype": dtype}, (0, negate.name))]


def _subtract_layer(site: Site) -> Replacement:
    layers = _negated_sum(site, site.name, _plain_dtype(site.cfg))
    return Replacement(layers, site.name, "rewritten as Add with the second input negated (Rescaling(-1))")


def _rescaling(site: Site, scale: float, offset: float, tensor: int) -> Replacement:
    layer = NewLayer(
        "Rescaling", {"name": site.name, "dtype": "float32", "scale": float(scale), "offset": float(offset)}, (tensor,)
    )
    return Replacement([layer], layer.name, f"rewritten as Rescaling(scale={scale:g}, offset={offset:g})")


def _scalar_operand(site: Site) -> tuple[int, float, bool] | None:
    """For a binary op with one tensor and one number: (tensor input index, the number, whether the number is first)."""
    if site.call.arity != 2 or len(site.call.constants) != 1 or not isinstance(site.call.constants[0][1], (int, float)):
        return None
    if isinstance(site.call.constants[0][1], bool):
        return None
    position, value = site.call.constants[0]
    return 0, float(value), position == 0


def _binary_op(site: Site) -> Replacement:
    op = support.snake_case(site.class_name)
    scalar = _scalar_operand(site)
    if scalar is not None:
        tensor, value, number_first = scalar
        if op == "add":
            return _rescaling(site, 1.0, value, tensor)
        if op == "subtract":
            return _rescaling(site, -1.0, value, tensor) if number_first else _rescaling(site, 1.0, -value, tensor)
        if op == "multiply":
            return _rescaling(site, value, 0.0, tensor)
        if op in ("divide", "true_divide") and not number_first and value != 0.0:
            return _rescaling(site, 1.0 / value, 0.0, tensor)
        raise RewriteRefusedError(
            f"with a number as {'first' if number_first else 'second'} operand has no exact TF.js layer"
        )
    if site.call.constants or site.call.arity != 2:
        raise RewriteRefusedError("is called with arguments TF.js layers cannot replay")
    if op == "subtract":
        return Replacement(
            _negated_sum(site, site.name, "float32"), site.name, "rewritten as Add with the second input negated"
        )
    layer_class = support.BINARY_OP_LAYERS.get(op)
    if layer_class is None:
        raise RewriteRefusedError("of two tensors has no exact TF.js layer")
    layer = NewLayer(layer_class, {"name": site.name, "dtype": "float32"}, (0, 1))
    return Replacement([layer], layer.name, f"rewritten as the {layer_class} layer")


def _unary(site: Site, allowed: frozenset[str] = frozenset()) -> None:
    """Refuse a one-tensor op called with anything else, or with options other than ``allowed``."""
    if site.call.arity != 1 or site.call.constants or site.call.tensor_list:
        raise RewriteRefusedError("is called with arguments TF.js layers cannot replay")
    extra = set(site.cfg) - {"name"} - allowed
    if extra:
        raise RewriteRefusedError(f"is called with {', '.join(sorted(extra))}, which its TF.js layer form lacks")


def _one_layer(site: Site, class_name: str, config: dict[str, Any], inputs: tuple[Source, ...] = (0,)) -> Replacement:
    layer = NewLayer(class_name, {"name": site.name, "dtype": "float32", **config}, inputs)
    return Replacement([layer], layer.name, f"rewritten as {class_name}")


def _negative_op(site: Site) -> Replacement:
    _unary(site)
    return _rescaling(site, -1.0, 0.0, 0)


def _activation_op(site: Site) -> Replacement:
    op = support.snake_case(site.class_name)
    _unary(site)
    if op in support.HARD_ACTIVATIONS:
        layers = _hard_activation_layers(op, site.name, 0, site.fresh_name, "float32")
        return Replacement(layers, layers[-1].name, f"rewritten as the layers of '{op}'")
    return _one_layer(site, "Activation", {"activation": support.ACTIVATION_OPS[op]})


def _gelu_op(site: Site) -> Replacement:
    """Keras's exact gelu is TF.js's 'gelu'. (TF.js registers the tanh approximation as 'gelu_new', a name its
    loader turns into 'geluNew' and then cannot find.)"""
    _unary(site, frozenset({"approximate"}))
    if site.cfg.get("approximate", True):
        raise RewriteRefusedError(
            "with approximate=True has no TF.js layer a loaded model can use; use approximate=False"
        )
    return _one_layer(site, "Activation", {"activation": "gelu"})


def _softmax_op(site: Site) -> Replacement:
    _unary(site, frozenset({"axis"}))
    if site.cfg.get("axis", -1) not in (-1, [-1]):
        raise RewriteRefusedError(
            "over another axis than the last has no TF.js layer (TF.js's softmax only runs over the last)"
        )
    return _one_layer(site, "Activation", {"activation": "softmax"})


def _leaky_relu_op(site: Site) -> Replacement:
    _unary(site, frozenset({"negative_slope"}))
    return _one_layer(site, "LeakyReLU", {"negative_slope": float(site.cfg.get("negative_slope", 0.2))})


def _square_op(site: Site) -> Replacement:
    _unary(site)
    return _one_layer(site, "Multiply", {}, (0, 0))


def _clip_op(site: Site) -> Replacement:
    """``clip(x, 0, c)`` is ``ReLU(max_value=c)``; other lower bounds have no exact TF.js layer."""
    _unary(site, frozenset({"x_min", "x_max"}))
    low, high = site.cfg.get("x_min"), site.cfg.get("x_max")
    if low != 0 or not isinstance(high, (int, float)) or high <= 0:
        raise RewriteRefusedError("with a lower bound other than 0 has no exact TF.js layer")
    return _one_layer(site, "ReLU", {"max_value": float(high)})


def _rank(site: Site) -> int:
    rank = site.input_rank()
    if rank is None:
        raise RewriteRefusedError("is applied to a tensor whose rank the config does not record")
    return rank


def _reduction_op(site: Site) -> Replacement:
    """``mean``/``max`` over the steps of ``(batch, steps, channels)`` or the pixels of ``(batch, h, w, channels)``:
    global pooling (followed by Reshape when ``keepdims``)."""
    _unary(site, frozenset({"axis", "keepdims", "initial"}))
    if site.cfg.get("initial") is not None:
        raise RewriteRefusedError("with an initial value has no TF.js layer")
    rank = _rank(site)
    axis = site.cfg.get("axis")
    axes = sorted(a % rank for a in ([axis] if isinstance(axis, int) else list(axis or [])))
    spatial = {3: [1], 4: [1, 2]}.get(rank)
    if axes != spatial:
        raise RewriteRefusedError("over other axes than a global pooling's has no TF.js layer")
    kind = "Average" if support.snake_case(site.class_name) == "mean" else "Max"
    pool_class = f"Global{kind}Pooling{len(axes)}D"
    if not site.cfg.get("keepdims"):
        return _one_layer(site, pool_class, {"data_format": "channels_last"})
    channels = (site.input_shapes[0] or [None])[-1]
    if not isinstance(channels, int):
        raise RewriteRefusedError("keeps dims of a tensor whose channel count the config does not record")
    pool = NewLayer(
        pool_class, {"name": site.fresh_name(f"{site.name}_pool"), "dtype": "float32", "data_format": "channels_last"}
    )
    reshape = NewLayer(
        "Reshape", {"name": site.name, "dtype": "float32", "target_shape": [*([1] * len(axes)), channels]}, (pool.name,)
    )
    return Replacement([pool, reshape], reshape.name, f"rewritten as {pool_class} and Reshape")


def _reshape_op(site: Site) -> Replacement:
    _unary(site, frozenset({"newshape"}))
    shape = list(site.cfg.get("newshape") or [])
    if not shape or shape[0] not in (-1, None) or any(d is None for d in shape[1:]):
        raise RewriteRefusedError("changes the batch axis, which a TF.js Reshape layer keeps")
    return _one_layer(site, "Reshape", {"target_shape": shape[1:]})


def _transpose_op(site: Site) -> Replacement:
    _unary(site, frozenset({"axes"}))
    axes = site.cfg.get("axes")
    if not isinstance(axes, list) or not axes or axes[0] != 0:
        raise RewriteRefusedError("moves the batch axis (or reverses every axis), which a TF.js Permute layer keeps")
    return _one_layer(site, "Permute", {"dims": axes[1:]})


def _expand_dims_op(site: Site) -> Replacement:
    _unary(site, frozenset({"axis"}))
    shape = site.input_shapes[0] if site.input_shapes else None
    axis = site.cfg.get("axis")
    if shape is None or any(d is None for d in shape[1:]) or not isinstance(axis, int):
        raise RewriteRefusedError("is applied to a tensor whose shape the config does not record")
    position = axis % (len(shape) + 1)
    if position == 0:
        raise RewriteRefusedError("adds a batch axis, which a TF.js Reshape layer keeps")
    target = [*shape[1:position], 1, *shape[position:]]
    return _one_layer(site, "Reshape", {"target_shape": target})


def _concatenate_op(site: Site) -> Replacement:
    if not site.call.tensor_list or set(site.cfg) - {"name", "axis"}:
        raise RewriteRefusedError("is called with arguments TF.js layers cannot replay")
    count = len(site.input_shapes)
    return _one_layer(site, "Concatenate", {"axis": site.cfg.get("axis", 0)}, tuple(range(count)))


def _maximum_with_zero(site: Site) -> Replacement | None:
    scalar = _scalar_operand(site)
    if scalar is not None and scalar[1] == 0.0:
        return _one_layer(site, "ReLU", {})
    return None


OP_REWRITES: dict[str, Callable[[Site], Replacement]] = {
    "negative": _negative_op,
    "gelu": _gelu_op,
    "softmax": _softmax_op,
    "leaky_relu": _leaky_relu_op,
    "square": _square_op,
    "clip": _clip_op,
    "mean": _reduction_op,
    "max": _reduction_op,
    "reshape": _reshape_op,
    "transpose": _transpose_op,
    "expand_dims": _expand_dims_op,
    "concatenate": _concatenate_op,
}


def op_rewrite(site: Site) -> Replacement:
    """The rewrite of one ``keras.ops`` call, or :class:`RewriteRefusedError` saying why there is none."""
    op = support.snake_case(site.class_name)
    if op == "maximum":
        relu = _maximum_with_zero(site)
        if relu is not None:
            return relu
    if op in support.BINARY_OPS:
        return _binary_op(site)
    if op in support.ACTIVATION_OPS or op in support.HARD_ACTIVATIONS:
        return _activation_op(site)
    if op in OP_REWRITES:
        return OP_REWRITES[op](site)
    raise RewriteRefusedError("has no TF.js layers equivalent")


# --- grouped convolutions that are depthwise -----------------------------------------------------------------------


def _grouped_conv(site: Site) -> Replacement | None:
    groups = site.cfg.get("groups") or 1
    if groups == 1:
        return None
    arrays = site.own_weights(1)
    kernel = arrays[0]
    filters = int(site.cfg.get("filters", 0))
    if kernel.ndim != 4 or kernel.shape[2] != 1 or filters % groups or kernel.shape[3] != filters:
        raise RewriteRefusedError(
            f"uses groups={groups} with more than one input channel per group, which TF.js convolutions lack; "
            "only depthwise groupings (groups == input channels) have a TF.js layer"
        )
    multiplier = filters // groups
    depthwise = kernel.reshape(kernel.shape[0], kernel.shape[1], groups, multiplier)  # channel g*k+m -> [g, m]
    cfg = {key: value for key, value in site.cfg.items() if key not in support.GROUPED_CONV_DROPPED}
    cfg.update(
        depth_multiplier=multiplier,
        depthwise_initializer=site.cfg.get("kernel_initializer"),
        depthwise_regularizer=site.cfg.get("kernel_regularizer"),
        depthwise_constraint=site.cfg.get("kernel_constraint"),
    )
    weights = [_weight(f"{site.name}/depthwise_kernel", depthwise)]
    if cfg.get("use_bias", True) and len(arrays) > 1:
        weights.append(_weight(f"{site.name}/bias", arrays[1]))
    layer = NewLayer("DepthwiseConv2D", cfg)
    return Replacement(
        [layer], layer.name, "grouped with one input channel per group: rewritten as DepthwiseConv2D", weights
    )


# --- dispatch ------------------------------------------------------------------------------------------------------

LAYER_REWRITES: dict[str, Callable[[Site], Replacement | None]] = {
    **dict.fromkeys(support.IDENTITY_AT_INFERENCE, _identity),
    "Normalization": _normalization,
    "LayerScale": _layer_scale,
    "CustomScaleLayer": _custom_scale,
    "Subtract": _subtract_layer,
    "Activation": _activation_layer,
    "GlobalAveragePooling1D": _global_pooling,
    "GlobalMaxPooling1D": _global_pooling,
    "GlobalAveragePooling2D": _global_pooling,
    "GlobalMaxPooling2D": _global_pooling,
    "Conv2D": _grouped_conv,
    "CenterCrop": _center_crop,
    "ReLU": _relu_variant,
}


def layer_rewrite(site: Site) -> Replacement | None:
    """The rewrite of one layer, None when it needs none, or :class:`RewriteRefusedError` saying why it cannot."""
    rewrite = LAYER_REWRITES.get(site.class_name)
    replacement = rewrite(site) if rewrite is not None else None
    return replacement if replacement is not None else _with_hard_activation(site)
