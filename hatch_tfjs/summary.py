"""What a converted model is, in words: the one formatter behind the build's lines, ``hatch-tfjs convert``'s summary
and ``hatch-tfjs check``'s table."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hatch_tfjs.describe import human_bytes

if TYPE_CHECKING:
    from hatch_tfjs.convert import ConversionResult


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# The advice that closes a reason a model cannot be a layers model ("; build the GRU with reset_after=False and
# retrain", ": replace the Lambda with built-in layers", "(use Permute around it)"): it helps where a layers model was
# asked for (format = "layers"), not on the line of a graph model that built fine.
_ADVICE = re.compile(
    r"(?:[;:.]\s+(?:use|build|replace|rebuild|merge|resize|encode|crop|pass|give|convert|reshape|remove)\b.*"
    r"|\s*\((?:or )?use\b[^)]*\))$",
    re.IGNORECASE,
)
_MORE = re.compile(r" \(and \d+ more reasons?\)$")


def brief_reason(reason: str) -> str:
    """Why ``format = "auto"`` chose a graph model, without the advice on how to get a layers model instead."""
    more = _MORE.search(reason)
    first = reason[: more.start()] if more else reason
    return _ADVICE.sub("", first) + (more.group(0) if more else "")


def _auto_reason(result: ConversionResult) -> str:
    """`` (auto: why)`` when ``format = "auto"`` chose the format; empty when it was set."""
    return f" (auto: {brief_reason(result.format_reason)})" if result.format_reason else ""


def layers_advice(result: ConversionResult) -> str | None:
    """For ``-v``: the whole reason the model is not a layers model, with the advice the build line leaves out; None
    when there is nothing more to say."""
    reason = result.format_reason
    if result.format != "graph" or not reason or brief_reason(reason) == reason:
        return None
    return f"{result.name}: graph model because {result.format_reason}"


def _size(result: ConversionResult) -> str:
    """``2 shards, 5.0 MiB``: the weight shards and the bytes of every file, model.json included."""
    return f"{plural(len(result.files) - 1, 'shard')}, {human_bytes(result.total_bytes)}"


def result_row(result: ConversionResult) -> str:
    """``format (auto: why), shards, size``: what ``hatch-tfjs check`` says of a model that converts."""
    return f"{result.format}{_auto_reason(result)}, {_size(result)}"


def result_summary(result: ConversionResult, where: str) -> str:
    """``name: format model -> where (shards, size, time)``, why ``format = "auto"`` chose a graph model, why TensorFlow
    made it (a Keras file the TensorFlow-free compiler cannot translate whole), and what quantization did to the
    weights."""
    line = (
        f"{result.name}: {result.format} model{_auto_reason(result)} -> {where} "
        f"({_size(result)}, {result.seconds:.1f} s)"
    )
    if result.tensorflow_reason and result.format == "graph":
        line += f"; graph through TensorFlow: {result.tensorflow_reason}"
    if result.quantized_weights:
        line += (
            f"; quantized {result.quantized_weights} of {plural(result.weight_count, 'weight')}: "
            f"weights {human_bytes(result.weight_bytes_before)} -> {human_bytes(result.weight_bytes)}, "
            f"largest absolute weight error {result.max_abs_error:.3g} (in {result.max_error_weight})"
        )
    return line


def build_summary(result: ConversionResult) -> str:
    """A converted model's line in a build: :func:`result_summary` with the output as the project sees it."""
    return result_summary(result, f"{result.output}/")
