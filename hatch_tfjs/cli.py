"""``hatch-tfjs``: convert one model, check or list a project's models, inspect a converted model.

    hatch-tfjs convert models/clf.keras web_models/clf --quantize uint8
    hatch-tfjs check [PROJECT]        # configuration + every model converts (into a temporary directory); exit 0/1
    hatch-tfjs list [PROJECT]         # the models a build makes, and whether each is fresh
    hatch-tfjs inspect [TARGET]       # what converted models hold: a model folder, a model name, the output dir or
                                      # the project (default: .); --json for machines

User mistakes are reported as clear messages, never tracebacks; ``-v`` adds detail (and the traceback of an internal
error). Conversions that need TensorFlow run in worker processes, as in a build: this process never imports it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatch_tfjs import __version__
from hatch_tfjs.config.declarations import FLAG_FOR_KEY, OPTIONS
from hatch_tfjs.describe import human_bytes
from hatch_tfjs.errors import ConfigError, ConversionError, HatchTfjsError
from hatch_tfjs.option_naming import OptionNaming
from hatch_tfjs.suggest import closest, did_you_mean
from hatch_tfjs.summary import layers_advice, result_row, result_summary

if TYPE_CHECKING:
    from hatch_tfjs.config import ModelSpec
    from hatch_tfjs.convert import ConversionResult
    from hatch_tfjs.orphans import Orphan

PROG = "hatch-tfjs"
CONVERTER_MODULES = ("numpy", "h5py", "hatchling", "tomli")  # what `pip install 'hatch-tfjs[convert]'` adds
CONVERT_TABLE = "convert"


class UsageError(HatchTfjsError):
    """A command-line argument is wrong."""


class _Parser(argparse.ArgumentParser):
    """argparse with "did you mean" for a misspelt subcommand, and no abbreviated flags (``--quant`` would silently
    become ``--quantize``, and a future flag could change what it means)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str) -> Any:
        match = re.search(r"invalid choice: '?([^' ]+)'?", message)
        if match:
            choices = [c for action in self._actions if action.choices for c in action.choices]
            hint = did_you_mean(match.group(1), choices)
            message += f"; {hint}" if hint else ""
        return super().error(message)

    def unrecognized(self, extras: list[str]) -> Any:
        """Fail on arguments no option takes, suggesting the flag meant for each misspelt one."""
        flags = [flag for action in self._actions for flag in action.option_strings]
        hints = []
        for extra in extras:
            meant = closest(extra.split("=", 1)[0], flags) if extra.startswith("--") else None
            if meant:
                hints.append(f"{extra.split('=', 1)[0]}: did you mean {meant}?")
        return self.error(f"unrecognized arguments: {' '.join(extras)}" + (f" ({'; '.join(hints)})" if hints else ""))


def _shape(shape: list[Any] | None) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join("None" if d is None else str(d) for d in shape) + "]"


# --- convert ---------------------------------------------------------------------------------------------------------


def _quantize_option(values: list[str]) -> Any:
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    rules: dict[str, list[str]] = {}
    for value in values:
        dtype, _, patterns = value.partition("=")
        rules.setdefault(dtype.strip(), []).extend(p.strip() for p in (patterns or "*").split(",") if p.strip())
    return rules


def _shard_size_option(text: str) -> int | str:
    """The number --shard-size names; other text is passed on as is, for the configuration's check to refuse in the
    same words as ``shard-size`` in pyproject.toml (in the command line's naming, see option_naming.py)."""
    try:
        return int(text.strip())
    except ValueError:
        return text


def _convert_config(args: argparse.Namespace, name: str, root: Path, source: Path, outdir: Path) -> dict[str, Any]:
    # Absolute paths: messages then show them as the user can find them (root only bounds where files may be).
    model: dict[str, Any] = {"source": str(source), "output": str(outdir)}
    if args.format:
        model["format"] = args.format
    if args.shard_size is not None:
        model["shard-size"] = _shard_size_option(args.shard_size)
    if args.quantize:
        model["quantize"] = _quantize_option(args.quantize)
    if args.reader:
        model["reader"] = args.reader
    if args.custom_modules:
        model["custom-modules"] = args.custom_modules
    if args.metadata:
        model.update(_metadata_option(args.metadata.strip()))
    return {"models": {name: model}}


