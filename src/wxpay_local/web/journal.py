"""The request journal: every merchant API call with its answer and, on failure, why.

Entries are buffered in memory and written in one transaction every ``flush_seconds`` (and on
shutdown and before every read), so journaling costs the hot path a list append, not a commit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from wxpay_local.domain.ports import JournalEntry

log = logging.getLogger("wxpay_local.journal")
FOLLOWER_BACKLOG = 1000


class Journal:
    def __init__(self, store: Any, flush_seconds: float = 0.2) -> None:
        self.store = store
        self.flush_seconds = flush_seconds
        self._pending: list[JournalEntry] = []
        self._task: asyncio.Task[None] | None = None
        #: One flush at a time: a reader's flush must not return while the timer's flush is
        #: still writing the entries it took (the reader would miss them).
        self._flushing = asyncio.Lock()
        #: Followers of the live journal (``GET /_local/journal/stream``): each gets every
        #: entry as it is recorded, pushed, not polled.
        self._followers: set[asyncio.Queue[dict[str, Any]]] = set()

    def record(self, entry: JournalEntry) -> None:
        self._pending.append(entry)
        if not self._followers:
            return
        shown = dataclasses.asdict(entry)  # what the stream prints, one JSON object per entry
        for queue in self._followers:
            if queue.qsize() < FOLLOWER_BACKLOG:  # a stalled follower loses entries, not memory
                queue.put_nowait(shown)

    def follow(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._followers.add(queue)
        return queue

    def unfollow(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._followers.discard(queue)

    def _write(self, entries: list[JournalEntry]) -> None:
        with self.store.begin() as tx:
            tx.insert_journal(entries)

    async def flush(self) -> None:
        async with self._flushing:
            if not self._pending:
                return
            entries, self._pending = self._pending, []
            try:
                await self.store.run(lambda: self._write(entries))
            except Exception:
                log.exception("could not write %d journal entries", len(entries))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.flush()
