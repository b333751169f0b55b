"""One model from source to output directory: read -> translate -> write."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from hatch_tfjs.config import ModelSpec
from hatch_tfjs.errors import HatchTfjsError, UnsupportedModelError
from hatch_tfjs.plan import hash_source, write_stamp
from hatch_tfjs.translate import translate_model_config

if TYPE_CHECKING:
    from hatch_tfjs.neutral import KerasModel

# numpy (through hatch_tfjs.write / neutral) is imported by the conversion functions only: the build process and the
# CLI import this module for ConversionResult, and importing numpy there costs ~0.1 s per command.


@dataclass
class ConversionResult:
    name: str
    output: str  # relative to the project root
    format: str
    files: list[str]
    total_bytes: int
    weight_count: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    weight_bytes: int = 0  # as written (after quantization)
    weight_bytes_before: int = 0  # the same weights unquantized
    quantized_weights: int = 0
    max_abs_error: float = 0.0  # largest absolute weight error quantization introduced
    max_error_weight: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def translate_and_check(spec: ModelSpec, model: KerasModel) -> tuple[dict[str, Any], list[str]]:
    """The TF.js model_config for ``model``, or :class:`UnsupportedModelError` naming every problem."""
    translation = translate_model_config(model.config)
    if translation.problems:
        raise UnsupportedModelError(spec.name, spec.source_rel, translation.problems)
    return translation.model_config, translation.notes


def convert_model(spec: ModelSpec, *, source_hash: str | None = None) -> ConversionResult:
    """Convert one model and stamp its output (see plan.py). TensorFlow, where needed, is imported in here.

    ``source_hash`` is the source's hash taken by the plan stage, if it took one; it must come from before reading,
    so that a source edited meanwhile is converted again next time."""
    if source_hash is None:
        source_hash = hash_source(spec.source)
    result = _convert_graph(spec) if spec.format == "graph" else _convert_layers(spec)
    write_stamp(spec, source_hash, result.files)
    return result


def _convert_layers(spec: ModelSpec) -> ConversionResult:
    from hatch_tfjs.read import read_keras_model
    from hatch_tfjs.write import QuantizationPlan, layers_model_json, write_model_dir

    started = time.perf_counter()
    model = read_keras_model(spec.source, model_name=spec.name, reader=spec.reader, display=spec.source_rel)
    model_config, notes = translate_and_check(spec, model)
    document = layers_model_json(model_config, keras_version=model.keras_version, metadata=spec.metadata)
    written = write_model_dir(
        spec.output, document, model.weights, shard_size=spec.shard_size, quantize=QuantizationPlan.for_spec(spec)
    )
    return _result(spec, written, len(model.weights), started, notes)


def _convert_graph(spec: ModelSpec) -> ConversionResult:
    """A SavedModel directory or a Keras file -> TF.js graph model (frozen, optimised, op-checked)."""
    from hatch_tfjs.read.savedmodel import GraphOptions, read_graph_model
    from hatch_tfjs.write import QuantizationPlan, graph_model_json, write_model_dir

    started = time.perf_counter()
    graph = read_graph_model(
        spec.source, model_name=spec.name, source_rel=spec.source_rel, options=GraphOptions.from_spec_options(spec.options)
    )
    clash = sorted(set(spec.metadata) & set(graph.metadata))
    if clash:
        raise HatchTfjsError(
            f"model '{spec.name}' ({spec.source_rel}): metadata key(s) {', '.join(map(repr, clash))} are written by the "
            "converter itself (structured-outputs); rename them in metadata / metadata-file"
        )
    metadata = {**spec.metadata, **graph.metadata}
    document = graph_model_json(
        graph.topology, graph.signature, generated_by=graph.generated_by, metadata=metadata or None, extra=graph.extra
    )
    written = write_model_dir(
        spec.output, document, graph.weights, shard_size=spec.shard_size, quantize=QuantizationPlan.for_spec(spec)
    )
    return _result(spec, written, len(graph.weights), started, graph.notes)


def _result(spec: ModelSpec, written: Any, weight_count: int, started: float, notes: list[str]) -> ConversionResult:
    return ConversionResult(
        name=spec.name,
        output=spec.output_rel,
        format=spec.format,
        files=written.files,
        total_bytes=written.total_bytes,
        weight_count=weight_count,
        seconds=round(time.perf_counter() - started, 3),
        notes=notes,
        weight_bytes=written.weight_bytes,
        weight_bytes_before=written.weight_bytes_before,
        quantized_weights=written.quantized_weights,
        max_abs_error=written.max_abs_error,
        max_error_weight=written.max_error_weight,
    )
