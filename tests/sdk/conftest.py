"""The SDK's tests: the independent signer of tests/api (reference_wire), the browser fixtures
of tests/e2e and the demo shop (examples/shop) are importable here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "api"))
sys.path.insert(0, str(TESTS / "e2e"))  # browser_support: Chromium fixtures
sys.path.insert(0, str(TESTS.parent / "examples" / "shop"))  # the demo shop's modules
try:
    import wxpay_sdk  # noqa: F401 - installed by `pip install -e ./sdk` (README, .ci/run)
except ImportError:  # an environment made before the SDK existed: its source tree is the same
    sys.path.insert(0, str(TESTS.parent / "sdk" / "src"))


import pytest  # noqa: E402 - after the path above
from browser_support import browser, desk, page, web  # noqa: E402
from shop_support import shop  # noqa: E402

from wxpay_local.store import SqlStore, open_store  # noqa: E402

__all__ = ["browser", "desk", "page", "shop", "web"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    """SQLite only: these tests are about the SDK; the platform's own tests cover each database."""
    s = open_store(str(tmp_path / "wxpay.sqlite3"))
    yield s
    s.close()
