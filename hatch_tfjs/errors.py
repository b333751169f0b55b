"""Errors raised by hatch-tfjs.

Every error meant for a user carries a message that names the file, the model and the key involved and says what to
do; the hook turns them into one clean build failure instead of a traceback.
"""

from __future__ import annotations


class HatchTfjsError(Exception):
    """Base class for errors that are the user's to fix (bad configuration, unsupported model, bad file).

    ``detail`` holds what only a developer needs (a worker's traceback or last stderr lines), shown with ``-v``."""

    detail: str = ""


class ConfigError(HatchTfjsError):
    """The hook configuration has one or more problems; all of them are listed at once."""

    def __init__(self, problems: list[str], *, source: str = "pyproject.toml") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"{source}: {count} problem{'s' if count != 1 else ''} in the tfjs build hook configuration:\n{lines}"
        )


class UnsupportedModelError(HatchTfjsError):
    """A model uses something that TensorFlow.js cannot load; every offending part is listed."""

    def __init__(self, model: str, source: str, problems: list[str], *, kind: str = "layers") -> None:
        self.model = model
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        alternative = (
            '\n  (or ship it as a TF.js graph model: set format = "graph" on '
            f'[tool.hatch.build.hooks.tfjs.models.{model}])'
            if kind == "layers"
            else ""
        )
        super().__init__(
            f"model '{model}' ({source}) cannot be converted to a TF.js {kind} model:\n{lines}{alternative}"
        )


class ModelReadError(HatchTfjsError):
    """A model source could not be read."""


class ConversionError(HatchTfjsError):
    """Conversion of a model failed for a reason other than the above (for instance a crashed worker)."""


class OutputConflictError(HatchTfjsError):
    """Writing an output would replace or delete something hatch-tfjs did not write (a user's files, a symlink)."""


class OutputWriteError(HatchTfjsError):
    """The file system refused a write (read-only folder, full disk, permissions); the previous output is intact."""


class SourceKindError(ModelReadError):
    """A model source is neither a regular file nor a directory (a FIFO, a device): reading it would never end."""
