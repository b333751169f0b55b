"""Every option of the hook's table, declared once: its TOML key, command-line flag, parser, group, default and doc
line. The rest is generated from here: the registry the configuration parses models with (:data:`MODEL_OPTIONS`),
the keys that only apply to graph models, ``hatch-tfjs convert``'s flags and the key each flag stands for, the
README's option table and the JSON schema of the hook table (``python -m hatch_tfjs.tools.generate_schema``).

Standard library only: the hook imports this before numpy is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hatch_tfjs.config.context import Problems
from hatch_tfjs.config.parsers import (
    parse_bool,
    parse_format,
    parse_metadata,
    parse_metadata_file,
    parse_modules,
    parse_quantize,
    parse_reader,
    parse_shard_size,
    parse_signature,
    parse_tags,
)
from hatch_tfjs.option_naming import BUILD_TABLE
from hatch_tfjs.options import DEFAULT_SHARD_SIZE, FORMATS, QUANTIZATION_DTYPES, READERS, GraphOptions, LayersOptions

DEFAULT_TABLE = BUILD_TABLE
DEFAULT_TENSORFLOW_REQUIREMENT = "tensorflow>=2.16"
DEFAULT_READER = LayersOptions().reader
_GRAPH = GraphOptions()
_GRAPH_SECTION = ("Graph models", "graph-models-savedmodels-custom-layers-rnns")
_WEIGHTS_SECTION = ("Quantization, shards and metadata", "quantization-shards-and-metadata")

# Keys hatchling itself reads from every build hook's table.
HATCHLING_RESERVED_KEYS = frozenset(
    {"dependencies", "require-runtime-dependencies", "require-runtime-features", "enable-by-default"}
)
MODEL_ONLY_KEYS = frozenset({"source", "output"})
HOOK_KEYS = frozenset({"output-dir", "discover", "models", "tensorflow-requirement", "jobs"})


@dataclass(frozen=True)
class Flag:
    """An option's ``hatch-tfjs convert`` flag (its value text is turned into the TOML value by the command line)."""

    name: str
    help: str
    metavar: str | None = None
    repeat: bool = False  # given once per value (``--quantize``), the values collected in order


@dataclass(frozen=True)
class OptionDecl:
    """One per-model option (also a hook-level default for every model)."""

    key: str  # as written in pyproject.toml
    parse: Callable[[Any, str, Problems], Any]  # the TOML value -> the validated value, or None after a problem
    default: Any  # the value a model gets when neither it nor the hook table sets the option
    group: str  # "output" (every model), "layers" (how a Keras file is read), "graph" (graph models only), "weights"
    value: str | None  # where its validated value lives on a ModelSpec (``options.layers.reader``); the wire format
    # and the stamp are generated from it. None: it does not travel (``metadata-file`` is merged into ``metadata``)
    doc: str  # what it does, in one line (the JSON schema's description)
    schema: dict[str, Any]  # the JSON schema of its TOML value
    default_doc: str  # the default as the README's table shows it
    section: tuple[str, str]  # the README section that explains it, and its anchor
    flag: Flag | None = None  # its command-line flag; None where ``convert`` has none
    flag_of: str | None = None  # another key whose flag sets this one too (``metadata-file`` by ``--metadata``)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else str(value)


_STRING_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}}

