"""退款: the refunds list (status, date range, search by out_refund_no or refund_id, keyset
pages); each row links to its order's timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from wxpay_local.codes import RefundStatus
from wxpay_local.web.console import listing
from wxpay_local.web.console.auth import Viewer
from wxpay_local.web.console.common import console_page, render
from wxpay_local.web.pages.common import param

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

STATUSES = tuple(RefundStatus)


async def refunds(app: AsgiApp, request: Request, viewer: Viewer) -> Response:
    values = request.query_params
    page = listing.keyset(values)
    status = listing.choice(values, "refund_status", STATUSES)
    search = param(values, "q").strip()

    def work() -> list[dict[str, Any]]:
        with app.store.begin(write=False) as tx:
            merchants = [m.id for m in listing.merchants_in_scope(tx, viewer, values)]
            return [
                {
                    "mch_id": mch_id,
                    "out_trade_no": out_trade_no,
                    "out_refund_no": r.out_refund_no,
                    "refund_id": r.refund_id,
                    "refund_fee": r.refund_fee,
                    "refund_status": r.refund_status,
                    "recv_account": r.recv_account,
                    "created": listing.beijing(r.created_at),
                    "done": listing.beijing(r.success_time),
                    "cursor": f"{listing.millis(r.created_at)}_{r.id}",
                }
                for r, mch_id, out_trade_no in tx.console_refunds(merchants, page, status, search)
            ]

    found = await app.store.run(work, write=False)
    shown, links = listing.pager(request.url.path, values, page, found, lambda r: r["cursor"])
    return render(
        request,
        "refunds.html",
        refunds=shown,
        pages=links,
        statuses=STATUSES,
        filters=listing.filters_of(values, "refund_status", "from", "to", "q", "mch_id"),
    )


def routes(app: AsgiApp) -> list[Route]:
    return [Route("/console/refunds", console_page(app, refunds), methods=["GET"])]
