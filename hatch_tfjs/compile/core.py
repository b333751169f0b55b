"""Core layers: Dense, the activation layers, layers that are the identity at inference, reshapes, Embedding."""

from __future__ import annotations

import math

import numpy as np

from hatch_tfjs.compile.activations import apply_activation, elu, leaky_relu
from hatch_tfjs.compile.builder import Tensor, attr_bool, attr_str, attr_type, known
from hatch_tfjs.compile.registry import LAYERS, LayerCall, layer


def check_plain_kernel(call: LayerCall) -> None:
    """LoRA and quantized kernels change what a kernel layer computes: not translated yet."""
    call.require(not call.option("lora_rank"), "LoRA-adapted kernels are not translated yet")
    call.require(
        not call.option("quantization_config") and call.option("dtype") not in ("int8", "int4", "float8"),
        "quantized kernels are not translated yet",
    )


def bias_and_activation(call: LayerCall, y: Tensor) -> Tensor:
    """``BiasAdd`` (when the layer has a bias) and the layer's activation: the tail a fused kernel absorbs."""
    b = call.builder
    if call.option("use_bias", True):
        y = b.op(
            f"{call.scope}/BiasAdd",
            "BiasAdd",
            [y, call.const_weight("bias")],
            y.shape,
            attr={"data_format": attr_str("NHWC")},
        )
    return apply_activation(b, call.scope, y, call.option("activation"))


@layer("Dense")
def dense(call: LayerCall) -> list[Tensor]:
    """``x @ kernel + bias`` then the activation; inputs of rank > 2 are flattened to 2-D around the MatMul (as
    TensorFlow's tensordot does), so the MatMul + BiasAdd + activation still fuse."""
    check_plain_kernel(call)
    b, x = call.builder, call.single_input()
    kernel = call.weight("kernel")
    units = kernel.shape[1]
    call.require(x.shape[-1] == kernel.shape[0], "its kernel does not match its input's last dimension")
    flat = x if x.rank == 2 else b.reshape(f"{call.scope}/flatten", x, (None, kernel.shape[0]))
    y = b.op(
        f"{call.scope}/MatMul",
        "MatMul",
        [flat, call.const_weight("kernel")],
        (None, units),
        attr={"transpose_a": attr_bool(False), "transpose_b": attr_bool(False)},
    )
    y = bias_and_activation(call, y)
    if x.rank == 2:
        return [y]
    if sum(d is None for d in x.shape) > 1:  # a sequence of a length known only at run time
        return [b.reshape_leading(f"{call.scope}/restore", y, x, [units])]
    return [b.reshape(f"{call.scope}/restore", y, (*x.shape[:-1], units))]


@layer("Activation")
def activation(call: LayerCall) -> list[Tensor]:
    return [apply_activation(call.builder, call.scope, call.single_input(), call.option("activation"))]


@layer("ReLU")
def relu(call: LayerCall) -> list[Tensor]:
    """Keras ``relu(x, negative_slope, max_value, threshold)`` for threshold 0."""
    b, x = call.builder, call.single_input()
    slope = float(call.option("negative_slope") or 0.0)
    max_value = call.option("max_value")
    call.require(float(call.option("threshold") or 0.0) == 0.0, "ReLU with a threshold is not translated yet")
    if slope == 0.0 and max_value is not None and float(max_value) == 6.0:
        return [b.unary(call.scope, "Relu6", x)]
    y = leaky_relu(b, call.scope, x, slope) if slope else b.unary(call.scope, "Relu", x)
    if max_value is not None:
        y = b.binary(call.scope, "Minimum", y, b.scalar(call.scope, float(max_value)))
    return [y]


@layer("LeakyReLU")
def leaky_relu_layer(call: LayerCall) -> list[Tensor]:
    slope = call.option("negative_slope", call.option("alpha", 0.3))
    return [leaky_relu(call.builder, call.scope, call.single_input(), float(slope))]


