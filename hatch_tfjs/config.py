"""Configuration stage: the hook's TOML table becomes validated model specs.

Everything is checked before anything is converted, and every problem is reported at once with its full TOML path,
e.g. ``tool.hatch.build.hooks.tfjs.models.classifier.source: file not found: models/classifier.keras``.
This module imports nothing heavy: hatchling imports the hook (and so this) just to ask for dependencies.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from hatch_tfjs import metadata_json
from hatch_tfjs.errors import ConfigError, Problem
from hatch_tfjs.keras_names import KERAS_SUFFIXES, is_keras_file
from hatch_tfjs.names import MODEL_NAME_PATTERN
from hatch_tfjs.options import (
    DEFAULT_SHARD_SIZE,
    FORMATS,
    QUANTIZATION_DTYPES,
    READERS,
    GraphOptions,
    LayersOptions,
    ModelOptions,
    QuantizationOptions,
)
from hatch_tfjs.ownership import (
    INDEX_NAME,
    STAMP_NAME,
    is_own_index,
    replace_conflict,
    special_file_kind,
    symlink_on_the_way,
)
from hatch_tfjs.suggest import closest, did_you_mean

DEFAULT_TABLE = "tool.hatch.build.hooks.tfjs"
DEFAULT_TENSORFLOW_REQUIREMENT = "tensorflow>=2.16"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
# Options that only mean something for graph models (TF.js GraphModel); an error on a layers model's own table.
GRAPH_OPTION_KEYS = ("signature", "tags", "strip-debug-ops", "control-flow-v2", "structured-outputs")
DEFAULT_READER = LayersOptions().reader
_GRAPH_DEFAULTS = GraphOptions()

# Keys hatchling itself reads from every build hook's table.
HATCHLING_RESERVED_KEYS = frozenset(
    {"dependencies", "require-runtime-dependencies", "require-runtime-features", "enable-by-default"}
)


class _Problems:
    """Collects problems, each with the key it concerns (relative to the hook's table)."""

    def __init__(self, table: str, root: Path | None = None, source: str = "pyproject.toml") -> None:
        self.table = table
        self.root = root  # for options naming files relative to the project root
        self.source = source
        self.items: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(Problem(key, message))


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


# --- per-model options: each may be set on a model or, as a default for every model, on the hook table ------------


def _parse_format(value: Any, key: str, problems: _Problems) -> str | None:
    if not isinstance(value, str):
        problems.add(key, f'must be a string, one of {", ".join(repr(f) for f in FORMATS)}, not {_type_name(value)}')
        return None
    if value not in FORMATS:
        problems.add(key, f'unknown format {value!r}; expected one of {", ".join(repr(f) for f in FORMATS)}')
        return None
    return value


def _parse_reader(value: Any, key: str, problems: _Problems) -> str | None:
    if not isinstance(value, str) or value not in READERS:
        problem = (
            f"unknown reader {value!r}"
            if isinstance(value, str)
            else f"must be a string, not {_type_name(value)} {value!r}"
        )
        problems.add(
            key,
            f'{problem}; expected "h5py" (the default: reads .keras/.h5 without TensorFlow) '
            'or "keras" (loads the model through Keras and TensorFlow, which must then be installed)',
        )
        return None
    return value


def _parse_shard_size(value: Any, key: str, problems: _Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(
            key,
            "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, "
            f"not {_type_name(value)} {value!r}",
        )
        return None
    if value < 0:
        problems.add(
            key,
            "must be a positive number of bytes (e.g. 4194304 for 4 MiB) or 0 for one shard holding every weight, "
            f"not {value}",
        )
        return None
    return value


def _parse_quantize(value: Any, key: str, problems: _Problems) -> QuantizationOptions | bool | None:
    """``"float16"``/``"uint8"``/``"uint16"``, ``false``, or ``{dtype = [patterns]}`` (first match wins, in order).

    Returns ``False`` (no quantization) or the options; ``None`` when invalid. Patterns are matched against weight
    names at conversion time (see write/quantize.py)."""
    dtypes = ", ".join(f'"{d}"' for d in QUANTIZATION_DTYPES)
    if value is False:
        return False
    if isinstance(value, str):
        if value not in QUANTIZATION_DTYPES:
            problems.add(key, f"unknown quantization dtype {value!r}; expected one of {dtypes} (or false for none)")
            return None
        return QuantizationOptions.one_dtype(value)
    if not isinstance(value, dict):
        hint = ' (say which: quantize = "float16")' if value is True else ""
        problems.add(
            key,
            f"must be one of {dtypes}, false, or a table of weight-name patterns such as "
            f'{{ uint8 = ["*/kernel"], float16 = ["*"] }}, not {_type_name(value)} {value!r}{hint}',
        )
        return None
    if not value:
        problems.add(
            key, 'is an empty table; map a dtype to weight-name patterns, e.g. { uint8 = ["*/kernel"] }, or remove it'
        )
        return None
    ok = True
    rules: list[tuple[str, tuple[str, ...]]] = []
    first_dtype: dict[str, str] = {}
    for dtype, patterns in value.items():
        if dtype not in QUANTIZATION_DTYPES:
            problems.add(f"{key}.{dtype}", f"unknown quantization dtype {dtype!r}; expected one of {dtypes}")
            ok = False
            continue
        if (
            not isinstance(patterns, list)
            or not patterns
            or not all(isinstance(p, str) and p.strip() for p in patterns)
        ):
            problems.add(
                f"{key}.{dtype}",
                f'must be a non-empty array of weight-name patterns such as ["*/kernel"], not {_type_name(patterns)} '
                f'{patterns!r}',
            )
            ok = False
            continue
        for pattern in patterns:
            if pattern in first_dtype and first_dtype[pattern] != dtype:
                problems.add(
                    f"{key}.{dtype}",
                    f"pattern {pattern!r} is also listed under {first_dtype[pattern]}; "
                    "a weight can only be quantized to one dtype: keep it under one",
                )
                ok = False
            first_dtype.setdefault(pattern, dtype)
        rules.append((dtype, tuple(patterns)))
    return QuantizationOptions(tuple(rules)) if ok else None


def _parse_metadata(value: Any, key: str, problems: _Problems) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        problems.add(
            key,
            f'must be a table (it becomes model.json\'s userDefinedMetadata), e.g. {{ labels = ["cat", "dog"] }}, '
            f"not {_type_name(value)} {value!r}",
        )
        return None
    found = metadata_json.json_problem(value, key)
    if found:
        problems.add(found[0], found[1])
        return None
    too_large = metadata_json.size_problem(value)
    if too_large:
        problems.add(key, too_large)
        return None
    return dict(value)


def _parse_metadata_file(value: Any, key: str, problems: _Problems) -> dict[str, Any] | bool | None:
    """A JSON object file, read now; returns ``{"path", "data"}`` (or ``False`` for ``metadata-file = false``)."""
    if value is False:
        return False
    if not isinstance(value, str) or not value.strip():
        problems.add(
            key,
            f'must be a path relative to the project root, e.g. "models/labels.json", not {_type_name(value)} '
            f'{value!r}',
        )
        return None
    root = problems.root or Path.cwd()
    path = _resolve_in_project(root, value)
    if not _is_within(path, root):
        problems.add(
            key, f'{value!r} is outside the project; keep the metadata file inside it, e.g. "models/labels.json"'
        )
        return None
    if not _is_within(Path(os.path.realpath(path)), root):
        problems.add(
            key,
            f"{value!r} is a symbolic link to {os.path.realpath(path)}, outside the project (its content would ship "
            "in the wheel); copy the file into the project instead",
        )
        return None
    if not path.is_file():
        problems.add(key, f"{value!r}: " + ("is a directory, not a JSON file" if path.is_dir() else "file not found"))
        return None

    try:
        data = metadata_json.load_object(path)
    except metadata_json.MetadataFileError as exc:
        problems.add(key, f"{value!r} {exc}")
        return None
    return {"path": value, "data": data}


def _parse_signature(value: Any, key: str, problems: _Problems) -> str | None:
    if not isinstance(value, str) or not value.strip():
        problems.add(
            key,
            f'must be the name of a SavedModel signature, e.g. "serving_default", not {_type_name(value)} {value!r}',
        )
        return None
    return value


def _parse_tags(value: Any, key: str, problems: _Problems) -> list[str] | None:
    if not isinstance(value, list) or not value or not all(isinstance(t, str) and t.strip() for t in value):
        hint = f' (write tags = ["{value}"])' if isinstance(value, str) and value.strip() else ""
        problems.add(
            key, f'must be a non-empty array of MetaGraph tags, e.g. ["serve"], not {_type_name(value)} {value!r}{hint}'
        )
        return None
    return list(value)


MODULE_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _parse_modules(value: Any, key: str, problems: _Problems) -> list[str] | None:
    """``custom-modules``: dotted names of modules in the project's own source tree."""
    if not isinstance(value, list) or not all(isinstance(m, str) and MODULE_NAME_PATTERN.match(m) for m in value):
        hint = f' (write custom-modules = ["{value}"])' if isinstance(value, str) and value.strip() else ""
        problems.add(
            key,
            "must be an array of module names from the project's source tree, whose import registers the model's "
            f'custom classes, e.g. ["myapp.layers"], not {_type_name(value)} {value!r}{hint}',
        )
        return None
    return list(value)


def _parse_bool(value: Any, key: str, problems: _Problems) -> bool | None:
    if not isinstance(value, bool):
        problems.add(key, f"must be true or false, not {_type_name(value)} {value!r}")
        return None
    return value


def graph_source_problem(path: Path, shown: str) -> str | None:
    """Why ``path`` cannot be a graph model's source (no TensorFlow needed), or None if it can be.

    A graph model's source is a SavedModel directory (with saved_model.pb) or a Keras file."""
    export = (
        "export a SavedModel directory (tf.saved_model.save(module, dir) or keras Model.export(dir)) "
        "and point source at it"
    )
    if path.is_file():
        name = path.name
        if path.suffix.lower() in KERAS_SUFFIXES:
            return None
        if name in SAVED_MODEL_FILES:
            return f"{shown} is the SavedModel's {name} file; set source to its directory {_parent_shown(shown)!r}"
        if path.suffix == ".pb":
            return f"{shown} is a .pb file (a frozen GraphDef), not a SavedModel; {export}"
        if path.suffix in (".index", ".ckpt", ".meta") or ".data-" in name or name == "checkpoint":
            return f"{shown} is a TensorFlow checkpoint (weights only, no graph), not a SavedModel; {export}"
        return f"{shown} is neither a SavedModel directory nor a Keras file ({', '.join(KERAS_SUFFIXES)}); {export}"
    if any((path / f).is_file() for f in SAVED_MODEL_FILES):
        return None
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir()) if path.is_dir() else []
    listing = ", ".join(entries[:8]) + (", ..." if len(entries) > 8 else "") if entries else "nothing"
    if "checkpoint" in entries or any(e.endswith(".index") for e in entries):
        fix = f"it holds a TensorFlow checkpoint (weights only); {export}"
    elif "model.json" in entries:
        fix = "it already holds a TF.js model (model.json); point source at the model it was converted from"
    elif any(e.endswith(KERAS_SUFFIXES) for e in entries):
        keras_file = next(e for e in entries if e.endswith(KERAS_SUFFIXES))
        fix = f"it holds a Keras file: set source to {shown.rstrip('/') + '/' + keras_file!r}"
    else:
        fix = export
    return f"{shown} is a directory without saved_model.pb, so not a SavedModel (it holds {listing}); {fix}"


def _parent_shown(shown: str) -> str:
    parent = str(PurePosixPath(shown).parent)
    return parent if parent != "." else "./"


@dataclass(frozen=True)
class _Option:
    parse: Callable[[Any, str, _Problems], Any]
    default: Any


MODEL_OPTIONS: dict[str, _Option] = {
    "format": _Option(_parse_format, None),  # None: "graph" for a SavedModel directory, else "auto"
    "reader": _Option(_parse_reader, DEFAULT_READER),
    "custom-modules": _Option(_parse_modules, []),
    "shard-size": _Option(_parse_shard_size, DEFAULT_SHARD_SIZE),
    "quantize": _Option(_parse_quantize, False),
    "metadata": _Option(_parse_metadata, {}),
    "metadata-file": _Option(_parse_metadata_file, False),
    "signature": _Option(_parse_signature, _GRAPH_DEFAULTS.signature),
    "tags": _Option(_parse_tags, list(_GRAPH_DEFAULTS.tags)),
    "strip-debug-ops": _Option(_parse_bool, _GRAPH_DEFAULTS.strip_debug_ops),
    "control-flow-v2": _Option(_parse_bool, _GRAPH_DEFAULTS.control_flow_v2),
    "structured-outputs": _Option(_parse_bool, _GRAPH_DEFAULTS.structured_outputs),
}
MODEL_ONLY_KEYS = frozenset({"source", "output"})
HOOK_KEYS = frozenset({"output-dir", "discover", "models", "tensorflow-requirement", "jobs"})


@dataclass(frozen=True)
class ModelSpec:
    """One model to convert: where it comes from, where it goes, and how (typed options, see options.py).

    ``origins`` says where each option was set (``tool.hatch.build.hooks.tfjs.models.iris.quantize in
    pyproject.toml``, or ``--quantize`` on the command line), for messages only: it enters no stamp."""

    name: str
    source: Path  # absolute
    output: Path  # absolute directory that receives model.json and the shards
    root: Path
    format: str = "layers"
    shard_size: int = DEFAULT_SHARD_SIZE
    options: ModelOptions = field(default_factory=ModelOptions)
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def source_rel(self) -> str:
        return _relative(self.source, self.root)

    @property
    def metadata(self) -> dict[str, Any]:
        """model.json's userDefinedMetadata (``metadata-file`` merged with ``metadata``); empty when none."""
        return dict(self.options.metadata)

    @property
    def reader(self) -> str:
        """How a Keras file is read: "h5py" (no TensorFlow) or "keras" (through Keras/TensorFlow)."""
        return self.options.layers.reader

    @property
    def graph_options(self) -> GraphOptions:
        """The graph options (their defaults for a model whose options carry none)."""
        return self.options.graph or GraphOptions()

    @property
    def needs_tensorflow(self) -> bool:
        """Whether converting this model may import TensorFlow: layers models read by the h5py reader do not.

        For ``auto`` and ``graph`` this is the worst case; :func:`hatch_tfjs.route.route_model` tells for sure."""
        return self.format != "layers" or self.reader == "keras"

    @property
    def output_rel(self) -> str:
        return _relative(self.output, self.root)

    def to_json(self) -> dict[str, Any]:
        """A plain-data form, to hand the spec to a worker process."""
        return {
            "name": self.name,
            "source": str(self.source),
            "output": str(self.output),
            "root": str(self.root),
            "format": self.format,
            "shard_size": self.shard_size,
            "options": self.options.to_json(),
            "origins": self.origins,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(
            name=data["name"],
            source=Path(data["source"]),
            output=Path(data["output"]),
            root=Path(data["root"]),
            format=data["format"],
            shard_size=data["shard_size"],
            options=ModelOptions.from_json(data.get("options") or {}),
            origins=dict(data.get("origins") or {}),
        )


@dataclass(frozen=True)
class HookSettings:
    root: Path
    table: str
    output_dir: Path | None
    models: tuple[ModelSpec, ...]
    tensorflow_requirement: str = DEFAULT_TENSORFLOW_REQUIREMENT
    jobs: int | None = None


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` for messages; absolute when ``root`` is the file system root (``hatch-tfjs
    convert`` on files far apart), where a relative path would read like one under the current directory."""
    if root == Path(root.anchor):
        return path.as_posix()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _is_within(path: Path, parent: Path) -> bool:
    try:
        path.relative_to(parent)
    except ValueError:
        return False
    return True


def _resolve_in_project(root: Path, value: str) -> Path:
    path = Path(value)
    if not path.is_absolute():
        path = root / path
    return Path(os.path.normpath(path))


def _parse_relative_dir(value: Any, key: str, root: Path, problems: _Problems) -> Path | None:
    if not isinstance(value, str) or not value.strip():
        problems.add(
            key, f"must be a non-empty string path relative to the project root, not {_type_name(value)} {value!r}"
        )
        return None
    path = _resolve_in_project(root, value)
    if not _is_within(path, root) or path == root:
        problems.add(
            key, f'{value!r} is outside the project; use a directory inside a package, e.g. "src/mypkg/web_models"'
        )
        return None
    return path


def default_output_dir(root: Path, wheel_packages: list[str]) -> Path | None:
    """``<package>/web_models`` when the wheel ships exactly one top-level package."""
    if len(wheel_packages) != 1:
        return None
    return root / PurePosixPath(wheel_packages[0]) / "web_models"


def load_settings(
    root: str | os.PathLike[str],
    config: dict[str, Any],
    *,
    table: str = DEFAULT_TABLE,
    wheel_packages: list[str] | None = None,
    source: str = "pyproject.toml",
    guard_outputs: bool = True,
    label_option: Callable[[str], str] | None = None,
) -> HookSettings:
    """Validate the hook's TOML table; raise :class:`ConfigError` listing every problem.

    ``guard_outputs`` checks that every output may be written (no symlink on the way, nothing of the user's to
    replace, see ownership.py); ``hatch-tfjs convert`` checks its OUTDIR itself, in the command line's terms.
    ``label_option`` says where an option (a key relative to ``table``, e.g. ``models.iris.quantize``) was set, for
    the messages of later stages (``ModelSpec.origins``); by default its TOML path in ``source``."""
    root = Path(os.path.normpath(Path(root).resolve()))
    problems = _Problems(table, root, source)
    packages = [p.strip("/") for p in (wheel_packages or [])]

    _check_hook_keys(config, table, problems)
    defaults = _hook_defaults(config, problems)
    tf_requirement = _tensorflow_requirement(config, problems)
    jobs = _jobs(config, problems)
    output_dir_given = "output-dir" in config
    output_dir: Path | None = (
        _parse_relative_dir(config["output-dir"], "output-dir", root, problems)
        if output_dir_given
        else default_output_dir(root, packages)
    )
    label = label_option or (lambda key: f"{table}.{key} in {Path(source).name}")
    hook_origins = {key: label(key) for key in MODEL_OPTIONS if key in config}
    context = _ModelContext(root, defaults, hook_origins, label, output_dir, output_dir_given, problems)

    # Explicit models first: they take precedence over a discovered model with the same source.
    raw_models = config.get("models", {})
    if not isinstance(raw_models, dict):
        problems.add("models", f"must be a table of models ([{table}.models.<name>]), not {_type_name(raw_models)}")
        raw_models = {}
    specs = [spec for name in sorted(raw_models) if (spec := _parse_model(name, raw_models[name], context))]
    specs += _discovered_models(config.get("discover", []), specs, set(raw_models), context)

    _check_outputs(specs, root, packages, problems, guard_outputs=guard_outputs)
    _check_index_collisions(specs, output_dir, root, packages, problems)
    if output_dir is not None and guard_outputs:
        _check_output_dir(output_dir, root, problems, given=output_dir_given)

    if problems.items:
        raise ConfigError(problems.items, table=table, source=source)
    return HookSettings(
        root=root,
        table=table,
        output_dir=output_dir,
        models=tuple(sorted(specs, key=lambda s: s.name)),
        tensorflow_requirement=tf_requirement.strip(),
        jobs=jobs,
    )


@dataclass(frozen=True)
class _ModelContext:
    """What every model of the table is parsed against: the project, the hook table's option values (the models'
    defaults), the output directory (given or guessed), and where problems go."""

    root: Path
    defaults: dict[str, Any]
    default_origins: dict[str, str]  # where each option set on the hook table was set
    label: Callable[[str], str]
    output_dir: Path | None
    output_dir_given: bool  # set on the hook table (an invalid one is reported once, on its own key)
    problems: _Problems


def _check_hook_keys(config: dict[str, Any], table: str, problems: _Problems) -> None:
    for key in sorted(config):
        if key not in HOOK_KEYS and key not in MODEL_OPTIONS and key not in HATCHLING_RESERVED_KEYS:
            hint = " (it belongs on a model: [" + table + ".models.<name>])" if key in MODEL_ONLY_KEYS else ""
            guess = did_you_mean(key, HOOK_KEYS | MODEL_OPTIONS.keys())
            hint = hint or (f" ({guess})" if guess else "")
            problems.add(key, f"unknown key{hint}; known keys: {', '.join(sorted(HOOK_KEYS | MODEL_OPTIONS.keys()))}")


def _hook_defaults(config: dict[str, Any], problems: _Problems) -> dict[str, Any]:
    """Every model option's value on the hook table (its default where unset or invalid)."""
    defaults: dict[str, Any] = {}
    for key, option in MODEL_OPTIONS.items():
        if key in config:
            parsed = option.parse(config[key], key, problems)
            defaults[key] = option.default if parsed is None else parsed
        else:
            defaults[key] = option.default
    return defaults


def _tensorflow_requirement(config: dict[str, Any], problems: _Problems) -> str:
    tf_requirement = config.get("tensorflow-requirement", DEFAULT_TENSORFLOW_REQUIREMENT)
    if not isinstance(tf_requirement, str) or not tf_requirement.strip():
        problems.add(
            "tensorflow-requirement",
            f'must be a requirement string such as "tensorflow-cpu>=2.16", not {tf_requirement!r}',
        )
        return DEFAULT_TENSORFLOW_REQUIREMENT
    return tf_requirement


def _jobs(config: dict[str, Any], problems: _Problems) -> int | None:
    jobs = config.get("jobs")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        problems.add("jobs", f"must be a positive integer (the number of models converted at once), not {jobs!r}")
        return None
    return jobs


def _discovered_models(
    discover: Any, explicit: list[ModelSpec], explicit_names: set[str], context: _ModelContext
) -> list[ModelSpec]:
    """The models ``discover``'s globs find, except sources already declared; ``explicit_names`` grows with them."""
    problems, root = context.problems, context.root
    if isinstance(discover, str):
        discover = [discover]
    if not isinstance(discover, list) or not all(isinstance(p, str) for p in discover):
        problems.add("discover", f'must be an array of glob patterns such as ["models/*.keras"], not {discover!r}')
        discover = []
    explicit_sources = {s.source for s in explicit}
    specs: list[ModelSpec] = []
    for index, pattern in enumerate(discover):
        key = f"discover[{index}]"
        if Path(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
            problems.add(key, f'{pattern!r} must be a glob relative to the project root, e.g. "models/*.keras"')
            continue
        # glob.glob's rules are the documented ones for discover (hidden files skipped, ** only as a whole segment)
        matches = sorted(glob.glob(str(root / pattern), recursive=True))  # noqa: PTH207
        if not matches:
            problems.add(key, f"{pattern!r} matches no file; check the pattern or remove it")
            continue
        for match in matches:
            source_path = Path(os.path.normpath(match))
            if source_path in explicit_sources:
                continue
            name = source_path.stem if source_path.is_file() else source_path.name
            if name in explicit_names:
                problems.add(
                    key,
                    f"discovered {_relative(source_path, root)!r} as model {name!r}, but a model of that name is "
                    "already declared with another source; rename one of the files or declare it under "
                    f"[{problems.table}.models.<name>]",
                )
                continue
            spec = _parse_model(name, {"source": _relative(source_path, root)}, context, key)
            if spec is not None:
                explicit_names.add(name)
                specs.append(spec)
    return specs


def _parse_model(name: str, raw: Any, context: _ModelContext, origin: str | None = None) -> ModelSpec | None:
    """One model's spec, or None after adding its problems; ``origin`` names the discover pattern that found it."""
    problems = context.problems
    base = f"models.{name}"
    before = len(problems.items)
    if not MODEL_NAME_PATTERN.match(name):
        problems.add(base, f"model name {name!r} must use letters, digits, '_', '-' or '.' (it names a directory)")
    if not isinstance(raw, dict):
        problems.add(base, f'must be a table with at least `source = "models/{name}.keras"`, not {_type_name(raw)}')
        return None
    _check_model_keys(raw, base, problems)
    values = dict(context.defaults)
    origins = dict(context.default_origins)
    for key, option in MODEL_OPTIONS.items():
        if key in raw:
            parsed = option.parse(raw[key], f"{base}.{key}", problems)
            origins[key] = context.label(f"{base}.{key}")
            if parsed is not None:
                values[key] = parsed

    output_path = _model_output(name, raw, base, context)
    source_key = f"{base}.source" if origin is None else origin
    source_path = _model_source(name, raw, source_key, values, output_path, context)

    model_format = values["format"] or "auto"
    if model_format == "layers":
        for key in GRAPH_OPTION_KEYS:
            if key in raw:
                problems.add(
                    f"{base}.{key}",
                    f'only applies to graph models, and model {name!r} is a layers model; set format = "graph" '
                    f"on it (TF.js loads it with tf.loadGraphModel) or remove {key}",
                )

    metadata = _merge_metadata(values, raw, base, problems)

    if len(problems.items) != before or source_path is None or output_path is None:
        return None
    return ModelSpec(
        name=name,
        source=source_path,
        output=output_path,
        root=context.root,
        format=model_format,
        shard_size=values["shard-size"],
        options=_model_options(values, metadata, model_format),
        origins=origins,
    )


def _check_model_keys(raw: dict[str, Any], base: str, problems: _Problems) -> None:
    for key in sorted(raw):
        if key not in MODEL_OPTIONS and key not in MODEL_ONLY_KEYS:
            guess = did_you_mean(key, MODEL_ONLY_KEYS | MODEL_OPTIONS.keys())
            problems.add(
                f"{base}.{key}",
                f"unknown key{f' ({guess})' if guess else ''}; known keys: "
                f"{', '.join(sorted(MODEL_ONLY_KEYS | MODEL_OPTIONS.keys()))}",
            )


def _model_output(name: str, raw: dict[str, Any], base: str, context: _ModelContext) -> Path | None:
    """The model's output directory: its own ``output``, else ``<output-dir>/<name>``."""
    if "output" in raw:
        return _parse_relative_dir(raw["output"], f"{base}.output", context.root, context.problems)
    if context.output_dir is not None:
        return context.output_dir / name
    if not context.output_dir_given:  # an output-dir that was given but is invalid is reported once, on its own key
        context.problems.add(
            f"{base}.output",
            'no output directory: set output-dir on the hook table (e.g. output-dir = "src/mypkg/web_models") '
            "or output on the model; it can only be guessed when the wheel ships exactly one top-level package",
        )
    return None


def _model_source(
    name: str,
    raw: dict[str, Any],
    source_key: str,
    values: dict[str, Any],
    output_path: Path | None,
    context: _ModelContext,
) -> Path | None:
    """The model's source, checked against its format; None after adding a problem. A missing ``format`` becomes
    ``"graph"`` here when the source can only be a graph model (anything but a Keras file)."""
    base = f"models.{name}"
    if "source" not in raw:
        context.problems.add(f"{base}.source", f'missing; add source = "models/{name}.keras" (a .keras or .h5 file)')
        return None
    if not isinstance(raw["source"], str) or not raw["source"].strip():
        context.problems.add(
            f"{base}.source", f"must be a path string relative to the project root, not {_type_name(raw['source'])}"
        )
        return None
    source_path = _readable_source(raw["source"], source_key, output_path, context)
    if source_path is None:
        return None
    if not source_path.exists():  # an sdist shipping the output without its source: nothing to tell its kind from
        values["format"] = values["format"] or _shipped_format(output_path)
        return source_path
    if source_path.exists() and values["format"] is None and not is_keras_file(source_path):
        values["format"] = "graph"  # anything but a Keras file (a SavedModel directory) can only be a graph model
    return _source_of_format(source_path, raw["source"], source_key, values["format"] or "auto", context.problems)


def _readable_source(
    source: str, source_key: str, output_path: Path | None, context: _ModelContext
) -> Path | None:
    """The source's path when it can be read: no FIFO or device (in a SavedModel directory either), and present
    unless the output it was converted to ships without it (an sdist); None after adding a problem."""
    source_path = _resolve_in_project(context.root, source)
    special = special_file_kind(source_path)
    inner = _special_file_inside(source_path) if special is None and source_path.is_dir() else None
    if special is not None:
        context.problems.add(
            source_key,
            f"{source} is {special}, not a model file; reading it would never end: point source at a "
            ".keras/.h5 file or a SavedModel directory",
        )
        return None
    if inner is not None:
        context.problems.add(
            source_key,
            f"{source} holds {_relative(inner[0], context.root)!r}, which is {inner[1]}; a SavedModel directory "
            "holds only regular files (reading that one would never end): remove it",
        )
        return None
    if not source_path.exists():
        shipped = output_path is not None and (output_path / STAMP_NAME).is_file()
        if shipped and is_sdist_tree(context.root):
            return source_path  # an sdist that ships the converted output without its source: the plan uses it
        context.problems.add(source_key, _missing_source_message(source, source_path, output_path, shipped, context))
        return None
    return source_path


def _shipped_format(output_path: Path | None) -> str | None:
    """The format a shipped output was converted with (its stamp's ``options.format``), or None."""
    if output_path is None:
        return None
    try:
        recorded = json.loads((output_path / STAMP_NAME).read_text("utf-8")).get("options", {}).get("format")
    except (OSError, ValueError, AttributeError):
        return None
    return recorded if recorded in FORMATS else None


def is_sdist_tree(root: Path) -> bool:
    """Whether ``root`` is an unpacked source distribution (hatchling writes ``PKG-INFO`` at its root; a project
    checkout has none). Only there may a declared source be absent: the sdist ships its converted output instead."""
    return (root / "PKG-INFO").is_file()


def _missing_source_message(
    source: str, source_path: Path, output_path: Path | None, shipped: bool, context: _ModelContext
) -> str:
    """``file not found: SOURCE``, with the nearest file of that folder when one is close, and, when an earlier build
    left an output, why that output is not used."""
    message = f"file not found: {source}"
    try:
        siblings = [entry.name for entry in source_path.parent.iterdir()] if source_path.parent.is_dir() else []
    except OSError:
        siblings = []
    guess = closest(source_path.name, siblings)
    if guess is not None:
        message += f" (did you mean {PurePosixPath(source).with_name(guess).as_posix()!r}?)"
    if shipped and output_path is not None:
        message += (
            f"; {_relative(output_path, context.root)}/ was converted from it by an earlier build, but in a project "
            "checkout every declared source must exist (only a build from an sdist ships outputs without their "
            "sources): fix source, or remove the model"
        )
    return message


def _source_of_format(
    source_path: Path, source: str, source_key: str, model_format: str, problems: _Problems
) -> Path | None:
    """``source_path`` when it is what ``model_format`` reads, else None after adding a problem."""
    if model_format == "graph":
        problem = graph_source_problem(source_path, source)
        if problem:
            problems.add(source_key, problem)
            return None
    elif source_path.is_dir():
        problems.add(
            source_key,
            f"{source} is a directory; a layers model needs a Keras file ({', '.join(KERAS_SUFFIXES)}); "
            'for a SavedModel directory use format = "graph" (or leave format out)',
        )
        return None
    elif source_path.suffix.lower() not in KERAS_SUFFIXES:
        problems.add(source_key, f"{source} is not a Keras model file; expected one of {', '.join(KERAS_SUFFIXES)}")
        return None
    return source_path


def _merge_metadata(values: dict[str, Any], raw: dict[str, Any], base: str, problems: _Problems) -> dict[str, Any]:
    """``metadata-file``'s object with ``metadata``'s keys added.

    A key in both is a problem (it is one or the other).
    """
    inline = values.get("metadata") or {}
    loaded = values.get("metadata-file") or {}
    if not loaded:
        return dict(inline)
    merged = dict(loaded["data"])
    for name in inline:
        if name in merged:
            key = f"{base}.metadata" if "metadata" in raw else "metadata"
            problems.add(
                f"{key}.{name}",
                f"is also set by metadata-file {loaded['path']!r}; keep each metadata key in one place",
            )
        merged[name] = inline[name]
    return merged


def _model_options(values: dict[str, Any], metadata: dict[str, Any], model_format: str = "layers") -> ModelOptions:
    """The typed option groups of a model from its validated values (graph options only where they can apply)."""
    graph = None
    if model_format in ("graph", "auto"):
        graph = GraphOptions(
            signature=values["signature"],
            tags=tuple(values["tags"]),
            strip_debug_ops=values["strip-debug-ops"],
            control_flow_v2=values["control-flow-v2"],
            structured_outputs=values["structured-outputs"],
        )
    quantize = values.get("quantize")
    return ModelOptions(
        layers=LayersOptions(
            reader=values.get("reader", DEFAULT_READER), custom_modules=tuple(values.get("custom-modules") or ())
        ),
        graph=graph,
        quantization=quantize if isinstance(quantize, QuantizationOptions) else None,
        metadata=metadata,
    )


def _parents(path: str) -> list[str]:
    """Every folder above an absolute, normalized ``path`` (a string: ``Path.parents`` is slow for 10,000 models)."""
    found = []
    parent = os.path.dirname(path)  # noqa: PTH120 - strings on purpose (see the docstring)
    while parent != path:
        found.append(parent)
        path, parent = parent, os.path.dirname(parent)  # noqa: PTH120
    return found


def _check_outputs(
    specs: list[ModelSpec], root: Path, packages: list[str], problems: _Problems, *, guard_outputs: bool = True
) -> None:
    package_dirs = [root / PurePosixPath(p) for p in packages]
    seen: dict[Path, str] = {}
    outputs: dict[str, str] = {}  # the same as ``seen``, by string: nesting is checked on strings (pathlib is slow)
    below: dict[str, list[str]] = {}  # each folder holding an output -> the models whose outputs it holds
    for spec in sorted(specs, key=lambda s: s.name):
        key = f"models.{spec.name}.output"
        if spec.output in seen:
            problems.add(
                key,
                f"{spec.output_rel!r} is also the output of model {seen[spec.output]!r}; give each model its own "
                "output",
            )
            continue
        # nesting, in time linear in the number of models: the outputs above this one, then those below it
        output = str(spec.output)
        parents = _parents(output)
        overlapping = [outputs[p] for p in parents if p in outputs] + below.get(output, [])
        for other in sorted(overlapping):
            problems.add(key, f"{spec.output_rel!r} overlaps the output of model {other!r}; outputs must not nest")
        seen[spec.output] = outputs[output] = spec.name
        for parent in parents:
            below.setdefault(parent, []).append(spec.name)
        if package_dirs and not any(_is_within(spec.output, d) and spec.output != d for d in package_dirs):
            shipped = ", ".join(repr(p) for p in packages)
            problems.add(
                key,
                f"{spec.output_rel!r} is outside every package the wheel ships ({shipped}); "
                f'write models inside a package, e.g. "{packages[0]}/web_models/{spec.name}"',
            )
        if _is_within(spec.source, spec.output):
            problems.add(
                key, f"{spec.output_rel!r} contains the model's source {spec.source_rel!r}; it would be overwritten"
            )
            continue
        if guard_outputs:
            _check_writable_here(spec, root, key, problems)


def _special_file_inside(directory: Path) -> tuple[Path, str] | None:
    """The first FIFO, device or socket inside a source directory (symlinks followed), with its kind."""
    for path in sorted(directory.rglob("*")):
        kind = special_file_kind(path)
        if kind is not None:
            return path, kind
    return None


def _check_writable_here(spec: ModelSpec, root: Path, key: str, problems: _Problems) -> None:
    """Containment and ownership of one model output: nothing on its way is a symlink, and it is absent, empty or
    hatch-tfjs's own (see ownership.py). A build never replaces anything else."""
    link = symlink_on_the_way(spec.output, root)
    if link is not None:
        problems.add(
            key,
            f"{_relative(link, root)!r} is a symbolic link (to {link.readlink()}); hatch-tfjs writes only to real "
            "directories inside the project, so the wheel never ships files from elsewhere: replace the link with a "
            "directory or choose another output",
        )
        return
    conflict = replace_conflict(spec.output)
    if conflict is not None:
        problems.add(
            key,
            f"{spec.output_rel!r} {conflict}; a build replaces the whole directory, and hatch-tfjs only replaces "
            f"directories it wrote itself (or empty ones): set output on model {spec.name!r} (or output-dir) to a new "
            "directory, or move those files away",
        )


def _check_output_dir(output_dir: Path, root: Path, problems: _Problems, *, given: bool) -> None:
    """``output-dir`` holds the model outputs and the model index: no symlink on its way, no user file named
    ``index.json`` in it."""
    key = "output-dir" if given else "output-dir (default)"
    link = symlink_on_the_way(output_dir, root)
    if link is not None:
        problems.add(
            key,
            f"{_relative(link, root)!r} is a symbolic link (to {link.readlink()}); hatch-tfjs writes only to real "
            "directories inside the project: replace the link with a directory or set output-dir elsewhere",
        )
        return
    index = output_dir / INDEX_NAME
    if not is_own_index(index):
        problems.add(
            key,
            f"{_relative(index, root)!r} exists and was not written by hatch-tfjs, which keeps its model index "
            "there; move that file, or set output-dir to another directory",
        )


def _check_index_collisions(
    specs: list[ModelSpec], output_dir: Path | None, root: Path, packages: list[str], problems: _Problems
) -> None:
    """No model output may be or hold the model index (``<output-dir>/index.json``): refused here, before anything is
    converted, so a build never converts a model it then cannot index."""
    from hatch_tfjs.index import index_directory

    index_dir = index_directory(output_dir, [s.output for s in specs], root, packages)
    if index_dir is None:
        return
    target = index_dir / INDEX_NAME
    for spec in specs:
        if spec.output == target or _is_within(target, spec.output):
            problems.add(
                f"models.{spec.name}.output",
                f"{spec.output_rel!r} collides with the model index {_relative(target, root)!r}, which hatch-tfjs "
                "writes there; rename the model or set its output to a folder of its own inside output-dir",
            )
