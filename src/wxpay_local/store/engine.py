"""Opening a store: SQLite in WAL mode in a data directory, or PostgreSQL from a URL.

SQLite calls run inline on the caller's thread (measured fastest on the event loop): per thread
one connection for writes, taken with ``BEGIN IMMEDIATE`` so that writers serialise instead of
failing on upgrade, and one read-only connection for reads, which see committed data only.
PostgreSQL uses a connection pool and runs off the event loop. Imports: domain, store.sql,
stdlib, psycopg.

Durability on SQLite is ``synchronous=FULL`` (an acknowledged change survives power loss) made
affordable by **group commit**: writes submitted through ``run()`` while the previous batch
commits share one transaction and one fsync, each inside its own SAVEPOINT so that one request's
failure rolls back only its own changes; the COMMIT runs in a thread of its own (sqlite3
releases the GIL) while the event loop goes on, and every caller is answered after the shared
COMMIT returned.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from wxpay_local.store.sql import POSTGRES, SQLITE, IdentityCache, Session, SqlTx

T = TypeVar("T")

_BUSY_TIMEOUT_MS = 30_000


def _children_first(cur: Any) -> list[str]:
    """SQLite's tables ordered so that each comes before the tables its foreign keys name."""
    cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    names = sorted(row[0] for row in cur.fetchall())
    parents: dict[str, set[str]] = {}
    for name in names:
        cur.execute(f"PRAGMA foreign_key_list({name})")
        parents[name] = {row[2] for row in cur.fetchall()} - {name}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [
            name
            for name in names
            if name not in ordered
            and not any(name in parents[other] for other in names if other not in ordered)
        ]
        if not ready:  # a reference cycle: leave the rest to the database's own order
            return ordered + [name for name in names if name not in ordered]
        ordered += ready
    return ordered


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


class _Read:
    """A read on the read-only connection, in one (deferred) transaction: every statement of
    it sees the same committed snapshot. A nested read joins the enclosing one. A class, not a
    generator: it is on every read request's path."""

    __slots__ = ("_conn", "_cur", "_tx", "_outer")

    def __init__(self, conn: sqlite3.Connection, cache: IdentityCache) -> None:
        self._conn = conn
        self._cur = conn.cursor()
        self._tx = SqlTx(self._cur, SQLITE, cache)
        self._outer = False

    def __enter__(self) -> SqlTx:
        if self._conn.in_transaction:
            self._outer = True
        else:
            self._cur.execute("BEGIN")
        return self._tx

    def __exit__(self, *exc: object) -> None:
        try:
            if not self._outer and self._conn.in_transaction:
                self._cur.execute("COMMIT")  # ends the snapshot; a read commits nothing
        finally:
            self._cur.close()


class _Savepoint:
    """One caller's part of a group commit: its changes are released into the batch's
    transaction, or rolled back alone if it raises."""

    __slots__ = ("_cur", "_tx")

    def __init__(self, cur: sqlite3.Cursor, cache: IdentityCache, session: Session) -> None:
        self._cur = cur
        self._tx = SqlTx(cur, SQLITE, cache, session)

    def __enter__(self) -> SqlTx:
        self._cur.execute("SAVEPOINT unit")
        return self._tx

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        cur = self._cur
        try:
            if exc_type is not None:
                cur.execute("ROLLBACK TO unit")
            cur.execute("RELEASE unit")
        finally:
            cur.close()


