"""The journal's buffer: a read's flush waits for a flush already writing (no missed entries)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from wxpay_local.web.journal import Journal

pytestmark = pytest.mark.unit


class SlowStore:
    """Writes land in ``written`` only once the test opens ``gate``, as a commit on another
    thread lands when it lands (an event, not a pause: the order is the test's, not the
    machine's)."""

    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []
        self.gate = asyncio.Event()

    async def run(self, fn: Callable[[], Any], *, write: bool = True) -> Any:
        await self.gate.wait()
        return fn()

    def begin(self, *, write: bool = True) -> Any:
        store = self

        class Tx:
            def __enter__(self) -> Tx:
                return self

            def __exit__(self, *exc: object) -> None:
                pass

            def insert_journal(self, entries: list[dict[str, Any]]) -> None:
                store.written.extend(entries)

        return Tx()


def test_a_flush_returns_only_after_the_one_in_flight_has_written() -> None:
    async def scenario() -> list[dict[str, Any]]:
        store = SlowStore()
        journal = Journal(store)
        journal.record({"id": 1})
        timer = asyncio.create_task(journal.flush())  # the periodic flush takes the entry
        await asyncio.sleep(0)
        reader = asyncio.create_task(journal.flush())  # nothing pending, but must wait
        for _ in range(5):  # every step the reader could take without the write landing
            await asyncio.sleep(0)
        assert not reader.done(), "a reader's flush returned before the write in flight"
        store.gate.set()
        await reader
        seen = list(store.written)
        await timer
        return seen

    assert asyncio.run(scenario()) == [{"id": 1}]
