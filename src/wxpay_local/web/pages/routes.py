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
from starlette.responses import JSONResponse, RedirectResponse, Response
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
    cannot_pay,
    form_of,
    int_param,
    is_pay_action,
    lacks_password,
    order_screen,
    order_summary,
    page,
    param,
    payer_choices,
    payer_view,
    qr_code_of,
    render,
    screen,
)
from wxpay_local.web.pages.native_scan import ScanError

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp


def _resolve(tx: Tx, code_url: str) -> str:
    """The ``pr=`` code behind a mode-2 code_url or a /tools/shorturl link to one."""
    try:
        return qr_code_of(native_mode1.expand(tx, code_url))
    except ScanError as exc:
        raise PageError(exc.status, exc.reason, "二维码无效") from None


def _order_facts(app: AsgiApp, tx: Tx, code_url: str) -> dict[str, Any]:
    qr = _resolve(tx, code_url)
    order = tx.order_by_qr_code(qr)
    if order is None:
        stale = tx.order_by_stale_handle(qr)
        if stale is not None:  # the code_url of an order since given a new one
            facts = order_summary(app, stale, tx.merchant_by_id(stale.merchant_id).name)
            return {**facts, "screen": screen("expired")}
        raise PageError(404, "这个二维码不是有效的收款码，请向商户确认", "二维码无效")
    facts = order_summary(app, effective_state(order, app.clock.now()), "")
    facts["merchant"] = tx.merchant_by_id(order.merchant_id).name
    return {**facts, "screen": order_screen(order, app.clock.now())}


def _native_order(app: AsgiApp, tx: Tx, prepay_id: str) -> dict[str, Any]:
    """The NATIVE order a mode-1 scan opened the cashier for (other kinds have their pages)."""
    order = tx.order_by_prepay_id(prepay_id)
    if order is None or order.trade_type is not TradeType.NATIVE:
        raise PageError(404, f"no NATIVE order has the prepay_id {prepay_id}", "订单不存在")
    facts = order_summary(app, effective_state(order, app.clock.now()), "")
    facts["merchant"] = tx.merchant_by_id(order.merchant_id).name
    return {**facts, "screen": order_screen(order, app.clock.now())}


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
        for p in tx.payers(PAYER_LIST_LIMIT)
    ]


def _qr_svg(code_url: str) -> str:
    return str(
        segno.make_qr(code_url, error="m").svg_inline(
            scale=6, border=2, omitsize=True, title=code_url, svgclass="qr", lineclass=None
        )
    )


async def qr_page(app: AsgiApp, request: Request) -> Response:
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
        live_url="/pay/qr/state?" + urlencode({"code_url": code_url}),
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


def _phone_context(
    app: AsgiApp, tx: Tx, payer_id: int | None, code_url: str, prepay_id: str
) -> dict[str, Any]:
    context: dict[str, Any] = {"payers": _payers(tx), "payer": None, "order": None}
    context["product"] = _mode1(tx, code_url) if code_url else None
    if payer_id is not None:
        context["payer"] = _payer_facts(tx, payer_id)
    if prepay_id and payer_id is not None:
        context["order"] = _native_order(app, tx, prepay_id)
    elif code_url and context["product"] is None:
        context["order"] = _order_facts(app, tx, code_url)
    order, payer = context["order"], context["payer"]
    if order is not None and payer is not None and order["screen"] is None:
        # known before asking: no method of this payer covers it (issue 17)
        context["cannot_pay"] = refused = cannot_pay(payer, order)
        if refused is not None:  # not a dead end: the payers who can pay it, to switch to
            context["alternatives"] = [
                p
                for p in payer_choices(tx)
                if p["payer_id"] != payer["payer_id"] and cannot_pay(p, order) is None
            ]
    return context


#: Outcomes the payer can fix on the same form (another password, card or payer): shown inline.
RETRY_INLINE = {
    PayOutcome.WRONG_PASSWORD: "password",
    PayOutcome.NOTENOUGH: "method",
    PayOutcome.CREDIT_REFUSED: "method",
    PayOutcome.NO_SUCH_CARD: "method",
}


