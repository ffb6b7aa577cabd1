"""The pages' routes, and the Native (QR code) payer flow: the QR page and the phone.

Mode 2 code_urls name an order; a mode-1 URL (``native_mode1``) names a product, and scanning
it with a payer chosen runs the merchant's scan callback, after which the phone shows the
order by its prepay_id. The phone pays through ``domain.payer.pay_order`` in one store
transaction, as the control plane's ``/_local/pay`` does, then wakes the dispatcher so the
notification goes out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import segno
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from wxpay_local.codes import TradeType
from wxpay_local.domain import ledger
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.payer import PayOutcome, PayRequest, pay_order
from wxpay_local.domain.ports import Tx
from wxpay_local.web.pages import app_pay, h5, jsapi, miniprogram, native_mode1, oauth, wallet
from wxpay_local.web.pages.common import (
    PAYER_LIST_LIMIT,
    STATIC,
    PageError,
    form_of,
    int_param,
    order_summary,
    page,
    param,
    payer_view,
    qr_code_of,
    render,
)
from wxpay_local.web.pages.native_mode1 import ScanError

if TYPE_CHECKING:
    from wxpay_local.web.app import App


def _resolve(tx: Tx, code_url: str) -> str:
    """The ``pr=`` code behind a mode-2 code_url or a /tools/shorturl link to one."""
    try:
        return qr_code_of(native_mode1.expand(tx, code_url))
    except ScanError as exc:
        raise PageError(exc.status, exc.reason, "二维码无效") from None


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


def _native_order(app: App, tx: Tx, prepay_id: str) -> dict[str, Any]:
    """The NATIVE order a mode-1 scan opened the cashier for (other kinds have their pages)."""
    order = tx.order_by_prepay_id(prepay_id)
    if order is None or order.trade_type is not TradeType.NATIVE:
        raise PageError(404, f"no NATIVE order has the prepay_id {prepay_id}", "订单不存在")
    order = effective_state(order, app.clock.now())
    return order_summary(app, order, tx.merchant_by_id(order.merchant_id).name)


def _mode1(tx: Tx, code_url: str) -> dict[str, str] | None:
    """The merchant and product of a mode-1 URL (verified), or None for a mode-2 code_url."""
    target = native_mode1.describe(tx, code_url)
    if target is None:
        return None
    return {"merchant": target.merchant_name, "product_id": target.url.product_id}


def _scan_error(exc: ScanError, retry_url: str = "/phone") -> Response:
    return render(
        "scan_error.html",
        exc.status,
        message=exc.message,
        code=exc.code,
        reason=exc.reason,
        retry_url=retry_url,
    )


def _payers(tx: Tx) -> list[dict[str, Any]]:
    return [
        {"payer_id": p.id, "name": p.name, "balance": tx.balance(ledger.wallet(p.id))}
        for p in tx.payers()[:PAYER_LIST_LIMIT]
    ]


def _qr_svg(code_url: str) -> str:
    return str(
        segno.make_qr(code_url, error="m").svg_inline(
            scale=6, border=2, omitsize=True, title=code_url, svgclass="qr", lineclass=None
        )
    )


async def qr_page(app: App, request: Request) -> Response:
    code_url = param(request.query_params, "code_url", required=True).strip()

    def work() -> tuple[dict[str, Any] | None, dict[str, str] | None]:
        with app.store.begin(write=False) as tx:
            product = _mode1(tx, code_url)
            return (None if product else _order_facts(app, tx, code_url)), product

    try:
        order, product = await app.store.run(work, write=False)
    except ScanError as exc:
        return _scan_error(exc)
    phone_url = "/phone?" + urlencode({"code_url": code_url})
    return render(
        "qr.html",
        order=order,
        product=product,
        code_url=code_url,
        svg=_qr_svg(code_url),
        phone_url=phone_url,
    )


def _payer_facts(tx: Tx, payer_id: int) -> dict[str, Any]:
    payer = tx.payer(payer_id)
    if payer is None:
        raise PageError(404, f"no payer {payer_id}", "用户不存在")
    return payer_view(tx, payer)


async def phone(app: App, request: Request) -> Response:
    q = request.query_params
    payer_id = int_param(q, "payer_id")
    code_url = param(q, "code_url").strip()
    prepay_id = param(q, "prepay_id").strip()

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            context: dict[str, Any] = {"payers": _payers(tx), "payer": None, "order": None}
            context["product"] = _mode1(tx, code_url) if code_url else None
            if payer_id is not None:
                context["payer"] = _payer_facts(tx, payer_id)
            if prepay_id and payer_id is not None:
                context["order"] = _native_order(app, tx, prepay_id)
            elif code_url and context["product"] is None:
                context["order"] = _order_facts(app, tx, code_url)
            return context

    try:
        context = await app.store.run(work, write=False)
    except ScanError as exc:
        return _scan_error(exc)
    if context["product"] and payer_id is not None and not prepay_id:
        # a mode-1 URL with a payer chosen is a scan: the merchant's callback makes the order
        target = {"payer_id": str(payer_id), "code_url": code_url}
        return RedirectResponse("/phone/scan?" + urlencode(target), 303)
    return render("phone.html", code_url=code_url, prepay_id=prepay_id, **context)


async def phone_pay(app: App, request: Request) -> Response:
    form = await form_of(request)
    payer_id = int_param(form, "payer_id")
    if payer_id is None:
        raise PageError(400, "payer_id is required")
    code_url = param(form, "code_url").strip()
    prepay_id = param(form, "prepay_id").strip()
    if bool(code_url) == bool(prepay_id):
        raise PageError(400, "give code_url (mode 2) or prepay_id (after a mode-1 scan)")
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
            if prepay_id:
                facts = _native_order(app, tx, prepay_id)
            else:
                facts = _order_facts(app, tx, code_url)
            req = PayRequest(
                payer_id=payer_id,
                prepay_id=prepay_id,
                qr_code="" if prepay_id else _resolve(tx, code_url),
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
    again = {"payer_id": str(payer_id)}
    again.update({"prepay_id": prepay_id} if prepay_id else {"code_url": code_url})
    return render("phone_result.html", retry_url="/phone?" + urlencode(again), **answer)


async def scan(app: App, request: Request) -> Response:
    """The phone's 'scan': a mode-1 URL runs the merchant's scan callback (a payer chosen),
    then the cashier shows the order it names; anything else goes back to the phone page."""
    q = request.query_params
    code_url = param(q, "code_url").strip()
    payer_id = int_param(q, "payer_id")
    target = {"code_url": code_url}
    if payer_id is not None:
        target["payer_id"] = str(payer_id)

    def mode() -> bool:
        with app.store.begin(write=False) as tx:
            return native_mode1.parse(native_mode1.expand(tx, code_url)) is not None

    try:
        if payer_id is None or not code_url or not await app.store.run(mode, write=False):
            return RedirectResponse("/phone?" + urlencode(target), 303)
        scanned = await native_mode1.scan(app, payer_id, code_url)
    except ScanError as exc:
        return _scan_error(exc, "/phone?" + urlencode({"payer_id": str(payer_id or "")}))
    opened = {"payer_id": str(payer_id), "prepay_id": scanned.order.prepay_id}
    return RedirectResponse("/phone?" + urlencode(opened), 303)


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
