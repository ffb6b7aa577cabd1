"""A clock read that began before a reset must not bring the old clock back after it.

The server refreshes its clock from the database every second (several processes share it);
on PostgreSQL that read runs in a worker thread, so it can straddle a reset. Under load the
stale state was adopted after the reset and a test's first ``freeze`` answered ``frozen: false``.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

from wxpay_local.settings import Settings
from wxpay_local.store import open_store
from wxpay_local.web import create_app

A_DAY_US = 86_400 * 1_000_000


class _StaleRead:
    """A read-only transaction that returns the pre-reset clock, then waits to be let go."""

    def __init__(self) -> None:
        self.read = threading.Event()
        self.release = threading.Event()

    def get_settings(self, keys: tuple[str, ...]) -> dict[str, str]:
        self.read.set()
        assert self.release.wait(10)
        return {"clock": json.dumps({"version": 7, "offset_us": A_DAY_US, "frozen": None})}


def test_a_refresh_begun_before_a_reset_does_not_undo_it(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "wxpay.sqlite3"))
    app = create_app(Settings(data_dir=tmp_path), store=store)
    stale = _StaleRead()

    try:
        app.store.read_settings = stale.get_settings  # type: ignore[method-assign]
        refresh = threading.Thread(target=app.load_clock)
        refresh.start()
        assert stale.read.wait(10)
        app.forget_clock()  # what POST /_local/reset does once the database is empty
        stale.release.set()
        refresh.join(10)
        assert app.clock.offset == timedelta(0)
        assert app.clock.frozen is None
    finally:
        store.close()
