"""One build of a project's models: recover, plan, route, convert, index; and ``hatch clean``'s counterpart.

The hatchling hook (hook.py) is a thin shell over these functions; ``hatch-tfjs convert`` and ``check`` (cli.py)
route and convert through the same orchestrator, :func:`convert_models`, with their own :class:`ConvertSettings`.
Messages go to a :class:`Reporter` (the hook shows them through hatchling, ``tfjs:`` first); a user's mistake is
raised as one :class:`~hatch_tfjs.errors.HatchTfjsError` whose message says what to fix.

Importing this module imports nothing heavy: hatchling imports the hook just to ask for dependencies, before numpy
and h5py are installed. TensorFlow is only ever imported in the conversion workers.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hatch_tfjs.config import HookSettings, ModelSpec
from hatch_tfjs.env import converter_importable, importable, tensorflow_importable
from hatch_tfjs.errors import HatchTfjsError, TensorFlowNeededError
from hatch_tfjs.ownership import INDEX_NAME
from hatch_tfjs.plan import ModelPlan, plan_models
from hatch_tfjs.route import Route, needs_tensorflow
from hatch_tfjs.summary import build_summary, layers_advice, plural

if TYPE_CHECKING:
    from hatch_tfjs.convert import ConversionResult
    from hatch_tfjs.orphans import Orphan

# What the conversion itself needs; asked for by the build's dependencies when a model must be converted.
CONVERTER_REQUIREMENTS = ("numpy>=1.23", "h5py>=3.8")


class Reporter(Protocol):
    """Where a build's messages go, by kind (hatchling's ``display_*``)."""

    def info(self, message: str) -> None: ...

    def waiting(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...

    def success(self, message: str) -> None: ...

    def debug(self, message: str) -> None: ...


@dataclass(frozen=True)
class BuildPlan:
    """Which models a build converts, which it ships as they are, and which it cannot make (see plan.py)."""

    plans: tuple[ModelPlan, ...]

    @property
    def fresh(self) -> list[ModelPlan]:
        return [plan for plan in self.plans if plan.fresh]

    @property
    def stale(self) -> list[ModelSpec]:
        """The models to convert: stale, with a source to convert from."""
        return [plan.spec for plan in self.plans if not plan.fresh and plan.spec.source.exists()]

    @property
    def unconvertible(self) -> list[ModelSpec]:
        """Stale models without a source (an sdist without it, and no usable output shipped)."""
        return [plan.spec for plan in self.plans if not plan.fresh and not plan.spec.source.exists()]

    @property
    def source_hashes(self) -> dict[str, str | None]:
        return {plan.spec.name: plan.source_hash for plan in self.plans}


def plan_build(settings: HookSettings, *, force: bool | None = None) -> BuildPlan:
    """Judge every model's output; ``force`` makes every one stale (default: whether ``HATCH_TFJS_FORCE`` is set).
    Read-only: safe without the lock."""
    return BuildPlan(tuple(plan_models(settings.models, force=force)))


@dataclass(frozen=True)
class BuildOutcome:
    fresh: tuple[str, ...]  # the models shipped as they were (up to date, or HATCH_TFJS_SKIP)
    converted: tuple[ConversionResult, ...]
    index: Path | None  # index.json relative to the project root; None when it has no place (a warning said why)


# --- what a build needs installed --------------------------------------------------------------------------------


def build_requirements(settings: HookSettings, *, clean: bool = False) -> list[str]:
    """What converting the stale models needs that this environment lacks: numpy and h5py (hatch-tfjs installs none
    of its own, so an app that only serves its models pulls nothing), and TensorFlow when a stale model needs it and
    no distribution of it is importable. Nothing when every model is fresh. ``clean``: the build cleans first
    (``HATCH_BUILD_CLEAN``), so every model with a source will be converted. Read-only."""
    stale = plan_build(settings, force=True if clean else None).stale
    if not stale:
        return []
    requirements = [] if converter_importable() else list(CONVERTER_REQUIREMENTS)
    if not tensorflow_importable() and any(needs_tensorflow(spec) for spec in stale):
        requirements.append(settings.tensorflow_requirement)
    requirements.extend(_library_requirements(stale))
    return requirements


def _library_requirements(stale: Sequence[ModelSpec]) -> list[str]:
    """The Keras-family libraries (keras-hub, ...) whose classes the stale Keras files use and that are not
    importable here: Keras imports them when it loads the file. Told from each config with the standard library."""
    from hatch_tfjs.keras_names import is_keras_file
    from hatch_tfjs.libraries import LIBRARY_DISTRIBUTIONS, library_requirements
    from hatch_tfjs.read.keras_config import read_keras_config

    packages = {distribution: package for package, distribution in LIBRARY_DISTRIBUTIONS.items()}
    wanted: set[str] = set()
    for spec in stale:
        config = read_keras_config(spec.source, any_class=True) if is_keras_file(spec.source) else None
        wanted.update(library_requirements(config) if config is not None else [])
    return sorted(d for d in wanted if not importable(packages[d]))


# --- the build ---------------------------------------------------------------------------------------------------


def model_artifacts(settings: HookSettings) -> list[str]:
    """The outputs as hatchling artifacts: shipped on every build (sdist, wheel, wheel from sdist), also when git
    ignores them."""
    return [f"/{spec.output_rel}" for spec in settings.models]


def hold_project_lock(settings: HookSettings, reporter: Reporter) -> None:
    """Take the project's lock (see lock.py), saying so when another build has it; ``lock.release`` gives it back."""
    from hatch_tfjs import lock

    def waiting() -> None:
        reporter.waiting("another build of this project is converting models; waiting for it")

    lock.acquire(settings.root, on_wait=waiting)


