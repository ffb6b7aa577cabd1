"""The PostgreSQL backend: work in the store's own worker threads, one connection each.

``run(fn)`` hands ``fn`` to one of ``threads`` worker threads (a pool sized for the database,
not the event loop's default executor); each keeps its connection for its whole life
(``store.pg_connections``). Reads run at REPEATABLE READ so that every statement of one sees
the same snapshot; writes take row locks. A transaction is answered only after its COMMIT has
returned. Several processes may migrate at once (an advisory lock makes them take turns).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import psycopg

from wxpay_local.domain.model import Merchant
from wxpay_local.store import migrate
from wxpay_local.store.dialect import POSTGRES
from wxpay_local.store.identity import IdentityCache, Session
from wxpay_local.store.pg_connections import (
    BEGIN_READ,
    BEGIN_WRITE,
    Connection,
    Cursor,
    Held,
    ThreadConnections,
    command,
)
from wxpay_local.store.sql import SqlTx
from wxpay_local.store.sql_notify import WAKE_CHANNEL

T = TypeVar("T")
log = logging.getLogger("wxpay_local.store")

#: Held (per transaction) by whoever migrates, so that processes starting together take turns.
_MIGRATION_LOCK = 4242
#: Worker threads (and so connections) per store; docs/deploy.md says how it was chosen.
DEFAULT_THREADS = 8
_SETTINGS = "SELECT key, value FROM settings WHERE key = ANY(%s)"


class _Transaction:
    """One transaction on this thread's connection: ``BEGIN`` on entry, ``COMMIT`` when the
    block ends (raising if the server rolled it back instead), ``ROLLBACK`` if it raises.
    A class, not a generator: it is on every request's path."""

    __slots__ = ("_store", "_write", "_held", "_cur", "_session")

    def __init__(self, store: PostgresStore, write: bool) -> None:
        self._store = store
        self._write = write
        self._held: Held | None = None
        self._cur: Cursor | None = None
        self._session = Session()

    def __enter__(self) -> SqlTx:
        held = self._store.connections.take()
        try:
            command(held.conn, BEGIN_WRITE if self._write else BEGIN_READ)
        except BaseException:
            self._store.connections.give_back(held)
            raise
        self._held = held
        # A cursor of its own, closed at the end: a SqlTx kept past its block cannot run a
        # statement outside the transaction (the connection is in autocommit between them).
        self._cur = held.conn.cursor()
        return SqlTx(self._cur, POSTGRES, self._store.cache, self._session)

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        held, cur = self._held, self._cur
        assert held is not None and cur is not None
        cur.close()
        try:
            if exc_type is None:
                # A statement that failed inside the block (its error swallowed) leaves the
                # transaction aborted: COMMIT then answers ROLLBACK, and that must not pass.
                if command(held.conn, b"COMMIT") != b"COMMIT":
                    raise psycopg.errors.InFailedSqlTransaction(
                        "the transaction was rolled back by the server: nothing was committed"
                    )
            elif held.usable:
                try:
                    command(held.conn, b"ROLLBACK")
                except psycopg.Error:  # the block's own exception is the one that tells
                    log.warning("ROLLBACK failed; the connection is dropped", exc_info=True)
        finally:
            self._store.connections.give_back(held)
            self._session.end(self._store.cache)


class PostgresStore:
    """A store on one PostgreSQL database; ``begin()`` yields a ``SqlTx``."""

    is_postgres = True
    database = "postgresql"
    #: Calls belong in a worker thread (``run``), never on the event loop.
    inline = False

    def __init__(
        self, url: str, *, durability: str = "full", threads: int = DEFAULT_THREADS
    ) -> None:
        if durability not in ("full", "normal"):
            raise ValueError("durability is 'full' or 'normal'")
        self.durability = durability  # PostgreSQL's own settings decide; kept for the banner
        self.url = url
        #: Merchants and app bindings, read on every request: see ``IdentityCache``.
        self.cache = IdentityCache()
        self.connections = ThreadConnections(
            functools.partial(psycopg.connect, url, autocommit=True)
        )
        #: The worker threads, as they start (``close`` must not wait for the one it runs on).
        self._mine: set[threading.Thread] = set()
        self._threads = ThreadPoolExecutor(
            threads, thread_name_prefix="wxpay-pg", initializer=self._started
        )
        try:
            self.migrate()
        except BaseException:  # SchemaMismatch, a bad URL: no connection left behind
            self.close()
            raise

    def _started(self) -> None:
        self._mine.add(threading.current_thread())

    def cached_merchant(self, mch_id: str, env: str) -> Merchant | None:
        """``MerchantPeek``: the identity cache only, no connection, no transaction."""
        return self.cache.merchant((mch_id, env))

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """This thread's connection (autocommit), for whole-schema work (``store.namespaced``)."""
        held = self.connections.take()
        try:
            yield held.conn
        finally:
            self.connections.give_back(held)  # closed if left inside a transaction

    def begin(self, *, write: bool = True) -> _Transaction:
        """One transaction: committed when the block ends, rolled back if it raises."""
        return _Transaction(self, write)

    async def run(self, fn: Callable[[], T], *, write: bool = True) -> T:
        """Run blocking store work from async code, in one of the store's worker threads."""
        call = functools.partial(contextvars.copy_context().run, fn)
        return await asyncio.get_running_loop().run_in_executor(self._threads, call)

    def migrate(self) -> int:
        """Check the applied migrations and apply the rest; returns the schema version."""
        with self.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

            def run_script(script: str) -> None:
                cur.execute(script)  # no parameters: several statements at once

            return migrate.apply(cur, "postgresql", run_script)

    def reset(self) -> None:
        """Delete every row (the schema stays): the control plane's and tests' clean slate."""
        with self.connection() as conn, conn.transaction(), conn.cursor() as cur:
            self.cache.clear()
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            tables = sorted(row[0] for row in cur.fetchall())
            for table in tables:
                if table == "schema_migrations":
                    continue
                if table == "settings":  # the platform's CA is its identity, not test state
                    cur.execute("DELETE FROM settings WHERE key NOT LIKE 'pki.%'")
                else:
                    cur.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
        self.cache.clear()

    def read_settings(self, keys: tuple[str, ...]) -> dict[str, str]:
        """The current text of some settings rows: one round trip (autocommit, prepared)."""
        held = self.connections.take()
        try:
            rows = held.conn.execute(_SETTINGS, (list(keys),), prepare=True).fetchall()
        finally:
            self.connections.give_back(held)
        return {str(k): str(v) for k, v in rows}

    def announce(self) -> None:
        """NOTIFY the dispatchers listening on this schema (``wakeups``) that work was committed;
        one round trip on this thread's connection (autocommit), outside any transaction."""
        held = self.connections.take()
        try:
            held.conn.execute("SELECT pg_notify(%s, current_schema())", (WAKE_CHANNEL,))
        finally:
            self.connections.give_back(held)

    async def wakeups(self) -> AsyncIterator[None]:
        """Once when listening has begun (work announced before it was missed: look now), then
        once per ``announce`` from any process on this schema; on an autocommit connection of
        its own."""
        conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        async with conn:
            found = await (await conn.execute("SELECT current_schema()")).fetchone()
            schema = found[0] if found else "public"
            await conn.execute(f"LISTEN {WAKE_CHANNEL}")
            yield None
            async for note in conn.notifies():
                if note.payload == schema:
                    yield None

    def close(self) -> None:
        # Work still queued finishes first; from one of the store's own threads, waiting
        # would be waiting for ourselves.
        self._threads.shutdown(wait=threading.current_thread() not in self._mine)
        self.connections.close()
