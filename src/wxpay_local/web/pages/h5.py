"""H5 / MWEB (spec §6.4): the mweb_url middle page, a simulated cashier, back to redirect_url.

Checks, with the observed middle-page texts: the order and its ``package`` (the number the
mweb_url carries) belong together, the HTTP Referer is present (``商家参数格式有误…``) and on a
registered H5 domain (``商家存在未配置的参数…``): the merchant's ``h5_domains`` when configured,
else the host of the order's ``scene_info.h5_info.wap_url`` when it names one; the link is
younger than five minutes of the platform clock (``支付请求已失效…``); the page is not inside
WeChat (``请在微信外打开订单，进行支付``); the browser's address (the socket peer, never a
forwarded header: the real platform sees the connection) is the order's spbill_create_ip
(``网络环境未能通过安全验证…``); and one WeChat account per link: the first payer who acts on
it owns it, a second gets ``签名验证失败`` (iOS) or ``系统繁忙，请稍后再试`` (anything else).
The last three are merchant settings (``MerchantConfig.h5_*_check``), on by default.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wxpay_local.codes import TradeType
from wxpay_local.domain import merchant_config
from wxpay_local.domain.merchant_config import MerchantConfig
from wxpay_local.domain.model import Order
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.payer import PayOutcome, PayRequest, pay_order
from wxpay_local.domain.ports import Tx
from wxpay_local.web.pages.common import (
    PageError,
    form_of,
    int_param,
    is_pay_action,
    lacks_password,
    order_screen,
    order_summary,
    page,
    param,
    payer_choices,
    render,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

PATH = "/cgi-bin/mmpayweb-bin/checkmweb"
LINK_TTL = timedelta(minutes=5)
BAD_PARAMS = "商家参数格式有误，请联系商家解决"
UNREGISTERED = "商家存在未配置的参数，请联系商家解决"
EXPIRED = "支付请求已失效，请重新发起支付"
IN_WECHAT = "请在微信外打开订单，进行支付"
WRONG_IP = "网络环境未能通过安全验证，请稍后再试"
SECOND_ACCOUNT_IOS = "签名验证失败"
SECOND_ACCOUNT_ANDROID = "系统繁忙，请稍后再试"
#: Who first acted on an mweb_url (settings table, one row per link; a reset clears them).
OWNER_SETTING = "h5.payer."


def _wap_host(order: Order) -> str:
    try:
        scene = json.loads(order.scene_info or "{}")
        return str(urlsplit(str(scene["h5_info"]["wap_url"])).hostname or "")
    except (ValueError, KeyError, TypeError):
        return ""


def _same_ip(peer: str, expected: str) -> bool:
    """Whether the browser's address is the order's spbill_create_ip (IPv4-mapped IPv6 too)."""
    try:
        return _plain(peer) == _plain(expected)
    except ValueError:
        return peer == expected


def _plain(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _browser_checks(request: Request, order: Order, config: MerchantConfig) -> None:
    """Inside WeChat, and the browser's address: checked on the page and again on paying."""
    agent = request.headers.get("user-agent", "")
    if config.h5_wechat_check and "MicroMessenger" in agent:
        raise PageError(400, f"opened inside WeChat (User-Agent {agent!r})", IN_WECHAT)
    peer = request.client.host if request.client else ""
    if config.h5_ip_check and not _same_ip(peer, order.spbill_create_ip):
        raise PageError(
            400,
            f"the browser's address {peer} is not the order's spbill_create_ip"
            f" {order.spbill_create_ip} (switch off with h5_ip_check: false)",
            WRONG_IP,
        )


def _domain_check(referer: str, order: Order, config: MerchantConfig) -> None:
    host = urlsplit(referer).hostname or ""
    if config.h5_domains:
        if not merchant_config.host_allowed(config.h5_domains, host):
            domains = ", ".join(config.h5_domains)
            raise PageError(
                400, f"the Referer {referer} is not on the H5 domains {domains}", UNREGISTERED
            )
        return
    wap = _wap_host(order)
    if wap and host != wap:
        raise PageError(400, f"the Referer {referer} is not on the H5 domain {wap}", UNREGISTERED)


