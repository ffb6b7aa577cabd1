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

Only a caller's transaction runs under that lock. Each caller's function runs in a greenlet of
its own (``_Call``): it starts at once, outside any transaction, and is stopped where it asks
for a write transaction (``joined``); the batch resumes it inside the shared transaction, stops
it again where its outermost ``with store.begin()`` block ends (``left``), and resumes it once
more after the COMMIT. So parsing the request before its transaction and signing the answer
after it run outside the lock, in parallel with the other processes' transactions, and not
while they wait (measured: with all of the request's work inside the lock, two workers did
1.05x what one did).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sqlite3
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Generic, TypeVar

from greenlet import getcurrent, greenlet

from wxpay_local.store.commit_thread import CommitThread, Job
from wxpay_local.store.identity import IdentityCache, Session

try:
    import fcntl
except ImportError:  # not on POSIX: SQLite's busy handler alone serialises the processes
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
#: Seconds a thread may hold the GIL while the commit thread waits for it, once several processes
#: share the database (see _share_the_gil_promptly).
_SWITCH_INTERVAL = 0.0005
#: SQLite's primary result codes for "another connection holds the lock" (extended codes
#: carry them in their low byte).
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _share_the_gil_promptly() -> None:
    """Called once another process is seen holding the commit lock: from then on the loop's
    thread gives up the GIL after 0.5 ms instead of 5 ms when the commit thread asks for it.

    The commit thread needs the GIL between its COMMIT's return and the ``flock`` unlock (a
    syscall made from Python: no C-level step does both), so with a busy loop the processes'
    lock stayed held, idle, for up to a switch interval after each fsync. Only another process
    pays for that; a lone process (and a lone test) keeps the default, since the shorter
    interval costs every thread switch more often (system time per unifiedorder 30 -> 45 us
    with one worker in the issue-15 profiles) and buys it nothing there.
    """
    if sys.getswitchinterval() > _SWITCH_INTERVAL:
        sys.setswitchinterval(_SWITCH_INTERVAL)


def is_busy(error: sqlite3.Error) -> bool:
    """Whether SQLite refused because another connection holds the lock: by error code."""
    return (error.sqlite_errorcode & 0xFF) in _BUSY_CODES


class _Stop:
    """Why a caller's greenlet handed control back to the batch."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


#: The caller asks for a write transaction: it joins the next batch.
_WANTS_TRANSACTION = _Stop("wants a write transaction")
#: The caller's outermost write block ended: it goes on once the batch's COMMIT returned.
_LEFT_TRANSACTION = _Stop("left its write transaction")


class _Call(Generic[T]):
    """One caller of ``run()``: its function in a greenlet, the future its answer goes to, and
    how deep it is in ``with store.begin()`` blocks of the batch's transaction."""

    __slots__ = ("glet", "future", "depth", "started", "ended")

    def __init__(self, group: GroupCommit, fn: Callable[[], T], future: asyncio.Future[T]) -> None:
        self.glet = _CallGreenlet(fn, group, self)
        # The caller's context variables, as if fn ran where run() was awaited.
        self.glet.gr_context = contextvars.copy_context()
        self.future = future
        self.depth = 0
        self.started = False
        #: How fn ended if it ended inside the transaction: answered after the COMMIT.
        self.ended: tuple[Any, BaseException | None] | None = None

    def go_on(self, error: BaseException | None) -> Any:
        """Start or resume the greenlet; what it stopped with (or fn's value once it is dead).
        ``error`` is raised where it stopped (a batch that failed to begin or to commit)."""
        if self.started:
            return self.glet.switch(error)
        self.started = True
        return self.glet.switch()

    def settle(self, value: Any, error: BaseException | None) -> None:
        if self.future.done():  # the caller was cancelled; its work is done all the same
            return
        if error is None:
            self.future.set_result(value)
        else:
            self.future.set_exception(error)


class _CallGreenlet(greenlet):
    """A caller's greenlet, knowing its store's ``GroupCommit`` and its ``_Call`` (so that
    ``begin()`` can find the batch; a ``begin()`` on another store is that store's own)."""

    def __init__(self, fn: Callable[[], Any], group: GroupCommit, call: _Call[Any]) -> None:
        super().__init__(fn)
        self.group = group
        self.call = call