@layer("ELU")
def elu_layer(call: LayerCall) -> list[Tensor]:
    return [elu(call.builder, call.scope, call.single_input(), float(call.option("alpha", 1.0)))]


@layer("PReLU")
def prelu(call: LayerCall) -> list[Tensor]:
    """``max(x, 0) + alpha * min(x, 0)`` with a learned alpha per element (shared along ``shared_axes``)."""
    x = call.single_input()
    alpha = call.const_weight("alpha")
    return [call.builder.op(f"{call.scope}/Prelu", "Prelu", [x, alpha], x.shape)]


@layer("Softmax")
def softmax(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    axis = call.option("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    call.require(
        isinstance(axis, int) and axis % x.rank == x.rank - 1,
        "softmax over an axis other than the last is not translated yet",
    )
    return [call.builder.op(f"{call.scope}/Softmax", "Softmax", [x], x.shape)]


@layer(
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
)
def identity_at_inference(call: LayerCall) -> list[Tensor]:
    """Layers that only act while training (noise, dropout), and ``Identity``: at inference they pass their input
    through."""
    return [call.single_input()]


@layer(
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
    "RandomGrayscale",
    "RandomHue",
    "RandomSaturation",
    "RandomColorJitter",
    "RandomColorDegeneration",
    "RandomSharpness",
    "RandomShear",
    "RandomPerspective",
    "RandomElasticTransform",
    "RandomInvert",
    "RandomPosterization",
    "RandomErasing",
    "RandomGaussianBlur",
    "Solarization",
    "AugMix",
    "RandAugment",
    "CutMix",
    "MixUp",
)
def image_augmentation_at_inference(call: LayerCall) -> list[Tensor]:
    """Keras 3's image augmentations transform only while training (``transform_images(..., training=False)``
    returns the images, cast to the layer's float dtype). Not here: AutoContrast and Equalization, which act at
    inference too, and RandomCrop, whose inference output (the whole image) differs from its declared shape."""
    x = call.single_input()
    call.require(x.dtype == "DT_FLOAT", "an image augmentation on integer images (Keras casts them to float)")
    return [x]


@layer("LayerScale")
def layer_scale(call: LayerCall) -> list[Tensor]:
    """keras.applications ConvNeXt's ``x * gamma``."""
    x = call.single_input()
    gamma = call.weight("gamma") if call.has_weight("gamma") else call.weight("vars/0")
    return [call.builder.binary(call.scope, "Mul", x, call.builder.const(f"{call.scope}/gamma", gamma))]


@layer("CustomScaleLayer")
def custom_scale(call: LayerCall) -> list[Tensor]:
    """keras.applications Inception-ResNet-v2's ``inputs[0] + inputs[1] * scale``."""
    call.require(len(call.inputs) == 2, "it is called on other than two tensors")
    b = call.builder
    scaled = b.binary(call.scope, "Mul", call.inputs[1], b.scalar(call.scope, float(call.option("scale"))))
    return [b.binary(call.scope, "AddV2", call.inputs[0], scaled)]


def _static(call: LayerCall, x: Tensor) -> tuple[int, ...]:
    return tuple(known(d, "an input dimension") for d in x.shape[1:])


@layer("Flatten")
def flatten(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    call.require(
        call.option("data_format", "channels_last") == "channels_last" or x.rank <= 2,
        "Flatten with data_format channels_first is not translated yet",
    )
    return [call.builder.reshape(call.scope, x, (None, math.prod(_static(call, x))))]


@layer("Reshape")
def reshape(call: LayerCall) -> list[Tensor]:
    x = call.single_input()
    target = [int(d) for d in call.option("target_shape")]
    if -1 in target:
        known = math.prod(d for d in target if d != -1)
        target[target.index(-1)] = math.prod(_static(call, x)) // known
    return [call.builder.reshape(call.scope, x, (None, *target))]


@layer("Permute")
def permute(call: LayerCall) -> list[Tensor]:
    return [call.builder.transpose(call.scope, call.single_input(), [0, *(int(d) for d in call.option("dims"))])]


@layer("RepeatVector")
def repeat_vector(call: LayerCall) -> list[Tensor]:
    b, x = call.builder, call.single_input()
    n = int(call.option("n"))
    expanded = b.expand_dims(call.scope, x, 1)
    multiples = b.const(f"{call.scope}/multiples", [1, n, 1], "DT_INT32")
    return [
        b.op(
            f"{call.scope}/Tile",
            "Tile",
            [expanded, multiples],
            (x.shape[0], n, x.shape[1]),
            attr={"Tmultiples": attr_type("DT_INT32")},
        )
    ]


@layer("Embedding")
def embedding(call: LayerCall) -> list[Tensor]:
    """``take(embeddings, ids, axis=0)``; float ids are cast to int32 first, as Keras does. With ``mask_zero`` the
    output carries the mask ``ids != 0``."""
    b, ids = call.builder, call.single_input()
    call.require(not call.option("lora_rank"), "LoRA-adapted embeddings are not translated yet")
    table = call.weight("embeddings")
    if ids.dtype != "DT_INT32":
        ids = b.op(
            f"{call.scope}/Cast",
            "Cast",
            [ids],
            ids.shape,
            dtype="DT_INT32",
            typed=False,
            attr={"SrcT": attr_type(ids.dtype), "DstT": attr_type("DT_INT32"), "Truncate": attr_bool(False)},
        )
    if call.option("mask_zero"):
        zero = b.const(f"{call.scope}/zero", 0, "DT_INT32")
        call.output_masks = [_not_equal(call, ids, zero)]
    return [b.gather(call.scope, call.const_weight("embeddings", np.asarray(table, np.float32)), ids, 0)]


@layer("TimeDistributed")
def time_distributed(call: LayerCall) -> list[Tensor]:
    """The wrapped layer on every step at once: ``[batch, steps, ...]`` folded into ``[batch * steps, ...]``."""
    b, x = call.builder, call.single_input()
    inner = call.option("layer") or {}
    class_name = str(inner.get("class_name"))
    emitter = LAYERS.get(class_name)
    call.require(
        emitter is not None and class_name not in ("TimeDistributed", "Bidirectional", "SimpleRNN", "LSTM", "GRU"),
        f"TimeDistributed({class_name}) is not translated yet",
    )
    call.require(all(d is not None for d in x.shape[1:]), "its input has dimensions unknown before run time")
    inner_cfg = inner.get("config") or {}
    inner_name = f"{call.name}/{inner_cfg.get('name')}"
    name = inner_name if any(w.startswith(inner_name + "/") for w in call.weights) else call.name
    folded = b.reshape(f"{call.scope}/fold", x, (None, *x.shape[2:]))
    inner_call = LayerCall(b, name, class_name, inner_cfg, [folded], call.weights)
    (y,) = emitter(inner_call)  # type: ignore[misc]
    return [b.reshape(f"{call.scope}/unfold", y, (None, x.shape[1], *y.shape[1:]))]


@layer("Masking")
def masking(call: LayerCall) -> list[Tensor]:
    """``where(any(x != mask_value, axis=-1), x, 0)``; the output carries that ``any`` as its mask."""
    b, x = call.builder, call.single_input()
    differs = _not_equal(call, x, b.scalar(call.scope, float(call.option("mask_value", 0.0))))
    mask = b.reduce(call.scope, "Any", differs, [-1], False)
    call.output_masks = [mask]
    zeros = b.op(f"{call.scope}/ZerosLike", "ZerosLike", [x], x.shape)
    keep = b.expand_dims(call.scope, mask, -1)
    return [b.op(f"{call.scope}/SelectV2", "SelectV2", [keep, x, zeros], x.shape)]


def _not_equal(call: LayerCall, x: Tensor, value: Tensor) -> Tensor:
    return call.builder.op(
        f"{call.scope}/NotEqual",
        "NotEqual",
        [x, value],
        x.shape,
        dtype="DT_BOOL",
        typed=False,
        attr={"T": attr_type(x.dtype)},
    )
