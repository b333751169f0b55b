"""How messages name a model's options: by their TOML path in the table the model was declared in
(``tool.hatch.build.hooks.tfjs.models.iris.tags``, or the wheel target's
``tool.hatch.build.targets.wheel.hooks.tfjs.models.iris.tags``) or by ``hatch-tfjs convert``'s flags (``--format``).

The configuration stage decides it once (it knows the table, or that the command line declared the model) and
:class:`~hatch_tfjs.config.ModelSpec` carries it to every later stage, across the worker boundary too; a stage that
writes a fix into a message asks it rather than writing a TOML path itself. A neutral module: standard library only,
importable by every stage (``read/`` and ``errors.py`` included).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

BUILD_TABLE = "tool.hatch.build.hooks.tfjs"  # the build-wide hook table (a wheel target's table replaces it)


@dataclass(frozen=True)
class OptionNaming:
    """The words for options in messages. ``table``: the TOML table the models were declared in; ``flags``: for the
    command line, the word for each key it can set (``--quantize``, ``SOURCE``); empty for a TOML table."""

    table: str = BUILD_TABLE
    flags: Mapping[str, str] = field(default_factory=dict)
    source: str = "pyproject.toml"  # where the table is written ("command line" for flags)

    @property
    def command_line(self) -> bool:
        """Whether the options were given as ``hatch-tfjs convert``'s flags."""
        return bool(self.flags)

    def key(self, model: str, option: str) -> str:
        """Where ``option`` is set for ``model``: its TOML path on the model's table, or its flag (an option the
        command line has no flag for is named as the key a project's table sets)."""
        if self.command_line:
            return self.flags.get(option, f"{option} (only a project's pyproject.toml sets it, no flag)")
        return f"{self.table}.models.{model}.{option}"

    def located(self, path: str) -> str:
        """Where an option set at ``path`` (relative to the table: ``models.iris.quantize``, ``quantize``) was set,
        as later messages say it (``ModelSpec.origins``): its TOML path in its file, or its flag."""
        if self.command_line:
            parts = path.split(".")
            parts = parts[2:] if parts[:1] == ["models"] else parts  # the command line declares one model
            key = parts[0] if parts else ""
            return self.flags.get(key, key or "arguments")
        return f"{self.table}.{path} in {PurePath(self.source).name}"

    def model_table(self, model: str) -> str:
        """``[<table>.models.<model>]``: the table a per-model fix goes into."""
        return f"[{self.table}.models.{model}]"

    @property
    def hook_table(self) -> str:
        """``[<table>]``: where a build-wide fix (``dependencies``) goes."""
        return f"[{self.table}]"

    def set_on_model(self, model: str, option: str, toml_value: str, flag_value: str | None = None) -> str:
        """The fix that sets ``option`` of ``model``: ``set format = "graph" on [...models.m]`` or ``pass --format
        graph`` (``flag_value``: the flag's text, by default ``toml_value`` without its quotes)."""
        flag = self.flags.get(option)
        if flag is not None:
            return f"pass {flag} {flag_value if flag_value is not None else toml_value.strip(chr(34))}"
        where = self.model_table(model) if not self.command_line else "the model's table in a project's pyproject.toml"
        return f"set {option} = {toml_value} on {where}"

    def none_value(self, option: str) -> str:
        """How an option is turned off: ``false`` in TOML, ``leave out --quantize`` on the command line."""
        flag = self.flags.get(option)
        return f"leave out {flag}" if flag is not None else "false"

    def shown_value(self, kind: str, value: Any) -> str:
        """A refused value as a problem shows it: ``a string '4MB'``, or ``'4MB'`` on the command line, where every
        value is text (``kind`` is the value's type in TOML's words)."""
        if self.command_line and isinstance(value, str):
            return repr(value)
        return f"{kind} {value!r}"

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "flags": dict(self.flags), "source": self.source}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OptionNaming:
        return cls(table=str(data["table"]), flags=dict(data["flags"]), source=str(data["source"]))


BUILD_NAMING = OptionNaming()  # a model of the build-wide table: what a caller that names no table means