class _Batch:
    """The writes of one group commit: callers and the shared transaction's session."""

    __slots__ = ("calls", "session")

    def __init__(self, calls: list[_Call[Any]]) -> None:
        self.calls = calls
        self.session = Session()


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
        #: Callers stopped where they asked for a write transaction, waiting for a batch.
        self._pending: list[_Call[Any]] = []
        self._scheduled = False
        self._committing = False
        #: The batch whose transaction is open on the loop's thread now, and its connection.
        self._batch: _Batch | None = None
        self._batch_conn: sqlite3.Connection | None = None
        self._commit_conn: sqlite3.Connection | None = None
        #: Held from the moment a batch's COMMIT is handed to the commit thread until it ends.
        self._commit_lock = threading.Lock()
        self._committer: CommitThread | None = None

    # what begin() needs to know ------------------------------------------------------------
    def joined(self, conn: sqlite3.Connection, *, write: bool) -> Session | None:
        """The batch's session when this ``begin()`` runs inside a caller of ``run()``: a
        caller not yet in a transaction is stopped here until its batch's transaction is open
        (a read outside one goes its own way: None). None outside ``run()``."""
        current = getcurrent()
        if not isinstance(current, _CallGreenlet) or current.group is not self:
            return None
        call = current.call
        if call.depth == 0:
            if not write:
                return None
            stopped = current.parent
            assert stopped is not None  # a _CallGreenlet is started by the batch's loop
            # resumed by _run_calls in the open transaction, or by _finish if it failed to open
            error = stopped.switch(_WANTS_TRANSACTION)
            if isinstance(error, BaseException):
                raise error
        batch = self._batch
        assert batch is not None and conn is self._batch_conn, "a caller outside its batch"
        call.depth += 1
        return batch.session

    def left(self) -> None:
        """A caller's ``with store.begin()`` block in the batch ended; after its outermost one,
        wait for the batch's COMMIT (raising its error, as a failed COMMIT would)."""
        current = getcurrent()
        assert isinstance(current, _CallGreenlet)
        current.call.depth -= 1
        if current.call.depth:
            return
        stopped = current.parent
        assert stopped is not None
        error = stopped.switch(_LEFT_TRANSACTION)  # resumed by _committed
        if isinstance(error, BaseException):
            raise error

    def wait_for_commit(self, conn: sqlite3.Connection) -> None:
        """Wait until the commit thread is done with ``conn`` (if it is using it)."""
        if self._committing and conn is self._commit_conn:
            with self._commit_lock:
                pass

    # the callers ---------------------------------------------------------------------------
    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` now up to its write transaction, which joins the next batch; return once
        that batch's COMMIT returned and ``fn`` finished."""
        loop = asyncio.get_running_loop()
        call: _Call[T] = _Call(self, fn, loop.create_future())
        self._resume(loop, call, None)
        return await call.future

    def _resume(
        self, loop: asyncio.AbstractEventLoop, call: _Call[Any], error: BaseException | None
    ) -> None:
        """Run ``call`` on until it finishes or asks for a write transaction."""
        try:
            stop = call.go_on(error)
        except BaseException as exc:  # fn raised: delivered to that caller alone
            call.settle(None, exc)
            return
        if call.glet.dead:
            call.settle(stop, None)
        elif stop is _WANTS_TRANSACTION:
            self._pending.append(call)
            if not self._scheduled and not self._committing:
                self._scheduled = True
                loop.call_soon(self._run_batch, loop)
        else:
            call.settle(None, RuntimeError(f"a caller stopped outside a transaction: {stop}"))

    # the batches ---------------------------------------------------------------------------
    def _run_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the waiting transactions as one, each in its own SAVEPOINT, then COMMIT.

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
            self._finish(loop, batch, exc)
            return
        if started:
            self._run_calls(loop, conn, batch)
            return
        # Another process holds the write lock: wait for it in the commit thread, not here.
        _share_the_gil_promptly()
        self._in_commit_thread(
            loop, conn, self._begin_immediate, lambda error: self._began(loop, conn, batch, error)
        )

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
        error: BaseException | None,
    ) -> None:
        self._committing = False
        if error is not None:
            self._finish(loop, batch, error)
            return
        # The writes that queued while we waited for the lock come along: one fsync for all.
        batch.calls += self._pending
        self._pending = []
        self._run_calls(loop, conn, batch)

    def _run_calls(
        self, loop: asyncio.AbstractEventLoop, conn: sqlite3.Connection, batch: _Batch
    ) -> None:
        """Resume each caller inside the open transaction, up to the end of its write block."""
        self._batch, self._batch_conn = batch, conn
        try:
            for call in batch.calls:
                try:
                    stop = call.go_on(None)
                except Exception as exc:  # its block failed to end: that caller alone
                    call.ended = (None, exc)
                    continue
                except BaseException as exc:  # KeyboardInterrupt & co.: the whole batch
                    call.ended = (None, exc)
                    raise
                if call.glet.dead:  # it never left the block it was in (no ``with``)
                    call.ended = (stop, None)
                elif stop is not _LEFT_TRANSACTION:
                    error = RuntimeError(f"a caller stopped inside a batch: {stop}")
                    call.ended = (None, error)
        except BaseException as exc:
            self._batch = self._batch_conn = None
            with suppress(Exception):
                conn.rollback()
            self._unlock()
            self._finish(loop, batch, exc)
            return
        self._batch = self._batch_conn = None
        if not self._commit_in_thread:
            self._finish(loop, batch, self._commit_and_unlock(conn))
            return
        self._in_commit_thread(
            loop, conn, self._commit_and_unlock, lambda error: self._committed(loop, batch, error)
        )

    def _in_commit_thread(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: sqlite3.Connection,
        step: Callable[[sqlite3.Connection], BaseException | None],
        then: Callable[[BaseException | None], None],
    ) -> None:
        """Run ``step(conn)`` in the commit thread, then ``then(its error)`` on the loop; until
        it returns, no batch starts and a direct ``begin()`` on conn waits for it."""
        if self._committer is None:
            self._committer = CommitThread()
        self._committing = True
        self._commit_conn = conn
        self._commit_lock.acquire()  # released by the commit thread once step returned
        self._committer.submit(Job(loop, conn, step, then, self._commit_lock))

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
        error: BaseException | None,
    ) -> None:
        self._committing = False
        self._finish(loop, batch, error)

    def _finish(
        self, loop: asyncio.AbstractEventLoop, batch: _Batch, error: BaseException | None
    ) -> None:
        """After the batch's COMMIT (or its failure): its callers go on from the end of their
        write blocks, and the next batch starts."""
        batch.session.end(self._cache)  # before anyone hears of a changed key or binding
        for call in batch.calls:
            if call.ended is not None:
                value, own_error = call.ended
                call.settle(value, own_error or error)
            elif not call.glet.dead:
                self._resume(loop, call, error)
        if self._pending and not self._scheduled and not self._committing:
            self._scheduled = True
            loop.call_soon(self._run_batch, loop)

    def close(self) -> None:
        if self._committer is not None:
            self._committer.close()
            self._committer = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
