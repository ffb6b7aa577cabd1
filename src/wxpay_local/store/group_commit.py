"""Group commit on SQLite: the writes that arrive while a batch commits share the next batch's
transaction and its one fsync.

Durability on SQLite is ``synchronous=FULL`` (an acknowledged change survives power loss) made
affordable by this: writes submitted through ``run()`` while the previous batch commits share
one transaction, each inside its own SAVEPOINT so that one request's failure rolls back only its
own changes; the COMMIT runs in a thread of its own (sqlite3 releases the GIL) while the event
loop goes on, and every caller is answered after the shared COMMIT returned.

Several processes on one database (``serve --workers N``) take turns through a lock file
(``flock``) held from BEGIN IMMEDIATE to COMMIT: a batch that finds it taken waits in the kernel
and starts the moment the other process's COMMIT returns. Without it, the waiting process slept
in SQLite's busy handler (back-off sleeps of up to 100 ms), which made a second worker slower
than one and its p99 a second or two.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any, TypeVar

from wxpay_local.store.identity import IdentityCache, Session

try:
    import fcntl
except ImportError:  # not on POSIX: SQLite's busy handler alone serialises the processes
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
#: SQLite's primary result codes for "another connection holds the lock" (extended codes
#: carry them in their low byte).
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def is_busy(error: sqlite3.Error) -> bool:
    """Whether SQLite refused because another connection holds the lock: by error code."""
    return (error.sqlite_errorcode & 0xFF) in _BUSY_CODES


class _Batch:
    """The writes of one group commit: callers, their outcomes, the shared transaction's session."""

    __slots__ = ("calls", "outcomes", "session")

    def __init__(self, calls: list[tuple[Callable[[], Any], asyncio.Future[Any]]]) -> None:
        self.calls = calls
        self.outcomes: list[tuple[Any, BaseException | None]] = []
        self.session = Session()

    def fail(self, error: BaseException) -> None:
        self.outcomes = [(None, error)] * len(self.calls)


class GroupCommit:
    """The batches of one SQLite store, on the connection ``connect()`` gives for writes."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        cache: IdentityCache,
        *,
        commit_in_thread: bool,
        lock_path: str | None = None,
    ) -> None:
        self._connect = connect
        #: The processes' shared commit lock (None: this process is the only writer).
        self._lock_path = lock_path if commit_in_thread and fcntl is not None else None
        self._lock_fd: int | None = None
        self._cache = cache
        self._commit_in_thread = commit_in_thread
        self._pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._scheduled = False
        self._committing = False
        self._batch_conn: sqlite3.Connection | None = None
        self._batch_session: Session | None = None
        self._commit_conn: sqlite3.Connection | None = None
        #: Held from the moment a batch's COMMIT is handed to the commit thread until it ends.
        self._commit_lock = threading.Lock()
        self._committer: ThreadPoolExecutor | None = None

    # what a direct begin() needs to know -------------------------------------------------
    def session_on(self, conn: sqlite3.Connection) -> Session | None:
        """The running batch's session when ``conn`` is the batch's connection, else None."""
        return self._batch_session if conn is self._batch_conn else None

    def wait_for_commit(self, conn: sqlite3.Connection) -> None:
        """Wait until the commit thread is done with ``conn`` (if it is using it)."""
        if self._committing and conn is self._commit_conn:
            with self._commit_lock:
                pass

    # the batches -------------------------------------------------------------------------
    async def run(self, fn: Callable[[], T]) -> T:
        """Join the next batch; return once its COMMIT returned."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((fn, future))
        if not self._scheduled and not self._committing:
            self._scheduled = True
            loop.call_soon(self._run_batch, loop)
        return await future

    def _run_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the waiting writes in one transaction, each in its own SAVEPOINT, then COMMIT.

        With the commit in a thread the COMMIT (and its fsync) runs there while the loop goes on
        parsing, answering reads (on the read connection) and queueing the next writes; the next
        batch starts when this one is durable, and every caller is answered only after its
        batch's COMMIT returned.
        """
        self._scheduled = False
        if not self._pending:
            return
        batch = _Batch(self._pending)
        self._pending = []
        conn = self._connect()
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

    # the processes' commit lock ---------------------------------------------------------
    def _lock(self, *, wait: bool) -> bool:
        if self._lock_path is None:
            return True
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _try_begin_immediate(self, conn: sqlite3.Connection) -> bool:
        """``BEGIN IMMEDIATE`` without waiting; False when another connection writes now."""
        if not self._commit_in_thread:
            conn.execute("BEGIN IMMEDIATE")
            return True
        if not self._lock(wait=False):
            return False
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._unlock()
            if conn.in_transaction or not is_busy(exc):
                raise
            return False
        except BaseException:
            self._unlock()
            raise
        finally:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return True

    def _begin_immediate(self, conn: sqlite3.Connection) -> BaseException | None:
        try:
            self._lock(wait=True)
            conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            self._unlock()
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
            self._unlock()
            self._finish(loop, batch)
            return
        self._batch_conn = self._batch_session = None
        if not self._commit_in_thread:
            error = self._commit_and_unlock(conn)
            if error is not None:
                batch.fail(error)
            self._finish(loop, batch)
            return
        committing = self._in_commit_thread(loop, conn, self._commit_and_unlock)
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

    def _commit_and_unlock(self, conn: sqlite3.Connection) -> BaseException | None:
        try:
            return self._commit(conn)
        finally:
            self._unlock()

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
        batch.session.end(self._cache)  # before anyone hears of a changed key or binding
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

    def close(self) -> None:
        if self._committer is not None:
            self._committer.shutdown(wait=True)
            self._committer = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
