"""How each layer class TF.js can load keeps its variables: a bounded, testable table.

For every layer class with variables that tfjs-layers 4.22 registers, :func:`layer_layout` answers, from the layer's
serialised config alone (Keras 3 or Keras 2 form): which variables the layer owns, in the order Keras creates them
(the order of ``vars/0, vars/1, ...`` in a ``.keras`` weights store), whether each was created trainable (this decides
the legacy ``.h5`` order), the shape each must have (exact where the config says it, symbolic where it depends on the
layer's input), and which sublayers hold further variables (RNN cells, Bidirectional / TimeDistributed wrapped layers)
under which store attribute.

Weight names are the ones TF.js looks up: ``<layer>/<sublayer...>/<weight>``, with
:data:`hatch_tfjs.keras_names.WEIGHT_RENAMES` applied. Nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

from hatch_tfjs.errors import ModelReadError
from hatch_tfjs.keras_names import MODEL_CLASSES, WEIGHT_RENAMES

# A dimension is an exact int, or ``(symbol, factor)``: ``factor`` times a size fixed by the first variable that uses
# the symbol (e.g. ``("in", 1)`` is the layer's input channels, ``("units", 4)`` four times the units).
Dim = Union[int, "tuple[str, int]"]


@dataclass(frozen=True)
class Var:
    """One variable a layer owns."""

    name: str  # short name as TF.js expects it (after WEIGHT_RENAMES)
    shape: tuple[Dim, ...] | None  # None: any shape (checked against nothing but the file)
    trainable: bool = True  # created trainable (BatchNormalization moving statistics are not)
    aliases: tuple[str, ...] = ()  # other short names the variable has in .h5 weight_names
    integer: bool = False  # an integer variable (a count); the others are floats of the layer's dtype


@dataclass
class Layout:
    """The variables of one (non-model) layer and of its sublayers."""

    name: str
    class_name: str
    variables: list[Var] = field(default_factory=list)
    children: list[tuple[str, Layout]] = field(default_factory=list)  # (store attribute, sublayer)
    trainable: bool = True
    known: bool = True  # False: class not in this table; its variables are read generically
    dtype: str = "float32"  # dtype of its float variables
    float_variables: bool = True  # all its variables are floats (False: a quantized dtype policy keeps integers)
    bind: dict[str, int] = field(default_factory=dict)  # symbolic sizes the config already fixes
    unmapped: str | None = None  # why a layer TF.js would accept cannot be mapped (the reader refuses it)


class LayoutError(ModelReadError):
    """The config of a layer cannot be mapped to its variables (malformed or from an unknown Keras); the reader
    reports it as a :class:`ModelReadError` naming the file and the model."""


def _sym(name: str, factor: int = 1) -> tuple[str, int]:
    return (name, factor)


def _int(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LayoutError(f"{where}: config key '{key}' should be a non-negative integer, not {value!r}")
    return value


def _ints(value: Any, rank: int, where: str, key: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * rank
    if isinstance(value, (list, tuple)) and len(value) == rank:
        return tuple(_int(v, where, key) for v in value)
    raise LayoutError(f"{where}: config key '{key}' should be an integer or {rank} integers, not {value!r}")


def _flag(cfg: dict[str, Any], key: str, default: bool) -> bool:
    value = cfg.get(key, default)
    return default if value is None else bool(value)


def variable_dtype(cfg: dict[str, Any]) -> str:
    """The dtype Keras gives a layer's float variables, from its ``dtype`` (a string or a DTypePolicy)."""
    value = cfg.get("dtype")
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name")
    if not isinstance(value, str) or value.startswith("mixed_") or value in ("", "float32"):
        return "float32"
    return value if value in ("float16", "float64", "bfloat16") else "float32"


