"""交易订单: the orders list (filters, search, keyset pages) and one order with its timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wxpay_local.codes import TradeState, TradeType
from wxpay_local.domain.model import LIVE, Order
from wxpay_local.web.console import listing, timeline
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.common import console_page, render, require_visible
from wxpay_local.web.pages.common import PageError, param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

STATES = tuple(str(s) for s in TradeState)
TYPES = tuple(str(t) for t in TradeType)


def row(order: Order) -> dict[str, Any]:
    return {
        "mch_id": order.mch_id,
        "out_trade_no": order.out_trade_no,
        "transaction_id": order.transaction_id,
        "trade_type": str(order.trade_type),
        "trade_state": str(order.trade_state),
        "total_fee": order.total_fee,
        "body": order.body,
        "created": listing.beijing(order.created_at),
        "paid": listing.beijing(order.time_end),
        "cursor": f"{listing.millis(order.created_at)}_{order.id}",
    }


async def orders(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    values = request.query_params
    page = listing.keyset(values)
    trade_state = listing.choice(values, "trade_state", STATES)
    trade_type = listing.choice(values, "trade_type", TYPES)
    search = param(values, "q").strip()

    def work() -> list[dict[str, Any]]:
        with app.store.begin(write=False) as tx:
            merchants = [m.id for m in listing.merchants_in_scope(tx, viewer, values)]
            if search:
                found = tx.console_order_search(merchants, search)
                return [row(o) for o in found]
            return [row(o) for o in tx.console_orders(merchants, page, trade_state, trade_type)]

    found = await app.store.run(work, write=False)
    shown, links = (
        (found, listing.Pager("", ""))
        if search
        else listing.pager(request.url.path, values, page, found, lambda r: r["cursor"])
    )
    return render(
        request,
        "orders.html",
        orders=shown,
        pages=links,
        states=STATES,
        types=TYPES,
        filters=listing.filters_of(
            values, "trade_state", "trade_type", "from", "to", "q", "mch_id"
        ),
    )


async def order(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    mch_id = param(request.path_params, "mch_id")
    out_trade_no = param(request.path_params, "out_trade_no")
    require_visible(viewer, mch_id)

    def work() -> dict[str, Any] | None:
        with app.store.begin(write=False) as tx:
            merchant = tx.merchant(mch_id, LIVE) if mch_id.isdigit() else None
            found = (
                None if merchant is None else tx.order_by_out_trade_no(merchant.id, out_trade_no)
            )
            if found is None:
                return None
            return timeline.of_order(app, tx, found)

    view = await app.store.run(work, write=False)
    if view is None:
        raise PageError(404, f"no order {out_trade_no} at merchant {mch_id}", "找不到订单")
    flash = timeline.resent_flash(request, view["notifications"])
    return render(request, "order.html", flash=flash, **view)


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/console/orders", console_page(app, orders), methods=["GET"]),
        Route(
            "/console/orders/{mch_id}/{out_trade_no:path}",
            console_page(app, order),
            methods=["GET"],
        ),
    ]