def build_models(
    settings: HookSettings,
    packages: list[str],
    reporter: Reporter,
    *,
    skip: bool,
    declared_elsewhere: Sequence[Path] | None = (),
) -> BuildOutcome:
    """Make every model's output current and index them; the caller holds the project lock (:func:`hold_project_lock`).

    ``skip`` (``HATCH_TFJS_SKIP``) ships the outputs on disk as they are, and fails when one is missing. Outputs of
    earlier builds that no model declares (nor ``declared_elsewhere``: the outputs of the project's other hook
    tables) are removed first (see orphans.py); None: another table is invalid, so nothing is taken for an orphan."""
    _recover(settings)
    remove_orphaned_outputs(settings, packages, reporter, declared_elsewhere)
    converted: tuple[ConversionResult, ...] = ()
    if skip:
        _use_existing(settings, reporter)
        fresh = tuple(spec.name for spec in settings.models)
    else:
        plan = plan_build(settings)
        converted = _convert_stale(plan, settings, reporter)
        fresh = tuple(p.spec.name for p in plan.fresh)
    return BuildOutcome(fresh, converted, _write_index(settings, packages, reporter))


def orphaned_outputs(
    settings: HookSettings, packages: Sequence[str], declared_elsewhere: Sequence[Path] = ()
) -> tuple[list[Orphan], list[Path]]:
    """What earlier builds wrote that no model declares (see orphans.py), and where it was looked for. Read-only.

    ``declared_elsewhere``: outputs and indexes of the project's other hook tables, which are not orphans."""
    from hatch_tfjs.orphans import find_orphans, search_roots

    roots = search_roots(settings.root, packages, settings.output_dir)
    return find_orphans(roots, [*declared_paths(settings, packages), *declared_elsewhere]), roots


def declared_paths(settings: HookSettings, packages: Sequence[str]) -> list[Path]:
    """Every output directory ``settings`` declares, and the index its builds write."""
    from hatch_tfjs.index import index_directory

    outputs = [spec.output for spec in settings.models]
    index_dir = index_directory(settings.output_dir, outputs, settings.root, list(packages))
    return outputs + ([index_dir / INDEX_NAME] if index_dir is not None else [])


