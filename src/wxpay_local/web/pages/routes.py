"""The pages' routes, and the Native (QR code) payer flow: the QR page and the phone.

The phone pays through ``domain.payer.pay_order`` in one store transaction, as the control
plane's ``/_local/pay`` does, then wakes the dispatcher so the notification goes out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import segno
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from wxpay_local.domain import ledger
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.payer import PayOutcome, PayRequest, pay_order
from wxpay_local.domain.ports import Tx
from wxpay_local.web.pages import app_pay, h5, jsapi, miniprogram, oauth, wallet
from wxpay_local.web.pages.common import (
    PAYER_LIST_LIMIT,
    SHORT_PREFIX,
    STATIC,
    PageError,
    form_of,
    int_param,
    order_summary,
    page,
    param,
    qr_code_of,
    render,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import App


def _resolve(tx: Tx, code_url: str) -> str:
    """The ``pr=`` code behind a code_url or a /tools/shorturl link."""
    code_url = code_url.strip()
    if code_url.startswith(SHORT_PREFIX):
        long_url = tx.long_url_of(code_url.removeprefix(SHORT_PREFIX))
        if not long_url:
            raise PageError(404, "no such short URL", "二维码无效")
        code_url = long_url
    return qr_code_of(code_url)


def _order_facts(app: App, tx: Tx, code_url: str) -> dict[str, Any]:
    qr = _resolve(tx, code_url)
    order = tx.order_by_qr_code(qr)
    if order is None:
        if tx.order_by_stale_handle(qr) is not None:
            expired = "支付请求已失效，请重新发起支付 (this code_url has expired)"
            raise PageError(400, expired, "二维码已失效")
        raise PageError(404, f"no order has the code_url {code_url}", "二维码无效")
    order = effective_state(order, app.clock.now())
    return order_summary(app, order, tx.merchant_by_id(order.merchant_id).name)


def _payers(tx: Tx) -> list[dict[str, Any]]:
    return [
        {"payer_id": p.id, "name": p.name, "balance": tx.balance(ledger.wallet(p.id))}
        for p in tx.payers()[:PAYER_LIST_LIMIT]
    ]


async def qr_page(app: App, request: Request) -> Response:
    code_url = param(request.query_params, "code_url", required=True).strip()

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            return _order_facts(app, tx, code_url)

    order = await app.store.run(work, write=False)
    svg = segno.make_qr(code_url, error="m").svg_inline(
        scale=6, border=2, omitsize=True, title=code_url, svgclass="qr", lineclass=None
    )
    phone_url = "/phone?" + urlencode({"code_url": code_url})
    return render("qr.html", order=order, code_url=code_url, svg=svg, phone_url=phone_url)


async def phone(app: App, request: Request) -> Response:
    q = request.query_params
    payer_id = int_param(q, "payer_id")
    code_url = param(q, "code_url").strip()

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            context: dict[str, Any] = {"payers": _payers(tx), "payer": None, "order": None}
            if payer_id is not None:
                payer = tx.payer(payer_id)
                if payer is None:
                    raise PageError(404, f"no payer {payer_id}", "用户不存在")
                context["payer"] = {
                    "payer_id": payer.id,
                    "name": payer.name,
                    "balance": tx.balance(ledger.wallet(payer.id)),
                    "cards": [
                        {"card_id": c.id, "bank_type": c.bank_type, "last4": c.last4}
                        for c in tx.cards_of(payer.id)
                    ],
                }
            if code_url:
                context["order"] = _order_facts(app, tx, code_url)
            return context

    context = await app.store.run(work, write=False)
    return render("phone.html", code_url=code_url, **context)


async def phone_pay(app: App, request: Request) -> Response:
    form = await form_of(request)
    payer_id = int_param(form, "payer_id")
    if payer_id is None:
        raise PageError(400, "payer_id is required")
    code_url = param(form, "code_url", required=True).strip()
    action = param(form, "action") or "pay"
    if action not in ("pay", "cancel"):
        raise PageError(400, "action is pay or cancel")
    method = param(form, "method") or "wallet"
    card_id = None if method == "wallet" else int_param(form, "method")
    password = param(form, "password")
    if action == "pay" and not (len(password) == 6 and password.isdigit()):
        raise PageError(400, "the payment password is 6 digits", "支付密码错误")

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise PageError(404, f"no payer {payer_id}", "用户不存在")
            facts = _order_facts(app, tx, code_url)
            req = PayRequest(
                payer_id=payer_id,
                qr_code=_resolve(tx, code_url),
                card_id=card_id,
                password=password if action == "pay" else None,
                cancel=action == "cancel",
            )
            result = pay_order(tx, app.clock, app.ids, req)
            return {
                "outcome": str(result.outcome),
                "message": result.outcome.message,
                "order": facts,
                "transaction_id": result.order.transaction_id if result.order else "",
            }

    answer = await app.store.run(work)
    if answer["outcome"] == PayOutcome.SUCCESS:
        app.dispatcher.wake()
    retry = "/phone?" + urlencode({"payer_id": payer_id, "code_url": code_url})
    return render("phone_result.html", retry_url=retry, **answer)


async def scan(app: App, request: Request) -> Response:
    """The phone's 'scan' form: GET with the pasted code_url, back to the phone page."""
    q = request.query_params
    target = {"code_url": param(q, "code_url").strip()}
    payer_id = int_param(q, "payer_id")
    if payer_id is not None:
        target["payer_id"] = str(payer_id)
    return RedirectResponse("/phone?" + urlencode(target), 303)


async def index(app: App, request: Request) -> Response:
    return render("index.html", base=str(request.base_url).rstrip("/"))


def routes(app: App) -> list[Route | Mount]:
    return [
        Route("/pages", page(app, index), methods=["GET"]),
        Route("/pay/qr", page(app, qr_page), methods=["GET"]),
        Route("/phone", page(app, phone), methods=["GET"]),
        Route("/phone/scan", page(app, scan), methods=["GET"]),
        Route("/phone/pay", page(app, phone_pay), methods=["POST"]),
        *oauth.routes(app),
        *jsapi.routes(app),
        *miniprogram.routes(app),
        *h5.routes(app),
        *app_pay.routes(app),
        *wallet.routes(app),
        Mount("/static/pages", StaticFiles(directory=str(STATIC)), name="pages-static"),
    ]
