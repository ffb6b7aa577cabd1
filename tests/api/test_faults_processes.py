"""Fault rules are shared by every server process on one database: a rule made through one
server applies on another, and "fires N times" is counted once across both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.testing import Harness, wait_for

pytestmark = pytest.mark.api


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_servers(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    store_factory: Callable[[str, Path], SqlStore],
) -> Iterator[tuple[Harness, Harness]]:
    """Two servers on one database (the same SQLite file, the same PostgreSQL schema)."""
    first = store_factory(request.param, tmp_path)
    second = store_factory(request.param, tmp_path)
    settings = Settings(require_client_cert=False)
    try:
        with Harness.start(first, live=True, settings=settings) as a:
            with Harness.start(second, live=True, settings=settings) as b:
                yield a, b
    finally:
        first.close()
        second.close()


def status(h: Harness) -> int:
    return httpx.post(
        h.base_url + "/pay/orderquery", content=b"<xml/>", trust_env=False
    ).status_code


def test_a_rule_made_on_one_server_fires_once_across_both(
    two_servers: tuple[Harness, Harness],
) -> None:
    a, b = two_servers
    assert status(b) == 200  # b has read the (empty) rule table
    rule = a.fault("http_status", http_status=503, endpoint="orderquery", times=3)
    wait_for(lambda: status(b) == 503, timeout=5)  # b sees it within its refresh time
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: status((a, b)[i % 2]), range(12)))
    assert statuses.count(503) == 2  # 3 in all, one of them spent by the wait above
    assert a.fault_rule(rule["id"])["fired"] == 3
