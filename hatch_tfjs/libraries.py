"""Which libraries a Keras model's classes come from, told from its config with the standard library.

A Keras config names the module of every class that is not Keras's own (``"module":
"keras_hub.src.models.vit.vit_backbone"``; a legacy ``.h5`` writes ``"keras_nlp>TransformerEncoder"``). Keras imports
the modules of its own family (keras-hub, keras-nlp, keras-cv) itself when it loads the file, so the build
environment must have their distributions: the hook asks for them in ``dependencies()`` the way it asks for
TensorFlow. Any other module is the user's (registered by importing it, see ``custom-modules``) or a distribution
the hook cannot name; the conversion's error then names the class, its module and the line to add.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Top-level package -> the distribution that provides it (Keras imports these packages itself when loading).
LIBRARY_DISTRIBUTIONS = {"keras_hub": "keras-hub", "keras_nlp": "keras-nlp", "keras_cv": "keras-cv"}
KERAS_PACKAGES = frozenset({"keras", "tf_keras", "builtins"})  # classes Keras itself (or Python) provides


@dataclass(frozen=True)
class ForeignClass:
    """A class of the model that Keras does not provide: its name and the module (or registered package) it is
    from."""

    class_name: str
    module: str
    registered_name: str = ""

    @property
    def package(self) -> str:
        return self.module.split(".")[0]

    @property
    def distribution(self) -> str | None:
        """The distribution providing it, for the Keras family's libraries; None for any other module."""
        return LIBRARY_DISTRIBUTIONS.get(self.package)

    def describe(self) -> str:
        return f"class '{self.class_name}' from module '{self.module}'"


def foreign_classes(config: Any) -> list[ForeignClass]:
    """Every class of ``config`` (a model config, at any depth) that is not Keras's own, once each, in order."""
    found: dict[tuple[str, str], ForeignClass] = {}

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            origin = _origin(value)
            if origin is not None:
                found.setdefault((origin.class_name, origin.module), origin)
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)

    visit(config)
    return list(found.values())


def _origin(entry: dict[str, Any]) -> ForeignClass | None:
    class_name = entry.get("class_name")
    if not isinstance(class_name, str):
        return None
    module = entry.get("module")
    registered = entry.get("registered_name")
    registered = registered if isinstance(registered, str) else ""
    if isinstance(module, str) and module:
        return None if module.split(".")[0] in KERAS_PACKAGES else ForeignClass(class_name, module, registered)
    if ">" in class_name:  # Keras 2: a registered class is "package>Class", without a module
        package, _, name = class_name.partition(">")
        return ForeignClass(name, package, class_name)
    return None


def library_requirements(config: Any) -> list[str]:
    """The distributions of the Keras family (keras-hub, keras-nlp, keras-cv) that loading ``config`` imports."""
    return sorted({c.distribution for c in foreign_classes(config) if c.distribution is not None})


def library_of(entry: dict[str, Any]) -> str | None:
    """The distribution a config entry's own class comes from, when it is a library of the Keras family."""
    origin = _origin(entry)
    return origin.distribution if origin is not None else None