def has_float_variables(cfg: dict[str, Any]) -> bool:
    """Whether every variable of a layer is a float (not under a quantized DTypePolicy such as ``int8_from_float32``,
    whose kernels Keras stores as integers)."""
    value = cfg.get("dtype")
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name")
    return not isinstance(value, str) or not value.startswith(("int", "uint", "float8"))


def _input_shape(entry: dict[str, Any]) -> list[Any] | None:
    """The layer's input shape when the config records it (Keras 3 ``build_config``, Keras 2 ``batch_input_shape``)."""
    build = entry.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if shape is None:
        shape = (entry.get("config") or {}).get("batch_input_shape")
    if isinstance(shape, (list, tuple)) and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in shape
    ):
        return list(shape)
    return None


def _channels(shape: list[Any] | None, cfg: dict[str, Any], bind: dict[str, int]) -> Dim:
    """The input-channels dimension: bound from the input shape when known, else symbolic."""
    if shape and len(shape) >= 2:
        axis = 1 if cfg.get("data_format") == "channels_first" else -1
        if isinstance(shape[axis], int):
            bind["in"] = shape[axis]
    return _sym("in")


# The variables of a layer from its config, its input shape when recorded, the sizes bound so far, and where it is.
VarBuilder = Callable[[dict[str, Any], list[Any] | None, dict[str, int], str], list[Var]]


# --- the table: one builder per class with variables ---------------------------------------------------------------


def _dense(cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], where: str) -> list[Var]:
    units = _int(cfg.get("units"), where, "units")
    out = [Var("kernel", (_channels(shape, {}, bind), units))]
    if _flag(cfg, "use_bias", True):
        out.append(Var("bias", (units,)))
    return out


def _conv(rank: int, transpose: bool) -> VarBuilder:
    def build(cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], where: str) -> list[Var]:
        filters = _int(cfg.get("filters"), where, "filters")
        kernel = _ints(cfg.get("kernel_size"), rank, where, "kernel_size")
        groups = cfg.get("groups") or 1
        channels = _channels(shape, cfg, bind)
        if transpose:
            kshape = (*kernel, filters, channels)
        elif groups == 1:
            kshape = (*kernel, channels, filters)
        else:
            kshape = (*kernel, _sym("in_per_group"), filters)
        out = [Var("kernel", kshape)]
        if _flag(cfg, "use_bias", True):
            out.append(Var("bias", (filters,)))
        return out

    return build


def _depthwise(cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], where: str) -> list[Var]:
    kernel = _ints(cfg.get("kernel_size"), 2, where, "kernel_size")
    multiplier = _int(cfg.get("depth_multiplier", 1), where, "depth_multiplier")
    renamed = WEIGHT_RENAMES.get("DepthwiseConv2D", {}).get("kernel", "kernel")
    out = [Var(renamed, (*kernel, _channels(shape, cfg, bind), multiplier), aliases=("kernel", "depthwise_kernel"))]
    if _flag(cfg, "use_bias", True):
        out.append(Var("bias", (_sym("in", multiplier),)))
    return out


def _separable(cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], where: str) -> list[Var]:
    filters = _int(cfg.get("filters"), where, "filters")
    kernel = _ints(cfg.get("kernel_size"), 2, where, "kernel_size")
    multiplier = _int(cfg.get("depth_multiplier", 1), where, "depth_multiplier")
    channels = _channels(shape, cfg, bind)
    out = [
        Var("depthwise_kernel", (*kernel, channels, multiplier)),
        Var("pointwise_kernel", (1, 1, _sym("in", multiplier), filters)),
    ]
    if _flag(cfg, "use_bias", True):
        out.append(Var("bias", (filters,)))
    return out


def _embedding(cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], where: str) -> list[Var]:
    return [
        Var(
            "embeddings",
            (_int(cfg.get("input_dim"), where, "input_dim"), _int(cfg.get("output_dim"), where, "output_dim")),
        )
    ]


