"""What the package declares matches what its code needs: every library that ``src/`` imports is
a runtime dependency, and the version shown is pyproject's.

(That the wheel carries every non-Python file under ``src/`` is proven where a wheel is built:
``.ci/install_check.py`` compares the two lists.)
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "wxpay_local"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: the plugin is loaded by pytest, so pytest is there whenever it is imported
HOSTED = {("testing/pytest_plugin.py", "pytest")}


def _name(requirement: str) -> str:
    """PEP 503 normalised distribution name of a requirement string."""
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert found, requirement
    return re.sub(r"[-_.]+", "-", found.group(0)).lower()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _catches_import_error(node: ast.Try) -> bool:
    names = set()
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names |= {k.id for k in kinds if isinstance(k, ast.Name)}
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def _required_imports(tree: ast.AST) -> set[str]:
    """Top-level names of the modules a file imports unconditionally at run time: not under
    ``if TYPE_CHECKING`` and not in a ``try`` that falls back on ImportError (optional)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Try) and _catches_import_error(node):
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@pytest.mark.unit
def test_every_library_the_code_imports_is_a_runtime_dependency() -> None:
    declared = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    owners = packages_distributions()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for module in sorted(_required_imports(ast.parse(path.read_text(encoding="utf-8")))):
            if module in sys.stdlib_module_names or module in ("wxpay_local", "__future__"):
                continue
            if (relative, module) in HOSTED:
                continue
            distributions = {_name(d) for d in owners.get(module, [module])}
            if not distributions & declared:
                missing.append(f"{relative} imports {module} ({', '.join(sorted(distributions))})")
    assert not missing, "not in [project].dependencies:\n" + "\n".join(missing)


@pytest.mark.unit
def test_the_checker_sees_imports_inside_functions_and_skips_optional_ones() -> None:
    code = """
import json
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from typeonly import X
try:
    import uvloop
except ImportError:
    uvloop = None
def f():
    from cryptography import x509
"""
    assert _required_imports(ast.parse(code)) == {"json", "typing", "cryptography"}


@pytest.mark.e2e  # a subprocess
def test_wxpay_local_version_prints_pyprojects_version() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "wxpay_local", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert shown.stdout == f"wxpay-local {PYPROJECT['project']['version']}\n"
