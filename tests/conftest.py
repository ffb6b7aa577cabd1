"""Shared fixtures: a store on each database, the platform in-process or live, a merchant sink.

The PostgreSQL tier runs when WXPAY_TEST_PG_URL is set (CI sets it); otherwise those tests skip
with one line saying so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from wxpay_local.store import SqlStore, open_store
from wxpay_local.testing import Harness, MerchantSink, live_server

PG_URL = os.environ.get("WXPAY_TEST_PG_URL", "")
PG_SKIP = "PostgreSQL tier skipped: set WXPAY_TEST_PG_URL=postgresql://… to run it"

_pg_schema_fresh = False


def _fresh_pg_schema() -> None:
    """Drop and recreate the test database's public schema once per session."""
    global _pg_schema_fresh
    if _pg_schema_fresh:
        return
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    _pg_schema_fresh = True


def make_store(kind: str, tmp_path: Path) -> SqlStore:
    if kind == "postgres":
        if not PG_URL:
            pytest.skip(PG_SKIP)
        _fresh_pg_schema()
        store = open_store(PG_URL)
        store.reset()
        return store
    return open_store(str(tmp_path / "wxpay.sqlite3"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    s = make_store(request.param, tmp_path)
    yield s
    s.close()


@pytest.fixture(params=["inproc", "live"])
def platform(request: pytest.FixtureRequest, store: SqlStore) -> Iterator[Harness]:
    """The platform on each database, reached in-process (ASGI) and over a real socket."""
    with Harness.start(store, live=request.param == "live") as harness:
        yield harness
        harness.assert_ledger_balanced()


@pytest.fixture
def live(store: SqlStore) -> Iterator[Harness]:
    """The platform over a real socket only (for third-party clients and notifications)."""
    with Harness.start(store, live=True) as harness:
        yield harness
        harness.assert_ledger_balanced()


@pytest.fixture
def sink() -> Iterator[MerchantSink]:
    with MerchantSink() as s:
        yield s


def pytest_report_header(config: pytest.Config) -> str:
    return "postgres tier: " + ("on " + PG_URL if PG_URL else "off (" + PG_SKIP + ")")


__all__ = ["live_server"]