def _norm_shape(
    cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], default_axis: int
) -> tuple[Dim, ...] | None:
    axis = cfg.get("axis", default_axis)
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if isinstance(axis, int) and not isinstance(axis, bool):
        if shape and -len(shape) <= axis < len(shape) and isinstance(shape[axis], int):
            bind["channels"] = shape[axis]
        return (_sym("channels"),)
    return None  # several axes: the shape follows the input; only the file can say


def _batch_norm(cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], where: str) -> list[Var]:
    pshape = _norm_shape(cfg, shape, bind, -1)
    out = []
    if _flag(cfg, "scale", True):
        out.append(Var("gamma", pshape))
    if _flag(cfg, "center", True):
        out.append(Var("beta", pshape))
    out += [Var("moving_mean", pshape, trainable=False), Var("moving_variance", pshape, trainable=False)]
    if _flag(cfg, "renorm", False):
        out += [Var(n, pshape, trainable=False) for n in ("moving_stddev", "renorm_mean", "renorm_stddev")]
    return out


def _layer_norm(cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], where: str) -> list[Var]:
    pshape = _norm_shape(cfg, shape, bind, -1)
    rms = _flag(cfg, "rms_scaling", False)
    out = []
    if _flag(cfg, "scale", True) or rms:
        out.append(Var("gamma", pshape))
    if _flag(cfg, "center", True) and not rms:
        out.append(Var("beta", pshape))
    return out


def _normalization(cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], where: str) -> list[Var]:
    """Keras 3 ``Normalization``: adapted ``mean`` and ``variance`` (shaped by ``axis``: the file says how) and the
    sample ``count``, none trainable; a layer given its mean and variance in the config has no variables."""
    if cfg.get("mean") is not None and cfg.get("variance") is not None:
        return []
    return [
        Var(name, () if name == "count" else None, trainable=False, integer=name == "count")
        for name in ("mean", "variance", "count")
    ]


def _prelu(cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], where: str) -> list[Var]:
    if not shape or any(d is None for d in shape[1:]):
        return [Var("alpha", None)]
    dims = list(shape[1:])
    shared = cfg.get("shared_axes") or []
    for axis in [shared] if isinstance(shared, int) else shared:
        if isinstance(axis, int) and 1 <= axis <= len(dims):
            dims[axis - 1] = 1
    return [Var("alpha", tuple(dims))]


def _cell_vars(gates: int, conv_rank: int = 0) -> VarBuilder:
    def build(cfg: dict[str, Any], shape: list[Any] | None, bind: dict[str, int], where: str) -> list[Var]:
        if conv_rank:
            units = _int(cfg.get("filters"), where, "filters")
            kernel = _ints(cfg.get("kernel_size"), conv_rank, where, "kernel_size")
            channels = _channels(shape, cfg, bind)
            shapes = ((*kernel, channels, gates * units), (*kernel, units, gates * units))
        else:
            units = _int(cfg.get("units"), where, "units")
            channels = _channels(shape, {}, bind)
            shapes = ((channels, gates * units), (units, gates * units))
        out = [Var("kernel", shapes[0]), Var("recurrent_kernel", shapes[1])]
        if _flag(cfg, "use_bias", True):
            reset_after = gates == 3 and _flag(cfg, "reset_after", False)
            out.append(Var("bias", (2, gates * units) if reset_after else (gates * units,)))
        return out

    return build


