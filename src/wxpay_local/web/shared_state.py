"""Platform state every process must see at once: the clock, fault rules, anything kept in a
``settings`` row and mirrored in memory.

A change made through one process is committed before its call returns; every process checks
the watched rows before it serves a request (``fresh``), so the next request anywhere sees it.
The check is one indexed read (``SELECT key, value FROM settings WHERE key IN (…)``) per request
batch: on PostgreSQL the requests that arrive while a check is in flight share the next one
(each request waits for a check *begun after it arrived*, so none is served from a state older
than a change that had returned before it came); on SQLite the read runs inline on the event
loop (a few µs, no batching needed). See docs/deploy.md, "Shared state".

Adopting a subsystem (e.g. fault rules):
    app.shared.watch("faults", lambda value: rules.replace(parse(value)))   # at wiring time
    with app.shared.writing("faults"):                                    # when changing them
        ... tx.put_setting("faults", text) in one store transaction ...
    app.shared.wrote("faults", text)
``adopt`` receives the row's text, or None when the row is gone (after a reset).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from wxpay_local.store import SqlStore

log = logging.getLogger("wxpay_local")

Adopt = Callable[[str | None], None]


class SharedState:
    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._adopt: dict[str, Adopt] = {}
        self._keys: tuple[str, ...] = ()
        #: The text of each watched row as this process last saw (or wrote) it.
        self._seen: dict[str, str | None] = {}
        #: Bumped around every local write: a check that overlapped one is dropped (its read may
        #: predate the write and would undo it in memory).
        self._generation = 0
        self._writes_in_flight = 0
        self._lock = threading.Lock()
        self._queue: list[asyncio.Future[None]] = []
        self._draining = False
        #: The running drain, held so that it is neither collected mid-flight nor left pending
        #: when the loop closes (``close``).
        self._drainer: asyncio.Task[None] | None = None
        #: Checks that read the database (for the bench and tests).
        self.checks = 0

    def watch(self, key: str, adopt: Adopt) -> None:
        self._adopt[key] = adopt
        self._keys = tuple(self._adopt)
        self._seen.setdefault(key, None)

    # local changes -------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around a local write of watched rows: checks running meanwhile are dropped."""
        with self._lock:
            self._writes_in_flight += 1
            self._generation += 1
        try:
            yield
        finally:
            with self._lock:
                self._writes_in_flight -= 1
                self._generation += 1

    def wrote(self, key: str, value: str | None) -> None:
        """This process committed ``value`` (its memory already holds it)."""
        with self._lock:
            self._seen[key] = value

    def forget(self) -> None:
        """After a local reset: every row is gone, and memory already shows it."""
        with self._lock:
            self._generation += 1
            for key in self._seen:
                self._seen[key] = None

    # the check -----------------------------------------------------------------------------
    def check(self) -> None:
        """Read the watched rows and adopt what changed (blocking; a worker thread on
        PostgreSQL, inline on SQLite)."""
        if not self._keys:
            return
        with self._lock:
            generation = self._generation
            if self._writes_in_flight:
                return
        rows = self._store.read_settings(self._keys)
        self.checks += 1
        with self._lock:
            if generation != self._generation:
                return
            for key in self._keys:
                value = rows.get(key)
                if value != self._seen.get(key):
                    self._seen[key] = value
                    self._adopt[key](value)

    async def fresh(self) -> None:
        """Return once a check begun after this call has run."""
        if not self._keys:
            return
        if self._store.inline:
            self.check()
            return
        future = asyncio.get_running_loop().create_future()
        self._queue.append(future)
        if not self._draining:
            self._draining = True
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        await future

    async def close(self) -> None:
        """Let a drain in flight finish (at shutdown: no task is left pending)."""
        drainer, self._drainer = self._drainer, None
        if drainer is not None and not drainer.done():
            await asyncio.gather(drainer, return_exceptions=True)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    await self._store.run(self.check, write=False)
                except Exception:  # the request itself will meet the database's trouble
                    log.exception("could not read the shared platform state")
                for future in batch:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._draining = False
