"""One model from source to output directory: read -> translate -> write."""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatch_tfjs.backends import backends_note
from hatch_tfjs.config import ModelSpec
from hatch_tfjs.custom_modules import import_custom_modules
from hatch_tfjs.env import tensorflow_importable
from hatch_tfjs.errors import HatchTfjsError, OutputWriteError, TensorFlowNeededError, UnsupportedModelError
from hatch_tfjs.hashing import hash_source
from hatch_tfjs.keras_names import is_keras_file
from hatch_tfjs.route import FAST_REASON, Route, layers_or_graph, needs_tensorflow, route_model
from hatch_tfjs.stamps import stamp_sealer
from hatch_tfjs.translate import translate_model_config

if TYPE_CHECKING:
    from hatch_tfjs.neutral import GraphModelData, KerasModel

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
    format_reason: str = ""  # why format = "auto" chose this format (empty when the format was set)
    tensorflow_reason: str = ""  # why a graph model from a Keras file went through TensorFlow (empty: it did not)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def translate_and_check(spec: ModelSpec, model: KerasModel) -> tuple[dict[str, Any], list[str]]:
    """The TF.js model_config for ``model``, or :class:`UnsupportedModelError` naming every problem.

    Rewrites may remove or replace weights (a Normalization folded into a Rescaling, a grouped convolution re-laid
    out as a depthwise one): ``model.weights`` becomes the list to write with the returned config."""
    translation = translate_model_config(model.config, model.weights, keras_version=model.keras_version)
    if translation.problems:
        raise UnsupportedModelError(spec.name, spec.source_rel, translation.problems, naming=spec.naming)
    model.weights = translation.weights
    return translation.model_config, translation.notes


def convert_model(
    spec: ModelSpec,
    *,
    source_hash: str | None = None,
    route: Route | None = None,
    replace_foreign: bool = False,
    tensorflow_here: bool = True,
) -> ConversionResult:
    """Convert one model into its stamped output (see plan.py). TensorFlow, where needed, is imported in here.

    ``source_hash`` is the source's hash taken by the plan stage, if it took one; it must come from before reading,
    so that a source edited meanwhile is converted again next time. ``route`` is the format chosen for it (see
    route.py; worked out here when not given). ``replace_foreign``: see atomic.py. ``tensorflow_here``: whether this
    process may import TensorFlow when the compiler refuses a layer at conversion; when not,
    :class:`TensorFlowNeededError` says why, and the caller converts the model in a worker."""
    if source_hash is None:
        source_hash = hash_source(spec.source)
    if route is None:
        route = route_model(spec)
    writer = _OutputWriter(spec, stamp_sealer(spec, source_hash), replace_foreign)
    if route.format == "graph":
        try:
            result = _convert_graph(spec, writer, route, tensorflow_here=tensorflow_here)
        except _CompilerRefusedError as fallback:
            route = fallback.route
            result = _convert_layers(spec, writer)
    else:
        result = _convert_layers(spec, writer)
    result.format = route.format
    result.format_reason = route.reason
    return result


@dataclass(frozen=True)
class _OutputWriter:
    """Writes a model's output directory: stamped, atomic, and with file-system failures as one clear error."""

    spec: ModelSpec
    seal: Callable[[Path, dict[str, int]], None]
    replace_foreign: bool

    def write(self, document: dict[str, Any], weights: Any) -> Any:
        from hatch_tfjs.write import QuantizationPlan, write_model_dir

        with _reporting_write_failures(self.spec):
            return write_model_dir(
                self.spec.output,
                document,
                weights,
                shard_size=self.spec.shard_size,
                quantize=QuantizationPlan.from_option(
                    self.spec.options.quantization,
                    subject=f"model '{self.spec.name}' ({self.spec.source_rel})",
                    origin=self.spec.origins.get("quantize"),
                ),
                seal=self.seal,
                replace_foreign=self.replace_foreign,
            )


_WRITE_FIXES = {
    errno.ENOSPC: "free space on that disk and build again",
    errno.EDQUOT: "free space (you are over your disk quota) and build again",
    errno.EROFS: "the file system is read-only: build from a writable copy of the project",
    errno.EACCES: "make that folder writable for this user (or set output to a writable folder)",
    errno.EPERM: "make that folder writable for this user (or set output to a writable folder)",
}


@contextmanager
def _reporting_write_failures(spec: ModelSpec) -> Iterator[None]:
    """An OSError while writing becomes :class:`OutputWriteError`: which folder, what the system said, what to do."""
    try:
        yield
    except OSError as exc:
        folder = spec.output.parent
        fix = _WRITE_FIXES.get(exc.errno or 0, "check that folder and build again")
        reason = exc.strerror or str(exc)
        raise OutputWriteError(
            f"model '{spec.name}': cannot write its output {spec.output_rel}/ in {folder}: {reason}; {fix} "
            "(the previous output, if any, is intact)"
        ) from exc


