"""The thread a SQLite store's COMMITs run in (see ``group_commit``): one job at a time, each
answered on the event loop that handed it over."""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from contextlib import suppress


class Job:
    """One job of the commit thread: ``step(conn)`` there, then ``then(its error)`` on ``loop``."""

    __slots__ = ("loop", "conn", "step", "then", "commit_lock")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: sqlite3.Connection,
        step: Callable[[sqlite3.Connection], BaseException | None],
        then: Callable[[BaseException | None], None],
        commit_lock: threading.Lock,
    ) -> None:
        self.loop = loop
        self.conn = conn
        self.step = step
        self.then = then
        self.commit_lock = commit_lock


class CommitThread:
    """The thread the COMMITs (and waits for another process's lock) run in, one at a time.

    A thread of our own fed by a ``SimpleQueue`` rather than a ``ThreadPoolExecutor``: the
    executor's work item, ``concurrent.futures.Future``, the asyncio future chained to it and
    its done callback cost two wake-ups of the loop and two of its iterations per batch; here
    the result reaches the loop in one ``call_soon_threadsafe``.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        # A daemon: an interpreter that exits without close() is not held up by it, and a
        # COMMIT cut short is rolled back by SQLite (no caller of it was answered yet).
        self._thread = threading.Thread(target=self._serve, name="wxpay-sqlite-commit", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        self._jobs.put(job)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                error = job.step(job.conn)
            except BaseException as exc:  # the batch's callers hear of it; the thread goes on
                error = exc
            finally:
                job.commit_lock.release()
            with suppress(RuntimeError):  # the loop was closed: nobody is waiting any more
                job.loop.call_soon_threadsafe(job.then, error)
            del job  # not kept alive (with its batch) while the thread waits for the next

    def close(self) -> None:
        """Finish the job in hand and those queued, then stop the thread."""
        self._jobs.put(None)
        self._thread.join()
