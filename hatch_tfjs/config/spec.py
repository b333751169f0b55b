"""The configuration's results: one :class:`ModelSpec` per model and the :class:`HookSettings` of a build (the plain
form a worker receives is generated from the declarations: wire.py). Standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from hatch_tfjs.config.declarations import DEFAULT_TENSORFLOW_REQUIREMENT
from hatch_tfjs.option_naming import OptionNaming
from hatch_tfjs.options import (
    DEFAULT_SHARD_SIZE,
    GraphOptions,
    ModelOptions,
)


@dataclass(frozen=True)
class ModelSpec:
    """One model to convert: where it comes from, where it goes, and how (typed options, see options.py).

    ``origins`` says where each option was set (``tool.hatch.build.hooks.tfjs.models.iris.quantize in
    pyproject.toml``, or ``--quantize`` on the command line), and ``naming`` how a message names any option of it (its
    TOML path in the table it was declared in, or its flag): for messages only, neither enters a stamp."""

    name: str
    source: Path  # absolute
    output: Path  # absolute directory that receives model.json and the shards
    root: Path
    format: str = "layers"
    shard_size: int = DEFAULT_SHARD_SIZE
    options: ModelOptions = field(default_factory=ModelOptions)
    origins: dict[str, str] = field(default_factory=dict)
    naming: OptionNaming = field(default_factory=OptionNaming)
    modules_root: Path | None = None  # where custom-modules are imported from (None: root; the command line: its cwd)

    @property
    def source_rel(self) -> str:
        return relative_path(self.source, self.root)

    @property
    def metadata(self) -> dict[str, Any]:
        """model.json's userDefinedMetadata (``metadata-file`` merged with ``metadata``); empty when none."""
        return dict(self.options.metadata)

    @property
    def reader(self) -> str:
        """How a Keras file is read: "h5py" (no TensorFlow) or "keras" (through Keras/TensorFlow)."""
        return self.options.layers.reader

    @property
    def graph_options(self) -> GraphOptions:
        """The graph options (their defaults for a model whose options carry none)."""
        return self.options.graph or GraphOptions()

    @property
    def output_rel(self) -> str:
        return relative_path(self.output, self.root)


@dataclass(frozen=True)
class HookSettings:
    root: Path
    table: str
    output_dir: Path | None
    models: tuple[ModelSpec, ...]
    tensorflow_requirement: str = DEFAULT_TENSORFLOW_REQUIREMENT
    jobs: int | None = None


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` for messages; absolute when ``root`` is the file system root (``hatch-tfjs
    convert`` on files far apart), where a relative path would read like one under the current directory."""
    if root == Path(root.anchor):
        return path.as_posix()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def default_output_dir(root: Path, wheel_packages: list[str]) -> Path | None:
    """``<package>/web_models`` when the wheel ships exactly one top-level package."""
    if len(wheel_packages) != 1:
        return None
    return root / PurePosixPath(wheel_packages[0]) / "web_models"
