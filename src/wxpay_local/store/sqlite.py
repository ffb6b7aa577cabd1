"""The SQLite backend: a file in WAL mode (or memory), calls inline on the caller's thread.

Per thread, one connection for writes, taken with ``BEGIN IMMEDIATE`` so that writers serialise
instead of failing on upgrade, and one read-only connection for reads, which see committed data
only. Writes from async code join a group commit (``store.group_commit``). Measured fastest on
the event loop: a SQLite call is shorter than a thread hop.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TypeVar

from wxpay_local.domain.model import Merchant
from wxpay_local.store import migrate
from wxpay_local.store.dialect import SQLITE
from wxpay_local.store.group_commit import GroupCommit
from wxpay_local.store.identity import IdentityCache, Session
from wxpay_local.store.sql import SqlTx

T = TypeVar("T")


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
    transaction, or rolled back alone if it raises; then the caller waits for the COMMIT."""

    __slots__ = ("_cur", "_tx", "_group")

    def __init__(
        self, cur: sqlite3.Cursor, cache: IdentityCache, session: Session, group: GroupCommit
    ) -> None:
        self._cur = cur
        self._tx = SqlTx(cur, SQLITE, cache, session)
        self._group = group

    def __enter__(self) -> SqlTx:
        try:
            self._cur.execute("SAVEPOINT unit")
        except BaseException:
            self._cur.close()
            self._group.left()  # no block to end: wait for the COMMIT all the same, then fail
            raise
        return self._tx

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        cur = self._cur
        try:
            if exc_type is not None:
                cur.execute("ROLLBACK TO unit")
            cur.execute("RELEASE unit")
        finally:
            cur.close()
            self._group.left()


def _children_first(cur: sqlite3.Cursor) -> list[str]:
    """The tables ordered so that each comes before the tables its foreign keys name."""
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


class SqliteStore:
    """A store on one SQLite database; ``begin()`` yields a ``SqlTx``."""

    is_postgres = False
    database = "sqlite"
    #: Calls may run on the event loop.
    inline = True

    def __init__(self, url: str, *, durability: str = "full") -> None:
        if durability not in ("full", "normal"):
            raise ValueError("durability is 'full' or 'normal'")
        self.durability = durability
        self.url = url
        #: Merchants and app bindings, read on every request: see ``IdentityCache``.
        self.cache = IdentityCache()
        self._local = threading.local()
        self._path = url.removeprefix("sqlite:///") if url.startswith("sqlite") else url
        memory = self._path == ":memory:" or self._path.startswith("file::memory:")
        # A second connection on a file database reads committed data while the first one
        # commits (WAL); an in-memory database has one connection and does it all inline.
        self._separate_reads = not memory
        self._group = GroupCommit(
            self._sqlite,
            self.cache,
            commit_in_thread=not memory and durability == "full",
            lock_path=None if memory else self._path + "-commit.lock",
        )
        self.migrate()

    # connections ---------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The database file (or ``:memory:``)."""
        return self._path

    def write_connection(self) -> sqlite3.Connection:
        """This thread's write connection, for whole-database work (``store.namespaced``)."""
        self._group.wait_for_commit(self._sqlite())
        return self._sqlite()

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

    def cached_merchant(self, mch_id: str, env: str) -> Merchant | None:
        """``MerchantPeek``: the identity cache only, no connection, no transaction."""
        return self.cache.merchant((mch_id, env))

    def begin(self, *, write: bool = True) -> AbstractContextManager[SqlTx]:
        """One transaction: committed when the block ends, rolled back if it raises.

        A read (``write=False``) outside a group commit runs on the read-only connection: it
        sees committed data only, never a batch still being committed. A write from a caller of
        ``run()`` waits here for its batch and runs in the batch's transaction, in a SAVEPOINT
        of its own, as does everything nested in it.
        """
        conn = self._sqlite()
        session = self._group.joined(conn, write=write)
        if session is not None:
            return _Savepoint(conn.cursor(), self.cache, session, self._group)
        if not write and self._separate_reads:
            return _Read(self._reader(), self.cache)
        return self._transaction(conn, write)

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection, write: bool) -> Iterator[SqlTx]:
        self._group.wait_for_commit(conn)
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

    async def run(self, fn: Callable[[], T], *, write: bool = True) -> T:
        """Run store work from async code: reads inline; writes join the next group commit
        and return once it is durable."""
        if not write:
            return fn()
        return await self._group.run(fn)

    # schema --------------------------------------------------------------------------------
    def migrate(self) -> int:
        """Check the applied migrations and apply the rest; returns the schema version."""
        conn = self._sqlite()
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:

            def run_script(script: str) -> None:
                for statement in migrate.sqlite_statements(script):
                    cur.execute(statement)

            version = migrate.apply(cur, "sqlite", run_script)
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
        cur.close()
        return version

    def reset(self) -> None:
        """Delete every row (the schema stays): the control plane's and tests' clean slate."""
        with self.begin() as tx:
            tx.changes_identity()  # every merchant and binding goes: forget the cached ones
            conn = self._sqlite()
            cur = conn.cursor()
            # Every table the migrations made, read from the database itself, so a new table
            # can never be forgotten here; children first, for the foreign keys.
            for table in _children_first(cur):
                if table == "schema_migrations":
                    continue
                if table == "settings":  # the platform's CA is its identity, not test state
                    cur.execute("DELETE FROM settings WHERE key NOT LIKE 'pki.%'")
                else:
                    cur.execute(f"DELETE FROM {table}")
            cur.execute("DELETE FROM sqlite_sequence")
            cur.close()

    # the shared-state check (web.shared_state), on every request -----------------------------
    def read_settings(self, keys: tuple[str, ...]) -> dict[str, str]:
        """The current text of some settings rows, as cheaply as SQLite allows.

        ``PRAGMA data_version`` on the read-only connection changes whenever any other
        connection (this process's writer or another process) commits; while it stays the
        same, the rows cannot have changed and the last answer is returned without a query.
        """
        if not self._separate_reads:
            with self.begin(write=False) as tx:
                return tx.get_settings(keys)
        conn = self._reader()
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        last: tuple[int, tuple[str, ...], dict[str, str]] | None = getattr(
            self._local, "settings_read", None
        )
        if last is not None and last[0] == version and last[1] == keys:
            return last[2]
        marks = ", ".join("?" * len(keys))
        rows = conn.execute(f"SELECT key, value FROM settings WHERE key IN ({marks})", keys)
        found = {str(k): str(v) for k, v in rows.fetchall()}
        self._local.settings_read = (version, keys, found)
        return found

    def close(self) -> None:
        self._group.close()
        for name in ("reader", "conn"):
            conn = getattr(self._local, name, None)
            if conn is not None:
                conn.close()
                setattr(self._local, name, None)
