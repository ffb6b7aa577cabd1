"""Control-plane reads of what happened: orders, the ledger, notifications, the journal; and
delivering notifications now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wxpay_local.domain.model import LIVE
from wxpay_local.domain.ports import Keyset
from wxpay_local.web import control_openapi as schemas
from wxpay_local.web import views
from wxpay_local.web.control_base import (
    ID,
    MCH_ID_PATH,
    OUT_TRADE_NO_PATH,
    Call,
    Op,
    Param,
    integer,
    live_order,
    not_found,
    one_of,
    text,
)
from wxpay_local.web.control_openapi import listing

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

#: The most rows one listing returns; a larger limit is cut to it.
MAX_PAGE = 500
_MCH_ID = Param("mch_id", text(32), description="only this merchant's")
_BEFORE_ID = Param("before_id", ID, description="rows older than this id (the next page)")
_LIMIT = Param("limit", integer(0), default=50, description=f"at most {MAX_PAGE} are returned")


async def list_orders(app: AsgiApp, call: Call) -> Any:
    mch_id = call.opt("mch_id")
    limit, offset = min(call.whole("limit"), MAX_PAGE), call.whole("offset")
    before = call.opt_whole("before_id")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            merchant_id = None
            if mch_id:
                merchant = tx.merchant(mch_id, LIVE)
                if merchant is None:
                    raise not_found(f"no merchant {mch_id}")
                merchant_id = merchant.id
            found = tx.orders(merchant_id, limit, offset, before)
            return [views.order_view(o) | {"order_id": o.id} for o in found]

    return {"orders": await app.store.run(work, write=False)}


async def get_order(app: AsgiApp, call: Call) -> Any:
    mch_id, out_trade_no = call.text("mch_id"), call.text("out_trade_no")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            order = live_order(tx, mch_id, out_trade_no)
            view = views.order_view(order)
            view["refunds"] = [views.refund_view(r) for r in tx.refunds_of(order.id)]
            notes = tx.notifications(order_id=order.id)
            attempts = tx.attempts_of([n.id for n in notes])  # one statement, not one per row
            view["notifications"] = [views.notification_view(n, attempts[n.id]) for n in notes]
            return view

    return await app.store.run(work, write=False)


async def get_ledger(app: AsgiApp, call: Call) -> Any:
    prefix = call.text("prefix")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.balances(prefix)

    accounts = await app.store.run(work, write=False)
    return {"accounts": accounts, "total": sum(accounts.values())}


async def list_notifications(app: AsgiApp, call: Call) -> Any:
    """Newest first, a keyset page: the kind filter is in the SQL, before the limit."""
    mch_id, kind = call.opt("mch_id"), call.opt("kind") or ""
    limit, before = min(call.whole("limit"), MAX_PAGE), call.opt_whole("before_id")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            merchant_id = None
            if mch_id:
                merchant = tx.merchant(mch_id, LIVE)
                merchant_id = -1 if merchant is None else merchant.id
            page = Keyset(limit, after=None if before is None else (0, before))
            found = tx.console_notifications(merchant_id, page, kind, "")
            attempts = tx.attempts_of([n.id for n, _, _ in found])
            return [views.notification_view(n, attempts[n.id]) for n, _, _ in found]

    return {"notifications": await app.store.run(work, write=False)}


async def redeliver(app: AsgiApp, call: Call) -> Any:
    notification_id = call.whole("notification_id")

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.notification(notification_id) is None:
                raise not_found(f"no notification {notification_id}")
            tx.requeue_notification(notification_id, app.clock.now())
        return {"requeued": notification_id}

    answer = await app.store.run(work)
    app.dispatcher.wake()
    return answer


async def dispatch_now(app: AsgiApp, call: Call) -> Any:
    """Deliver everything due now, in this request, and wait for deliveries under way."""
    return {"attempted": await app.dispatcher.drain()}


async def get_journal(app: AsgiApp, call: Call) -> Any:
    await app.journal.flush()
    mch_id, limit = call.opt("mch_id"), min(call.whole("limit"), MAX_PAGE)
    before, failures = call.opt_whole("before_id"), call.flag("failures")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return tx.journal(mch_id, limit, before, failures)

    return {"entries": await app.store.run(work, write=False)}


RECORD_OPS: tuple[Op, ...] = (
    Op(
        "GET",
        "/_local/orders",
        "Orders, newest first; the next page: before_id = the last order_id seen",
        list_orders,
        params=(_MCH_ID, _LIMIT, _BEFORE_ID, Param("offset", integer(0), default=0)),
        errors=(404,),
        response=listing("orders", schemas.LISTED_ORDER),
    ),
    Op(
        "GET",
        "/_local/orders/{mch_id}/{out_trade_no}",
        "One order with its refunds and notifications",
        get_order,
        params=(MCH_ID_PATH, OUT_TRADE_NO_PATH),
        response=schemas.ORDER_DETAIL,
    ),
    Op(
        "GET",
        "/_local/ledger",
        "Every account balance (fen) and their total, always 0",
        get_ledger,
        params=(Param("prefix", text(64), description="only accounts whose code starts so"),),
        response=schemas.LEDGER,
    ),
    Op(
        "GET",
        "/_local/notifications",
        "Notifications with every delivery attempt",
        list_notifications,
        params=(
            _MCH_ID,
            Param("kind", one_of("payment", "refund")),
            Param("limit", integer(0), default=100, description=f"at most {MAX_PAGE}"),
            _BEFORE_ID,
        ),
        response=listing("notifications", schemas.NOTIFICATION),
    ),
    Op(
        "POST",
        "/_local/notifications/{notification_id}/redeliver",
        "Deliver a notification again now",
        redeliver,
        params=(Param("notification_id", ID, "path"),),
        response=schemas.obj(requeued={"type": "integer"}),
    ),
    Op(
        "POST",
        "/_local/dispatch",
        "Deliver every notification due now and wait for it",
        dispatch_now,
        response=schemas.obj(attempted={"type": "integer"}),
    ),
    Op(
        "GET",
        "/_local/journal",
        "The request journal, newest first; failures=true for failures only",
        get_journal,
        params=(
            _MCH_ID,
            Param("failures", {"type": "boolean"}, default=False),
            _LIMIT,
            _BEFORE_ID,
        ),
        response=listing("entries", schemas.JOURNAL_ENTRY),
    ),
)