# Classes whose variables are all their own (no sublayers).
_OWN: dict[str, VarBuilder] = {
    "Dense": _dense,
    "Conv1D": _conv(1, False),
    "Conv2D": _conv(2, False),
    "Conv3D": _conv(3, False),
    "Conv2DTranspose": _conv(2, True),
    "Conv3DTranspose": _conv(3, True),
    "DepthwiseConv2D": _depthwise,
    "SeparableConv2D": _separable,
    "Embedding": _embedding,
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "Normalization": _normalization,
    "PReLU": _prelu,
    "SimpleRNNCell": _cell_vars(1),
    "GRUCell": _cell_vars(3),
    "LSTMCell": _cell_vars(4),
}
# Recurrent layers: their variables live in a cell Keras 3 always names like this, under store attribute "cell".
_RNN_CELLS: dict[str, tuple[str, str]] = {
    "SimpleRNN": ("SimpleRNNCell", "simple_rnn_cell"),
    "GRU": ("GRUCell", "gru_cell"),
    "LSTM": ("LSTMCell", "lstm_cell"),
    "ConvLSTM2D": ("ConvLSTM2DCell", "conv_lstm_cell"),
}
_CONV_LSTM_CELL = _cell_vars(4, conv_rank=2)
# TF.js layer classes without any variable.
NO_VARIABLES = frozenset(
    {
        "InputLayer", "Activation", "Dropout", "SpatialDropout1D", "Flatten", "Reshape", "Permute", "RepeatVector",
        "Masking", "Cropping2D", "UpSampling2D", "ZeroPadding2D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
        "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
        "GlobalAveragePooling1D", "GlobalAveragePooling2D", "Add", "Average", "Concatenate", "Dot", "Maximum",
        "Minimum", "Multiply", "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "Softmax", "GaussianNoise",
        "GaussianDropout", "AlphaDropout", "Rescaling", "CenterCrop", "Resizing", "CategoryEncoding",
    }
)  # fmt: skip
ALIASES = {
    "MaxPool1D": "MaxPooling1D", "MaxPool2D": "MaxPooling2D", "MaxPool3D": "MaxPooling3D",
    "AvgPool1D": "AveragePooling1D", "AvgPool2D": "AveragePooling2D", "AvgPool3D": "AveragePooling3D",
    "GlobalMaxPool1D": "GlobalMaxPooling1D", "GlobalMaxPool2D": "GlobalMaxPooling2D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "Convolution2DTranspose": "Conv2DTranspose", "Convolution3DTranspose": "Conv3DTranspose",
    "SeparableConvolution2D": "SeparableConv2D",
}  # fmt: skip
# TF.js classes with variables that the table above does not map (the reader refuses them rather than guess).
TFJS_ONLY_WRAPPERS = frozenset({"StackedRNNCells", "ConvLSTM2DCell"})


def _strip_prefix(name: str, prefix: str) -> str:
    return name[len(prefix) :] if name.startswith(prefix) else name


def _describe(name: str, class_name: str) -> str:
    return f"layer '{name}' ({class_name})"


def layer_layout(
    entry: dict[str, Any], *, input_shape: list[Any] | None = None, parent_trainable: bool = True
) -> Layout:
    """The variables of one serialised layer (``{"class_name", "config", ...}``), sublayers included.

    Raises :class:`LayoutError` when the config is malformed. A class outside the table comes back with
    ``known=False``: the reader then takes its variables as the file has them and leaves rejecting it to the translator.
    """
    class_name = entry.get("class_name")
    cfg = entry.get("config")
    if not isinstance(class_name, str) or not isinstance(cfg, dict):
        raise LayoutError(f"a layer entry has no class_name/config: {str(entry)[:200]}")
    class_name = ALIASES.get(class_name, class_name)
    name = cfg.get("name") if isinstance(cfg.get("name"), str) else entry.get("name")
    if not isinstance(name, str) or not name:
        raise LayoutError(f"a {class_name} layer has no name in its config")
    where = _describe(name, class_name)
    if input_shape is None:
        input_shape = _input_shape(entry)
    layout = Layout(
        name=name,
        class_name=class_name,
        trainable=parent_trainable and _flag(cfg, "trainable", True),
        dtype=variable_dtype(cfg),
        float_variables=has_float_variables(cfg),
    )
    if cfg.get("quantization_config") or cfg.get("lora_rank"):
        layout.known = False  # the store keeps quantized / LoRA-merged variables; the translator rejects the layer
        return layout
    _add_variables(layout, cfg, input_shape, where)
    for _, child in layout.children:
        if child.unmapped and not layout.unmapped:
            layout.unmapped = child.unmapped
    return layout


