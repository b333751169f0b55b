"""What every part of the configuration stage shares: the problems collected so far, and what each model is parsed
against. Standard library only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hatch_tfjs.errors import Problem
from hatch_tfjs.option_naming import OptionNaming


class Problems:
    """Collects problems, each with the key it concerns (relative to the hook's table)."""

    def __init__(
        self, table: str, root: Path | None = None, source: str = "pyproject.toml", naming: OptionNaming | None = None
    ) -> None:
        self.table = table
        self.root = root  # for options naming files relative to the project root
        self.source = source
        self.naming = naming or OptionNaming(table, source=source)  # how messages name options and values
        self.items: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(Problem(key, message))

    def shown(self, value: Any) -> str:
        """A refused value with its type, as the table's writer sees it (``a string '4MB'``; on the command line,
        where every value is text, ``'4MB'``)."""
        return self.naming.shown_value(type_name(value), value)


def type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class ModelContext:
    """What every model of the table is parsed against: the project, the hook table's option values (the models'
    defaults), the output directory (given or guessed), and where problems go."""

    root: Path
    defaults: dict[str, Any]
    default_origins: dict[str, str]  # where each option set on the hook table was set
    naming: OptionNaming
    output_dir: Path | None
    output_dir_given: bool  # set on the hook table (an invalid one is reported once, on its own key)
    problems: Problems
