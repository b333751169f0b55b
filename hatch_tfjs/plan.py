"""Plan stage: which models are fresh (their output matches source, options and converter) and which must convert.

Freshness compares the stamp in each output directory (:mod:`hatch_tfjs.stamps`) with the source's content hash
(:mod:`hatch_tfjs.hashing`). Read-only: nothing here writes or deletes a file of the project, so planning is safe
while another build of the project converts. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hatch_tfjs.atomic import backup_path
from hatch_tfjs.config import ModelSpec
from hatch_tfjs.env import env_flag
from hatch_tfjs.hashing import hash_source
from hatch_tfjs.ownership import replace_conflict
from hatch_tfjs.stamps import CONVERTER, files_intact, read_stamp, stamp_key


@dataclass(frozen=True)
class ModelPlan:
    spec: ModelSpec
    fresh: bool
    reason: str  # why it must convert, or why it is fresh; shown by `hatch-tfjs list` and in debug output
    source_hash: str | None = None


def _judged_output(output: Path) -> Path:
    """The directory that holds ``output``'s current model: the output itself, or, when a build was killed between
    the two renames of the atomic swap, the backup that recovery (under the project lock) will put back."""
    if output.exists() or output.is_symlink():
        return output
    backup = backup_path(output)
    return backup if backup.is_dir() and not backup.is_symlink() and replace_conflict(backup) is None else output


def plan_model(spec: ModelSpec, *, force: bool = False) -> ModelPlan:
    """Whether ``spec`` must be converted, and why. Read-only: it changes nothing on disk, so it is safe while
    another build of the project converts (``dependencies()``, ``hatch-tfjs list`` run it without the lock)."""
    output = _judged_output(spec.output)
    stamp = read_stamp(output)
    if not spec.source.exists():
        if stamp is not None and files_intact(output, stamp):
            return ModelPlan(spec, True, "source absent (e.g. an sdist without it); using the shipped output")
        return ModelPlan(spec, False, "source missing")
    source_hash = hash_source(spec.source)
    if force:
        return ModelPlan(spec, False, "forced (HATCH_TFJS_FORCE)", source_hash)
    if stamp is None:
        return ModelPlan(
            spec, False, "no previous output" if not output.exists() else "output has no valid stamp", source_hash
        )
    if stamp.get("converter") != CONVERTER:
        return ModelPlan(spec, False, f"converted by {stamp.get('converter')}, now {CONVERTER}", source_hash)
    if stamp.get("source", {}).get("sha256") != source_hash:
        return ModelPlan(spec, False, "source changed", source_hash)
    if stamp.get("key") != stamp_key(spec, source_hash):
        return ModelPlan(spec, False, "options changed", source_hash)
    if not files_intact(output, stamp):
        return ModelPlan(spec, False, "output files missing or changed", source_hash)
    return ModelPlan(spec, True, "fresh", source_hash)


def plan_models(specs: tuple[ModelSpec, ...] | list[ModelSpec], *, force: bool | None = None) -> list[ModelPlan]:
    if force is None:
        force = env_flag("HATCH_TFJS_FORCE")
    return [plan_model(spec, force=force) for spec in specs]
