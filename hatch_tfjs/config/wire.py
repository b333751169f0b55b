"""A model's options between their TOML values and their typed form, generated from the declarations (each
:class:`~hatch_tfjs.config.declarations.OptionDecl`'s key, parser and ``value`` path): the typed option groups a
model's validated values make, the plain form a worker receives (its options as a TOML table, parsed again on the
other side by the same parsers, so a spec that arrives is a valid one), and the options a stamp records. A new option
needs a declaration and a field for its value, no code here. Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hatch_tfjs.config.context import Problems
from hatch_tfjs.config.declarations import DEFAULT_TABLE, MODEL_OPTIONS, OPTIONS, OptionDecl
from hatch_tfjs.config.spec import ModelSpec
from hatch_tfjs.errors import InternalError
from hatch_tfjs.option_naming import OptionNaming
from hatch_tfjs.options import GraphOptions, LayersOptions, ModelOptions, QuantizationOptions


def model_options(values: Mapping[str, Any], metadata: Mapping[str, Any], model_format: str) -> ModelOptions:
    """The typed option groups of a model from its validated values (by TOML key; an option without a value takes
    its declared default), with ``metadata`` already merged; graph options only where they can apply."""

    def group(name: str) -> dict[str, Any]:
        prefix = f"options.{name}."
        return {
            option.value[len(prefix) :]: _frozen(values.get(option.key, option.default))
            for option in OPTIONS
            if option.value is not None and option.value.startswith(prefix)
        }

    quantize = values.get("quantize")
    return ModelOptions(
        layers=LayersOptions(**group("layers")),
        graph=GraphOptions(**group("graph")) if model_format in ("graph", "auto") else None,
        quantization=quantize if isinstance(quantize, QuantizationOptions) else None,
        metadata=dict(metadata),
    )


def options_table(spec: ModelSpec) -> dict[str, Any]:
    """Every option of ``spec`` that travels, as its TOML value (graph options only for a model they apply to)."""
    table: dict[str, Any] = {}
    for option in OPTIONS:
        if option.value is None or (option.group == "graph" and spec.options.graph is None):
            continue
        table[option.key] = _toml(_value_at(spec, option.value), option)
    return table


def stamped_options(spec: ModelSpec) -> dict[str, Any]:
    """The options a stamp records (see stamps.py): those the typed groups hold, graph options in full for a graph
    model, the others only where they differ from their default (so adding an option changes no existing stamp)."""
    table = options_table(spec)
    return {
        option.key: table[option.key]
        for option in OPTIONS
        if option.key in table
        and str(option.value).startswith("options.")
        and (option.group == "graph" or table[option.key] != _toml(option.default, None))
    }


def spec_to_json(spec: ModelSpec) -> dict[str, Any]:
    """The plain form of ``spec`` a worker receives: its paths, its options as a TOML table, and its wording."""
    return {
        "name": spec.name,
        "source": str(spec.source),
        "output": str(spec.output),
        "root": str(spec.root),
        "options": options_table(spec),
        "origins": dict(spec.origins),
        "naming": spec.naming.to_json(),
        "modules_root": None if spec.modules_root is None else str(spec.modules_root),
    }


def spec_from_json(data: dict[str, Any]) -> ModelSpec:
    """The spec :func:`spec_to_json` gave, its options parsed by their declared parsers; a value they refuse is a
    bug in hatch-tfjs (the configuration validated it), raised as :class:`InternalError`."""
    values = _parsed(data["options"], f"model {data.get('name')!r} reached the worker")
    model_format = values.get("format") or "auto"
    return ModelSpec(
        name=str(data["name"]),
        source=Path(data["source"]),
        output=Path(data["output"]),
        root=Path(data["root"]),
        format=model_format,
        shard_size=values.get("shard-size", MODEL_OPTIONS["shard-size"].default),
        options=model_options(values, values.get("metadata") or {}, model_format),
        origins=dict(data["origins"]),
        naming=OptionNaming.from_json(data["naming"]),
        modules_root=None if data.get("modules_root") is None else Path(data["modules_root"]),
    )


def options_from_table(table: Mapping[str, Any], model_format: str = "auto") -> ModelOptions:
    """The typed options of a model table's option values (TOML spellings), each validated by its declared parser
    (``metadata-file`` aside: it names a file of a project); for callers that make a spec without a project."""
    values = _parsed(table, "options")
    return model_options(values, values.get("metadata") or {}, model_format)


def _parsed(table: Mapping[str, Any], what: str) -> dict[str, Any]:
    """Each option of ``table`` parsed by its declared parser; :class:`InternalError` naming ``what`` for a value
    one refuses (the configuration validated every value a spec holds)."""
    problems = Problems(DEFAULT_TABLE)
    values: dict[str, Any] = {}
    for key, raw in table.items():
        option = MODEL_OPTIONS.get(key)
        if option is None or option.value is None:
            problems.add(key, "is not an option a spec holds")
            continue
        values[key] = option.parse(raw, key, problems)
    if problems.items:
        refused = "; ".join(f"{problem.option}: {problem.message}" for problem in problems.items)
        raise InternalError(f"{what} with invalid options: {refused}")
    return values


def _value_at(spec: ModelSpec, path: str) -> Any:
    value: Any = spec
    for name in path.split("."):
        value = getattr(value, name)
    return value


def _toml(value: Any, option: OptionDecl | None) -> Any:
    """A typed value as TOML writes it (tuples as arrays, quantization as its table; None as the default)."""
    if value is None and option is not None:
        return option.default
    if isinstance(value, QuantizationOptions):
        return value.to_toml()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _frozen(value: Any) -> Any:
    """A validated TOML value as a frozen group field holds it (arrays as tuples)."""
    return tuple(value) if isinstance(value, list) else value
