"""docs/testing.md's recipes run as printed: each Python block is a pytest module for the
plugin's ``wxpay`` fixture; one pytest run in a subprocess runs them all."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"


def test_every_recipe_passes(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 10
    for number, block in enumerate(blocks):
        (tmp_path / f"test_recipe_{number:02d}.py").write_text(block, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    tests = sum(len(re.findall(r"^def test_", block, re.MULTILINE)) for block in blocks)
    assert f"{tests} passed" in run.stdout
