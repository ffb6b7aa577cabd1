"""APP pay (spec §6.2): the OpenSDK parameters verified and paid as the WeChat app would.

``POST /app/pay`` (JSON: appid, partnerid, prepayid, package=Sign=WXPay, noncestr, timestamp,
sign, and payer_id, password, action, optional card_id) answers
``{"errCode": 0 | -1 | -2, "errStr": …}`` like ``BaseResp``; ``GET /app/pay?…`` shows the same
as a page a person uses, where the person may also pay with one of their cards.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wxpay_local import secure
from wxpay_local.api import doctor
from wxpay_local.codes import SignType, TradeType
from wxpay_local.domain.model import Order
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.payer import PayOutcome, PayRequest, pay_order
from wxpay_local.domain.ports import Tx
from wxpay_local.web.boundary import HIDDEN_SIGNATURE, reveals_secrets
from wxpay_local.web.pages.common import (
    MAX_ID,
    PageError,
    form_of,
    int_param,
    is_pay_action,
    order_screen,
    order_summary,
    page,
    param,
    payer_choices,
    render,
)
from wxpay_local.wire import signing

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

SIGNED = ("appid", "partnerid", "prepayid", "package", "noncestr", "timestamp")
OK, ERROR, CANCELLED = 0, -1, -2


class AppFail(Exception):
    """errCode -1: what the SDK would report (errStr) for the developer."""


def check(tx: Tx, app: AsgiApp, params: Any) -> Order:
    fields: dict[str, str] = {}
    for name in (*SIGNED, "sign"):
        value = params.get(name)
        if not isinstance(value, str) or not value:
            raise AppFail(f"{name} is missing")
        fields[name] = value
    if fields["package"] != "Sign=WXPay":
        raise AppFail("package must be Sign=WXPay")
    if not fields["timestamp"].isdigit() or len(fields["timestamp"]) > 10:
        raise AppFail("timestamp must be Unix seconds (10 digits)")
    found = tx.order_by_prepay_id(fields["prepayid"])
    if found is None:
        raise AppFail(f"no order has the prepayid {fields['prepayid']}")
    order = effective_state(found, app.clock.now())
    if order.trade_type is not TradeType.APP:
        raise AppFail(f"the order's trade_type is {order.trade_type}, APP pay needs APP")
    if fields["appid"] != order.appid:
        raise AppFail(f"appid {fields['appid']} is not the order's appid ({order.appid})")
    if fields["partnerid"] != order.mch_id:
        raise AppFail(f"partnerid {fields['partnerid']} is not the order's mch_id")
    merchant = tx.merchant_by_id(order.merchant_id)
    sign_type = SignType(order.sign_type)
    expected = signing.sign(fields, merchant.api_key, sign_type)
    if not secure.equal(fields["sign"], expected):
        others = doctor.alt_keys(tx, merchant)
        mismatch = signing.explain_mismatch(fields, merchant.api_key, sign_type, others)
        cause = f"cause: {mismatch.cause}; " if mismatch.cause else ""  # names no key: safe
        if not reveals_secrets():
            raise AppFail(f"sign does not match ({mismatch.algorithm}): {cause}{HIDDEN_SIGNATURE}")
        raise AppFail(
            f"sign does not match: {cause}the platform signed '{mismatch.signed_string}' with "
            f"{mismatch.algorithm}; expected {expected}"
        )
    return order


def _pay(
    app: AsgiApp,
    params: Any,
    payer_id: int,
    password: str,
    cancel: bool,
    card_id: int | None = None,
) -> dict[str, Any]:
    with app.store.begin() as tx:
        order = check(tx, app, params)
        result = pay_order(
            tx,
            app.clock,
            app.ids,
            PayRequest(
                payer_id=payer_id,
                prepay_id=order.prepay_id,
                password=None if cancel else password,
                cancel=cancel,
                card_id=card_id,
            ),
        )
        merchant = tx.merchant_by_id(order.merchant_id).name
    outcome = result.outcome
    code = (
        OK
        if outcome is PayOutcome.SUCCESS
        else CANCELLED
        if outcome is PayOutcome.CANCELLED
        else ERROR
    )
    return {
        "errCode": code,
        "errStr": "" if code == OK else outcome.message,
        "outcome": str(outcome),
        "order": order_summary(app, order, merchant),
    }


async def pay_json(app: AsgiApp, request: Request) -> Response:
    raw = await request.body()
    try:
        data = json.loads(raw) if len(raw) <= 64 * 1024 else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return JSONResponse({"error": "BAD_JSON", "message": "the body must be a JSON object"}, 400)
    payer_id, password = data.get("payer_id"), data.get("password", "")
    action, card_id = data.get("action", "pay"), data.get("card_id")
    if not isinstance(payer_id, int) or isinstance(payer_id, bool) or not 0 <= payer_id <= MAX_ID:
        return JSONResponse({"error": "BAD_FIELD", "message": "payer_id is a payer's number"}, 400)
    if not is_pay_action(action) or not isinstance(password, str):
        return JSONResponse({"error": "BAD_FIELD", "message": "action is pay or cancel"}, 400)
    if card_id is not None and (
        not isinstance(card_id, int) or isinstance(card_id, bool) or not 0 <= card_id <= MAX_ID
    ):
        return JSONResponse({"error": "BAD_FIELD", "message": "card_id is a card's number"}, 400)
    try:
        answer = await app.store.run(
            lambda: _pay(app, data, payer_id, password, action == "cancel", card_id)
        )
    except AppFail as exc:
        return JSONResponse({"errCode": ERROR, "errStr": str(exc)})
    if answer["errCode"] == OK:
        app.dispatcher.wake()
    answer.pop("order")
    return JSONResponse(answer)


async def show(app: AsgiApp, request: Request) -> Response:
    params = {name: param(request.query_params, name) for name in (*SIGNED, "sign")}

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            try:
                order = check(tx, app, params)
            except AppFail as exc:
                raise PageError(400, f"errCode -1: {exc}", "支付失败") from None
            payers = payer_choices(tx)
            merchant = tx.merchant_by_id(order.merchant_id).name
            stored = tx.order_by_prepay_id(order.prepay_id) or order
            return {
                "order": order_summary(app, order, merchant),
                "payers": payers,
                "screen": order_screen(stored, app.clock.now()),
            }

    context = await app.store.run(work, write=False)
    back = _back_url(request.headers.get("referer", ""))
    if context["screen"] is not None:  # paid, closed, expired…: say so, ask for nothing
        return render("state.html", back_url=back, **context)
    return render("app_pay.html", params=params, back_url=back, **context)


def _back_url(url: str) -> str:
    """Where "back to the app" goes: the merchant page that opened the cashier (an http(s)
    Referer, carried through the form), else the pages' start."""
    url = url.strip()
    return url if url.startswith(("http://", "https://")) and len(url) <= 2048 else "/pages"


async def confirm(app: AsgiApp, request: Request) -> Response:
    form = await form_of(request)
    params = {name: param(form, name) for name in (*SIGNED, "sign")}
    payer_id = int_param(form, "payer_id")
    if payer_id is None:
        raise PageError(400, "choose who pays (payer_id)", "请选择用户")
    cancel = param(form, "action") == "cancel"
    # ``method``: "wallet" (or absent) pays from the wallet, a number from that card.
    card_id = None if param(form, "method") in ("", "wallet") else int_param(form, "method")
    try:
        answer = await app.store.run(
            lambda: _pay(app, params, payer_id, param(form, "password"), cancel, card_id)
        )
    except AppFail as exc:
        raise PageError(400, f"errCode -1: {exc}", "支付失败") from None
    if answer["errCode"] == OK:
        app.dispatcher.wake()
    retry = "/app/pay?" + urlencode(params)
    return render(
        "app_result.html", back_url=_back_url(param(form, "back_url")), retry_url=retry, **answer
    )


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/app/pay", page(app, show), methods=["GET"]),
        Route("/app/pay", page(app, pay_json), methods=["POST"]),
        Route("/app/pay/confirm", page(app, confirm), methods=["POST"]),
    ]
