"""The micropay password prompt on the payer's own pages (JSON, polled by ``static/wallet.js``).

``GET /wallet/prompts?payer_id=`` lists the micropay orders waiting for this payer's password
(``domain.micropay.waiting_orders``) with the payer's cards; ``POST /wallet/confirm`` (JSON:
payer_id, order_id, action pay|cancel, password, card_id or null) answers one through
``micropay.confirm_payment``, as the control plane's ``/_local/payers/{id}/confirm`` does.
Same-origin only: no CORS headers, these are the payer's pages, not a merchant's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeGuard

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wxpay_local.domain import micropay
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.payer import PayOutcome
from wxpay_local.web.pages.common import (
    MAX_ID,
    PageError,
    card_views,
    int_param,
    is_pay_action,
    page,
    param,
    yuan,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

#: Outcomes after which the prompt is gone (paid, cancelled, or no longer answerable).
FINAL = frozenset(
    {
        PayOutcome.SUCCESS,
        PayOutcome.CANCELLED,
        PayOutcome.ORDER_PAID,
        PayOutcome.ORDER_CLOSED,
        PayOutcome.ORDER_NOT_FOUND,
    }
)


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": "BAD_FIELD", "message": message}, 400)


def _is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


async def prompts(app: AsgiApp, request: Request) -> Response:
    payer_id = int_param(request.query_params, "payer_id")
    if payer_id is None:
        raise PageError(400, "payer_id is required")

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            if tx.payer(payer_id) is None:
                raise PageError(404, f"no payer {payer_id}", "用户不存在")
            now = app.clock.now()
            waiting = micropay.waiting_orders(tx, app.clock, payer_id)
            names = {o.merchant_id: tx.merchant_by_id(o.merchant_id).name for o in waiting}
            return {
                "prompts": [
                    {
                        "order_id": o.id,
                        "merchant": names[o.merchant_id],
                        "body": o.body,
                        "amount": yuan(o.total_fee),
                        "out_trade_no": o.out_trade_no,
                        "deadline": o.password_deadline.isoformat()
                        if o.password_deadline
                        else None,
                        "seconds_left": max(0, int((o.password_deadline - now).total_seconds()))
                        if o.password_deadline
                        else None,
                    }
                    for o in waiting
                ],
                "cards": card_views(tx, payer_id) if waiting else [],
            }

    try:
        answer = await app.store.run(work, write=False)
    except PageError as exc:
        return JSONResponse({"error": "NOT_FOUND", "message": exc.message}, exc.status)
    return JSONResponse(answer, headers={"cache-control": "no-store"})


async def confirm(app: AsgiApp, request: Request) -> Response:
    raw = await request.body()
    try:
        data = json.loads(raw) if len(raw) <= 16 * 1024 else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _bad("the body must be a JSON object")
    payer_id, order_id = data.get("payer_id"), data.get("order_id")
    action, password = data.get("action", "pay"), data.get("password")
    card_id = data.get("card_id")
    if not (_is_id(payer_id) and _is_id(order_id)):
        return _bad("payer_id and order_id are row numbers")
    if not is_pay_action(action):
        return _bad("action is pay or cancel")
    if action == "pay" and not isinstance(password, str):
        return _bad("password is the 6-digit payment password")
    if card_id is not None and not _is_id(card_id):
        return _bad("card_id is a card's number, or null for the wallet")

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            outcome, _ = micropay.confirm_payment(
                tx,
                app.clock,
                app.ids,
                order_id,
                payer_id,
                password=password if action == "pay" else None,
                cancel=action == "cancel",
                card_id=card_id,
            )
        return {"outcome": str(outcome), "message": outcome.message, "done": outcome in FINAL}

    return JSONResponse(await app.store.run(work))


async def paycode_state(app: AsgiApp, request: Request) -> Response:
    """The payment-code page's short poll: whether its code was charged, and the order's
    state then, so the page replaces a used code with the outcome (a password-free micropay
    has no prompt to show it)."""
    q = request.query_params
    payer_id = int_param(q, "payer_id")
    auth_code = param(q, "auth_code")
    if payer_id is None or not (len(auth_code) == 18 and auth_code.isdigit()):
        return _bad("payer_id and the 18-digit auth_code are required")

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            code = tx.auth_code(auth_code)
            if code is None or code.payer_id != payer_id:
                return {"used": False}
            order = tx.order_by_id(code.order_id) if code.order_id is not None else None
            if order is None:
                return {"used": False}
            order = effective_state(order, app.clock.now())
            return {
                "used": True,
                "trade_state": str(order.trade_state),
                "merchant": tx.merchant_by_id(order.merchant_id).name,
                "amount": yuan(order.total_fee),
                "body": order.body,
            }

    return JSONResponse(
        await app.store.run(work, write=False), headers={"cache-control": "no-store"}
    )


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/wallet/prompts", page(app, prompts), methods=["GET"]),
        Route("/wallet/paycode/state", page(app, paycode_state), methods=["GET"]),
        Route("/wallet/confirm", page(app, confirm), methods=["POST"]),
    ]
