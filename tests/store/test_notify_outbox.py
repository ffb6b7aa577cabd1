"""The outbox's store side: the one-statement claim under a lease, the batched attempt records,
and PostgreSQL's wake-up of the listening dispatchers of one schema."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from wxpay_local.codes import NotificationStatus, SignType
from wxpay_local.domain.model import LIVE, DeliveryAttempt
from wxpay_local.store import SqlStore
from wxpay_local.store.postgres import PostgresStore
from wxpay_local.store.sql_notify import WAKE_CHANNEL
from wxpay_local.timefmt import SHANGHAI

pytestmark = pytest.mark.store

T0 = datetime(2031, 3, 4, 10, 0, tzinfo=SHANGHAI)
LEASE = timedelta(seconds=60)


@pytest.fixture
def outbox(store: SqlStore) -> Iterator[tuple[SqlStore, int]]:
    with store.begin() as tx:
        merchant = tx.insert_merchant("1900000001", LIVE, "Shop", "k" * 32, 6000, "pw")
    yield store, merchant.id


def _enqueue(store: SqlStore, merchant_id: int, order_id: int, at: datetime) -> int:
    with store.begin() as tx:
        return tx.enqueue_notification(
            "payment", merchant_id, order_id, "http://127.0.0.1:9/n", {"n": 1}, SignType.MD5, at
        )


def test_a_claim_takes_due_rows_oldest_first_and_no_other_claim_takes_them(
    outbox: tuple[SqlStore, int],
) -> None:
    store, merchant_id = outbox
    late = _enqueue(store, merchant_id, 1, T0 + timedelta(seconds=2))
    early = _enqueue(store, merchant_id, 2, T0)
    _enqueue(store, merchant_id, 3, T0 + timedelta(hours=1))  # not due yet
    with store.begin() as tx:
        claimed = tx.claim_due_notifications(T0 + timedelta(seconds=5), T0, T0 + LEASE, 10)
    assert [n.id for n in claimed] == [early, late]
    with store.begin() as tx:  # leased: another worker gets nothing until the lease ends
        assert tx.claim_due_notifications(T0 + timedelta(seconds=5), T0, T0 + LEASE, 10) == []
    with store.begin() as tx:  # a crashed worker's lease runs out: the rows come back
        after = T0 + LEASE + timedelta(seconds=1)
        again = tx.claim_due_notifications(T0 + timedelta(seconds=5), after, after + LEASE, 1)
    assert [n.id for n in again] == [early]


def test_one_tick_records_every_attempt_and_frees_the_rows(outbox: tuple[SqlStore, int]) -> None:
    store, merchant_id = outbox
    ids = [_enqueue(store, merchant_id, n, T0) for n in range(3)]
    with store.begin() as tx:
        tx.claim_due_notifications(T0, T0, T0 + LEASE, 10)
    at = T0 + timedelta(seconds=1)
    done = [
        DeliveryAttempt(ids[0], 1, at, True, 200, 3, "acknowledged", "<xml/>"),
        DeliveryAttempt(ids[1], 1, at, False, 500, 4, "HTTP status 500", "oops"),
        DeliveryAttempt(ids[2], 1, at, False, None, 5, "connection failed: x", ""),
    ]
    retry = at + timedelta(seconds=15)
    with store.begin() as tx:
        tx.record_attempts(
            [
                (done[0], NotificationStatus.DELIVERED, None, at),
                (done[1], NotificationStatus.PENDING, retry, at),
                (done[2], NotificationStatus.EXHAUSTED, None, at),
            ]
        )
    with store.begin(write=False) as tx:
        notes = {n.id: n for n in tx.notifications(merchant_id)}
        assert [tx.attempts(i) for i in ids] == [[d] for d in done]
    assert [notes[i].status for i in ids] == ["delivered", "pending", "exhausted"]
    assert [notes[i].attempts for i in ids] == [1, 1, 1]
    assert notes[ids[0]].delivered_at == at and notes[ids[1]].delivered_at is None
    assert notes[ids[1]].next_attempt_at == retry and notes[ids[1]].first_attempt_at == at
    with store.begin() as tx:  # the lease is gone: the retry is claimable once due
        assert [n.id for n in tx.claim_due_notifications(retry, T0, T0 + LEASE, 10)] == [ids[1]]


def test_an_announcement_wakes_the_listening_dispatchers_of_its_schema_only(
    outbox: tuple[SqlStore, int],
) -> None:
    store, _ = outbox
    if not isinstance(store, PostgresStore):
        pytest.skip("SQLite has one dispatcher per database, woken in-process (Dispatcher.wake)")

    async def scenario() -> None:
        woken: asyncio.Queue[None] = asyncio.Queue()

        async def listen() -> None:
            async for _ in store.wakeups():
                woken.put_nowait(None)

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(woken.get(), 10)  # listening now
        with store.connection() as conn:  # another schema's announcement on the same channel
            conn.execute("SELECT pg_notify(%s, 'another_schema')", (WAKE_CHANNEL,))
            conn.commit()
        await asyncio.sleep(0.3)
        assert woken.empty()
        await asyncio.to_thread(store.announce)
        await asyncio.wait_for(woken.get(), 10)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)

    asyncio.run(scenario())
