"""PostgreSQL connections owned by threads, and transactions framed in libpq commands.

Each thread that touches the store keeps its connections (autocommit, so that the store says
where a transaction begins and ends) on a stack of its own: a transaction takes the top one,
or opens one when a transaction of the same thread is already using it, and puts it back when
it ends. The store's worker threads therefore reuse one connection each, with no pool to check
it out of and back into: measured, psycopg_pool's checkout and return cost ~20-45 µs of CPU per
transaction, a quarter of what the driver spends on a one-statement read.

``BEGIN``/``COMMIT``/``ROLLBACK`` go straight to libpq (``PGconn.exec_``, which releases the
GIL while it waits): psycopg's own path for a parameterless command costs ~20-30 µs of Python
per call against ~8 for libpq's. The isolation level rides in the ``BEGIN`` (no ``SET
TRANSACTION`` round trip). Statements themselves still go through psycopg cursors (adaptation,
prepared statements after ``prepare_threshold`` uses on a connection, which stays with its
thread, so the statements it has prepared keep being reused).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import pq

log = logging.getLogger("wxpay_local.store")

#: Every statement of a read sees the same snapshot; a read writes nothing.
BEGIN_READ = b"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
#: Writes run at READ COMMITTED and take row locks (``{lock}``) where they decide on a row.
BEGIN_WRITE = b"BEGIN"

Connection = psycopg.Connection[tuple[Any, ...]]
Cursor = psycopg.Cursor[tuple[Any, ...]]

_OK = pq.ExecStatus.COMMAND_OK
_IDLE = pq.TransactionStatus.IDLE


def command(conn: Connection, sql: bytes) -> bytes:
    """Run a parameterless command on libpq; its command tag (``COMMIT``, ``ROLLBACK``…).
    Raises the psycopg exception of the server's SQLSTATE when it fails."""
    result = conn.pgconn.exec_(sql)
    if result.status != _OK:
        message = (result.error_message or b"").decode("utf-8", "replace").strip()
        state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
        try:
            error: type[psycopg.Error] = psycopg.errors.lookup(state)
        except KeyError:
            error = psycopg.OperationalError
        raise error(message or f"{sql.decode()} failed")
    return result.command_status or b""


class Held:
    """A connection and the thread that owns it."""

    __slots__ = ("conn", "owner")

    def __init__(self, conn: Connection, owner: threading.Thread) -> None:
        self.conn = conn
        self.owner = owner

    @property
    def usable(self) -> bool:
        return not self.conn.closed and not self.conn.broken

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # closing a broken connection: nothing left to release
            log.debug("closing a PostgreSQL connection failed", exc_info=True)


class ThreadConnections:
    """Per-thread stacks of idle connections to one database."""

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect
        self._local = threading.local()
        self._lock = threading.Lock()
        #: Every open connection, for ``close()`` and for the connections of threads gone.
        self._all: list[Held] = []
        self._closed = False

    def take(self) -> Held:
        """An idle connection of this thread's (opened if it has none free)."""
        idle: list[Held] | None = getattr(self._local, "idle", None)
        if idle is None:
            idle = self._local.idle = []
        while idle:
            held = idle.pop()
            if held.usable:
                return held
            self._forget(held)
        return self._open()

    def give_back(self, held: Held) -> None:
        """Return a connection taken by this thread; one left inside a transaction (its
        ROLLBACK failed) or broken is closed instead."""
        if held.usable and held.conn.pgconn.transaction_status == _IDLE and not self._closed:
            self._local.idle.append(held)
        else:
            self._forget(held)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            held, self._all = self._all, []
        for each in held:
            each.close()

    def _open(self) -> Held:
        if self._closed:
            raise psycopg.OperationalError("the store is closed")
        self._close_orphans()
        held = Held(self._connect(), threading.current_thread())
        with self._lock:
            self._all.append(held)
        return held

    def _forget(self, held: Held) -> None:
        with self._lock:
            if held in self._all:
                self._all.remove(held)
        held.close()

    def _close_orphans(self) -> None:
        """Close the connections of threads that have ended (a test's threads, a namespace's
        short-lived work): nobody can take them any more."""
        with self._lock:
            gone = [held for held in self._all if not held.owner.is_alive()]
            self._all = [held for held in self._all if held.owner.is_alive()]
        for held in gone:
            held.close()
