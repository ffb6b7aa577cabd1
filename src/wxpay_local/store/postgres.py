"""The PostgreSQL backend: a connection pool, work in a worker thread, row locks.

Reads run at REPEATABLE READ so that every statement of one sees the same snapshot; several
processes may migrate at once (an advisory lock makes them take turns).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import Connection
from psycopg_pool import ConnectionPool

from wxpay_local.domain.model import Merchant
from wxpay_local.store import migrate
from wxpay_local.store.dialect import POSTGRES
from wxpay_local.store.identity import IdentityCache, Session
from wxpay_local.store.sql import SqlTx

T = TypeVar("T")

#: Held (per transaction) by whoever migrates, so that processes starting together take turns.
_MIGRATION_LOCK = 4242


class PostgresStore:
    """A store on one PostgreSQL database; ``begin()`` yields a ``SqlTx``."""

    is_postgres = True
    database = "postgresql"
    #: Calls belong in a worker thread, never on the event loop.
    inline = False

    def __init__(self, url: str, *, durability: str = "full") -> None:
        if durability not in ("full", "normal"):
            raise ValueError("durability is 'full' or 'normal'")
        self.durability = durability  # PostgreSQL's own settings decide; kept for the banner
        self.url = url
        #: Merchants and app bindings, read on every request: see ``IdentityCache``.
        self.cache = IdentityCache()
        self._pool = ConnectionPool(url, min_size=1, max_size=16, open=True)
        #: The shared-state check's own autocommit connection: one round trip per check,
        #: not the pool's BEGIN / SET TRANSACTION / SELECT / COMMIT.
        self._state_conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._state_lock = threading.Lock()
        try:
            self.migrate()
        except BaseException:  # SchemaMismatch, a bad URL: no pool left behind (its workers)
            self._pool.close()
            raise

    def connection(self) -> AbstractContextManager[Connection[Any]]:
        """A pooled connection, for whole-schema work (``store.namespaced``)."""
        return self._pool.connection()

    def cached_merchant(self, mch_id: str, env: str) -> Merchant | None:
        """``MerchantPeek``: the identity cache only, no connection, no transaction."""
        return self.cache.merchant((mch_id, env))

    def begin(self, *, write: bool = True) -> AbstractContextManager[SqlTx]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        return self._transaction(write)

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[SqlTx]:
        session = Session()
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                if not write:  # one snapshot for every query of a read
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield SqlTx(cur, POSTGRES, self.cache, session)
        finally:
            session.end(self.cache)

    async def run(self, fn: Callable[[], T], *, write: bool = True) -> T:
        """Run blocking store work from async code, in a worker thread."""
        return await asyncio.to_thread(fn)

    def migrate(self) -> int:
        """Check the applied migrations and apply the rest; returns the schema version."""
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))

            def run_script(script: str) -> None:
                cur.execute(script)  # no parameters: several statements at once

            return migrate.apply(cur, "postgresql", run_script)

    def reset(self) -> None:
        """Delete every row (the schema stays): the control plane's and tests' clean slate."""
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
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
        """The current text of some settings rows in one round trip (a prepared statement)."""
        with self._state_lock:
            conn = self._state_conn
            if conn is None or conn.closed:
                conn = self._state_conn = psycopg.connect(self.url, autocommit=True)
            try:
                sql = "SELECT key, value FROM settings WHERE key = ANY(%s)"
                rows = conn.execute(sql, (list(keys),), prepare=True).fetchall()
            except psycopg.OperationalError:
                conn.close()  # reconnect on the next check
                raise
        return {str(k): str(v) for k, v in rows}

    def close(self) -> None:
        with self._state_lock:
            if self._state_conn is not None:
                self._state_conn.close()
        self._pool.close()