def remove_orphaned_outputs(
    settings: HookSettings,
    packages: Sequence[str],
    reporter: Reporter,
    declared_elsewhere: Sequence[Path] | None = (),
) -> None:
    """Remove what earlier builds wrote that no model declares, saying what; the caller holds the project lock.
    ``declared_elsewhere`` None: what the project's other hook tables declare is unknown, so nothing is removed."""
    from hatch_tfjs.orphans import remove_orphans

    if declared_elsewhere is None:
        reporter.debug("another tfjs hook table of the project is invalid: no earlier output is taken for an orphan")
        return
    orphans, roots = orphaned_outputs(settings, packages, declared_elsewhere)
    remove_orphans(orphans, settings.root, roots, reporter.info)


def _recover(settings: HookSettings) -> None:
    """Finish or undo what a killed build left (backup and staging directories), under the lock, before the outputs
    are judged or packed: none of it may reach a wheel or an sdist."""
    from hatch_tfjs.atomic import recover

    for spec in settings.models:
        recover(spec.output)


def _use_existing(settings: HookSettings, reporter: Reporter) -> None:
    missing = [spec for spec in settings.models if not (spec.output / "model.json").is_file()]
    if missing:
        listing = ", ".join(f"'{spec.name}' ({spec.output_rel}/model.json)" for spec in missing)
        raise HatchTfjsError(
            f"HATCH_TFJS_SKIP is set but {len(missing)} model output{'s are' if len(missing) != 1 else ' is'} "
            f"missing: {listing}; build once without HATCH_TFJS_SKIP"
        )
    reporter.info(f"HATCH_TFJS_SKIP is set; shipping the {len(settings.models)} existing model outputs")


def _convert_stale(plan: BuildPlan, settings: HookSettings, reporter: Reporter) -> tuple[ConversionResult, ...]:
    if plan.unconvertible:
        names = ", ".join(f"'{spec.name}' ({spec.source_rel})" for spec in plan.unconvertible)
        raise HatchTfjsError(f"source missing and no usable output shipped for: {names}")
    for fresh in plan.fresh:
        reporter.debug(f"{fresh.spec.name}: {fresh.reason}, not converted")
    stale = plan.stale
    fresh_count = len(plan.fresh)
    if not stale:
        reporter.info(f"{plural(fresh_count, 'model')} up to date")
        return ()
    reporter.waiting(
        f"converting {plural(len(stale), 'model')} to TensorFlow.js"
        + (f" ({fresh_count} up to date)" if fresh_count else "")
    )

    def report(result: ConversionResult) -> None:
        reporter.info(build_summary(result))
        advice = layers_advice(result)
        if advice:
            reporter.debug(advice)
        for note in result.notes:  # what the conversion did, for the record: the model converted
            reporter.info(f"{result.name}: {note}")

    try:
        converted = convert_models(
            stale, ConvertSettings(jobs=settings.jobs), on_result=report, source_hashes=plan.source_hashes
        )
    except HatchTfjsError as exc:
        if exc.detail:
            reporter.debug(f"worker detail:\n{exc.detail}")
        raise
    reporter.success(f"{plural(len(stale), 'model')} converted")
    return tuple(converted.results)


# --- converting: the one orchestrator ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvertSettings:
    """How :func:`convert_models` converts: what the build, ``hatch-tfjs convert`` and ``hatch-tfjs check`` do
    differently, and nothing else.

    ``jobs``: workers at a time (None: up to 4). ``replace_foreign``: replace an output holding files hatch-tfjs did
    not write (``convert --force``, see atomic.py). ``in_process``: convert the models that need no TensorFlow in
    this process (``convert``'s one model: no worker to start), a model the compiler refuses at conversion then going
    to the TensorFlow worker; the build gives every model a worker (a crash names its model, several convert at
    once). ``keep_going``: convert every model that can be, and return the failures (``check`` lists them all)
    instead of raising the first routing error, or one error for the failed conversions."""

    jobs: int | None = None
    replace_foreign: bool = False
    in_process: bool = False
    keep_going: bool = False