class _Batch:
    """The writes of one group commit: callers, their outcomes, the shared transaction's session."""

    __slots__ = ("calls", "outcomes", "session")

    def __init__(self, calls: list[tuple[Callable[[], Any], asyncio.Future[Any]]]) -> None:
        self.calls = calls
        self.outcomes: list[tuple[Any, BaseException | None]] = []
        self.session = Session()

    def fail(self, error: BaseException) -> None:
        self.outcomes = [(None, error)] * len(self.calls)


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
        #: Merchants and app bindings, read on every request: see ``IdentityCache``.
        self.cache = IdentityCache()
        self._local = threading.local()
        self._pool: Any = None
        # group commit (SQLite): writes waiting for the next batch, the batch running now
        self._pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._committing = False
        self._batch_conn: sqlite3.Connection | None = None
        self._batch_session: Session | None = None
        self._commit_conn: sqlite3.Connection | None = None
        #: Held from the moment a batch's COMMIT is handed to the commit thread until it ends.
        self._commit_lock = threading.Lock()
        self._committer: ThreadPoolExecutor | None = None
        if self.is_postgres:
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(url, min_size=1, max_size=16, open=True)
            self._separate_reads = False
            self._commit_in_thread = False
        else:
            self._path = url.removeprefix("sqlite:///") if url.startswith("sqlite") else url
            memory = self._path == ":memory:" or self._path.startswith("file::memory:")
            # A second connection on a file database reads committed data while the first one
            # commits (WAL); an in-memory database has one connection and does it all inline.
            self._separate_reads = not memory
            self._commit_in_thread = not memory and durability == "full"
        self.migrate()

    # connections ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, timeout=30
        )

    def _sqlite(self) -> sqlite3.Connection:
        """This thread's connection for writes (and for reads inside a write)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            conn = self._connect()
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before we answer; group commit pays for the fsync.
            conn.execute(f"PRAGMA synchronous={self.durability.upper()}")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection: it sees committed data only (WAL snapshots) and
        is never the connection a batch is committing on."""
        conn: sqlite3.Connection | None = getattr(self._local, "reader", None)
        if conn is None:
            self._sqlite()  # the database exists, in WAL mode
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.reader = conn
        return conn

    def begin(self, *, write: bool = True) -> AbstractContextManager[SqlTx]:
        """One transaction: committed when the block ends, rolled back if it raises.

        On SQLite, a read (``write=False``) outside a group commit runs on the read-only
        connection: it sees committed data only, never a batch still being committed. Inside a
        group commit everything runs in the batch's transaction, each caller in its own
        SAVEPOINT.
        """
        if self.is_postgres:
            return self._pg(write)
        conn = self._sqlite()
        if conn is self._batch_conn:
            assert self._batch_session is not None
            return _Savepoint(conn.cursor(), self.cache, self._batch_session)
        if not write and self._separate_reads:
            return _Read(self._reader(), self.cache)
        return self._transaction(conn, write)

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection, write: bool) -> Iterator[SqlTx]:
        if self._committing and conn is self._commit_conn:
            with self._commit_lock:  # wait for the commit thread to finish with conn
                pass
        cur = conn.cursor()
        session = Session()
        cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield SqlTx(cur, SQLITE, self.cache, session)
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            cur.close()
            session.end(self.cache)

    @contextmanager
    def _pg(self, write: bool) -> Iterator[SqlTx]:
        session = Session()
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                if not write:  # one snapshot for every query of a read
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield SqlTx(cur, POSTGRES, self.cache, session)
        finally:
            session.end(self.cache)

    # group commit --------------------------------------------------------------------------
    async def run(self, fn: Callable[[], T], *, write: bool = True) -> T:
        """Run blocking store work from async code.

        PostgreSQL: in a worker thread. SQLite: reads inline; writes join the next group commit
        and return once it is durable.
        """
        if not self.inline:
            return await asyncio.to_thread(fn)
        if not write:
            return fn()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((fn, future))
        if not self._scheduled and not self._committing:
            self._scheduled = True
            loop.call_soon(self._run_batch, loop)
        return await future

    def _run_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the waiting writes in one transaction, each in its own SAVEPOINT, then COMMIT.

        With ``durability=full`` the COMMIT (and its fsync) runs in the commit thread while the
        loop goes on parsing, answering reads (on the read connection) and queueing the next
        writes; the next batch starts when this one is durable, and every caller is answered
        only after its batch's COMMIT returned.
        """
        self._scheduled = False
        if not self._pending:
            return
        batch = _Batch(self._pending)
        self._pending = []
        conn = self._sqlite()
        try:
            started = self._try_begin_immediate(conn)
        except BaseException as exc:
            batch.fail(exc)
            self._finish(loop, batch)
            return
        if started:
            self._run_calls(loop, conn, batch)
            return
        # Another process holds the write lock: wait for it in the commit thread, not here.
        waiting = self._in_commit_thread(loop, conn, self._begin_immediate)
        waiting.add_done_callback(lambda done: self._began(loop, conn, batch, done))

    def _try_begin_immediate(self, conn: sqlite3.Connection) -> bool:
        """``BEGIN IMMEDIATE`` without waiting; False when another connection writes now."""
        if not self._commit_in_thread:
            conn.execute("BEGIN IMMEDIATE")
            return True
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if conn.in_transaction or not busy:
                raise
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        return True

    @staticmethod
    def _begin_immediate(conn: sqlite3.Connection) -> BaseException | None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            return exc
        return None

    def _began(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: sqlite3.Connection,
        batch: _Batch,
        done: asyncio.Future[BaseException | None],
    ) -> None:
        self._committing = False
        error = done.exception() or done.result()
        if error is not None:
            batch.fail(error)
            self._finish(loop, batch)
            return
        self._run_calls(loop, conn, batch)

    def _run_calls(
        self, loop: asyncio.AbstractEventLoop, conn: sqlite3.Connection, batch: _Batch
    ) -> None:
        self._batch_conn, self._batch_session = conn, batch.session
        try:
            for fn, _ in batch.calls:
                try:
                    batch.outcomes.append((fn(), None))
                except Exception as exc:  # delivered to that caller alone
                    batch.outcomes.append((None, exc))
        except BaseException as exc:
            batch.fail(exc)
            self._batch_conn = self._batch_session = None
            with suppress(Exception):
                conn.rollback()
            self._finish(loop, batch)
            return
        self._batch_conn = self._batch_session = None
        if not self._commit_in_thread:
            error = self._commit(conn)
            if error is not None:
                batch.fail(error)
            self._finish(loop, batch)
            return
        committing = self._in_commit_thread(loop, conn, self._commit)
        committing.add_done_callback(lambda done: self._committed(loop, batch, done))

    def _in_commit_thread(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: sqlite3.Connection,
        step: Callable[[sqlite3.Connection], BaseException | None],
    ) -> asyncio.Future[BaseException | None]:
        """Run ``step(conn)`` in the commit thread; until it returns, no batch starts and a
        direct ``begin()`` on conn waits for it."""
        if self._committer is None:
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="wxpay-sqlite-commit")
        self._committing = True
        self._commit_conn = conn
        self._commit_lock.acquire()  # released by the commit thread once step returned

        def locked() -> BaseException | None:
            try:
                return step(conn)
            finally:
                self._commit_lock.release()

        try:
            return loop.run_in_executor(self._committer, locked)
        except BaseException:
            self._commit_lock.release()
            self._committing = False
            raise

    @staticmethod
    def _commit(conn: sqlite3.Connection) -> BaseException | None:
        try:
            conn.commit()
        except BaseException as exc:
            with suppress(Exception):
                conn.rollback()
            return exc
        return None

    def _committed(
        self,
        loop: asyncio.AbstractEventLoop,
        batch: _Batch,
        done: asyncio.Future[BaseException | None],
    ) -> None:
        self._committing = False
        error = done.exception() or done.result()
        if error is not None:
            batch.fail(error)
        self._finish(loop, batch)

    def _finish(self, loop: asyncio.AbstractEventLoop, batch: _Batch) -> None:
        """Answer the batch's callers (after its COMMIT), then start the next batch."""
        batch.session.end(self.cache)  # before anyone hears of a changed key or binding
        for (_, future), (value, error) in zip(batch.calls, batch.outcomes, strict=True):
            if future.cancelled():
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)
        if self._pending and not self._scheduled and not self._committing:
            self._scheduled = True
            loop.call_soon(self._run_batch, loop)

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
            tx.changes_identity()  # every merchant and binding goes: forget the cached ones
            cur = tx._cur
            # Every table the migrations made, read from the database itself, so a new table
            # can never be forgotten here; foreign keys are checked once all are empty.
            if self.is_postgres:
                cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                tables = sorted(row[0] for row in cur.fetchall())
            else:
                tables = _children_first(cur)
            for table in tables:
                if table == "schema_version":
                    continue
                if table == "settings":  # the platform's CA is its identity, not test state
                    cur.execute("DELETE FROM settings WHERE key NOT LIKE 'pki.%'")
                elif self.is_postgres:
                    cur.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
                else:
                    cur.execute(f"DELETE FROM {table}")
            if not self.is_postgres:
                cur.execute("DELETE FROM sqlite_sequence")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._committer is not None:
            self._committer.shutdown(wait=True)
            self._committer = None
        for name in ("reader", "conn"):
            conn = getattr(self._local, name, None)
            if conn is not None:
                conn.close()
                setattr(self._local, name, None)


def open_store(url: str, *, durability: str = "full") -> SqlStore:
    """A store for ``postgresql://…``, ``sqlite:///path`` or a plain SQLite file path."""
    return SqlStore(url, durability=durability)
