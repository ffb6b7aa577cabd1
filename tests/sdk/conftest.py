"""The SDK's tests: the independent signer of tests/api (reference_wire) is importable here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))


import pytest  # noqa: E402 - after the path above

from wxpay_local.store import SqlStore, open_store  # noqa: E402


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    """SQLite only: these tests are about the SDK; the platform's own tests cover each database."""
    s = open_store(str(tmp_path / "wxpay.sqlite3"))
    yield s
    s.close()