@dataclass
class Conversions:
    """What :func:`convert_models` made, and (with ``keep_going``) what it could not: a routing error per model,
    then one error for the models whose conversion failed."""

    results: list[ConversionResult] = field(default_factory=list)
    failures: list[HatchTfjsError] = field(default_factory=list)


def convert_models(
    specs: Sequence[ModelSpec],
    how: ConvertSettings,
    *,
    on_result: Callable[[ConversionResult], None] | None = None,
    source_hashes: dict[str, str | None] | None = None,
) -> Conversions:
    """Route every model (see route.py), then convert it: in this process where ``how`` allows and the model needs
    no TensorFlow, else in workers (every model that needs TensorFlow in one). ``on_result`` sees each result as it
    comes; ``source_hashes`` are the plan stage's (see plan.py)."""
    from hatch_tfjs.workers import convert_in_workers

    done = Conversions()

    def record(result: ConversionResult) -> None:
        done.results.append(result)
        if on_result is not None:
            on_result(result)

    hashes = source_hashes or {}
    if how.keep_going:
        routes, done.failures = route_each(specs, hashes)
    else:
        routes = route_models(specs, hashes)
    in_workers = []
    for spec in (spec for spec in specs if spec.name in routes):
        if not how.in_process or needs_tensorflow(spec, routes[spec.name]):
            in_workers.append(spec)
            continue
        try:
            record(_convert_here(spec, routes[spec.name], hashes.get(spec.name), how))
        except TensorFlowNeededError as exc:  # the compiler refused a layer only now: TensorFlow's worker converts it
            routes[spec.name] = replace(routes[spec.name], tensorflow=exc.reasons)
            in_workers.append(spec)
        except HatchTfjsError as exc:
            if not how.keep_going:
                raise
            done.failures.append(exc)
    try:
        convert_in_workers(
            in_workers,
            jobs=how.jobs,
            on_result=record,
            source_hashes=hashes,
            routes=routes,
            replace_foreign=how.replace_foreign,
        )
    except HatchTfjsError as exc:
        if not how.keep_going:
            raise
        done.failures.append(exc)
    return done


def _convert_here(spec: ModelSpec, route: Route, source_hash: str | None, how: ConvertSettings) -> ConversionResult:
    from hatch_tfjs.convert import convert_model

    return convert_model(
        spec, source_hash=source_hash, route=route, replace_foreign=how.replace_foreign, tensorflow_here=False
    )


def _write_index(settings: HookSettings, packages: list[str], reporter: Reporter) -> Path | None:
    """``<output-dir>/index.json`` for ``hatch_tfjs.runtime`` (see index.py), shipped like the model outputs."""
    from hatch_tfjs.index import write_index_for_build

    try:
        models = [(spec.name, spec.output) for spec in settings.models]
        index, message = write_index_for_build(models, settings.output_dir, settings.root, packages)
    except OSError as exc:
        raise HatchTfjsError(
            f"cannot write the model index in {exc.filename or settings.output_dir}: {exc.strerror}; "
            "make that folder writable (or free space on its disk) and build again"
        ) from exc
    if index is None:
        reporter.warning(message)
    else:
        reporter.debug(message)
    return index


# --- routing -----------------------------------------------------------------------------------------------------


def route_each(
    specs: Sequence[ModelSpec], source_hashes: dict[str, str | None] | None = None
) -> tuple[dict[str, Route], list[HatchTfjsError]]:
    """The route of every model (see route.py: the format an ``auto`` model becomes, and whether converting it needs
    TensorFlow, worked out without TensorFlow), and the error of each model whose source cannot be read.
    ``source_hashes``: the plan stage's, which spare hashing the sources again."""
    outcomes = [_route_or_error(spec, (source_hashes or {}).get(spec.name)) for spec in specs]
    routes = {
        spec.name: outcome
        for spec, outcome in zip(specs, outcomes, strict=True)
        if not isinstance(outcome, HatchTfjsError)
    }
    return routes, [outcome for outcome in outcomes if isinstance(outcome, HatchTfjsError)]