OPTIONS: tuple[OptionDecl, ...] = (
    OptionDecl(
        "format",
        parse_format,
        None,  # None: "graph" for a SavedModel directory, else "auto"
        "output",
        "format",
        "auto: the fastest exact form the model has; layers (tf.loadLayersModel) or graph (tf.loadGraphModel)",
        {"enum": list(FORMATS)},
        '`"auto"` for Keras files, `"graph"` for SavedModel directories',
        ("Layers or graph", "layers-or-graph-format--auto"),
        Flag(
            "--format",
            '"auto" (default for Keras files: layers when it translates exactly, else graph), "layers", or "graph" '
            "(default for SavedModel directories)",
        ),
    ),
    OptionDecl(
        "shard-size",
        parse_shard_size,
        DEFAULT_SHARD_SIZE,
        "output",
        "shard_size",
        "bytes per weight shard (0: one shard holding every weight)",
        {"type": "integer", "minimum": 0},
        f"`{DEFAULT_SHARD_SIZE}`",
        _WEIGHTS_SECTION,
        Flag("--shard-size", f"bytes per weight shard (default {DEFAULT_SHARD_SIZE}; 0 = one shard)", "BYTES"),
    ),
    OptionDecl(
        "quantize",
        parse_quantize,
        False,
        "weights",
        "options.quantization",
        "store float weights as float16, uint8 or uint16: one dtype for all, or {dtype = [weight-name patterns]}",
        {
            "oneOf": [
                {"enum": [*QUANTIZATION_DTYPES, False]},
                {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"enum": list(QUANTIZATION_DTYPES)},
                    "additionalProperties": {**_STRING_LIST, "minItems": 1},
                },
            ]
        },
        "off",
        _WEIGHTS_SECTION,
        Flag(
            "--quantize",
            "quantize float weights: float16, uint8 or uint16; or DTYPE=pattern,pattern to quantize only weights "
            'whose name matches (repeatable, first match wins), e.g. --quantize "uint8=*/kernel" --quantize float16',
            "DTYPE[=PATTERNS]",
            repeat=True,
        ),
    ),
    OptionDecl(
        "metadata",
        parse_metadata,
        {},
        "weights",
        "options.metadata",
        "model.json's userDefinedMetadata (labels, ...)",
        {"type": "object"},
        "off",
        _WEIGHTS_SECTION,
        Flag(
            "--metadata",
            'userDefinedMetadata for model.json: a JSON object (\'{"labels": ["cat", "dog"]}\') or a JSON file',
            "JSON|FILE",
        ),
    ),
    OptionDecl(
        "metadata-file",
        parse_metadata_file,
        False,
        "weights",
        None,
        "a JSON object file in the project, merged into model.json's userDefinedMetadata",
        {"oneOf": [{"type": "string", "minLength": 1}, {"const": False}]},
        "off",
        _WEIGHTS_SECTION,
        flag_of="metadata",
    ),
    OptionDecl(
        "reader",
        parse_reader,
        DEFAULT_READER,
        "layers",
        "options.layers.reader",
        'how a Keras file is read: "h5py" (no TensorFlow) or "keras" (through Keras and TensorFlow)',
        {"enum": list(READERS)},
        f'`"{DEFAULT_READER}"`',
        ("Layers models without TensorFlow", "layers-models-without-tensorflow"),
        Flag("--reader", 'how to read a Keras file: "h5py" (default, no TensorFlow) or "keras"'),
    ),
    OptionDecl(
        "custom-modules",
        parse_modules,
        [],
        "layers",
        "options.layers.custom_modules",
        "modules of the project's source tree that register the model's custom classes (imported by the TensorFlow "
        "worker before Keras loads the file)",
        _STRING_LIST,
        "`[]`",
        _GRAPH_SECTION,
        Flag(
            "--custom-modules",
            "a module that registers the model's custom classes, imported from the working directory's src/ or the "
            "working directory before Keras loads SOURCE (repeatable)",
            "MODULE",
            repeat=True,
        ),
    ),
    OptionDecl(
        "signature",
        parse_signature,
        _GRAPH.signature,
        "graph",
        "options.graph.signature",
        "the SavedModel signature a graph model is made from",
        {"type": "string", "minLength": 1},
        f"`{_toml(_GRAPH.signature)}`",
        _GRAPH_SECTION,
    ),
    OptionDecl(
        "tags",
        parse_tags,
        list(_GRAPH.tags),
        "graph",
        "options.graph.tags",
        "the SavedModel MetaGraph tags",
        {**_STRING_LIST, "minItems": 1},
        f"`{_toml(_GRAPH.tags)}`",
        _GRAPH_SECTION,
    ),
    OptionDecl(
        "strip-debug-ops",
        parse_bool,
        _GRAPH.strip_debug_ops,
        "graph",
        "options.graph.strip_debug_ops",
        "drop Assert, Print and CheckNumerics ops from the graph",
        {"type": "boolean"},
        f"`{_toml(_GRAPH.strip_debug_ops)}`",
        _GRAPH_SECTION,
    ),
    OptionDecl(
        "control-flow-v2",
        parse_bool,
        _GRAPH.control_flow_v2,
        "graph",
        "options.graph.control_flow_v2",
        "keep TensorFlow's functional control flow (While/If) instead of lowering it",
        {"type": "boolean"},
        f"`{_toml(_GRAPH.control_flow_v2)}`",
        _GRAPH_SECTION,
    ),
    OptionDecl(
        "structured-outputs",
        parse_bool,
        _GRAPH.structured_outputs,
        "graph",
        "options.graph.structured_outputs",
        "keep the signature's output names (a dict of outputs in TF.js)",
        {"type": "boolean"},
        f"`{_toml(_GRAPH.structured_outputs)}`",
        _GRAPH_SECTION,
    ),
)