def _metadata_option(text: str) -> dict[str, Any]:
    """``--metadata``: inline JSON (``{...}``) or the path of a JSON file, as the configuration's keys."""
    example = "e.g. --metadata '{\"labels\": [\"cat\", \"dog\"]}' or --metadata labels.json"
    if not text.startswith(("{", "[")):
        try:
            return {"metadata-file": str(Path(text).resolve())}
        except OSError as exc:
            raise UsageError(f"--metadata: {text[:60]!r}... is neither a JSON object nor a file name ({exc.strerror}); "
                             f"{example}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--metadata: not a valid JSON object ({exc.msg} at column {exc.colno}); {example}") from exc
    except RecursionError:
        from hatch_tfjs.metadata_json import DEEP

        raise UsageError(f"--metadata: {DEEP}") from None
    if not isinstance(value, dict):
        raise UsageError(f"--metadata: a JSON array, not a JSON object; {example}")
    return {"metadata": value}


# How the command line names the options in messages: by their flags (``--quantize``), its own words for values.
NAMING = OptionNaming(CONVERT_TABLE, flags=FLAG_FOR_KEY, source="command line")


def _cli_problems(exc: ConfigError) -> str:
    """Configuration problems in terms of the command line: ``--shard-size: must be ...``."""
    lines = [f"  - {NAMING.located(p.option)}: {p.message}" for p in exc.items]
    count = len(lines)
    return f"cannot convert: {count} problem{'s' if count != 1 else ''} with the arguments:\n" + "\n".join(lines)


def cmd_convert(args: argparse.Namespace) -> int:
    from hatch_tfjs.config import load_settings

    source = Path(args.source).resolve()
    # abspath: '..' collapsed, symlinks kept (Path.resolve would follow them, Path.absolute keeps '..')
    outdir = Path(os.path.abspath(args.outdir))  # noqa: PTH100
    if not source.exists():
        raise UsageError(f"SOURCE {args.source}: file not found")
    _claim_outdir(args.outdir, outdir, force=args.force)
    name = args.name or (source.stem if source.is_file() else source.name)
    # The command line writes where its user says: no project bounds its paths, and messages show them absolute.
    root = Path(source.anchor)
    config = _convert_config(args, name, root, source, outdir)
    try:
        settings = load_settings(
            root,
            config,
            table=CONVERT_TABLE,
            wheel_packages=[],
            source="command line",
            guard_outputs=False,
            naming=NAMING,
        )
    except ConfigError as exc:
        raise UsageError(_cli_problems(exc)) from None
    # custom-modules come from the working directory's source tree, as a project's come from its own
    specs = [dataclasses.replace(spec, modules_root=Path.cwd()) for spec in settings.models]
    from hatch_tfjs.build import ConvertSettings, convert_models
    from hatch_tfjs.lock import project_lock

    # The build's orchestrator, for one model: here when it needs no TensorFlow (no worker to start), else in the
    # TensorFlow worker, as in a build: this process never imports TensorFlow.
    how = ConvertSettings(jobs=1, replace_foreign=args.force, in_process=True)
    with project_lock(outdir.parent):  # one writer per folder: recovery after a killed run deletes only then
        (result,) = convert_models(specs, how).results
    print(result_summary(result, str(outdir)))
    advice = layers_advice(result) if args.verbose else None
    if advice:
        print(f"  {advice}")
    for note in result.notes:
        print(f"  note: {note}")
    return 0


def _claim_outdir(given: str, outdir: Path, *, force: bool) -> None:
    """OUTDIR must be absent, empty or a model hatch-tfjs wrote; ``--force`` replaces another directory after saying
    what it removes. A symbolic link or a file is never replaced."""
    from hatch_tfjs.ownership import foreign_entries, replace_conflict

    conflict = replace_conflict(outdir)
    if conflict is None:
        return
    if not force or outdir.is_symlink() or not outdir.is_dir():
        fix = (
            "pass the directory it points to" if outdir.is_symlink()
            else "choose another OUTDIR" if not outdir.is_dir()
            else "choose a new or empty directory, or pass --force to replace it (deleting what it holds)"
        )
        raise UsageError(f"OUTDIR {given} {conflict}; hatch-tfjs only replaces directories it wrote itself: {fix}")
    removed = foreign_entries(outdir)
    print(
        f"--force: replacing {outdir}, which holds {len(removed)} entr{'ies' if len(removed) != 1 else 'y'} hatch-tfjs "
        f"did not write: {', '.join(removed)}",
        file=sys.stderr,
    )


# --- check -----------------------------------------------------------------------------------------------------------


def _project_header(project: Any) -> str:
    count = len(project.settings.models)
    packages = ", ".join(project.packages) or "none found"
    models = f"{count} model{'s' if count != 1 else ''}"
    return f"{project.pyproject}: [{project.table}] is valid: {models}; wheel packages: {packages}"


