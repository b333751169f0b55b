"""Configuration stage: the hook's TOML table becomes validated model specs.

Everything is checked before anything is converted, and every problem is reported at once with its full TOML path,
e.g. ``tool.hatch.build.hooks.tfjs.models.classifier.source: file not found: models/classifier.keras``. One module
per job: ``declarations`` (every option, declared once), ``parsers`` (option values), ``sources`` (a model's source),
``outputs`` (where outputs go and whether they may be written), ``spec`` (the results), ``wire`` (options between
TOML values and typed groups: a worker's plain form and a stamp's, generated from the declarations), ``load`` (the
entry point).
Nothing here imports anything heavy: hatchling imports the hook (and so this) just to ask for dependencies.
"""

from hatch_tfjs.config.declarations import (
    DEFAULT_READER,
    DEFAULT_TABLE,
    DEFAULT_TENSORFLOW_REQUIREMENT,
    GRAPH_OPTION_KEYS,
    MODEL_OPTIONS,
    OPTIONS,
)
from hatch_tfjs.config.load import load_settings
from hatch_tfjs.config.sources import is_sdist_tree
from hatch_tfjs.config.spec import HookSettings, ModelSpec, default_output_dir
from hatch_tfjs.config.wire import model_options, options_from_table, spec_from_json, spec_to_json
from hatch_tfjs.options import DEFAULT_SHARD_SIZE
from hatch_tfjs.ownership import STAMP_NAME

__all__ = [
    "DEFAULT_READER",
    "DEFAULT_SHARD_SIZE",
    "DEFAULT_TABLE",
    "DEFAULT_TENSORFLOW_REQUIREMENT",
    "GRAPH_OPTION_KEYS",
    "MODEL_OPTIONS",
    "OPTIONS",
    "STAMP_NAME",
    "HookSettings",
    "ModelSpec",
    "default_output_dir",
    "is_sdist_tree",
    "load_settings",
    "model_options",
    "options_from_table",
    "spec_from_json",
    "spec_to_json",
]