MODEL_OPTIONS: dict[str, OptionDecl] = {option.key: option for option in OPTIONS}
# Options that only mean something for graph models (TF.js GraphModel); an error on a layers model's own table.
GRAPH_OPTION_KEYS = tuple(option.key for option in OPTIONS if option.group == "graph")


def _flags_by_key() -> dict[str, str]:
    """The command line's word for each key it can set (``SOURCE``, ``OUTDIR``, ``--quantize``, ...)."""
    flags = {"source": "SOURCE", "output": "OUTDIR"}
    for option in OPTIONS:
        flag = option.flag or (MODEL_OPTIONS[option.flag_of].flag if option.flag_of is not None else None)
        if flag is not None:
            flags[option.key] = flag.name
    return flags


FLAG_FOR_KEY = _flags_by_key()


def reference_table() -> str:
    """The README's markdown table of per-model options and their defaults: one row per run of options that one
    section explains with one default text, and one row for the graph options (their defaults listed in order)."""
    rows: list[tuple[list[str], list[str], tuple[str, str]]] = []
    for option in OPTIONS:
        last = rows[-1] if rows else None
        graph_row = option.group == "graph" and last is not None and MODEL_OPTIONS[last[0][0]].group == "graph"
        if last is not None and (graph_row or (last[2] == option.section and last[1] == [option.default_doc])):
            last[0].append(option.key)
            if graph_row:
                last[1].append(option.default_doc)
            continue
        rows.append(([option.key], [option.default_doc], option.section))
    lines = ["| Per-model option (also a hook-level default) | Default | Section |", "|---|---|---|"]
    for keys, defaults, (section, anchor) in rows:
        names = ", ".join(f"`{key}`" for key in keys)
        lines.append(f"| {names} | {', '.join(defaults)} | [{section}](#{anchor}) |")
    return "\n".join(lines) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON schema of the hook's table (``[tool.hatch.build.hooks.tfjs]``, or a target's), for editors that
    validate ``pyproject.toml``; written to ``data/hook-schema.json`` by
    ``python -m hatch_tfjs.tools.generate_schema``."""
    options = {option.key: {"description": option.doc, **option.schema} for option in OPTIONS}
    model = {
        "type": "object",
        "description": "one model: its source, where its output goes, and any per-model option",
        "properties": {
            "source": {"type": "string", "minLength": 1, "description": "a .keras/.h5 file or a SavedModel directory"},
            "output": {"type": "string", "minLength": 1, "description": "its output folder (default: output-dir/NAME)"},
            **options,
        },
        "required": ["source"],
        "additionalProperties": False,
    }
    hook = {
        "output-dir": {"type": "string", "minLength": 1, "description": "where model outputs and index.json go"},
        "discover": {
            "description": "glob patterns of model files, each a model named after its file",
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
        "models": {
            "type": "object",
            "description": "the models, by name (letters, digits, '_', '-', '.')",
            "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"},
            "additionalProperties": model,
        },
        "tensorflow-requirement": {
            "type": "string",
            "minLength": 1,
            "description": "what a build installs when a model needs TensorFlow "
            f"(default {DEFAULT_TENSORFLOW_REQUIREMENT})",
        },
        "jobs": {"type": "integer", "minimum": 1, "description": "models converted at once"},
    }
    reserved = {key: {"description": "read by hatchling itself"} for key in sorted(HATCHLING_RESERVED_KEYS)}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "hatch-tfjs build hook table",
        "type": "object",
        "properties": {
            **hook,
            **{k: {**v, "description": v["description"] + " (every model's default)"} for k, v in options.items()},
            **reserved,
        },
        "additionalProperties": False,
    }