def _convert_in_scratch(
    specs: Sequence[ModelSpec], *, jobs: int | None, verbose: bool
) -> tuple[dict[str, ConversionResult], list[str]]:
    """Route and convert every model that has a source through the build's orchestrator (read, support check, op
    check, quantization), but into a scratch directory, past every failure: the results by model name, and the
    failures as check prints them."""
    from hatch_tfjs.build import ConvertSettings, convert_models

    with tempfile.TemporaryDirectory(prefix="hatch-tfjs-check-") as scratch:
        trial = [dataclasses.replace(spec, output=Path(scratch) / spec.name) for spec in specs if spec.source.exists()]
        done = convert_models(trial, ConvertSettings(jobs=jobs, keep_going=True))
    return {result.name: result for result in done.results}, [_failure_text(exc, verbose) for exc in done.failures]


def _failure_text(exc: HatchTfjsError, verbose: bool) -> str:
    """A failure as check prints it: a crashed conversion's detail with -v, else a pointer to -v."""
    if not isinstance(exc, ConversionError) or not exc.detail:
        return str(exc)
    return f"{exc}\n{exc.detail}" if verbose else f"{exc} (run with -v for details)"


def cmd_check(args: argparse.Namespace) -> int:
    from hatch_tfjs.project import load_project, project_orphans, wheel_selection_problem

    project = load_project(args.project)
    print(_project_header(project))
    for miss in project.near_misses:
        print(f"{'error' if miss.fatal else 'warning'}: {miss}: {miss.consequence}; rename it")
    if any(miss.fatal for miss in project.near_misses):
        print("\ncheck failed: rename the table(s) above (merge them into the tfjs table)")
        return 1
    selection_problem = wheel_selection_problem(project.root)
    if selection_problem is not None and project.settings.models:
        print(f"\nthe wheel would ship the converted models but no Python code; hatchling says:\n{selection_problem}")
        print("\ncheck failed: set [tool.hatch.build.targets.wheel] packages")
        return 1
    specs = project.settings.models
    if not specs:
        print("no models configured: nothing to convert")
        return 0
    results, failures = _convert_in_scratch(specs, jobs=project.settings.jobs, verbose=args.verbose)
    unconvertible = [spec for spec in specs if not spec.source.exists()]
    width = max(len(spec.name) for spec in specs)
    for spec in specs:
        result = results.get(spec.name)
        where = f"{spec.source_rel} -> {spec.output_rel}/"
        if result is not None:
            print(f"  ok    {spec.name:<{width}}  {where}  {result_row(result)}")
        elif spec in unconvertible:
            print(f"  skip  {spec.name:<{width}}  {where}  source absent; the shipped output is used as is")
        else:
            print(f"  FAIL  {spec.name:<{width}}  {where}")
    orphans = [_orphan_row(orphan, project.root) for orphan in project_orphans(project)]
    for orphan in orphans:
        print(f"  orphaned  {orphan['path']}  {orphan['state']}")
    if failures:
        print("\n" + "\n".join(failures))
        print(
            f"\ncheck failed: {len(specs) - len(results) - len(unconvertible)} of {len(specs)} models cannot be "
            "converted"
        )
        return 1
    if not all(orphan["removable"] for orphan in orphans):
        print("\ncheck failed: an orphaned output holds files hatch-tfjs did not write (see above)")
        return 1
    print("check passed: every model converts (nothing was written to the project)")
    return 0


# --- list ------------------------------------------------------------------------------------------------------------


def _listed_format(plan: Any) -> str:
    """The format a model has (a fresh output's, read from its model.json) or will get (``auto`` until converted)."""
    if plan.fresh:
        try:
            document = json.loads((plan.spec.output / "model.json").read_text("utf-8"))
            formats = {"layers-model": "layers", "graph-model": "graph"}
            listed: str = formats.get(document.get("format"), plan.spec.format)
            return listed
        except (OSError, ValueError, AttributeError):
            pass
    return str(plan.spec.format)