def _add_variables(layout: Layout, cfg: dict[str, Any], input_shape: list[Any] | None, where: str) -> None:
    """Fill ``layout`` with the variables (and sublayers) its class creates; unknown classes get ``known=False``."""
    class_name = layout.class_name
    if class_name in _OWN:
        layout.variables = _OWN[class_name](cfg, input_shape, layout.bind, where)
    elif class_name in _RNN_CELLS:
        _add_recurrent_cell(layout, cfg, input_shape, where)
    elif class_name == "RNN":
        _add_wrapped_cell(layout, cfg, input_shape, where)
    elif class_name == "Bidirectional":
        _add_directions(layout, cfg, input_shape, where)
    elif class_name == "TimeDistributed":
        inner = cfg.get("layer")
        if not isinstance(inner, dict):
            raise LayoutError(f"{where}: config has no wrapped 'layer'")
        child = layer_layout(inner, input_shape=_per_step(input_shape), parent_trainable=layout.trainable)
        layout.children.append(("layer", child))
        layout.known = child.known
    elif class_name in NO_VARIABLES:
        pass
    elif class_name in MODEL_CLASSES:
        raise LayoutError(f"{where}: a model is not a layer; the reader walks models itself")
    else:
        layout.known = False
        if class_name in TFJS_ONLY_WRAPPERS:
            layout.unmapped = f"{where}: this reader does not map the variables of {class_name}"


def _per_step(input_shape: list[Any] | None) -> list[Any] | None:
    """The input shape of one time step (the time axis dropped), when known."""
    return [input_shape[0], *input_shape[2:]] if input_shape and len(input_shape) > 2 else None


def _add_recurrent_cell(layout: Layout, cfg: dict[str, Any], input_shape: list[Any] | None, where: str) -> None:
    """SimpleRNN/GRU/LSTM/ConvLSTM2D: the variables live in a cell Keras names after the class."""
    cell_class, cell_name = _RNN_CELLS[layout.class_name]
    if _flag(cfg, "stateful", False):
        layout.known = False
        layout.unmapped = f"{where} is stateful; Keras keeps its states as extra variables this reader does not map"
        return
    cell_cfg = {**cfg, "name": cell_name}
    cell = Layout(
        name=cell_name,
        class_name=cell_class,
        trainable=layout.trainable,
        dtype=layout.dtype,
        float_variables=layout.float_variables,
    )
    builder = _CONV_LSTM_CELL if layout.class_name == "ConvLSTM2D" else _OWN[cell_class]
    cell.variables = builder(cell_cfg, _per_step(input_shape), cell.bind, where)
    layout.children.append(("cell", cell))


def _add_wrapped_cell(layout: Layout, cfg: dict[str, Any], input_shape: list[Any] | None, where: str) -> None:
    """``keras.layers.RNN`` around one cell of the table."""
    cell_entry = cfg.get("cell")
    if not isinstance(cell_entry, dict) or cell_entry.get("class_name") not in _OWN or _flag(cfg, "stateful", False):
        layout.known = False
        layout.unmapped = f"{where} wraps a cell this reader does not map (stacked cells, a custom cell or stateful)"
        return
    cell = layer_layout(cell_entry, input_shape=_per_step(input_shape), parent_trainable=layout.trainable)
    layout.children.append(("cell", cell))
    layout.known = cell.known


