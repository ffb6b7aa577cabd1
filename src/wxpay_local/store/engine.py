"""Opening a store: SQLite in WAL mode in a data directory, or PostgreSQL from a URL.

SQLite calls run inline on the caller's thread (measured fastest on the event loop); one
connection per process, write transactions taken with ``BEGIN IMMEDIATE`` so that writers
serialise instead of failing on upgrade. PostgreSQL uses a connection pool and runs off the event
loop. Imports: domain, store.sql, stdlib, psycopg.

Durability on SQLite is ``synchronous=FULL`` (an acknowledged change survives power loss) made
affordable by **group commit**: writes submitted through ``run()`` in the same event-loop turn
share one transaction and one fsync, each inside its own SAVEPOINT so that one request's failure
rolls back only its own changes; every caller is answered after the shared COMMIT.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from wxpay_local.store.sql import POSTGRES, SQLITE, SqlTx

T = TypeVar("T")

TABLES = (
    "auth_codes",
    "merchant_certs",
    "reports",
    "short_urls",
    "delivery_attempts",
    "notifications",
    "postings",
    "ledger_txns",
    "accounts",
    "journal",
    "cards",
    "openids",
    "orders",
    "app_bindings",
    "apps",
    "payers",
    "merchants",
    "settings",
)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("wxpay_local.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text("utf-8")))
    return sorted(found)


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


class SqlStore:
    """A store on one database; ``begin()`` yields a ``SqlTx``."""

    #: Whether calls may run on the event loop (SQLite) or belong in a worker thread.
    inline: bool

    def __init__(self, url: str, *, durability: str = "full") -> None:
        if durability not in ("full", "normal"):
            raise ValueError("durability is 'full' or 'normal'")
        self.durability = durability
        self.url = url
        self.is_postgres = url.startswith(("postgresql://", "postgres://"))
        self.inline = not self.is_postgres
        self._local = threading.local()
        self._pool: Any = None
        self._batch: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._in_batch = False
        if self.is_postgres:
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(url, min_size=1, max_size=16, open=True)
        else:
            self._path = url.removeprefix("sqlite:///") if url.startswith("sqlite") else url
        self.migrate()

    # connections ---------------------------------------------------------------------------
    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=30
            )
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before we answer; group commit pays for the fsync.
            conn.execute(f"PRAGMA synchronous={self.durability.upper()}")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def begin(self, *, write: bool = True) -> Iterator[SqlTx]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        if self.is_postgres:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                if not write:  # one snapshot for every query of a read
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield SqlTx(cur, POSTGRES)
            return
        conn = self._sqlite()
        cur = conn.cursor()
        if self._in_batch:
            yield from self._savepoint(cur)
            return
        cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield SqlTx(cur, SQLITE)
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            cur.close()

    def _savepoint(self, cur: sqlite3.Cursor) -> Iterator[SqlTx]:
        cur.execute("SAVEPOINT unit")
        try:
            yield SqlTx(cur, SQLITE)
        except BaseException:
            cur.execute("ROLLBACK TO unit")
            cur.execute("RELEASE unit")
            raise
        else:
            cur.execute("RELEASE unit")
        finally:
            cur.close()

    async def run(self, fn: Callable[[], T], *, write: bool = True) -> T:
        """Run blocking store work from async code.

        PostgreSQL: in a worker thread. SQLite: reads inline; writes join the current group
        commit and return once it is durable.
        """
        if not self.inline:
            return await asyncio.to_thread(fn)
        if not write:
            return fn()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        if not self._batch:
            asyncio.get_running_loop().call_soon(self._commit_batch)
        self._batch.append((fn, future))
        return await future

    def _commit_batch(self) -> None:
        batch, self._batch = self._batch, []
        conn = self._sqlite()
        outcomes: list[tuple[Any, BaseException | None]] = []
        conn.execute("BEGIN IMMEDIATE")
        self._in_batch = True
        try:
            for fn, _ in batch:
                try:
                    outcomes.append((fn(), None))
                except Exception as exc:  # delivered to that caller alone
                    outcomes.append((None, exc))
            conn.commit()
        except BaseException as exc:
            conn.rollback()
            outcomes = [(None, exc)] * len(batch)
        finally:
            self._in_batch = False
        for (_, future), (value, error) in zip(batch, outcomes, strict=True):
            if future.cancelled():
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)

    # schema --------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Apply every migration not yet applied; returns the schema version."""
        substitutions = (
            {"{pk}": "BIGSERIAL PRIMARY KEY", "{bytes}": "BYTEA"}
            if self.is_postgres
            else {"{pk}": "INTEGER PRIMARY KEY AUTOINCREMENT", "{bytes}": "BLOB"}
        )
        with self.begin() as tx:
            cur = tx._cur
            if self.is_postgres:
                # One migrator at a time when several processes start together.
                cur.execute("SELECT pg_advisory_xact_lock(4242)")
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            cur.execute("SELECT MAX(version) FROM schema_version")
            current = cur.fetchone()[0] or 0
            for version, script in _migrations():
                if version <= current:
                    continue
                for old, new in substitutions.items():
                    script = script.replace(old, new)
                for statement in _statements(script):
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO schema_version (version) VALUES (%s)".replace(
                        "%s", "%s" if self.is_postgres else "?"
                    ),
                    (version,),
                )
                current = version
        return int(current)

    def reset(self) -> None:
        """Delete every row (the schema stays): the control plane's and tests' clean slate."""
        with self.begin() as tx:
            for table in TABLES:
                if table == "settings":  # the platform's CA is its identity, not test state
                    tx._cur.execute("DELETE FROM settings WHERE key NOT LIKE 'pki.%'")
                else:
                    tx._cur.execute(f"DELETE FROM {table}")
            if not self.is_postgres:
                tx._cur.execute("DELETE FROM sqlite_sequence")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def open_store(url: str, *, durability: str = "full") -> SqlStore:
    """A store for ``postgresql://…``, ``sqlite:///path`` or a plain SQLite file path."""
    return SqlStore(url, durability=durability)