def cmd_list(args: argparse.Namespace) -> int:
    from hatch_tfjs.build import plan_build
    from hatch_tfjs.project import load_project, project_orphans

    project = load_project(args.project)
    plans = plan_build(project.settings, force=False).plans
    rows: list[dict[str, Any]] = [
        {
            "name": plan.spec.name,
            "format": _listed_format(plan),
            "source": plan.spec.source_rel,
            "output": plan.spec.output_rel,
            "fresh": plan.fresh,
            "reason": plan.reason,
        }
        for plan in plans
    ]
    orphans = [_orphan_row(orphan, project.root) for orphan in project_orphans(project)]
    if args.json:
        listing = {"project": str(project.root), "table": project.table, "models": rows, "orphans": orphans}
        print(json.dumps(listing, indent=2))
        return 0
    if not rows:
        print(f"{project.pyproject}: no models configured")
    else:
        width = max(len(r["name"]) for r in rows)
        for row in rows:
            state = "fresh" if row["fresh"] else f"stale ({row['reason']})"
            print(f"{row['name']:<{width}}  {row['format']:<6}  {row['source']} -> {row['output']}/  {state}")
        stale = sum(not r["fresh"] for r in rows)
        print(f"{len(rows)} model{'s' if len(rows) != 1 else ''}, {stale} to convert on the next build")
    for orphan in orphans:
        print(f"orphaned: {orphan['path']} ({orphan['state']})")
    return 0


def _orphan_row(orphan: Orphan, root: Path) -> dict[str, Any]:
    """An orphan (see orphans.py) as ``list`` and ``check`` show it."""
    if orphan.conflict is None:
        state = "no model declares it; the next build removes it"
    else:
        state = f"no model declares it, and it {orphan.conflict}: move those files, or the next build fails"
    return {"path": orphan.shown(root), "removable": orphan.conflict is None, "state": state}


# --- inspect ---------------------------------------------------------------------------------------------------------


_TFJS_CALLS = {
    ("layers", "sync"): "tf.loadLayersModel, then model.predict()",
    ("graph", "sync"): "tf.loadGraphModel, then model.execute()",
    ("graph", "async"): "tf.loadGraphModel, then await model.executeAsync() (the graph has control flow)",
}


def _producer(info: dict[str, Any]) -> str:
    """What wrote the model: ``keras v3.4.1`` for layers models; a graph model's generatedBy is TensorFlow's bare
    version, named here."""
    produced = str(info["generated_by"])
    return f"TensorFlow {produced}" if info["format"] == "graph" and produced[:1].isdigit() else produced


def cmd_inspect(args: argparse.Namespace) -> int:
    from hatch_tfjs.describe import ModelDirError, describe_model_dir
    from hatch_tfjs.inspect_targets import inspect_targets

    targets, several = inspect_targets(args.target)
    described: list[dict[str, Any]] = []
    for target in targets:
        if target.missing:
            described.append({"name": target.name, "path": str(target.path), "problems": [target.missing]})
            continue
        try:
            info = describe_model_dir(target.path)
        except ModelDirError as exc:
            raise UsageError(str(exc)) from None
        described.append({"name": target.name, **info} if several else info)
    failed = any(info["problems"] for info in described)
    if args.json:
        print(json.dumps({"models": described} if several else described[0], indent=2))
    elif several and not described:
        print("no models configured: nothing to inspect")
    else:
        print("\n\n".join(_inspect_text(info) for info in described))
    return 1 if failed else 0


