"""The configuration stage's entry point: the hook's TOML table (or the command line's options) becomes validated
model specs, every problem reported at once. Standard library only."""

from __future__ import annotations

import glob
import os
from pathlib import Path, PurePosixPath
from typing import Any

from hatch_tfjs.config.context import ModelContext, Problems, type_name
from hatch_tfjs.config.declarations import (
    DEFAULT_TABLE,
    DEFAULT_TENSORFLOW_REQUIREMENT,
    GRAPH_OPTION_KEYS,
    HATCHLING_RESERVED_KEYS,
    HOOK_KEYS,
    MODEL_ONLY_KEYS,
    MODEL_OPTIONS,
)
from hatch_tfjs.config.outputs import check_index_collisions, check_output_dir, check_outputs
from hatch_tfjs.config.parsers import parse_relative_dir
from hatch_tfjs.config.sources import model_source
from hatch_tfjs.config.spec import HookSettings, ModelSpec, default_output_dir, relative_path
from hatch_tfjs.config.wire import model_options
from hatch_tfjs.errors import ConfigError
from hatch_tfjs.names import MODEL_NAME_PATTERN
from hatch_tfjs.option_naming import OptionNaming
from hatch_tfjs.suggest import did_you_mean


def load_settings(
    root: str | os.PathLike[str],
    config: dict[str, Any],
    *,
    table: str = DEFAULT_TABLE,
    wheel_packages: list[str] | None = None,
    source: str = "pyproject.toml",
    guard_outputs: bool = True,
    naming: OptionNaming | None = None,
) -> HookSettings:
    """Validate the hook's TOML table; raise :class:`ConfigError` listing every problem.

    ``guard_outputs`` checks that every output may be written (no symlink on the way, nothing of the user's to
    replace, see ownership.py); ``hatch-tfjs convert`` checks its OUTDIR itself, in the command line's terms.
    ``naming`` says how messages name the options, this stage's and every later one's (``ModelSpec.naming``,
    ``ModelSpec.origins``): by default their TOML paths in ``table`` of ``source``; the command line passes its
    flags."""
    root = Path(os.path.normpath(Path(root).resolve()))
    naming = naming or OptionNaming(table, source=source)
    problems = Problems(table, root, source, naming)
    packages = [p.strip("/") for p in (wheel_packages or [])]

    _check_hook_keys(config, table, problems)
    defaults = _hook_defaults(config, problems)
    tf_requirement = _tensorflow_requirement(config, problems)
    jobs = _jobs(config, problems)
    output_dir_given = "output-dir" in config
    output_dir: Path | None = (
        parse_relative_dir(config["output-dir"], "output-dir", root, problems)
        if output_dir_given
        else default_output_dir(root, packages)
    )
    hook_origins = {key: naming.located(key) for key in MODEL_OPTIONS if key in config}
    context = ModelContext(root, defaults, hook_origins, naming, output_dir, output_dir_given, problems)

    # Explicit models first: they take precedence over a discovered model with the same source.
    raw_models = config.get("models", {})
    if not isinstance(raw_models, dict):
        problems.add("models", f"must be a table of models ([{table}.models.<name>]), not {type_name(raw_models)}")
        raw_models = {}
    specs = [spec for name in sorted(raw_models) if (spec := _parse_model(name, raw_models[name], context))]
    specs += _discovered_models(config.get("discover", []), specs, set(raw_models), context)

    check_outputs(specs, root, packages, problems, guard_outputs=guard_outputs)
    check_index_collisions(specs, output_dir, root, packages, problems)
    if output_dir is not None and guard_outputs:
        check_output_dir(output_dir, root, problems, given=output_dir_given)

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


def _check_hook_keys(config: dict[str, Any], table: str, problems: Problems) -> None:
    for key in sorted(config):
        if key not in HOOK_KEYS and key not in MODEL_OPTIONS and key not in HATCHLING_RESERVED_KEYS:
            hint = " (it belongs on a model: [" + table + ".models.<name>])" if key in MODEL_ONLY_KEYS else ""
            guess = did_you_mean(key, HOOK_KEYS | MODEL_OPTIONS.keys())
            hint = hint or (f" ({guess})" if guess else "")
            problems.add(key, f"unknown key{hint}; known keys: {', '.join(sorted(HOOK_KEYS | MODEL_OPTIONS.keys()))}")


