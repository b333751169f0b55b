"""The one-line summary of a converted model, shared by the build's output and ``hatch-tfjs convert``."""

from __future__ import annotations

from typing import Any

from hatch_tfjs.describe import human_bytes


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def result_summary(result: Any, where: str) -> str:
    """``name: format model -> where (shards, size, time)``, why ``format = "auto"`` chose a graph model, why TensorFlow
    made it (a Keras file the TensorFlow-free compiler cannot translate whole), and what
    quantization did to the weights (``result`` is a ``convert.ConversionResult``)."""
    chosen = (
        f" (auto: {result.format_reason})" if result.format == "graph" and getattr(result, "format_reason", "") else ""
    )
    line = (
        f"{result.name}: {result.format} model{chosen} -> {where} "
        f"({plural(len(result.files) - 1, 'shard')}, {human_bytes(result.total_bytes)}, {result.seconds:.1f} s)"
    )
    through = getattr(result, "tensorflow_reason", "")
    if through and result.format == "graph":
        line += f"; graph through TensorFlow: {through}"
    quantized = getattr(result, "quantized_weights", 0)
    if quantized:
        line += (
            f"; quantized {quantized} of {plural(result.weight_count, 'weight')}: "
            f"weights {human_bytes(result.weight_bytes_before)} -> {human_bytes(result.weight_bytes)}, "
            f"largest absolute weight error {result.max_abs_error:.3g} (in {result.max_error_weight})"
        )
    return line
