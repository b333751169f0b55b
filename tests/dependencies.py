"""What the tests need besides Python: TensorFlow (Keras, the oracle) and Node with @tensorflow/tfjs (TF.js).

A test needs TensorFlow when it, one of its fixtures, a helper of its module it calls or its module imports
``tensorflow``, ``keras``, ``tf_keras`` or one of the model zoos built with Keras; it needs Node when it uses the
``tfjs`` fixture or runs ``node`` itself. Such tests are marked
``requires_tensorflow`` / ``requires_node`` (select with ``-m``) and skipped, with the reason, where that dependency is
missing. Every such skip says ``missing dependency:``; with ``CI`` or ``HATCH_TFJS_REQUIRE_ALL`` set, a run with one
fails (the README's test command installs everything, so there it means a broken set-up, not a smaller test run).
"""

from __future__ import annotations

from importlib.machinery import PathFinder
import inspect
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

TESTS = Path(__file__).parent
TFJS_PACKAGE = TESTS / "js" / "node_modules" / "@tensorflow" / "tfjs"
SKIP_PREFIX = "missing dependency:"

# Modules that import Keras or TensorFlow when imported: the library itself and the tests' model zoos.
TENSORFLOW_MODULES = frozenset({"tensorflow", "keras", "tf_keras"})
_KERAS_HELPERS = ("zoo", "graph_zoo", "real_zoo", "rewrite_zoo", "compile_zoo", "user_models")
_IMPORTED = "|".join([*sorted(TENSORFLOW_MODULES), *_KERAS_HELPERS])
_IMPORT_ANYWHERE = re.compile(rf"^\s*(?:import|from)\s+(?:{_IMPORTED})\b", re.MULTILINE)
_IMPORT_AT_TOP = re.compile(rf"^(?:import|from)\s+(?:{_IMPORTED})\b", re.MULTILINE)
_NODE_COMMAND = re.compile(r"\[\s*\"node\",")


def installed(package: str) -> bool:
    """Whether ``package`` is on ``sys.path`` (whatever a test does to ``sys.modules`` to hide it)."""
    return PathFinder.find_spec(package) is not None


def tensorflow_missing() -> str | None:
    """Why the TensorFlow tests cannot run here, or None when they can."""
    absent = sorted(name for name in ("tensorflow", "keras") if not installed(name))
    if absent:
        return f"{SKIP_PREFIX} {' and '.join(absent)} not installed (pip install -e '.[convert,test]')"
    return None


def node_missing() -> str | None:
    """Why the TF.js tests cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return f"{SKIP_PREFIX} node not found (Node 20 runs TF.js for the parity tests)"
    if not TFJS_PACKAGE.is_dir():
        return f"{SKIP_PREFIX} @tensorflow/tfjs not installed (npm ci --prefix {TESTS / 'js'})"
    return None


def missing_node_reason(error: BaseException) -> str | None:
    """The skip reason when ``error`` is a test's own ``node`` command failing to start because Node is absent."""
    if isinstance(error, FileNotFoundError) and error.filename == "node":
        return node_missing()
    return None


def missing_module_reason(error: BaseException) -> str | None:
    """The skip reason when ``error`` is a TensorFlow/Keras import that fails because the package is absent here.

    Only a package that is really not installed counts: a test that blocks the import on purpose still fails."""
    if not isinstance(error, ModuleNotFoundError) or error.name is None:
        return None
    top = error.name.partition(".")[0]
    if top in TENSORFLOW_MODULES and not installed(top):
        return f"{SKIP_PREFIX} {top} not installed ({error})"
    return None


def imports_tensorflow(module: object, functions: Iterable[object]) -> bool:
    """Whether ``module`` imports TensorFlow, Keras or a Keras zoo at its top, or any of ``functions`` (a test, its
    fixtures and the module's helpers they call) does anywhere in its body."""
    return _source_matches(module, _IMPORT_AT_TOP) or any(_source_matches(f, _IMPORT_ANYWHERE) for f in functions)


def runs_node(functions: Iterable[object]) -> bool:
    """Whether any of ``functions`` starts ``node`` itself (rather than through the ``tfjs`` fixture)."""
    return any(_source_matches(f, _NODE_COMMAND) for f in functions)


def with_helpers(functions: Iterable[object], module: object) -> list[object]:
    """``functions`` and the functions of ``module`` they name (one level: a test's own helpers)."""
    found = [f for f in functions if f is not None]
    for function in list(found):
        code = getattr(function, "__code__", None)
        for name in code.co_names if code is not None else ():
            helper = getattr(module, name, None)
            if inspect.isfunction(helper) and helper.__module__ == getattr(module, "__name__", None):
                found.append(helper)
    return found


def _source_matches(obj: object, pattern: re.Pattern[str]) -> bool:
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        return False
    return pattern.search(source) is not None


def require_all() -> bool:
    """Whether a skip for a missing dependency must fail the run (on CI, or when asked to)."""
    return bool(os.environ.get("CI") or os.environ.get("HATCH_TFJS_REQUIRE_ALL"))
