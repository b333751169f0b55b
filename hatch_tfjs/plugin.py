"""Entry point registered under ``[project.entry-points.hatch]``."""

from __future__ import annotations

from hatchling.plugin import hookimpl

from hatch_tfjs.hook import TfjsBuildHook


@hookimpl
def hatch_register_build_hook() -> type[TfjsBuildHook]:
    return TfjsBuildHook
