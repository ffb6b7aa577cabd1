"""The request path is typed end to end: no ``Any``, ``getattr`` or ``type: ignore`` in
``api/``, ``web/merchant.py`` and the ports, where a leak through ``Any`` would hide from both
mypy and the import contracts."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

import wxpay_local

PACKAGE = Path(wxpay_local.__file__).parent
REQUEST_PATH = sorted(
    [
        *PACKAGE.glob("api/*.py"),
        PACKAGE / "web" / "merchant.py",
        *PACKAGE.glob("domain/ports*.py"),
    ]
)


def _loose_spots(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id in ("Any", "getattr"):
            found.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr == "Any":
            found.append(f"line {node.lineno}: .Any")
        elif isinstance(node, ast.alias) and node.name == "Any":
            found.append(f"line {node.lineno}: import Any")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT and "type: ignore" in token.string:
            found.append(f"line {token.start[0]}: type: ignore")
    return found


def test_the_check_sees_each_kind_of_leak() -> None:
    leaky = (
        "from typing import Any\n"
        "import typing\n"
        "def f(x: Any, y: typing.Any) -> None:\n"
        "    getattr(x, 'y')  # type: ignore[attr-defined]\n"
    )
    assert _loose_spots(leaky) == [
        "line 1: import Any",
        "line 3: Any",
        "line 3: .Any",
        "line 4: getattr",
        "line 4: type: ignore",
    ]


@pytest.mark.parametrize("path", REQUEST_PATH, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_any_getattr_or_type_ignore_on_the_request_path(path: Path) -> None:
    assert _loose_spots(path.read_text("utf-8")) == []


def test_the_request_path_is_all_there() -> None:
    names = {str(p.relative_to(PACKAGE)) for p in REQUEST_PATH}
    assert {"api/pipeline.py", "web/merchant.py", "domain/ports.py"} <= names
