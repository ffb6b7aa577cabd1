"""Control-plane bill downloads: the files the merchant API serves, without signing a request.

Same rules, same bytes (the API's preparation is reused), streamed the same way; an error is
the API's XML answer with an HTTP status that says what happened (404 no bill, 409 not yet
generated, 400 a bad request). ``X-Bill-Rows`` gives the detail-row count, for progress bars.
Imports: api, codes, domain, wire, web.control, starlette.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from wxpay_local.api import bills
from wxpay_local.codes import Fault
from wxpay_local.domain.model import LIVE, Merchant
from wxpay_local.web.control import ControlError, Op
from wxpay_local.wire import envelope

if TYPE_CHECKING:
    from wxpay_local.web.app import App

XML = "text/xml; charset=utf-8"
_FAULT_STATUS = {"No Bill Exist": 404, "Bill Creating": 409}
_REFUSAL_STATUS = {"NO_BILL_EXIST": 404, "BILL_CREATING": 409}


async def _prepared(
    app: App, mch_id: str, prepare: Callable[[Any, Merchant], bills.BillFile]
) -> bills.BillFile:
    def work() -> bills.BillFile:
        with app.store.begin(write=False) as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise ControlError(404, "NOT_FOUND", f"no merchant {mch_id}")
            return prepare(tx, merchant)

    return await app.store.run(work, write=False)


def _streamed(app: App, bill: bills.BillFile) -> Response:
    chunks = bill.download.chunks

    async def body() -> AsyncIterator[bytes]:
        while True:
            chunk = await app.store.run(lambda: next(chunks, None), write=False)
            if chunk is None:
                return
            if chunk:
                yield chunk

    headers = dict(bill.download.headers)
    if bill.rows is not None:
        headers["X-Bill-Rows"] = str(bill.rows)
    return StreamingResponse(body(), media_type=bill.download.content_type, headers=headers)


async def trade_bill(app: App, request: Request, data: dict[str, Any]) -> Any:
    """The trade bill (downloadbill) of a merchant's day."""
    query = request.query_params
    bill_date = request.path_params["bill_date"]

    def prepare(tx: Any, merchant: Merchant) -> bills.BillFile:
        return bills.trade_bill(
            tx,
            app.platform,
            merchant,
            bill_date,
            query.get("bill_type") or "ALL",
            query.get("tar_type", ""),
            query.get("device_info", ""),
            count=True,
        )

    try:
        bill = await _prepared(app, request.path_params["mch_id"], prepare)
    except Fault as exc:
        status = _FAULT_STATUS.get(exc.return_msg, 400)
        return Response(envelope.fault(exc.return_msg, exc.error_code), status, media_type=XML)
    return _streamed(app, bill)


async def fund_flow(app: App, request: Request, data: dict[str, Any]) -> Any:
    """The fund flow (downloadfundflow) of one of a merchant's accounts for a day."""
    query = request.query_params
    bill_date = request.path_params["bill_date"]

    def prepare(tx: Any, merchant: Merchant) -> bills.BillFile:
        return bills.fund_flow(
            tx,
            app.platform,
            merchant,
            bill_date,
            query.get("account_type", ""),
            query.get("tar_type", ""),
        )

    try:
        bill = await _prepared(app, request.path_params["mch_id"], prepare)
    except bills.FundFlowRefused as refused:
        status = _REFUSAL_STATUS.get(refused.err_code, 400)
        return Response(refused.body, status, media_type=XML)
    return _streamed(app, bill)


BILL_OPS: tuple[Op, ...] = (
    Op(
        "GET",
        "/_local/bills/{mch_id}/{bill_date}",
        "A day's trade bill as downloadbill serves it (bill_type, tar_type=GZIP, device_info)",
        trade_bill,
        query=("bill_type", "tar_type", "device_info"),
    ),
    Op(
        "GET",
        "/_local/fundflow/{mch_id}/{bill_date}",
        "A day's fund flow as downloadfundflow serves it (account_type, tar_type=GZIP)",
        fund_flow,
        query=("account_type", "tar_type"),
    ),
)
