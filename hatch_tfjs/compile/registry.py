"""Which Keras layer classes the compiler translates, and what a translation receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hatch_tfjs.compile.builder import GraphBuilder, NotCoveredError, Tensor


@dataclass
class LayerCall:
    """One call of one layer: its config, the tensors it is called on and its weights (``<layer>/<weight>``)."""

    builder: GraphBuilder
    name: str  # the layer's name (weights are looked up under it)
    class_name: str
    config: dict[str, Any]
    inputs: list[Tensor]
    weights: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)  # plain call arguments the emitter accepts (see ``layer``)
    args: list[Any] = field(default_factory=list)  # keras.ops calls: the arguments, Tensors and constants in place
    # Keras's implicit masks on the inputs (see hatch_tfjs.compile.masks), None where an input has none.
    input_masks: list[Tensor | None] = field(default_factory=list)
    # The masks this call attaches to its outputs, for layers that compute new ones (Embedding with mask_zero,
    # Masking); None leaves them to :func:`hatch_tfjs.compile.masks.output_masks`.
    output_masks: list[Tensor | None] | None = None

    @property
    def scope(self) -> str:
        """Node-name prefix of this call (the builder makes the names unique when a layer is called twice)."""
        return self.name

    def weight(self, key: str) -> np.ndarray:
        """A weight by its Keras name; for layers whose file stores plain ``vars/<i>``, by its creation order."""
        name = f"{self.name}/{key}"
        if name not in self.weights:
            order = variable_order(self.class_name, self.config)
            name = f"{self.name}/vars/{order.index(key)}" if key in order else name
        if name not in self.weights:
            raise NotCoveredError(f"its weight '{self.name}/{key}' is not in the file")
        value = np.asarray(self.weights[name])
        if value.dtype.kind != "f":  # every weight compiled here is a float variable; Keras casts what is not
            raise NotCoveredError(f"its weight '{name}' is stored as {value.dtype}, not as the float Keras declares")
        return value

    def has_weight(self, key: str) -> bool:
        try:
            self.weight(key)
        except NotCoveredError:
            return False
        return True

    def const_weight(self, key: str, value: np.ndarray | None = None) -> Tensor:
        """A Const node named like the Keras weight (``dense/kernel``), holding it (or ``value`` derived from it)."""
        return self.builder.const(f"{self.name}/{key}", self.weight(key) if value is None else value)

    def option(self, key: str, default: Any = None) -> Any:
        return self.config.get(key, default)

    def single_input(self) -> Tensor:
        if len(self.inputs) != 1:
            raise NotCoveredError(f"it is called on {len(self.inputs)} tensors where one is expected")
        return self.inputs[0]

    def require(self, condition: bool, reason: str) -> None:
        if not condition:
            raise NotCoveredError(reason)


# The order in which Keras 3 creates the variables of layers whose ``.keras`` file stores them as ``vars/<i>``.
VARIABLE_ORDER = {
    "Normalization": ("mean", "variance", "count"),
    "SeparableConv1D": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "SeparableConvolution1D": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "DepthwiseConv1D": ("kernel", "bias"),
    "RMSNormalization": ("scale",),
    "EinsumDense": ("kernel", "bias"),
    "Conv1DTranspose": ("kernel", "bias"),
    "Convolution1DTranspose": ("kernel", "bias"),
    "AdditiveAttention": ("scale",),
}


def variable_order(class_name: str, config: dict[str, Any]) -> tuple[str, ...]:
    if class_name == "GroupNormalization":  # gamma only with scale, beta only with center
        return tuple(key for key, flag in (("gamma", "scale"), ("beta", "center")) if config.get(flag, True))
    return VARIABLE_ORDER.get(class_name, ())


Emitter = Callable[[LayerCall], list[Tensor]]
LAYERS: dict[str, Emitter] = {}
OPS: dict[str, Emitter] = {}  # keras.ops calls recorded in functional models, by their class name ("Add", "Mean")
CALL_KWARGS: dict[str, frozenset[str]] = {}  # call arguments (besides training / mask=None) a layer's emitter reads


def layer(*class_names: str, kwargs: tuple[str, ...] = ()) -> Callable[[Emitter], Emitter]:
    """Register an emitter for Keras layer classes (Keras 2 and 3 spellings); ``kwargs`` are the plain call
    arguments it handles (any other makes the call uncovered)."""

    def register(emitter: Emitter) -> Emitter:
        for class_name in class_names:
            LAYERS[class_name] = emitter
            CALL_KWARGS[class_name] = frozenset(kwargs)
        return emitter

    return register


def op(*class_names: str) -> Callable[[Emitter], Emitter]:
    """Register an emitter for ``keras.ops`` calls; it reads ``call.args`` / ``call.kwargs`` / ``call.config``."""

    def register(emitter: Emitter) -> Emitter:
        for class_name in class_names:
            OPS[class_name] = emitter
        return emitter

    return register
