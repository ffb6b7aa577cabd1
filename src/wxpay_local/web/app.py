"""The composition root: ``create_app`` wires settings, store, clock, ids, dispatcher and routes.

Merchant API paths go straight to ``web.merchant.handle`` (the hot path); everything else
(the ``/_local`` control plane, the console, the payer pages) is a Starlette app behind the
security boundary (``web.boundary``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from wxpay_local.api import HANDLERS
from wxpay_local.api.context import Platform
from wxpay_local.api.pipeline import build_routes
from wxpay_local.dispatch.worker import Dispatcher
from wxpay_local.domain.clock import TestClock
from wxpay_local.domain.ids import Ids
from wxpay_local.domain.orders import OrderRules
from wxpay_local.probe.runner import Canaries
from wxpay_local.settings import Settings
from wxpay_local.store import SqlStore, open_store
from wxpay_local.store.identity import IDENTITY_VERSION_SETTING
from wxpay_local.web import console, control, merchant, pages
from wxpay_local.web.boundary import Boundary, ensure_admin_token
from wxpay_local.web.console import auth as console_auth
from wxpay_local.web.faults import FaultBook
from wxpay_local.web.journal import Journal
from wxpay_local.web.namespaces import PREFIX as NS_PREFIX
from wxpay_local.web.namespaces import Namespaces
from wxpay_local.web.shared_state import SharedState

log = logging.getLogger("wxpay_local")

CLOCK_SETTING = "clock"
#: How often a process that serves no requests (the dispatcher alone) re-reads the state.
CLOCK_REFRESH_SECONDS = 0.25


class AsgiApp:
    """The ASGI application. Attributes are the wired services, for the control plane and tests."""

    def __init__(
        self, settings: Settings, store: SqlStore, clock: TestClock, ids: Ids, prefix: str = ""
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.ids = ids
        self.platform = Platform(
            clock=clock,
            ids=ids,
            order_rules=OrderRules(
                closeorder_min_age=timedelta(seconds=settings.closeorder_min_age_seconds)
            ),
            base_url=settings.base_url + prefix,
            require_client_cert=settings.require_client_cert,
            refund_settle_seconds=settings.refund_settle_seconds,
            store=store,
            bills_available_immediately=settings.bills_available_immediately,
            bill_generation_hour=settings.bill_generation_hour,
        )
        self.handlers = HANDLERS
        self.routes = build_routes()
        self.journal = Journal(store, settings.journal_flush_seconds)
        self.faults = FaultBook(store)
        self.faults.journal = self.journal
        self.dispatcher = Dispatcher(
            store,
            clock,
            schedule=settings.notify_schedule,
            timeout=settings.notify_timeout_seconds,
            ids=ids,
            faults=self.faults.for_notification,
        )
        self._tasks: list[asyncio.Task[None]] = []
        #: The probe's XXE canaries fetched (web.control_probe).
        self.canaries = Canaries()
        self._ca: Any = None
        #: Platform state mirrored from the database, checked before every request.
        self.shared = SharedState(store)
        self.shared.watch(CLOCK_SETTING, self._adopt_clock)
        # A merchant or binding changed by any process (a key rotation): forget the cached ones.
        self.shared.watch(IDENTITY_VERSION_SETTING, lambda _version: store.cache.clear())
        self.control = Starlette(
            routes=[*control.routes(self), *pages.routes(self), *console.routes(self)],
            exception_handlers={404: pages.not_found},
        )
        #: Everything but the merchant API goes through this (docs/security.md).
        self.boundary = Boundary(self.control, settings, self._session_secret)
        #: The server's namespaces (docs/namespaces.md); a namespace has none of its own.
        self.namespaces: Namespaces | None = None if prefix else Namespaces(self)

    async def _session_secret(self) -> bytes:
        """The key payer sessions are derived from: the console's, kept in the database so
        every server process sharing it accepts the same cookies."""
        await console_auth.ready(self)
        return console_auth.secret(self)

    def certificate_authority(self) -> Any:
        """The platform CA (created in the database on first use), cached per process."""
        if self._ca is None:
            from datetime import datetime

            from wxpay_local.timefmt import SHANGHAI
            from wxpay_local.web.tls import load_ca

            self._ca = load_ca(self.store, datetime.now(SHANGHAI))
        return self._ca

    # the shared test clock -----------------------------------------------------------------
    def load_clock(self) -> None:
        """Adopt the platform state saved by any process (``shared.check``; blocking)."""
        self.shared.check()

    def _adopt_clock(self, saved: str | None) -> None:
        """The clock row as the database has it now (None: reset, real time again)."""
        if saved is None:
            self.clock.offset, self.clock.frozen = timedelta(0), None
            return
        state = json.loads(saved)
        self.clock.offset = timedelta(microseconds=state["offset_us"])
        frozen = state.get("frozen")
        self.clock.frozen = None if frozen is None else datetime.fromisoformat(frozen)

    def save_clock(self) -> None:
        """Commit this process's clock; every process adopts it on its next request."""
        with self.shared.writing():
            state = {
                "offset_us": int(self.clock.offset / timedelta(microseconds=1)),
                "frozen": None if self.clock.frozen is None else self.clock.frozen.isoformat(),
            }
            text = json.dumps(state)
            with self.store.begin() as tx:
                tx.put_setting(CLOCK_SETTING, text)
            self.shared.wrote(CLOCK_SETTING, text)

    def forget_clock(self) -> None:
        """After a reset: real time again (other processes see the row gone)."""
        self.shared.forget()
        self.clock.offset, self.clock.frozen = timedelta(0), None

    async def _refresh_clock(self) -> None:
        """For a process that serves no requests (``wxpay-local worker``): poll the state."""
        while True:
            await asyncio.sleep(CLOCK_REFRESH_SECONDS)
            try:
                await self.shared.fresh()
            except Exception:
                log.exception("could not refresh the shared clock")

    # lifecycle -----------------------------------------------------------------------------
    async def startup(self) -> None:
        await self.store.run(self.load_clock, write=False)
        self.journal.start()
        loop = asyncio.get_running_loop()
        # requests check the state themselves; this keeps an idle process's dispatcher current
        self._tasks.append(loop.create_task(self._refresh_clock()))
        if self.settings.dispatcher:
            self._tasks.append(loop.create_task(self.dispatcher.run()))

    async def shutdown(self) -> None:
        self.dispatcher.stop()
        for task in self._tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.shared.close()
        await self.journal.stop()
        if self.namespaces is not None:
            await self.namespaces.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.shared.fresh()
            route = self.routes.get(scope["path"])
            if route is not None:
                await merchant.handle(self, route, scope, receive, send)
                return
            if self.namespaces is not None and scope["path"].startswith(NS_PREFIX):
                await self.namespaces.serve(scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.boundary(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        gc_before: tuple[int, int, int] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                gc_before = _server_gc()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _restore_gc(gc_before)
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return


#: The server's garbage collector: requests free their objects by reference counting, so the
#: young generation is collected every 10,000 net allocations instead of 700, and the older
#: ones rarely; whatever exists once the server has started is frozen (never scanned again).
SERVER_GC_THRESHOLDS = (10_000, 20, 100)


def _server_gc() -> tuple[int, int, int]:
    """Tune the collector for serving; returns the thresholds to restore at shutdown."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*SERVER_GC_THRESHOLDS)
    return (before[0], before[1], before[2])


def _restore_gc(before: tuple[int, int, int] | None) -> None:
    if before is not None:
        gc.set_threshold(*before)
    gc.unfreeze()  # collectable again (tests start and stop many servers in one process)


def create_app(
    settings: Settings | None = None,
    *,
    store: SqlStore | None = None,
    clock: TestClock | None = None,
    ids: Ids | None = None,
) -> AsgiApp:
    """An ASGI app over the given (or configured) store; the caller owns its lifecycle."""
    settings = ensure_admin_token(settings or Settings.from_env())
    store = store or open_store(settings.effective_database_url, durability=settings.durability)
    return AsgiApp(settings, store, clock or TestClock(), ids or Ids(settings.seed))
