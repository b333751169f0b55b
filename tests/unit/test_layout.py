"""The stages keep to their jobs: read/ and write/ depend on neither the configuration nor the translator, planning
never changes a file, and the configuration needs no numpy. Checked on the source (imports and calls parsed with
``ast``), so a violation is caught however rarely the offending line runs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

PACKAGE = REPO / "hatch_tfjs"
# What read/ and write/ must not import: tables both a stage and these need belong in a neutral module.
STAGE_FORBIDDEN = ("hatch_tfjs.config", "hatch_tfjs.translate")
# Calls that create, change or delete files (methods of Path, functions of os/shutil) and the open() modes that write.
WRITING_METHODS = frozenset(
    {"write_text", "write_bytes", "unlink", "rmdir", "mkdir", "touch", "rename", "replace", "symlink_to",
     "hardlink_to", "chmod"}
)  # fmt: skip
WRITING_FUNCTIONS = frozenset(
    {"os.remove", "os.unlink", "os.rmdir", "os.removedirs", "os.rename", "os.replace", "os.makedirs", "os.mkdir",
     "os.symlink", "os.link", "os.truncate", "os.chmod", "shutil.rmtree", "shutil.move", "shutil.copy",
     "shutil.copy2", "shutil.copyfile", "shutil.copytree", "replace_directory"}
)  # fmt: skip


def imported_modules(path: Path, root: Path = REPO) -> set[str]:
    """Every module ``path`` (a file under ``root``) imports, at the top or inside a function, with relative imports
    resolved and ``from package import name`` also counted as an import of ``package.name``."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _is_under(module: str, forbidden: str) -> bool:
    return module == forbidden or module.startswith(forbidden + ".")


def _dotted(call: ast.expr) -> str:
    if isinstance(call, ast.Name):
        return call.id
    if isinstance(call, ast.Attribute):
        return f"{_dotted(call.value)}.{call.attr}"
    return ""


def file_changing_calls(path: Path) -> list[str]:
    """The calls in ``path`` that could write, move or delete a file, as ``line: call``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        mode = next((a.value for a in node.args[1:2] if isinstance(a, ast.Constant)), None)
        for keyword in node.keywords:
            if keyword.arg == "mode" and isinstance(keyword.value, ast.Constant):
                mode = keyword.value.value
        writes_open = name.endswith("open") and isinstance(mode, str) and any(c in mode for c in "wax+")
        if method in WRITING_METHODS or name in WRITING_FUNCTIONS or writes_open:
            found.append(f"{node.lineno}: {name or method}")
    return found


STAGE_MODULES = sorted([*(PACKAGE / "read").rglob("*.py"), *(PACKAGE / "write").rglob("*.py")])


@pytest.mark.parametrize("path", STAGE_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_read_and_write_import_neither_config_nor_translate(path):
    offending = sorted(m for m in imported_modules(path) for f in STAGE_FORBIDDEN if _is_under(m, f))
    assert offending == [], f"{path.relative_to(REPO)} imports {offending}; move what both need to a neutral module"


def test_the_import_parser_sees_every_form_of_import(tmp_path):
    """The check above only means something if it catches each way of writing the import."""
    module = tmp_path / "hatch_tfjs" / "read" / "probe.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "from ..config import ModelSpec\n"
        "from hatch_tfjs import translate\n"
        "def f():\n    import hatch_tfjs.translate.graph\n    from . import layouts\n"
    )
    found = imported_modules(module, root=tmp_path)
    expected = {"hatch_tfjs.config", "hatch_tfjs.translate", "hatch_tfjs.translate.graph", "hatch_tfjs.read.layouts"}
    assert expected <= found


def test_planning_writes_and_deletes_nothing():
    assert file_changing_calls(PACKAGE / "plan.py") == []


def test_the_call_finder_sees_writes_and_deletes(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, shutil\n"
        "def f(p):\n"
        "    p.write_text('x'); os.remove(p); shutil.rmtree(p); open(p, 'wb'); p.open(mode='a')\n"
        "    p.read_text(); open(p)\n"
    )
    assert file_changing_calls(probe) == ["3: p.write_text", "3: os.remove", "3: shutil.rmtree", "3: open", "3: p.open"]


def test_configuration_imports_without_numpy():
    """The hook reads the configuration before numpy is installed (it is one of the build dependencies it asks for)."""
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'numpy':\n"
        "            raise ImportError('numpy is blocked by the test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import hatch_tfjs.config, hatch_tfjs.plan\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numpy'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_every_test_module_is_in_its_lane():
    """tests/unit (no build, no TF.js: the everyday lane), tests/build and tests/parity hold the test modules; the zoos
    are in tests/zoos; tests/ itself holds only conftest.py and the helper modules."""
    tests = REPO / "tests"
    lanes = {"unit", "build", "parity"}
    stray = sorted(p.relative_to(tests).as_posix() for p in tests.rglob("test_*.py") if p.parent.name not in lanes)
    assert stray == [], f"put each test module into tests/unit, tests/build or tests/parity: {stray}"
    zoos = sorted(p.name for p in tests.glob("*zoo*.py"))
    assert zoos == [], f"model zoos belong in tests/zoos: {zoos}"


def test_a_run_from_the_top_collects_every_lane():
    """pytest skips folders matching ``norecursedirs``, whose default includes ``build``: the tests/build lane ran
    only when named until pyproject.toml set its own list. A run from the top must collect every lane's modules."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    collected = {line.split("::")[0] for line in proc.stdout.splitlines() if "::" in line}
    for lane in ("unit", "build", "parity"):
        modules = {p.relative_to(REPO).as_posix() for p in (REPO / "tests" / lane).glob("test_*.py")}
        assert modules <= collected, (lane, sorted(modules - collected), proc.stderr[-2000:])