def _add_directions(layout: Layout, cfg: dict[str, Any], input_shape: list[Any] | None, where: str) -> None:
    """Bidirectional: a forward and a backward copy of the wrapped layer, named as Keras names them."""
    forward_entry = cfg.get("layer")
    if not isinstance(forward_entry, dict) or not isinstance(forward_entry.get("config"), dict):
        raise LayoutError(f"{where}: config has no wrapped 'layer'")
    inner_name = forward_entry["config"].get("name")
    if not isinstance(inner_name, str):
        raise LayoutError(f"{where}: the wrapped layer has no name")
    forward = {
        **forward_entry,
        "config": {**forward_entry["config"], "name": "forward_" + _strip_prefix(inner_name, "forward_")},
    }
    backward_entry = cfg.get("backward_layer")
    if isinstance(backward_entry, dict) and isinstance(backward_entry.get("config"), dict):
        backward = backward_entry
    else:
        backward = {
            **forward_entry,
            "config": {**forward_entry["config"], "name": "backward_" + _strip_prefix(inner_name, "backward_")},
        }
    for attr, sub in (("forward_layer", forward), ("backward_layer", backward)):
        child = layer_layout(sub, input_shape=input_shape, parent_trainable=layout.trainable)
        layout.children.append((attr, child))
        layout.known = layout.known and child.known


@dataclass(frozen=True)
class Slot:
    """One variable of a top-level layer, placed."""

    store: str  # group path below the layer's store group, e.g. "cell/vars" (the variable is "<store>/<index>")
    index: int  # position in that group
    name: str  # TF.js weight name, e.g. "lstm/lstm_cell/kernel"
    var: Var
    trainable: bool  # effectively trainable (variable, layer and every parent layer)
    owner: Layout


def slots(layout: Layout, prefix: str = "") -> list[Slot]:
    """Every variable of a layer in Keras's own order: the layer's, then each sublayer's (``layer.weights``)."""
    out = [
        Slot(f"{prefix}vars", index, f"{layout.name}/{var.name}", var, layout.trainable and var.trainable, layout)
        for index, var in enumerate(layout.variables)
    ]
    for attr, child in layout.children:
        out.extend(
            Slot(slot.store, slot.index, f"{layout.name}/{slot.name}", slot.var, slot.trainable, slot.owner)
            for slot in slots(child, f"{prefix}{attr}/")
        )
    return out


def legacy_order(entries: list[Any], trainable_of: Callable[[Any], bool], container_trainable: bool) -> list[Any]:
    """The order legacy ``.h5`` files keep a top-level layer's weights in: ``trainable_weights + non_trainable_weights``
    (a frozen layer lists every weight as non-trainable, in its ordinary order)."""
    if not container_trainable:
        return list(entries)
    return [e for e in entries if trainable_of(e)] + [e for e in entries if not trainable_of(e)]


def check_shape(var: Var, actual: tuple[int, ...], bind: dict[str, int]) -> str | None:
    """None when ``actual`` fits the expected shape (binding symbols on the way), else what is wrong."""
    if var.shape is None:
        return None
    expected = var.shape
    if len(expected) != len(actual):
        return f"has shape {tuple(actual)} but the config implies rank {len(expected)} ({_render(expected, bind)})"
    pending: dict[str, int] = {}
    for want, got in zip(expected, actual, strict=True):
        if isinstance(want, int):
            if want != got:
                return f"has shape {tuple(actual)} but the config implies {_render(expected, bind)}"
            continue
        symbol, factor = want
        if got % factor:
            return f"has shape {tuple(actual)} but the config implies {_render(expected, bind)}"
        value = got // factor
        known = bind.get(symbol, pending.get(symbol))
        if known is not None and known != value:
            return f"has shape {tuple(actual)} but the config implies {_render(expected, {**bind, **pending})}"
        pending[symbol] = value
    bind.update(pending)
    return None


def _render(shape: tuple[Dim, ...], bind: dict[str, int]) -> str:
    parts = []
    for dim in shape:
        if isinstance(dim, int):
            parts.append(str(dim))
        else:
            symbol, factor = dim
            if symbol in bind:
                parts.append(str(bind[symbol] * factor))
            else:
                parts.append(f"{factor}*{symbol}" if factor != 1 else symbol)
    return "(" + ", ".join(parts) + ")"