def _claim_link(tx: Tx, request: Request, prepay_id: str, payer_id: int) -> None:
    """One WeChat account per mweb_url: the first payer owns it (the caller holds the order's
    row lock, so two first payers cannot both win)."""
    owner = tx.get_setting(OWNER_SETTING + prepay_id)
    if owner is None:
        tx.put_setting(OWNER_SETTING + prepay_id, str(payer_id))
    elif owner != str(payer_id):
        agent = request.headers.get("user-agent", "")
        ios = any(name in agent for name in ("iPhone", "iPad", "iPod"))
        raise PageError(
            400,
            f"payer {owner} already used this mweb_url; payer {payer_id} is a second account",
            SECOND_ACCOUNT_IOS if ios else SECOND_ACCOUNT_ANDROID,
        )


def _redirect_url(values: Any) -> str:
    url = param(values, "redirect_url").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PageError(400, "redirect_url must be an absolute http(s) URL", BAD_PARAMS)
    return url


def _order(app: AsgiApp, tx: Tx, prepay_id: str, package: str, *, lock: bool = False) -> Order:
    found = tx.order_by_prepay_id(prepay_id, lock=lock)
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


async def check(app: AsgiApp, request: Request) -> Response:
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
            config = merchant_config.load(tx, order.mch_id)
            _domain_check(referer, order, config)
            _browser_checks(request, order, config)
            payers = payer_choices(tx)
            owner = tx.get_setting(OWNER_SETTING + prepay_id)
            if config.h5_one_account_check and owner is not None:
                # only the account that already acted on this link can pay it: list no payer
                # the one-account rule would refuse
                payers = [p for p in payers if str(p["payer_id"]) == owner]
            merchant = tx.merchant_by_id(order.merchant_id).name
            return {
                "order": order_summary(app, order, merchant),
                "payers": payers,
                "screen": order_screen(order, app.clock.now()),
            }

    context = await app.store.run(work, write=False)
    if context["screen"] is not None:  # paid or closed: say so before asking anything
        return render("state.html", back_url=redirect_url or referer, **context)
    return render(
        "h5.html",
        prepay_id=prepay_id,
        package=package,
        redirect_url=redirect_url or referer,
        **context,
    )


async def pay(app: AsgiApp, request: Request) -> Response:
    form = await form_of(request)
    prepay_id = param(form, "prepay_id", required=True)
    package = param(form, "package", required=True)
    redirect_url = _redirect_url(form)
    payer_id = int_param(form, "payer_id")
    if payer_id is None:
        raise PageError(400, "choose who pays (payer_id)", "请选择用户")
    action = param(form, "action") or "pay"
    if not is_pay_action(action):
        raise PageError(400, "action is pay or cancel")
    method = param(form, "method") or "wallet"
    card_id = None if method == "wallet" else int_param(form, "method")
    password = param(form, "password")
    if lacks_password(action, password):
        raise PageError(400, "the payment password is 6 digits", "支付密码错误")

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            order = _order(app, tx, prepay_id, package, lock=True)
            config = merchant_config.load(tx, order.mch_id)
            _browser_checks(request, order, config)
            if tx.payer(payer_id) is None:
                raise PageError(404, f"no payer {payer_id}", "用户不存在")
            if config.h5_one_account_check:
                _claim_link(tx, request, prepay_id, payer_id)
            req = PayRequest(
                payer_id=payer_id,
                prepay_id=prepay_id,
                card_id=card_id,
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


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route(PATH, page(app, check), methods=["GET"]),
        Route("/cgi-bin/mmpayweb-bin/pay", page(app, pay), methods=["POST"]),
    ]