def _inspect_text(info: dict[str, Any]) -> str:
    """What ``inspect`` prints about one model folder (or about a declared model that is not built yet)."""
    named = f"{info['name']}: " if info.get("name") else ""
    if "format" not in info:
        return f"{named}{info['path']}: not built\n" + "\n".join(f"  problem: {p}" for p in info["problems"])
    kind = "ops" if info["format"] == "graph" else "layers"
    counts = info[kind]
    lines = [f"{named}{info['path']}: TF.js {info['format']} model ({_producer(info)}, {info['converted_by']})"]
    lines.append(f"  runs with: {_TFJS_CALLS[info['format'], info['execution']]}")
    for label, tensors in (("inputs", info["inputs"]), ("outputs", info["outputs"])):
        lines.append(f"  {label}:")
        lines += [f"    {tensor['name']}: {_shape(tensor['shape'])} {tensor['dtype']}" for tensor in tensors]
    lines.append(f"  {kind}: {sum(counts.values())} ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    weights = info["weights"]
    lines.append(
        f"  weights: {weights['count']} tensors, {weights['parameters']} values, {human_bytes(weights['bytes'])}"
    )
    for group in weights["by_storage"]:
        stored = (
            group["dtype"] if group["stored"] == group["dtype"] else f"{group['dtype']} stored as {group['stored']}"
        )
        lines.append(
            f"    {stored}: {group['count']} tensors, {group['parameters']} values, {human_bytes(group['bytes'])}"
        )
    quantization = info["quantization"]
    lines.append(
        "  quantization: " + (", ".join(f"{n} weights stored as {d}" for d, n in quantization.items()) or "none")
    )
    lines.append(f"  shards: {len(info['shards'])}, total with model.json {human_bytes(info['total_bytes'])}")
    for shard in info["shards"]:
        lines.append(f"    {shard['path']}  {human_bytes(shard['bytes']) if shard['bytes'] is not None else 'MISSING'}")
    metadata = info["metadata"]
    lines.append("  metadata: " + (json.dumps(metadata, ensure_ascii=False) if metadata else "none"))
    lines += [f"  problem: {problem}" for problem in info["problems"]]
    return "\n".join(lines)


# --- entry point -----------------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    verbose_help = "more detail on errors (and tracebacks of internal errors)"
    common = _Parser(add_help=False)  # -v after the subcommand; SUPPRESS keeps one given before it
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    parser = _Parser(
        prog=PROG,
        description="Convert Keras/TensorFlow models to TensorFlow.js and check the models a project bundles.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    convert = sub.add_parser(
        "convert",
        parents=[common],
        help="convert one model into a directory (no project needed)",
        description="Convert one Keras file (.keras, .h5) or SavedModel directory into OUTDIR (model.json + weight "
        "shards). The options are those of the build hook's per-model configuration, validated the same way.",
    )
    convert.add_argument(
        "source", metavar="SOURCE", help="a .keras/.h5 file, or a SavedModel directory with --format graph"
    )
    convert.add_argument("outdir", metavar="OUTDIR", help="directory to (re)place with model.json and its shards")
    for option in OPTIONS:  # the flags of the per-model options, declared with them (config/declarations.py)
        if option.flag is not None:
            convert.add_argument(
                option.flag.name,
                help=option.flag.help,
                metavar=option.flag.metavar,
                action="append" if option.flag.repeat else "store",
            )
    convert.add_argument("--name", help="the model's name in messages (default: SOURCE's file name without suffix)")
    convert.add_argument(
        "--force",
        action="store_true",
        help="replace OUTDIR even if it holds files hatch-tfjs did not write "
        "(they are deleted; the command lists them)",
    )
    convert.set_defaults(func=cmd_convert, parser=convert)

    check = sub.add_parser(
        "check",
        parents=[common],
        help="validate a project's configuration and check that every model converts",
        description="Validate the tfjs build hook configuration of PROJECT and convert every declared model into a "
        "temporary directory (read, TF.js support check, op check, quantization), writing nothing into the project. "
        "Exit code 0 when every model converts, 1 otherwise.",
    )
    check.add_argument("project", nargs="?", default=".", metavar="PROJECT", help="project directory (default: .)")
    check.set_defaults(func=cmd_check, parser=check)

    listing = sub.add_parser(
        "list",
        parents=[common],
        help="list the models a build makes and whether each is fresh",
        description="List the models the build hook would make for PROJECT, with their sources and outputs, and "
        "whether each output is fresh (matches its source, options and converter) or will be converted again.",
    )
    listing.add_argument("project", nargs="?", default=".", metavar="PROJECT", help="project directory (default: .)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=cmd_list, parser=listing)

    inspect = sub.add_parser(
        "inspect",
        parents=[common],
        help="describe converted TF.js models: a model folder, a model by name, or every model of a project",
        description="Describe TF.js models: format, inputs and outputs, layer or op counts, weights per dtype, "
        "shards, quantization and metadata. TARGET is a model folder (with model.json), the output dir (with the "
        "build's index.json), a project (default: .) or the name of one of its models. Exit code 1 when a model is "
        "not built or its shards are missing or incomplete.",
    )
    inspect.add_argument(
        "target",
        nargs="?",
        metavar="TARGET",
        help="a model folder, the output dir, a project directory or a model name (default: the project in .)",
    )
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(func=cmd_inspect, parser=inspect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        args.parser.unrecognized(extras)  # in the subcommand's usage, with the flag each misspelt one was meant to be
    try:
        status: int = args.func(args)
        return status
    except ConversionError as exc:
        detail = getattr(exc, "detail", "")
        if detail and args.verbose:
            print(detail, file=sys.stderr)
        print(
            f"{PROG}: error: {exc}" + (" (run with -v for details)" if detail and not args.verbose else ""),
            file=sys.stderr,
        )
        return 1
    except HatchTfjsError as exc:  # the user's to fix: the message says what and how, no traceback
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        if exc.name not in CONVERTER_MODULES:
            raise
        print(
            f"{PROG}: error: this command needs {exc.name}, which is not installed: the command line converts with "
            "numpy, "
            "h5py and hatchling, which an app that only serves its models does not need; install them with: "
            "pip install 'hatch-tfjs[convert]'",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug in hatch-tfjs: one line, the traceback with -v
        if args.verbose:
            traceback.print_exc()
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {exc}"
            + ("" if args.verbose else " (run with -v for the traceback)"),
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
