"""PostgreSQL: what one request sends, as libpq traces it on the wire.

A request's transaction is its statements between one ``BEGIN`` (carrying the isolation level:
no ``SET TRANSACTION`` round trip) and one ``COMMIT``; once warm, statements are prepared (no
Parse). A COMMIT the server turned into a ROLLBACK raises instead of passing as a commit. A
thread keeps its connection; a thread that has ended leaves none open behind it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import pq

from pg_schemas import PG_SKIP, PG_URL
from wxpay_local.api.pipeline import process
from wxpay_local.demo import DEMO_MCH_ID, seed_if_empty
from wxpay_local.domain.model import LIVE
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore
from wxpay_local.store.base import watch_statements
from wxpay_local.store.postgres import PostgresStore
from wxpay_local.web.app import AsgiApp, create_app
from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode, encode

pytestmark = [pytest.mark.store, pytest.mark.postgres]


class Wire:
    """Every message each connection of the store sends, from libpq's trace."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seen: dict[Path, int] = {}

    def mark(self) -> None:
        self._seen = {path: path.stat().st_size for path in self.folder.iterdir()}

    def sent(self) -> list[tuple[str, str]]:
        """(message type, its text) sent by the client since ``mark()``."""
        found = []
        for path in sorted(self.folder.iterdir()):
            with path.open() as trace:
                trace.seek(self._seen.get(path, 0))
                for line in trace:
                    parts = line.rstrip("\n").split("\t")
                    if len(parts) >= 3 and parts[0] == "F":
                        found.append((parts[2], "\t".join(parts[3:]).strip()))
        return found


@pytest.fixture
def traced(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    store_factory: Callable[[str, Path], SqlStore],
) -> Iterator[tuple[PostgresStore, Wire]]:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    folder = tmp_path / "traces"
    folder.mkdir()
    files: list[Any] = []
    real = psycopg.connect

    def connect(*args: Any, **kwargs: Any) -> psycopg.Connection[Any]:
        conn = real(*args, **kwargs)
        out = (folder / f"{len(files)}.trace").open("w")
        files.append(out)
        conn.pgconn.trace(out.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        return conn

    monkeypatch.setattr(psycopg, "connect", connect)
    store = store_factory("postgres", tmp_path)  # this session's schema, reset
    assert isinstance(store, PostgresStore)
    try:
        yield store, Wire(folder)
    finally:
        store.close()
        for out in files:
            out.close()


def _app(store: PostgresStore) -> tuple[AsgiApp, dict[str, str]]:
    settings = Settings(dispatcher=False)
    seed_if_empty(store, settings)
    with store.begin(write=False) as tx:
        merchant = tx.merchant(DEMO_MCH_ID, LIVE)
        assert merchant is not None
        appid = tx.apps_of(DEMO_MCH_ID)[0].appid
    return create_app(settings, store=store), {"appid": appid, "key": merchant.api_key}


def _body(key: str, **fields: str) -> bytes:
    return encode({**fields, "sign": signing.sign(fields, key)})


def _request(app: AsgiApp, path: str, body: bytes) -> dict[str, str]:
    answer = process(app.store, app.platform, app.handlers, app.routes[path], body)
    return decode(answer.body)


def test_a_request_is_its_statements_between_one_begin_and_one_commit(
    traced: tuple[PostgresStore, Wire],
) -> None:
    store, wire = traced
    app, m = _app(store)

    def unifiedorder(n: int) -> dict[str, str]:
        return _request(
            app,
            "/pay/unifiedorder",
            _body(
                m["key"],
                appid=m["appid"],
                mch_id=DEMO_MCH_ID,
                nonce_str=f"n{n}",
                body="Shop-Tea",
                out_trade_no=f"RT{n:04d}",
                total_fee="1",
                spbill_create_ip="203.0.113.10",
                notify_url="http://127.0.0.1:9/notify",
                trade_type="NATIVE",
                product_id="tea",
            ),
        )

    def orderquery(n: int) -> dict[str, str]:
        return _request(
            app,
            "/pay/orderquery",
            _body(
                m["key"],
                appid=m["appid"],
                mch_id=DEMO_MCH_ID,
                nonce_str=f"q{n}",
                out_trade_no=f"RT{n:04d}",
            ),
        )

    for n in range(8):  # past psycopg's prepare_threshold (5) on this thread's connection
        assert unifiedorder(n)["result_code"] == "SUCCESS"
        assert orderquery(n)["trade_state"] == "NOTPAY"
    for call, begin in (
        (unifiedorder, '"BEGIN"'),
        (orderquery, '"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"'),
    ):
        statements: list[str] = []
        wire.mark()
        with watch_statements(statements.append):
            assert call(99)["result_code"] == "SUCCESS"
        sent = wire.sent()
        commands = [text for kind, text in sent if kind == "Query"]
        assert len(commands) == 2, sent
        assert commands == [begin, '"COMMIT"']
        assert not any("SET TRANSACTION" in text for _, text in sent)
        # one round trip (Sync) per statement, each a prepared one (no Parse)
        assert [kind for kind, _ in sent].count("Sync") == len(statements) >= 1
        assert "Parse" not in [kind for kind, _ in sent], sent


def test_a_commit_the_server_answered_with_rollback_raises_and_nothing_is_kept(
    traced: tuple[PostgresStore, Wire],
) -> None:
    store, _ = traced
    with store.begin() as tx:
        tx.insert_merchant("1900000001", LIVE, "Shop", "k" * 32, 6000, "pw")
    with (
        pytest.raises(psycopg.errors.InFailedSqlTransaction, match="nothing was committed"),
        store.begin() as tx,
    ):
        tx.put_setting("probe", "written")
        with contextlib.suppress(psycopg.errors.UniqueViolation):  # swallowed by mistake
            tx.insert_merchant("1900000001", LIVE, "Shop", "k" * 32, 6000, "pw")
    with store.begin(write=False) as tx:
        assert tx.get_setting("probe") is None


def _backend(store: PostgresStore) -> int:
    with store.connection() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def _open_backends() -> set[int]:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity").fetchall()
    return {int(row[0]) for row in rows}


def test_a_thread_keeps_its_connection_and_an_ended_thread_leaves_none(
    traced: tuple[PostgresStore, Wire],
) -> None:
    store, _ = traced
    mine = _backend(store)
    assert _backend(store) == mine  # the next transaction of this thread: the same backend
    with store.connection():  # a nested one needs another connection
        assert _backend(store) != mine
    theirs: list[int] = []
    worker = threading.Thread(target=lambda: theirs.append(_backend(store)))
    worker.start()
    worker.join()
    assert theirs and theirs[0] != mine
    assert theirs[0] in _open_backends()
    later = threading.Thread(target=lambda: _backend(store))  # opening one sweeps the orphans
    later.start()
    later.join()
    assert theirs[0] not in _open_backends()
    assert mine in _open_backends()


def test_a_transaction_kept_past_its_block_cannot_write_outside_it(
    traced: tuple[PostgresStore, Wire],
) -> None:
    store, _ = traced
    with store.begin() as kept:
        kept.put_setting("inside", "written")
    with pytest.raises(psycopg.InterfaceError):
        kept.put_setting("late", "written")  # the connection is in autocommit between blocks
    with store.begin(write=False) as tx:
        assert tx.get_setting("inside") == "written"
        assert tx.get_setting("late") is None