def _hook_defaults(config: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """Every model option's value on the hook table (its default where unset or invalid)."""
    defaults: dict[str, Any] = {}
    for key, option in MODEL_OPTIONS.items():
        if key in config:
            parsed = option.parse(config[key], key, problems)
            defaults[key] = option.default if parsed is None else parsed
        else:
            defaults[key] = option.default
    return defaults


def _tensorflow_requirement(config: dict[str, Any], problems: Problems) -> str:
    tf_requirement = config.get("tensorflow-requirement", DEFAULT_TENSORFLOW_REQUIREMENT)
    if not isinstance(tf_requirement, str) or not tf_requirement.strip():
        problems.add(
            "tensorflow-requirement",
            f'must be a requirement string such as "tensorflow-cpu>=2.16", not {tf_requirement!r}',
        )
        return DEFAULT_TENSORFLOW_REQUIREMENT
    return tf_requirement


def _jobs(config: dict[str, Any], problems: Problems) -> int | None:
    jobs = config.get("jobs")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        problems.add("jobs", f"must be a positive integer (the number of models converted at once), not {jobs!r}")
        return None
    return jobs


def _discovered_models(
    discover: Any, explicit: list[ModelSpec], explicit_names: set[str], context: ModelContext
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
                    f"discovered {relative_path(source_path, root)!r} as model {name!r}, but a model of that name is "
                    "already declared with another source; rename one of the files or declare it under "
                    f"[{problems.table}.models.<name>]",
                )
                continue
            spec = _parse_model(name, {"source": relative_path(source_path, root)}, context, key)
            if spec is not None:
                explicit_names.add(name)
                specs.append(spec)
    return specs


def _parse_model(name: str, raw: Any, context: ModelContext, origin: str | None = None) -> ModelSpec | None:
    """One model's spec, or None after adding its problems; ``origin`` names the discover pattern that found it."""
    problems = context.problems
    base = f"models.{name}"
    before = len(problems.items)
    if not MODEL_NAME_PATTERN.match(name):
        problems.add(base, f"model name {name!r} must use letters, digits, '_', '-' or '.' (it names a directory)")
    if not isinstance(raw, dict):
        problems.add(base, f'must be a table with at least `source = "models/{name}.keras"`, not {type_name(raw)}')
        return None
    _check_model_keys(raw, base, problems)
    values = dict(context.defaults)
    origins = dict(context.default_origins)
    for key, option in MODEL_OPTIONS.items():
        if key in raw:
            parsed = option.parse(raw[key], f"{base}.{key}", problems)
            origins[key] = context.naming.located(f"{base}.{key}")
            if parsed is not None:
                values[key] = parsed

    output_path = _model_output(name, raw, base, context)
    source_key = f"{base}.source" if origin is None else origin
    source_path = model_source(name, raw, source_key, values, output_path, context)

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
        options=model_options(values, metadata, model_format),
        origins=origins,
        naming=context.naming,
    )


def _check_model_keys(raw: dict[str, Any], base: str, problems: Problems) -> None:
    for key in sorted(raw):
        if key not in MODEL_OPTIONS and key not in MODEL_ONLY_KEYS:
            guess = did_you_mean(key, MODEL_ONLY_KEYS | MODEL_OPTIONS.keys())
            problems.add(
                f"{base}.{key}",
                f"unknown key{f' ({guess})' if guess else ''}; known keys: "
                f"{', '.join(sorted(MODEL_ONLY_KEYS | MODEL_OPTIONS.keys()))}",
            )


def _model_output(name: str, raw: dict[str, Any], base: str, context: ModelContext) -> Path | None:
    """The model's output directory: its own ``output``, else ``<output-dir>/<name>``."""
    if "output" in raw:
        return parse_relative_dir(raw["output"], f"{base}.output", context.root, context.problems)
    if context.output_dir is not None:
        return context.output_dir / name
    if not context.output_dir_given:  # an output-dir that was given but is invalid is reported once, on its own key
        context.problems.add(
            f"{base}.output",
            'no output directory: set output-dir on the hook table (e.g. output-dir = "src/mypkg/web_models") '
            "or output on the model; it can only be guessed when the wheel ships exactly one top-level package",
        )
    return None


def _merge_metadata(values: dict[str, Any], raw: dict[str, Any], base: str, problems: Problems) -> dict[str, Any]:
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
