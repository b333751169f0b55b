"""The TensorFlow graph route, composed: read (TensorFlow freezes and optimises the model) then translate (the pure
rewrites for TF.js, the op check, the weights).

``read/savedmodel.py`` does only what needs TensorFlow and returns a :class:`~hatch_tfjs.neutral.FrozenGraph`;
``translate/graph_pipeline.py`` turns that into :class:`~hatch_tfjs.neutral.GraphModelData`. The source check lives
here because it shares the configuration's wording (``graph_source_problem``), which the read stage does not import.
"""

from __future__ import annotations

from pathlib import Path

from hatch_tfjs.errors import ModelReadError
from hatch_tfjs.keras_names import is_keras_file
from hatch_tfjs.neutral import GraphModelData
from hatch_tfjs.option_naming import BUILD_NAMING, OptionNaming
from hatch_tfjs.options import GraphOptions
from hatch_tfjs.read.savedmodel import read_frozen_graph
from hatch_tfjs.source_kinds import graph_source_problem
from hatch_tfjs.translate.graph_pipeline import graph_model_data

__all__ = ["GraphOptions", "check_savedmodel_dir", "convert_tf_graph"]


def convert_tf_graph(
    source: Path, *, model_name: str, source_rel: str, options: GraphOptions, naming: OptionNaming = BUILD_NAMING
) -> GraphModelData:
    """A SavedModel directory or a Keras file -> everything its graph-model ``model.json`` needs (TensorFlow is
    imported when called). Raises :class:`ModelReadError` for a source that is neither, and
    :class:`~hatch_tfjs.errors.UnsupportedModelError` for a model TF.js cannot run."""
    if not is_keras_file(source):
        check_savedmodel_dir(source, model_name, source_rel, naming)
    frozen = read_frozen_graph(source, model_name=model_name, source_rel=source_rel, options=options, naming=naming)
    return graph_model_data(frozen, model_name=model_name, source_rel=source_rel, options=options)


def check_savedmodel_dir(
    source: Path, model_name: str, shown: str | None = None, naming: OptionNaming = BUILD_NAMING
) -> None:
    """Raise :class:`ModelReadError` unless ``source`` is a SavedModel directory, saying what it is instead."""
    problem = graph_source_problem(source, shown or str(source))
    if problem is None and source.is_file():
        problem = f"{shown or source} is a Keras file, not a SavedModel directory"
    if problem:
        raise ModelReadError(f"model '{model_name}' ({naming.key(model_name, 'source')}): {problem}")
