"""Keras's implicit masks: attached to tensors (``_keras_mask``) and handed to the layers that take them.

Keras attaches a mask to a layer's outputs (``compute_mask``) and passes the first input's mask to the next layer
whose ``call`` takes a ``mask`` argument, when that call has a single tensor argument (keras/src/layers/layer.py).
An Embedding with ``mask_zero`` or a Masking layer starts one; layers that support masking pass it on, RNNs consume
it, merges and MultiHeadAttention compute their own (in their emitters); any other layer drops it. A Sequential
model or a Keras 2 config records none of this; a Keras 3 functional config records the masks its calls received
as explicit arguments, which take precedence, but a mask still reaches a nested model, or a layer that reads it
inside its call, only implicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hatch_tfjs.compile.builder import NotCoveredError, Tensor

# Layers whose output keeps their input's mask and whose call ignores it at inference (supports_masking with the
# default compute_mask).
PASSES_MASK = frozenset(
    {
        "Dense",
        "Activation",
        "ELU",
        "LeakyReLU",
        "PReLU",
        "ReLU",
        "Identity",
        "Dropout",
        "GaussianDropout",
        "GaussianNoise",
        "AlphaDropout",
        "ActivityRegularization",
        "BatchNormalization",  # reads the mask only for batch statistics while training
        "LayerNormalization",
        "GroupNormalization",
        "UnitNormalization",
        "Normalization",
        "Rescaling",
    }
)

RECURRENT = frozenset({"SimpleRNN", "LSTM", "GRU", "RNN", "Bidirectional"})
# Layers whose emitter applies a ``mask=`` argument as Keras does.
APPLIES_MASK = RECURRENT | {"GlobalAveragePooling1D", "GlobalAvgPool1D"}

# Layers whose call reads a mask in a way not translated here (Luong/Bahdanau attention, merges that fill masked
# positions).
READS_MASK = frozenset(
    {
        "Softmax",
        "Attention",
        "AdditiveAttention",
        "GroupedQueryAttention",
        "Multiply",
        "Maximum",
        "Minimum",
        "TimeDistributed",
        "ConvLSTM1D",
        "ConvLSTM2D",
        "ConvLSTM3D",
    }
)


# Merge layers: Keras 3 or-s their inputs' masks (keras/src/layers/merging), Keras 2 and-ed them.
MERGES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"})


def call_mask(class_name: str, masks: Sequence[Tensor | None], *, single_argument: bool) -> dict[str, Tensor]:
    """The ``mask`` argument Keras passes to this call implicitly, as call kwargs: the first input's mask, and only
    when the call has a single tensor argument (a layer called with ``initial_state`` tensors gets none)."""
    mask = masks[0] if masks else None
    if class_name in READS_MASK and any(m is not None for m in masks):
        raise NotCoveredError(
            "it reads the mask it receives (from an Embedding with mask_zero or a Masking layer), "
            "which is not translated yet"
        )
    if mask is None or not single_argument:
        return {}
    return {"mask": mask} if class_name in APPLIES_MASK else {}


def output_masks(
    class_name: str, config: dict[str, Any], masks: Sequence[Tensor | None], count: int
) -> list[Tensor | None]:
    """The masks Keras attaches to the ``count`` outputs of a layer that computes none itself."""
    mask = masks[0] if masks else None
    if mask is None:
        return [None] * count
    if class_name in PASSES_MASK:
        return [mask] * count
    if class_name in RECURRENT:
        return _recurrent_masks(class_name, config, mask, count)
    return [None] * count


def _recurrent_masks(class_name: str, config: dict[str, Any], mask: Tensor, count: int) -> list[Tensor | None]:
    """``compute_mask`` of RNN / Bidirectional: the sequence keeps the mask, final outputs and states do not."""
    sequences = bool(config.get("return_sequences"))
    if class_name == "Bidirectional":
        sequences = bool((config.get("layer") or {}).get("config", {}).get("return_sequences"))
        main = 2 if config.get("merge_mode", "concat") is None else 1
    else:
        main = 1
    return [mask if sequences else None] * main + [None] * (count - main)