def _route_or_error(spec: ModelSpec, source_hash: str | None) -> Route | HatchTfjsError:
    from hatch_tfjs.route import route_model

    try:
        return route_model(spec, source_hash)
    except HatchTfjsError as exc:
        return exc


def route_models(
    specs: Sequence[ModelSpec], source_hashes: dict[str, str | None] | None = None
) -> dict[str, Route]:
    """The route of every model; the error of the one model whose source cannot be read, or one naming them all."""
    routes, failures = route_each(specs, source_hashes)
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise HatchTfjsError("\n".join(str(failure) for failure in failures))
    return routes


# --- hatch clean -------------------------------------------------------------------------------------------------


def clean_outputs(
    settings: HookSettings,
    reporter: Reporter,
    *,
    before_build: bool = False,
    packages: Sequence[str] = (),
    declared_elsewhere: Sequence[Path] | None = (),
) -> None:
    """Remove the outputs hatch-tfjs wrote (never a directory holding anything else), its index, and output-dir when
    that leaves it empty; under the project lock.

    An output whose source is absent (an sdist ships it instead) is kept: nothing could convert it again. With
    ``before_build`` (``hatch build -c``, ``HATCH_BUILD_CLEAN``), so is an up-to-date output that this environment
    cannot convert again: hatch asks the hook for its dependencies without saying that it will clean."""
    from hatch_tfjs.index import index_directory
    from hatch_tfjs.lock import project_lock
    from hatch_tfjs.ownership import is_own_index, replace_conflict

    with project_lock(settings.root):
        _recover(settings)
        remove_orphaned_outputs(settings, packages, reporter, declared_elsewhere)
        for spec in settings.models:
            if not spec.output.is_dir() or spec.output.is_symlink():
                continue
            conflict = replace_conflict(spec.output)
            if conflict is not None:
                reporter.warning(f"kept {spec.output_rel}/: it {conflict}")
                continue
            kept = _why_keep_on_clean(spec, before_build=before_build)
            if kept is not None:
                reporter.info(f"kept {spec.output_rel}/: {kept}")
                continue
            shutil.rmtree(spec.output)
            reporter.info(f"removed {spec.output_rel}/")
        index_dir = index_directory(settings.output_dir, [s.output for s in settings.models], settings.root, None)
        if index_dir is not None and (index_dir / INDEX_NAME).is_file() and is_own_index(index_dir / INDEX_NAME):
            (index_dir / INDEX_NAME).unlink()
            reporter.info(f"removed {(index_dir / INDEX_NAME).relative_to(settings.root).as_posix()}")
        output_dir = settings.output_dir
        if (
            output_dir is not None
            and output_dir.is_dir()
            and not output_dir.is_symlink()
            and not any(output_dir.iterdir())
        ):
            output_dir.rmdir()
            reporter.info(f"removed the empty {output_dir.relative_to(settings.root).as_posix()}/")


def _why_keep_on_clean(spec: ModelSpec, *, before_build: bool) -> str | None:
    """Why cleaning keeps ``spec``'s output (a phrase), or None to remove it."""
    from hatch_tfjs.plan import plan_model

    if not spec.source.exists():
        return f"its source {spec.source_rel} is absent, so it could not be converted again"
    if not before_build or not plan_model(spec).fresh:
        return None
    if not converter_importable():
        missing = "numpy and h5py"
    elif needs_tensorflow(spec) and not tensorflow_importable():
        missing = "TensorFlow"
    else:
        return None
    return (
        f"it is up to date, and this build environment has no {missing} to convert it again (hatch build -c cleans "
        "without telling the hook beforehand; HATCH_BUILD_CLEAN=1 hatch build does, and converts it again)"
    )