def _convert_layers(spec: ModelSpec, writer: _OutputWriter) -> ConversionResult:
    from hatch_tfjs.read import read_keras_model
    from hatch_tfjs.write import layers_model_json

    started = time.perf_counter()
    if spec.reader == "keras":
        import_custom_modules(spec)
    model = read_keras_model(spec.source, model_name=spec.name, reader=spec.reader, display=spec.source_rel)
    model_config, notes = translate_and_check(spec, model)
    document = layers_model_json(model_config, keras_version=model.keras_version, metadata=spec.metadata)
    written = writer.write(document, model.weights)
    return _result(spec, written, len(model.weights), started, notes)


def _convert_graph(spec: ModelSpec, writer: _OutputWriter, route: Route, *, tensorflow_here: bool) -> ConversionResult:
    """A Keras file (compiled without TensorFlow where it can be) or a SavedModel directory -> TF.js graph model."""
    from hatch_tfjs.write import graph_model_json

    started = time.perf_counter()
    graph, tensorflow_reason = _graph_model(spec, route, tensorflow_here=tensorflow_here)
    clash = sorted(set(spec.metadata) & set(graph.metadata))
    if clash:
        raise HatchTfjsError(
            f"model '{spec.name}' ({spec.source_rel}): metadata key(s) {', '.join(map(repr, clash))} are written by "
            "the converter itself (structured-outputs); rename them in metadata / metadata-file"
        )
    metadata = {**spec.metadata, **graph.metadata}
    document = graph_model_json(
        graph.topology, graph.signature, generated_by=graph.generated_by, metadata=metadata or None, extra=graph.extra
    )
    written = writer.write(document, graph.weights)
    backends = backends_note(graph.op_counts)
    result = _result(spec, written, len(graph.weights), started, [*graph.notes, *([backends] if backends else [])])
    result.tensorflow_reason = tensorflow_reason
    return result


def _graph_model(spec: ModelSpec, route: Route, *, tensorflow_here: bool) -> tuple[GraphModelData, str]:
    """The graph model of ``spec`` and, when TensorFlow made it, why. A Keras file is compiled without TensorFlow
    unless its route says it needs TensorFlow; a layer the compiler refuses at conversion (a covered class with
    arguments it does not translate yet) falls back to TensorFlow when TensorFlow is importable."""
    if needs_tensorflow(spec, route):
        return _tensorflow_graph(spec), route.tensorflow if is_keras_file(spec.source) else ""
    from hatch_tfjs.compile import Uncovered, compile_keras_model
    from hatch_tfjs.read import read_keras_model

    model = read_keras_model(spec.source, model_name=spec.name, display=spec.source_rel)
    structured_outputs = spec.graph_options.structured_outputs
    compiled = compile_keras_model(
        model, model_name=spec.name, source_rel=spec.source_rel, structured_outputs=structured_outputs
    )
    if not isinstance(compiled, Uncovered):
        return compiled, ""
    reasons = [layer.describe() for layer in compiled.layers]
    if route.reason == FAST_REASON:  # format = "auto": the compiler refused a layer: a layers model if exact
        fallback = layers_or_graph(spec, model)
        if fallback.format == "layers":
            raise _CompilerRefusedError(fallback)
    if not tensorflow_here:
        raise TensorFlowNeededError("; ".join(reasons))
    if not tensorflow_importable():
        fix = (
            "TensorFlow converts these, but it is not installed here: install it (pip install tensorflow-cpu)"
            if spec.naming.command_line
            else "TensorFlow converts these, but it is not installed in this build environment: "
            f"""{spec.naming.set_on_model(spec.name, "reader", '"keras"')} so the build installs it"""
        )
        raise UnsupportedModelError(spec.name, spec.source_rel, [*reasons, fix], kind="graph")
    del model  # the TensorFlow route loads the file itself
    return _tensorflow_graph(spec), "; ".join(reasons)


class _CompilerRefusedError(Exception):
    """``format = "auto"``: the compiler refused a layer it covers by class; the model becomes a layers model."""

    def __init__(self, route: Route) -> None:
        super().__init__(route.reason)
        self.route = route


def _tensorflow_graph(spec: ModelSpec) -> GraphModelData:
    """The TensorFlow route: Keras (or the SavedModel loader) traces the model; frozen, optimised, op-checked."""
    from hatch_tfjs.graph_route import convert_tf_graph

    if is_keras_file(spec.source):
        # A Keras file: checked without TensorFlow before Keras allocates what its config declares.
        from hatch_tfjs.read import check_keras_file

        check_keras_file(spec.source, model_name=spec.name, display=spec.source_rel)
        import_custom_modules(spec)
    return convert_tf_graph(
        spec.source, model_name=spec.name, source_rel=spec.source_rel, options=spec.graph_options, naming=spec.naming
    )


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
