"""Control-plane bill downloads: the files the merchant API serves, without signing a request.

Same rules, same bytes (the API's preparation is reused), streamed the same way; a refusal is
the control plane's JSON error with a status that says what happened: 404 ``NO_BILL_EXIST``,
409 ``BILL_CREATING``, 400 ``BAD_FIELD`` (the API's text as the message, its XML in ``xml``).
``X-Bill-Rows`` gives the detail-row count, for progress bars.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.responses import Response, StreamingResponse

from wxpay_local.api import bills
from wxpay_local.codes import Fault
from wxpay_local.domain.bills import BILL_TYPES
from wxpay_local.domain.model import LIVE, Merchant
from wxpay_local.web.control_base import (
    MCH_ID_PATH,
    Call,
    Op,
    Param,
    error,
    not_found,
    one_of,
    text,
)
from wxpay_local.wire import envelope

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

#: The API's texts and err_codes that are not a bad request: (status, the control plane's code).
_FAULT_STATUS = {"No Bill Exist": (404, "NO_BILL_EXIST"), "Bill Creating": (409, "BILL_CREATING")}
_REFUSAL_STATUS = {"NO_BILL_EXIST": (404, "NO_BILL_EXIST"), "BILL_CREATING": (409, "BILL_CREATING")}


async def _prepared(
    app: AsgiApp, mch_id: str, prepare: Callable[[Any, Merchant], bills.BillFile]
) -> bills.BillFile:
    def work() -> bills.BillFile:
        with app.store.begin(write=False) as tx:
            merchant = tx.merchant(mch_id, LIVE)
            if merchant is None:
                raise not_found(f"no merchant {mch_id}")
            return prepare(tx, merchant)

    return await app.store.run(work, write=False)


def _streamed(app: AsgiApp, bill: bills.BillFile) -> Response:
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


async def trade_bill(app: AsgiApp, call: Call) -> Any:
    """The trade bill (downloadbill) of a merchant's day."""
    bill_date = call.text("bill_date")

    def prepare(tx: Any, merchant: Merchant) -> bills.BillFile:
        return bills.trade_bill(
            tx,
            app.platform,
            merchant,
            bill_date,
            call.text("bill_type"),
            call.text("tar_type"),
            call.text("device_info"),
            count=True,
        )

    try:
        bill = await _prepared(app, call.text("mch_id"), prepare)
    except Fault as exc:
        status, code = _FAULT_STATUS.get(exc.return_msg, (400, "BAD_FIELD"))
        xml = envelope.fault(exc.return_msg, exc.error_code).decode()
        return error(status, code, exc.return_msg, xml=xml)
    return _streamed(app, bill)


async def fund_flow(app: AsgiApp, call: Call) -> Any:
    """The fund flow (downloadfundflow) of one of a merchant's accounts for a day."""
    bill_date = call.text("bill_date")

    def prepare(tx: Any, merchant: Merchant) -> bills.BillFile:
        return bills.fund_flow(
            tx,
            app.platform,
            merchant,
            bill_date,
            call.text("account_type"),
            call.text("tar_type"),
        )

    try:
        bill = await _prepared(app, call.text("mch_id"), prepare)
    except bills.FundFlowRefused as refused:
        status, code = _REFUSAL_STATUS.get(refused.err_code, (400, "BAD_FIELD"))
        return error(status, code, refused.err_code_des, xml=refused.body.decode())
    return _streamed(app, bill)


_BILL_MEDIA = ("text/plain", "application/x-gzip")
_DAY = Param("bill_date", text(8), "path", description="yyyyMMdd")
_GZIP = Param("tar_type", one_of("GZIP"), description="GZIP: the file gzipped")

BILL_OPS: tuple[Op, ...] = (
    Op(
        "GET",
        "/_local/bills/{mch_id}/{bill_date}",
        "A day's trade bill as downloadbill serves it (bill_type, tar_type=GZIP, device_info)",
        trade_bill,
        params=(
            MCH_ID_PATH,
            _DAY,
            Param("bill_type", one_of(*BILL_TYPES), default="ALL"),
            _GZIP,
            Param("device_info", text(32)),
        ),
        media=_BILL_MEDIA,
        errors=(409,),
    ),
    Op(
        "GET",
        "/_local/fundflow/{mch_id}/{bill_date}",
        "A day's fund flow as downloadfundflow serves it (account_type, tar_type=GZIP)",
        fund_flow,
        params=(
            MCH_ID_PATH,
            _DAY,
            Param("account_type", one_of("Basic", "Operation", "Fees")),
            _GZIP,
        ),
        media=_BILL_MEDIA,
        errors=(409,),
    ),
)
