"""Errors raised by hatch-tfjs, in two families told apart by class.

:class:`HatchTfjsError` and its subclasses are the user's to fix (or, for :class:`ConversionError`, to retry): each
message names the file, the model and the key involved and says what to do; the hook turns them into one clean build
failure and the command line into one line, never a traceback. They keep their class across the worker boundary
(workers.py). :class:`InternalError` is a gap or bug in hatch-tfjs itself: reported with its traceback, for a bug
report.
"""

from __future__ import annotations

from dataclasses import dataclass

from hatch_tfjs.option_naming import BUILD_TABLE, OptionNaming


class HatchTfjsError(Exception):
    """Base class for errors that are the user's to fix (bad configuration, unsupported model, bad file).

    ``detail`` holds what only a developer needs (a worker's traceback or last stderr lines), shown with ``-v``."""

    detail: str = ""


@dataclass(frozen=True)
class Problem:
    """One configuration problem: the option it concerns (a key relative to the hook's table, such as
    ``models.iris.shard-size``; empty for the table itself) and what is wrong, with the fix. The hook shows the option
    as its TOML path, the command line as its flag."""

    option: str
    message: str

    def in_table(self, table: str) -> str:
        """``<table>.<option>: <message>``, as pyproject.toml's readers see it."""
        return f"{table}.{self.option}: {self.message}" if self.option else f"{table}: {self.message}"


class InternalError(Exception):
    """Something hatch-tfjs should have handled and did not: not the user's doing."""


class ConfigError(HatchTfjsError):
    """The hook configuration has one or more problems; all of them are listed at once."""

    def __init__(
        self, items: list[Problem], *, table: str = BUILD_TABLE, source: str = "pyproject.toml"
    ) -> None:
        self.items = list(items)
        self.table = table
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.items)
        super().__init__(
            f"{source}: {count} problem{'s' if count != 1 else ''} in the tfjs build hook configuration:\n{lines}"
        )

    @property
    def problems(self) -> list[str]:
        """Each problem with its full TOML path."""
        return [problem.in_table(self.table) for problem in self.items]


class UnsupportedModelError(HatchTfjsError):
    """A model uses something that TensorFlow.js cannot load; every offending part is listed. A layers model's
    message ends with the other way out, a graph model, in ``naming``'s words (the model's table, or the flag)."""

    def __init__(
        self, model: str, source: str, problems: list[str], *, kind: str = "layers", naming: OptionNaming | None = None
    ) -> None:
        self.model = model
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        fix = (naming or OptionNaming()).set_on_model(model, "format", '"graph"')
        alternative = f"\n  (or ship it as a TF.js graph model: {fix})" if kind == "layers" else ""
        super().__init__(
            f"model '{model}' ({source}) cannot be converted to a TF.js {kind} model:\n{lines}{alternative}"
        )


class ModelReadError(HatchTfjsError):
    """A model source could not be read."""


class ConversionError(HatchTfjsError):
    """Conversion of a model failed for a reason other than the above (for instance a crashed worker)."""


class QuantizationError(HatchTfjsError):
    """A weight cannot be quantized as asked, or the quantize option does not fit the model (a pattern matching no
    weight): the user's to fix, unlike :class:`ConversionError`."""


class TensorFlowNeededError(HatchTfjsError):
    """The TensorFlow-free compiler refused a layer only at conversion (a covered class with an option it does not
    translate), in a process that must not import TensorFlow: the caller converts the model in a worker instead."""

    def __init__(self, reasons: str) -> None:
        self.reasons = reasons
        super().__init__(f"converting this model needs TensorFlow: {reasons}")


class OutputConflictError(HatchTfjsError):
    """Writing an output would replace or delete something hatch-tfjs did not write (a user's files, a symlink)."""


class OutputWriteError(HatchTfjsError):
    """The file system refused a write (read-only folder, full disk, permissions); the previous output is intact."""


class SourceKindError(ModelReadError):
    """A model source is neither a regular file nor a directory (a FIFO, a device): reading it would never end."""
