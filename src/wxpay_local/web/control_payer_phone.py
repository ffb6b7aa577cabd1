"""Control-plane operations a payer's phone would do: payment codes, the micropay password
prompt and policy, scanning a code_url.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse

from wxpay_local.domain import micropay, paycodes
from wxpay_local.domain.payer import PayOutcome
from wxpay_local.web import control_openapi as schemas
from wxpay_local.web import views
from wxpay_local.web.control_base import (
    ID,
    PAYER_ID,
    B,
    Call,
    ControlError,
    Op,
    not_found,
    one_of,
    text,
)
from wxpay_local.web.pages import native_mode1
from wxpay_local.web.pages.native_scan import ScanError

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


# payment codes and the password prompt ------------------------------------------------------
async def new_code(app: AsgiApp, call: Call) -> Any:
    payer_id = call.whole("payer_id")

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise not_found(f"no payer {payer_id}")
            code = paycodes.issue_code(tx, app.clock, app.ids, payer_id)
        return {"auth_code": code.auth_code, "expires_at": views.iso(code.expires_at)}

    return await app.store.run(work)


async def pending(app: AsgiApp, call: Call) -> Any:
    payer_id = call.whole("payer_id")

    def work() -> Any:
        with app.store.begin(write=False) as tx:
            return [
                views.order_view(o)
                | {"order_id": o.id, "password_deadline": views.iso(o.password_deadline)}
                for o in micropay.waiting_orders(tx, app.clock, payer_id)
            ]

    return {"orders": await app.store.run(work, write=False)}


async def confirm(app: AsgiApp, call: Call) -> Any:
    """Answer the password prompt of a micropay waiting for this payer (newest by default)."""
    payer_id = call.whole("payer_id")
    if not call.body.get("cancel") and "password" not in call.body:
        raise ControlError(400, "MISSING_FIELD", "give password, or cancel: true")

    def work() -> Any:
        with app.store.begin() as tx:
            waiting = micropay.waiting_orders(tx, app.clock, payer_id)
            wanted = call.body.get("out_trade_no")
            chosen = next((o for o in waiting if not wanted or o.out_trade_no == wanted), None)
            if chosen is None and wanted:  # no longer waiting: say what became of it
                chosen = tx.payer_micropay_order(payer_id, wanted)
            if chosen is None:
                return {
                    "outcome": str(PayOutcome.ORDER_NOT_FOUND),
                    "message": "没有等待输入密码的订单",
                    "order": None,
                }
            outcome, order = micropay.confirm_payment(
                tx,
                app.clock,
                app.ids,
                chosen.id,
                payer_id,
                password=call.body.get("password"),
                cancel=bool(call.body.get("cancel")),
                card_id=call.body.get("card_id"),
            )
        return {
            "outcome": str(outcome),
            "message": outcome.message,
            "order": None if order is None else views.order_view(order),
        }

    return await app.store.run(work)


async def set_policy(app: AsgiApp, call: Call) -> Any:
    payer_id = call.whole("payer_id")
    policy = call.body["password_policy"]

    def work() -> Any:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise not_found(f"no payer {payer_id}")
            tx.set_password_policy(payer_id, policy)
        return {"payer_id": payer_id, "password_policy": policy}

    return await app.store.run(work)


async def scan(app: AsgiApp, call: Call) -> Any:
    """A payer scans a code_url: mode 1 runs the merchant's scan callback (spec §6.3)."""
    try:
        scanned = await native_mode1.scan(app, call.body["payer_id"], call.body["code_url"])
    except ScanError as exc:
        return JSONResponse(exc.as_json(), exc.status)
    return {
        "mode": scanned.mode,
        "merchant": scanned.merchant_name,
        "prepay_id": scanned.order.prepay_id,
        "order": views.order_view(scanned.order),
    }


PAYER_PHONE_OPS: tuple[Op, ...] = (
    Op(
        "POST",
        "/_local/scan",
        "A payer scans a code_url: Native mode 1 runs the merchant's scan callback and returns"
        " the prepay_id it answered; mode 2 resolves the order (then pay with /_local/pay)",
        scan,
        {"payer_id": ID, "code_url": text(512, 1)},
        ("payer_id", "code_url"),
        errors=(404, 409, 424),
        response=schemas.obj(
            mode={"type": "integer"},
            merchant={"type": "string"},
            prepay_id={"type": "string"},
            order=schemas.ORDER,
        ),
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/codes",
        "A fresh payment code (auth_code, 18 digits, valid one minute, single use)",
        new_code,
        params=(PAYER_ID,),
        response=schemas.obj(auth_code={"type": "string"}, expires_at={"type": "string"}),
    ),
    Op(
        "GET",
        "/_local/payers/{payer_id}/pending",
        "The payer's micropay orders waiting for the password",
        pending,
        params=(PAYER_ID,),
        response=schemas.listing("orders", schemas.PENDING_ORDER),
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/confirm",
        "Answer the password prompt: password (right or wrong), or cancel",
        confirm,
        {"password": text(64), "cancel": B, "card_id": ID, "out_trade_no": text(64)},
        params=(PAYER_ID,),
        at_least_one=(("password", "cancel"),),
        response=schemas.PAY_RESULT,
    ),
    Op(
        "POST",
        "/_local/payers/{payer_id}/policy",
        "When micropay asks this payer for the password: platform, always, never",
        set_policy,
        {"password_policy": one_of(*micropay.POLICIES)},
        ("password_policy",),
        params=(PAYER_ID,),
        response=schemas.obj(payer_id={"type": "integer"}, password_policy={"type": "string"}),
    ),
)
