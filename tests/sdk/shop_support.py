"""The demo shop (examples/shop) served on a loopback port next to a live wxpay-local."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shop_app import create_app
from shop_config import from_wxpay_local

from wxpay_local.testing import Harness, live_server
from wxpay_local.testing.harness import free_port
from wxpay_sdk import Timings


def set_clock(h: Harness, iso: str) -> None:
    h.control("POST", "/_local/clock", {"now": iso, "freeze": True})


@pytest.fixture
def shop(web: Harness, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """(the shop's URL, its merchant); the shop took its settings from the platform as
    ``run.py`` does; the till waits 1 s instead of 5 and 10."""
    # the day of the test, before the merchant's certificate is issued (it is valid from then)
    set_clock(web, "2024-05-01T10:00:00+08:00")
    merchant = web.merchant(name="蓝鲸咖啡 Blue Whale")
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    fast = Timings(first_query=1, poll_interval=1, give_up_after=20, reverse_not_before=2)
    config = from_wxpay_local(web.base_url, merchant.mch_id, public, tmp_path, timings=fast)
    with live_server(create_app(config), port) as url:
        yield url, merchant
