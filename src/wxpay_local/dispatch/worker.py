"""The outbox dispatcher: claim due notifications, deliver, record the attempt, reschedule.

Runs inside the server process by default or alone (``wxpay-local worker``); several may run
against one PostgreSQL database, each claiming in one ``UPDATE … WHERE id IN (SELECT … FOR
UPDATE SKIP LOCKED)`` under a lease. ``wake()`` (called after a payment's COMMIT) wakes this
process's dispatcher and, on PostgreSQL, every other process's, through a NOTIFY sent after that
COMMIT (``store.announce`` / ``store.wakeups``); a poll catches the rest (a clock moved, a
retry fallen due, a micropay made through the merchant API).
Several ticks run at once (``pipelines``), so a merchant that answers slowly holds up its own
batch only. Due times follow the injected clock, so advancing the test clock moves through the
retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from wxpay_local.codes import NotificationStatus
from wxpay_local.dispatch.delivery import Verdict, deliver, render
from wxpay_local.dispatch.http_post import Poster
from wxpay_local.domain.clock import Clock
from wxpay_local.domain.faults import NotifyFault
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.model import DeliveryAttempt, Notification
from wxpay_local.domain.notify import SCHEDULES, next_attempt_at
from wxpay_local.domain.refunds import settle_due
from wxpay_local.timefmt import SHANGHAI

log = logging.getLogger("wxpay_local.dispatch")

#: A claim's lease beyond the deliveries' own time: ``timeout`` bounds each POST, connecting
#: included, and an attempt makes at most two in turn (the ``notify_twice`` fault), so a live
#: worker's claim never lapses into another's however the merchant stalls.
LEASE = timedelta(seconds=60)
#: Setting key (+ merchant row id) of ``wxpay-local listen --forward-to``: while set, that
#: merchant's notifications go there whatever notify_url the orders carry. In the database,
#: so every dispatcher process honours it.
FORWARD_SETTING = "listen.forward_to:"


def wall_clock() -> datetime:
    return datetime.now(SHANGHAI)


class Dispatcher:
    def __init__(
        self,
        store: Any,
        clock: Clock,
        *,
        schedule: str = "wechat",
        timeout: float = 5.0,
        batch: int = 32,
        pipelines: int = 4,
        poll_interval: float = 0.25,
        wall: Callable[[], datetime] = wall_clock,
        ids: Ids | None = None,
        faults: Callable[[Notification], Awaitable[NotifyFault | None]] | None = None,
    ) -> None:
        self.ids = ids or Ids()
        #: Notification faults (issue 12): asked once per delivery attempt.
        self.faults = faults
        self.store = store
        self.clock = clock
        self.schedule = SCHEDULES[schedule]
        self.timeout = timeout
        self.lease = LEASE + timedelta(seconds=2 * timeout)
        self.batch = batch
        #: Ticks under way at once: at most ``pipelines × batch`` deliveries in flight.
        self.pipelines = pipelines
        self.poll_interval = poll_interval
        self.wall = wall
        self._wake = asyncio.Event()
        self._announcing: asyncio.Task[None] | None = None
        self._announce_again = False
        self._stopping = False
        self._client = Poster()
        #: Deliveries under way in this process, so ``drain`` can wait for them.
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        #: Followers of this process's deliveries (``POST /_local/listen``).
        self.followers: set[asyncio.Queue[tuple[Notification, DeliveryAttempt]]] = set()

    def wake(self) -> None:
        """Look for due work now (after a payment or a clock change) instead of at next poll."""
        self._wake.set()
        announce = getattr(self.store, "announce", None)
        if announce is None:  # SQLite: one dispatcher per database file is the rule
            return
        if self._announcing is not None:  # one NOTIFY at a time; a wake meanwhile sends another
            self._announce_again = True
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not from the event loop: the poll will do
            return
        self._announcing = loop.create_task(self._announce(announce))

    async def _announce(self, announce: Callable[[], None]) -> None:
        """Tell the other processes' dispatchers, outside the payment's transaction: a NOTIFY
        inside it would serialise every paying COMMIT on PostgreSQL's notification lock
        (8 writers: 1,680–3,050 transactions/s without, 430–860 with it inside, 1,700–1,860
        with one after each COMMIT)."""
        try:
            self._announce_again = True
            while self._announce_again:
                self._announce_again = False
                await self.store.run(announce)
        except Exception as exc:  # the others' poll finds the work a moment later
            log.warning("could not announce new notifications (%s)", exc)
        finally:
            self._announcing = None

    def _claim(self) -> list[tuple[Notification, str]]:
        wall_now = self.wall()
        with self.store.begin() as tx:
            claimed = tx.claim_due_notifications(
                self.clock.now(), wall_now, wall_now + self.lease, self.batch
            )
            merchant_ids = {n.merchant_id for n in claimed}  # one read per merchant, not per row
            forwards = {m: tx.get_setting(FORWARD_SETTING + str(m)) for m in merchant_ids}
            return [
                (
                    replace(n, url=forwards[n.merchant_id] or n.url),
                    tx.merchant_by_id(n.merchant_id).api_key,
                )
                for n in claimed
            ]

    def _record(self, done: list[tuple[Notification, DeliveryAttempt]]) -> None:
        """Every attempt of one tick in one transaction (one commit, not one per delivery)."""
        records: list[tuple[DeliveryAttempt, str, datetime | None, datetime]] = []
        for notification, attempt in done:
            made = notification.attempts + 1
            first = notification.first_attempt_at or attempt.at
            following = None if attempt.ok else next_attempt_at(first, made, self.schedule)
            status = (
                NotificationStatus.DELIVERED
                if attempt.ok
                else (NotificationStatus.PENDING if following else NotificationStatus.EXHAUSTED)
            )
            records.append((attempt, status, following, first))
        with self.store.begin() as tx:
            tx.record_attempts(records)

    async def _deliver_one(
        self, notification: Notification, api_key: str
    ) -> tuple[Notification, DeliveryAttempt]:
        body = render(notification, api_key)
        fault = None if self.faults is None else await self.faults(notification)
        if fault is not None and fault.action == "notify_delay":
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault is not None and fault.action == "notify_together":
            # two copies at once; the attempt is judged by the first
            verdict, _ = await asyncio.gather(
                deliver(self._client, notification.url, body, self.timeout),
                deliver(self._client, notification.url, body, self.timeout),
            )
        elif fault is not None and fault.action == "notify_lost":
            # lost on the way: nothing reaches the merchant, the attempt fails and the real
            # schedule retries it (how a refund notification can overtake its payment's)
            reason = "lost on the way: never reached the merchant (fault rule)"
            verdict = Verdict(False, reason, None, 0, "")
        else:
            verdict = await deliver(self._client, notification.url, body, self.timeout)
        if fault is not None and fault.action == "notify_lost_ack" and verdict.ok:
            # the merchant read it and answered, but the answer never arrived: a timeout
            reason = "timed out after the merchant read the body (fault rule)"
            verdict = replace(verdict, ok=False, reason=reason, http_status=None)
        if fault is not None and fault.action == "notify_twice" and verdict.ok:
            # the merchant acknowledged; the platform delivers it again anyway. A refused copy
            # counts (a receiver without dedupe fails it): retried like any unacknowledged one.
            again = await deliver(self._client, notification.url, body, self.timeout)
            if not again.ok:
                verdict = again
        attempt = DeliveryAttempt(
            notification_id=notification.id,
            number=notification.attempts + 1,
            at=self.clock.now(),
            ok=verdict.ok,
            http_status=verdict.http_status,
            latency_ms=verdict.latency_ms,
            reason=verdict.reason,
            excerpt=verdict.excerpt,
        )
        return notification, attempt

    def _settle_refunds(self) -> int:
        with self.store.begin() as tx:
            return settle_due(tx, self.clock, self.ids)

    async def tick(self) -> int:
        """Settle refunds that are due, then deliver every notification due now; returns how
        many notifications were attempted."""
        # Busy from before the claim: a claim still running in a worker thread (PostgreSQL) has
        # leased rows that another tick's claim would skip.
        self._busy += 1
        self._idle.clear()
        try:
            await self.store.run(self._settle_refunds)
            claimed = await self.store.run(self._claim)
            if len(claimed) == self.batch:  # more may be due: another pipeline takes them
                self._wake.set()
            if claimed:
                done = await asyncio.gather(*(self._deliver_one(n, key) for n, key in claimed))
                await self.store.run(lambda: self._record(done))
                for delivered in done:  # listen: each delivery and its answer, live
                    for queue in self.followers:
                        queue.put_nowait(delivered)
            return len(claimed)
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def drain(self) -> int:
        """Deliver everything due now and wait for the deliveries this process already has
        under way (the background loop may have claimed one a moment ago); returns how many
        notifications this call attempted."""
        total = 0
        while True:
            while (done := await self.tick()) > 0:
                total += done
            if not self._busy:  # no other tick of this process is claiming or delivering
                return total
            await self._idle.wait()

    async def run(self) -> None:
        loops = [self._loop(polls=(i == 0)) for i in range(max(1, self.pipelines))]
        listener = asyncio.get_running_loop().create_task(self._listen())
        try:
            await asyncio.gather(*loops)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await self._client.close()

    async def _loop(self, *, polls: bool) -> None:
        """One pipeline: tick while there is work, then sleep until woken (the first one also
        polls, for work no write announces: a clock moved forward, a retry fallen due)."""
        while not self._stopping:
            self._wake.clear()  # before the claim: a wake during the tick is not lost
            try:
                worked = await self.tick()
            except Exception:
                log.exception("dispatcher tick failed; retrying")
                worked = 0
            if worked or self._stopping:
                continue
            if not polls:
                await self._wake.wait()
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass

    async def _listen(self) -> None:
        """Wake on other processes' announcements (PostgreSQL's LISTEN); the poll covers a gap."""
        wakeups = getattr(self.store, "wakeups", None)
        while wakeups is not None and not self._stopping:
            try:
                async for _ in wakeups():
                    self._wake.set()
            except Exception as exc:  # the database restarting, say: polling goes on
                log.warning("listening for new notifications failed (%s); retrying", exc)
                await asyncio.sleep(1.0)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._announcing is not None:
            self._announcing.cancel()
