"""H5 / MWEB (spec §6.4): the mweb_url middle page, a simulated cashier, back to redirect_url.

Checks, with the observed middle-page texts: the order and its ``package`` (the number the
mweb_url carries) belong together, the HTTP Referer is present (``商家参数格式有误…``) and, when
the order's scene_info names an ``h5_info.wap_url``, on that site (``商家存在未配置的参数…``),
the link is younger than five minutes of the platform clock (``支付请求已失效…``). The IP and
"opened inside WeChat" checks are not emulated.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wxpay_local.codes import TradeType
from wxpay_local.domain import ledger
from wxpay_local.domain.model import Order
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.payer import PayOutcome, PayRequest, pay_order
from wxpay_local.domain.ports import Tx
from wxpay_local.web.pages.common import (
    PAYER_LIST_LIMIT,
    PageError,
    form_of,
    int_param,
    order_summary,
    page,
    param,
    render,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import App

PATH = "/cgi-bin/mmpayweb-bin/checkmweb"
LINK_TTL = timedelta(minutes=5)
BAD_PARAMS = "商家参数格式有误，请联系商家解决"
UNREGISTERED = "商家存在未配置的参数，请联系商家解决"
EXPIRED = "支付请求已失效，请重新发起支付"


def _wap_host(order: Order) -> str:
    try:
        scene = json.loads(order.scene_info or "{}")
        return str(urlsplit(str(scene["h5_info"]["wap_url"])).hostname or "")
    except (ValueError, KeyError, TypeError):
        return ""


def _redirect_url(values: Any) -> str:
    url = param(values, "redirect_url").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PageError(400, "redirect_url must be an absolute http(s) URL", BAD_PARAMS)
    return url


def _order(app: App, tx: Tx, prepay_id: str, package: str) -> Order:
    found = tx.order_by_prepay_id(prepay_id)
    if found is None:
        if tx.order_by_stale_handle(prepay_id) is not None:
            raise PageError(400, f"prepay_id {prepay_id} has expired", EXPIRED)
        raise PageError(404, f"no order has the prepay_id {prepay_id}", BAD_PARAMS)
    if package != str(found.id) or found.trade_type is not TradeType.MWEB:
        raise PageError(400, "package does not belong to this MWEB prepay_id", BAD_PARAMS)
    now = app.clock.now()
    if now >= found.created_at + LINK_TTL:
        raise PageError(400, "the mweb_url is older than 5 minutes", EXPIRED)
    return effective_state(found, now)


async def check(app: App, request: Request) -> Response:
    q = request.query_params
    prepay_id = param(q, "prepay_id", required=True)
    package = param(q, "package", required=True)
    redirect_url = _redirect_url(q)
    referer = request.headers.get("referer", "")
    if not referer:
        raise PageError(400, "the HTTP Referer is missing", BAD_PARAMS)

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            order = _order(app, tx, prepay_id, package)
            host = _wap_host(order)
            if host and urlsplit(referer).hostname != host:
                raise PageError(
                    400, f"the Referer {referer} is not on the H5 domain {host}", UNREGISTERED
                )
            payers = [
                {"payer_id": p.id, "name": p.name, "balance": tx.balance(ledger.wallet(p.id))}
                for p in tx.payers()[:PAYER_LIST_LIMIT]
            ]
            merchant = tx.merchant_by_id(order.merchant_id).name
            return {"order": order_summary(app, order, merchant), "payers": payers}

    context = await app.store.run(work, write=False)
    return render(
        "h5.html",
        prepay_id=prepay_id,
        package=package,
        redirect_url=redirect_url or referer,
        **context,
    )


async def pay(app: App, request: Request) -> Response:
    form = await form_of(request)
    prepay_id = param(form, "prepay_id", required=True)
    package = param(form, "package", required=True)
    redirect_url = _redirect_url(form)
    payer_id = int_param(form, "payer_id")
    if payer_id is None:
        raise PageError(400, "choose who pays (payer_id)", "请选择用户")
    action = param(form, "action") or "pay"
    if action not in ("pay", "cancel"):
        raise PageError(400, "action is pay or cancel")
    password = param(form, "password")
    if action == "pay" and not (len(password) == 6 and password.isdigit()):
        raise PageError(400, "the payment password is 6 digits", "支付密码错误")

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            order = _order(app, tx, prepay_id, package)
            req = PayRequest(
                payer_id=payer_id,
                prepay_id=prepay_id,
                password=password if action == "pay" else None,
                cancel=action == "cancel",
            )
            result = pay_order(tx, app.clock, app.ids, req)
            merchant = tx.merchant_by_id(order.merchant_id).name
            return {
                "outcome": str(result.outcome),
                "message": result.outcome.message,
                "order": order_summary(app, order, merchant),
                "transaction_id": result.order.transaction_id if result.order else "",
            }

    answer = await app.store.run(work)
    if answer["outcome"] == PayOutcome.SUCCESS:
        app.dispatcher.wake()
    if redirect_url and answer["outcome"] in (PayOutcome.SUCCESS, PayOutcome.CANCELLED):
        return RedirectResponse(redirect_url, 303)
    return render("phone_result.html", retry_url=redirect_url or "/phone", **answer)


def routes(app: App) -> list[Route]:
    return [
        Route(PATH, page(app, check), methods=["GET"]),
        Route("/cgi-bin/mmpayweb-bin/pay", page(app, pay), methods=["POST"]),
    ]
