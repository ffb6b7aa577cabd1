"""README's Python snippets run as printed (the pytest example also runs, against a fresh
install, in ``.ci/install_check.py``)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_the_harness_snippet_starts_a_live_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    [snippet] = [block for block in python_blocks() if "Harness.start(" in block]
    monkeypatch.chdir(tmp_path)

    exec(compile(snippet, "README.md", "exec"), {"__name__": "readme"})

    base_url, mch_id, api_key = capsys.readouterr().out.split()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
    assert re.fullmatch(r"\d{10}", mch_id) and re.fullmatch(r"\w{32}", api_key)
    assert (tmp_path / "wxpay.sqlite3").exists()
    with pytest.raises(httpx.ConnectError):  # the block's end stopped the server
        httpx.get(base_url + "/_local/health", timeout=2, trust_env=False)
