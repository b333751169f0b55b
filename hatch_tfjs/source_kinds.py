"""What kind of file or directory a graph model's source is, decided once for every stage: a Keras file or a
SavedModel directory, and why anything else is not. Standard library only."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from hatch_tfjs.keras_names import KERAS_SUFFIXES

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


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
