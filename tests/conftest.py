"""Shared fixtures: a store on each database, the platform in-process or live, a merchant sink.

The PostgreSQL tier runs when WXPAY_TEST_PG_URL is set (CI sets it); otherwise those tests skip
with one line saying so.
"""

from __future__ import annotations

import atexit
import os
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pg_schemas import PG_SKIP, PG_URL, drop_stale_schemas
from reference_client import OracleHarness
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore, open_store
from wxpay_local.testing import Harness, MerchantSink, live_server

_pg_session_url = ""


def pg_session_url() -> str:
    """A schema of this test session's own, so that concurrent runs cannot wipe each other."""
    global _pg_session_url
    if not _pg_session_url:
        import psycopg

        schema = f"wxpay_test_{os.getpid()}"
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in PG_URL else "?"
        _pg_session_url = f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
        atexit.register(_drop_schema, schema)
    return _pg_session_url


def pytest_sessionstart(session: pytest.Session) -> None:
    # Once per run, in the xdist controller (or the only process), before any worker makes its
    # own schema.
    if PG_URL and not hasattr(session.config, "workerinput"):
        drop_stale_schemas()


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        # The session's namespaces are schemas of their own (docs/namespaces.md).
        found = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (f"{schema}__",)
        ).fetchall()
        for (name,) in found:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def make_store(kind: str, tmp_path: Path) -> SqlStore:
    if kind == "postgres":
        if not PG_URL:
            pytest.skip(PG_SKIP)
        store = open_store(pg_session_url())
        store.reset()
        return store
    return open_store(str(tmp_path / "wxpay.sqlite3"))


@pytest.fixture(scope="session")
def store_factory() -> Callable[[str, Path], SqlStore]:
    """``make_store`` for fixtures wider than one test (it skips when PostgreSQL is absent)."""
    return make_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    s = make_store(request.param, tmp_path)
    yield s
    s.close()


#: Where the API tier runs: both transports on SQLite, and PostgreSQL over a real socket (its
#: store runs in worker threads, the path several server processes take). The full cross
#: product ran too, and cost a quarter more time for no failure the three did not show.
PLATFORMS = [
    pytest.param(("inproc", "sqlite"), id="inproc-sqlite"),
    pytest.param(("live", "sqlite"), id="live-sqlite"),
    pytest.param(("live", "postgres"), id="live-postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=PLATFORMS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """The platform reached in-process (ASGI) or over a real socket, on SQLite or PostgreSQL."""
    transport, database = request.param
    store = make_store(database, tmp_path)
    try:
        with OracleHarness.start(store, live=transport == "live") as harness:
            yield harness
            harness.assert_ledger_balanced()
    finally:
        store.close()


@pytest.fixture
def live(store: SqlStore) -> Iterator[Harness]:
    """The platform over a real socket only (for third-party clients and notifications)."""
    with OracleHarness.start(store, live=True) as harness:
        yield harness
        harness.assert_ledger_balanced()


@pytest.fixture
def harness_settings() -> dict[str, Any]:
    """Extra Settings for ``relaxed`` (a test parametrizes this to change them)."""
    return {}


@pytest.fixture(params=["inproc", "live"])
def relaxed(
    request: pytest.FixtureRequest, store: SqlStore, harness_settings: dict[str, Any]
) -> Iterator[Harness]:
    """The platform without the client-certificate check, for tests of what /secapi/ does
    rather than of mutual TLS (tested in tests/e2e/test_mtls*.py): each database, in-process
    and live (a module may narrow this with an indirect parametrize)."""
    settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False, **harness_settings)
    with OracleHarness.start(store, live=request.param == "live", settings=settings) as harness:
        yield harness
        harness.assert_ledger_balanced()


@pytest.fixture
def relaxed_live(store: SqlStore) -> Iterator[Harness]:
    """The same over a real socket only (the CLI and the Node client talk to a server)."""
    settings = Settings(notify_timeout_seconds=2.0, require_client_cert=False)
    with OracleHarness.start(store, live=True, settings=settings) as harness:
        yield harness
        harness.assert_ledger_balanced()


@pytest.fixture
def sink() -> Iterator[MerchantSink]:
    with MerchantSink() as s:
        yield s


class _NoIO(AssertionError):
    pass


@pytest.fixture(autouse=True)
def _unit_means_no_io(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test marked ``unit`` that opens a network socket, a database, a thread or a process
    fails at once: the marker promises no I/O (see the markers in pyproject.toml)."""
    if request.node.get_closest_marker("unit") is None:
        return

    def forbid(what: str) -> Any:
        def refuse(*args: object, **kwargs: object) -> None:
            raise _NoIO(f"a test marked unit must do no I/O, but it used {what}")

        return refuse

    monkeypatch.setattr(socket.socket, "connect", forbid("socket.connect"))
    monkeypatch.setattr(socket.socket, "bind", forbid("socket.bind"))
    monkeypatch.setattr(sqlite3, "connect", forbid("sqlite3.connect"))
    monkeypatch.setattr(threading.Thread, "start", forbid("a thread"))
    monkeypatch.setattr(subprocess.Popen, "__init__", forbid("a subprocess"))
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a runtime dependency
        return
    monkeypatch.setattr(psycopg, "connect", forbid("PostgreSQL"))
    monkeypatch.setattr(psycopg.Connection, "connect", forbid("PostgreSQL"))


def pytest_report_header(config: pytest.Config) -> str:
    return "postgres tier: " + ("on " + PG_URL if PG_URL else "off (" + PG_SKIP + ")")


__all__ = ["live_server"]