async def phone(app: AsgiApp, request: Request) -> Response:
    q = request.query_params
    payer_id = int_param(q, "payer_id")
    code_url = param(q, "code_url").strip()
    prepay_id = param(q, "prepay_id").strip()

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            return _phone_context(app, tx, payer_id, code_url, prepay_id)

    try:
        context = await app.store.run(work, write=False)
    except ScanError as exc:
        return _scan_error(exc)
    if context["product"] and payer_id is not None and not prepay_id:
        # a mode-1 URL with a payer chosen is a scan: the merchant's callback makes the order
        target = {"payer_id": str(payer_id), "code_url": code_url}
        return RedirectResponse("/phone/scan?" + urlencode(target), 303)
    return render("phone.html", code_url=code_url, prepay_id=prepay_id, **context)


async def phone_pay(app: AsgiApp, request: Request) -> Response:
    form = await form_of(request)
    payer_id = int_param(form, "payer_id")
    if payer_id is None:
        raise PageError(400, "payer_id is required")
    code_url = param(form, "code_url").strip()
    prepay_id = param(form, "prepay_id").strip()
    if bool(code_url) == bool(prepay_id):
        raise PageError(400, "give code_url (mode 2) or prepay_id (after a mode-1 scan)")
    action = param(form, "action") or "pay"
    if not is_pay_action(action):
        raise PageError(400, "action is pay or cancel")
    method = param(form, "method") or "wallet"
    card_id = None if method == "wallet" else int_param(form, "method")
    password = param(form, "password")
    short = lacks_password(action, password)

    def retry(outcome: str, message: str) -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            context = _phone_context(app, tx, payer_id, code_url, prepay_id)
        field = RETRY_INLINE.get(PayOutcome(outcome), "password") if outcome else "password"
        context["error"] = {"outcome": outcome, "message": message, "field": field}
        return context

    if short:
        context = await app.store.run(lambda: retry("", "请输入 6 位数字支付密码"), write=False)
        return render("phone.html", 400, code_url=code_url, prepay_id=prepay_id, **context)

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            if tx.payer(payer_id) is None:
                raise PageError(404, f"no payer {payer_id}", "用户不存在")
            if prepay_id:
                facts = _native_order(app, tx, prepay_id)
            else:
                facts = _order_facts(app, tx, code_url)
            if facts["screen"] is not None:
                return {"screen": facts["screen"], "order": facts}
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
    again = {"payer_id": str(payer_id)}
    again.update({"prepay_id": prepay_id} if prepay_id else {"code_url": code_url})
    retry_url = "/phone?" + urlencode(again)
    if "screen" in answer:  # it changed while the form was open: say what it is now
        return render("state.html", order=answer["order"], screen=answer["screen"])
    if answer["outcome"] in RETRY_INLINE:  # the same form again, the reason beside its field
        context = await app.store.run(
            lambda: retry(answer["outcome"], answer["message"]), write=False
        )
        return render("phone.html", code_url=code_url, prepay_id=prepay_id, **context)
    if answer["outcome"] == PayOutcome.SUCCESS:
        app.dispatcher.wake()
    return render("phone_result.html", retry_url=retry_url, **answer)


async def scan(app: AsgiApp, request: Request) -> Response:
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


async def not_found(request: Request, exc: Exception) -> Response:
    """A path nothing serves: JSON for the control plane's programs, a page for people."""
    if request.url.path.startswith("/_local/"):
        body = {"error": "NOT_FOUND", "message": f"no such path: {request.url.path}"}
        return JSONResponse(body, 404)
    return render("not_found.html", 404, path=request.url.path)


async def qr_state(app: AsgiApp, request: Request) -> Response:
    """The QR page's short poll: the order's screen once it cannot be paid any more (paid,
    closed, expired…), so the page replaces its QR code without being reloaded by hand."""
    code_url = param(request.query_params, "code_url", required=True).strip()

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            facts = _order_facts(app, tx, code_url)
            return {"trade_state": facts["trade_state"], "screen": facts["screen"]}

    return JSONResponse(await app.store.run(work, write=False))


FAVICON = (STATIC / "favicon.svg").read_bytes()


async def favicon(request: Request) -> Response:
    return Response(FAVICON, media_type="image/svg+xml", headers={"cache-control": "max-age=86400"})


async def index(app: AsgiApp, request: Request) -> Response:
    return render("index.html", base=str(request.base_url).rstrip("/"))


def routes(app: AsgiApp) -> list[Route | Mount]:
    return [
        Route("/pages", page(app, index), methods=["GET"]),
        Route("/pay/qr", page(app, qr_page), methods=["GET"]),
        Route("/pay/qr/state", page(app, qr_state), methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
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
