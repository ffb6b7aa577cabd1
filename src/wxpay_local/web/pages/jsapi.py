"""JSAPI in an ordinary browser (spec §6.1): the script, paySign verification, the payment.

``/jsapi/jweixin.js`` defines ``WeixinJSBridge.invoke('getBrandWCPayRequest', …)``,
``wx.chooseWXPay`` and the Mini Program's ``wx.requestPayment``; it opens ``/jsapi/sheet`` in
an iframe (the platform's origin, so the merchant's script cannot read the password box) and
hands it the parameters and ``location.href`` by ``postMessage``. The sheet POSTs them to
``/jsapi/verify`` (checked exactly as the client does: the payment directory, appId,
timeStamp, nonceStr, package, signType under the merchant's API key, the sign type of the
unifiedorder call) and pays through ``/jsapi/pay``. Both JSON endpoints also allow any origin,
for merchants' own scripts and tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from wxpay_local import secure
from wxpay_local.api import doctor
from wxpay_local.codes import AppKind, SignType, TradeState, TradeType
from wxpay_local.domain import ledger, merchant_config
from wxpay_local.domain.model import Order
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.payer import PayOutcome, PayRequest, pay_order
from wxpay_local.domain.ports import Tx
from wxpay_local.web.boundary import HIDDEN_SIGNATURE, reveals_secrets
from wxpay_local.web.pages.common import (
    MAX_ID,
    STATIC,
    bank_name,
    is_pay_action,
    lacks_password,
    order_summary,
    render,
    yuan,
)
from wxpay_local.wire import signing

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

PREFIX = "get_brand_wcpay_request:"
SIGNED = ("appId", "timeStamp", "nonceStr", "package", "signType")
#: What the real client shows for a bad package or paySign (spec §6.1, observed).
MISSING_TOTAL_FEE = "调用支付JSAPI缺少参数：total_fee"
#: What the real client shows on a page outside the payment directories (observed).
UNREGISTERED = "当前页面的URL未注册"
#: Who calls: an Official Account page (WeixinJSBridge, wx.chooseWXPay) or a Mini Program
#: (wx.requestPayment, which passes no appId: the signed appId is the order's).
MODES = ("jsapi", "miniprogram")
CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "600",
}
#: Outcomes after which the payer may try again in the same sheet.
RETRYABLE = {
    PayOutcome.WRONG_PASSWORD,
    PayOutcome.NOTENOUGH,
    PayOutcome.CREDIT_REFUSED,
    PayOutcome.NO_SUCH_CARD,
}


class JsapiFail(Exception):
    """The client refuses the call: a message for the payer, a reason for the developer."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(reason)
        self.message, self.reason = message, reason


@dataclass(frozen=True)
class Caller:
    """Where the call comes from: the mode, the paying page's URL (``location.href``, sent by
    the script) and the origin the browser vouches for (Origin, else Referer), when that is
    not the platform's own (the sheet checked ``event.origin`` against the URL already)."""

    mode: str = "jsapi"
    page_url: str = ""
    origin: str = ""


@dataclass(frozen=True)
class Checked:
    order: Order
    merchant_name: str
    payer_id: int
    payer_name: str
    #: Things the developer should know that do not stop the payment.
    warnings: tuple[str, ...] = ()


def _json(data: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(data, status, headers=CORS)


def _fail(exc: JsapiFail) -> JSONResponse:
    return _json(
        {
            "ok": False,
            "result": "fail",
            "err_msg": PREFIX + "fail",
            "message": exc.message,
            "reason": exc.reason,
        }
    )


async def _body(request: Request) -> dict[str, Any] | JSONResponse:
    raw = await request.body()
    try:
        data = json.loads(raw) if len(raw) <= 64 * 1024 else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _json({"error": "BAD_JSON", "message": "the body must be a JSON object"}, 400)
    return data


def _split(url: str) -> SplitResult:
    """``urlsplit`` that takes anything: an unparseable URL (``https://[::1``) is empty."""
    try:
        return urlsplit(url)
    except ValueError:
        return urlsplit("")


def _directory(tx: Tx, order: Order, caller: Caller) -> tuple[str, ...]:
    """Refuse a page outside the merchant's JSAPI payment directories (when configured);
    the warnings for the developer when it passes."""
    directories = merchant_config.load(tx, order.mch_id).jsapi_directories
    if not directories:
        return ()
    where = f"the JSAPI payment directories of merchant {order.mch_id}: {', '.join(directories)}"
    page_url = caller.page_url
    parts = _split(page_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise JsapiFail(
            UNREGISTERED,
            f"the paying page's URL is unknown (page_url {page_url!r}; /jsapi/jweixin.js sends "
            f"location.href), so it cannot be checked against {where}",
        )
    if caller.origin and caller.origin != f"{parts.scheme}://{parts.netloc}":
        raise JsapiFail(
            UNREGISTERED,
            f"page_url {page_url} is not on the origin the request came from ({caller.origin})",
        )
    if not merchant_config.directory_allowed(directories, page_url):
        raise JsapiFail(UNREGISTERED, f"the page {page_url} is not under {where}")
    folder = page_url.split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[0] + "/"
    if folder in directories:
        return ()
    return (
        f"the page {page_url} is in a sub-directory of a registered payment directory: "
        f"accepted here, but WeChat is reported to require the page's own directory ({folder})",
    )


def check(tx: Tx, app: AsgiApp, params: dict[str, Any], caller: Caller = Caller()) -> Checked:
    """Verify the getBrandWCPayRequest (or requestPayment) parameters as the client does."""
    mini = caller.mode == "miniprogram"
    for name in (*SIGNED, "paySign"):
        value = params.get(name)
        if mini and name == "appId" and value in (None, ""):
            continue  # wx.requestPayment passes no appId: the order's is signed
        if not isinstance(value, str) or not value:
            raise JsapiFail(f"调用支付JSAPI缺少参数：{name}", f"{name} is missing or not a string")
    fields = {name: str(params.get(name) or "") for name in SIGNED}
    if not fields["timeStamp"].isdigit() or len(fields["timeStamp"]) > 10:
        raise JsapiFail(
            "调用支付JSAPI缺少参数：timeStamp",
            "timeStamp must be Unix seconds as a string of digits",
        )
    package = fields["package"]
    if not package.startswith("prepay_id=") or len(package) > 128:
        raise JsapiFail(MISSING_TOTAL_FEE, "package must be literally prepay_id=<prepay_id>")
    prepay_id = package.removeprefix("prepay_id=")
    found = tx.order_by_prepay_id(prepay_id)
    if found is None:
        if tx.order_by_stale_handle(prepay_id) is not None:
            raise JsapiFail("支付请求已失效，请重新发起支付", f"prepay_id {prepay_id} has expired")
        raise JsapiFail(MISSING_TOTAL_FEE, f"no order has the prepay_id {prepay_id}")
    order = effective_state(found, app.clock.now())
    if order.trade_type is not TradeType.JSAPI:
        raise JsapiFail(
            "该支付方式不适用于此订单",
            f"the order's trade_type is {order.trade_type}, getBrandWCPayRequest needs JSAPI",
        )
    warnings: tuple[str, ...] = ()
    if mini:
        _mini_program_app(tx, order, fields["appId"])
        fields["appId"] = order.appid
    else:
        warnings = _directory(tx, order, caller)
    if fields["appId"] != order.appid:
        raise JsapiFail(
            MISSING_TOTAL_FEE,
            f"appId {fields['appId']} is not the appid of the unifiedorder call ({order.appid})",
        )
    if fields["signType"] != str(order.sign_type):
        raise JsapiFail(
            MISSING_TOTAL_FEE,
            f"signType {fields['signType']} does not match the unifiedorder call's sign_type "
            f"({order.sign_type})",
        )
    merchant = tx.merchant_by_id(order.merchant_id)
    sign_type = SignType(order.sign_type)
    expected = signing.sign(fields, merchant.api_key, sign_type)
    if not secure.equal(str(params["paySign"]), expected):
        mismatch = signing.explain_mismatch(
            {**fields, "sign": str(params["paySign"])},
            merchant.api_key,
            sign_type,
            doctor.alt_keys(tx, merchant),
        )
        hints = "; ".join(mismatch.hints)
        detail = (
            f"the platform signed '{mismatch.signed_string}' with {mismatch.algorithm} "
            f"(the merchant's API key); expected {expected}"
            if reveals_secrets()
            else f"{mismatch.algorithm} under the merchant's API key; {HIDDEN_SIGNATURE}"
        )
        cause = f"cause: {mismatch.cause}; " if mismatch.cause else ""  # names no key: safe
        raise JsapiFail(
            MISSING_TOTAL_FEE,
            f"paySign does not match: {cause}{detail}" + (f"; hints: {hints}" if hints else ""),
        )
    if order.trade_state in (TradeState.SUCCESS, TradeState.REFUND):
        raise JsapiFail("该订单已支付", "the order is paid already")
    if order.trade_state is not TradeState.NOTPAY:
        raise JsapiFail("该订单已关闭", f"the order is {order.trade_state}")
    owner = tx.payer_by_openid(order.openid)
    if owner is None:
        raise JsapiFail("该订单不属于当前用户", f"no payer has the order's openid {order.openid}")
    return Checked(order, merchant.name, owner[0].id, owner[0].name, warnings)


def _mini_program_app(tx: Tx, order: Order, configured: str) -> None:
    """wx.requestPayment runs in the Mini Program whose appid placed the order."""
    found = tx.app(order.appid)
    if found is None or found.kind is not AppKind.MINI_PROGRAM:
        kind = found.kind if found else "unknown"
        raise JsapiFail(
            MISSING_TOTAL_FEE,
            f"wx.requestPayment pays orders placed with a Mini Program appid; {order.appid} is "
            f"{kind}",
        )
    if configured and configured != order.appid:
        raise JsapiFail(
            MISSING_TOTAL_FEE,
            f"this Mini Program is {configured} (wx.config) but the order's appid is {order.appid}",
        )


def caller_of(request: Request, params: dict[str, Any]) -> Caller | JsapiFail:
    """The mode and page of a verify/pay request, and the origin its browser vouches for."""
    mode, page_url = params.get("mode", "jsapi"), params.get("page_url", "")
    if mode not in MODES:
        return JsapiFail(MISSING_TOTAL_FEE, f"mode is one of {', '.join(MODES)}")
    if not isinstance(page_url, str) or len(page_url) > 2048:
        return JsapiFail(UNREGISTERED, "page_url must be the page's URL (at most 2048 characters)")
    origin = request.headers.get("origin", "")
    if not origin or origin == "null":
        referer = _split(request.headers.get("referer", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.netloc else ""
    if origin == f"{request.url.scheme}://{request.url.netloc}":
        origin = ""  # the platform's own sheet, which checked event.origin
    return Caller(str(mode), page_url, origin)


async def script(request: Request) -> Response:
    return FileResponse(
        STATIC / "jweixin.js",
        media_type="application/javascript; charset=utf-8",
        headers={"cache-control": "no-cache", **CORS},
    )


async def sheet(request: Request) -> Response:
    """The payment sheet (and the Mini Program login) the script shows in an iframe: a static
    page; what it shows arrives by postMessage from the page that embeds it."""
    page = render("jsapi_sheet.html")
    page.headers["cache-control"] = "no-store"
    page.headers["content-security-policy"] = (
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
    )
    return page


async def preflight(request: Request) -> Response:
    return Response(status_code=204, headers=CORS)


def _endpoints(app: AsgiApp) -> tuple[Any, Any]:
    async def verify(request: Request) -> Response:
        params = await _body(request)
        if isinstance(params, JSONResponse):
            return params
        caller = caller_of(request, params)
        if isinstance(caller, JsapiFail):
            return _fail(caller)

        def work() -> dict[str, Any]:
            with app.store.begin(write=False) as tx:
                ok = check(tx, app, params, caller)
                cards = [
                    {"card_id": c.id, "label": f"{bank_name(c.bank_type)} ({c.last4})"}
                    for c in tx.cards_of(ok.payer_id)
                ]
                balance = tx.balance(ledger.wallet(ok.payer_id))
            return {
                "ok": True,
                "order": order_summary(app, ok.order, ok.merchant_name),
                "payer": {"name": ok.payer_name, "balance": yuan(balance), "cards": cards},
                "warnings": list(ok.warnings),
            }

        try:
            return _json(await app.store.run(work, write=False))
        except JsapiFail as exc:
            return _fail(exc)

    async def pay(request: Request) -> Response:
        params = await _body(request)
        if isinstance(params, JSONResponse):
            return params
        action = params.get("action", "pay")
        password = params.get("password", "")
        card_id = params.get("card_id")
        if not is_pay_action(action):
            return _json({"error": "BAD_FIELD", "message": "action is pay or cancel"}, 400)
        if not isinstance(password, str) or lacks_password(action, password):
            return _json({"error": "BAD_FIELD", "message": "password is 6 digits"}, 400)
        if card_id is not None and (
            not isinstance(card_id, int) or isinstance(card_id, bool) or not 0 <= card_id <= MAX_ID
        ):
            return _json({"error": "BAD_FIELD", "message": "card_id is a card's number"}, 400)
        caller = caller_of(request, params)
        if isinstance(caller, JsapiFail):
            return _fail(caller)

        def work() -> dict[str, Any]:
            with app.store.begin() as tx:
                ok = check(tx, app, params, caller)
                req = PayRequest(
                    payer_id=ok.payer_id,
                    prepay_id=ok.order.prepay_id,
                    card_id=card_id,
                    password=password if action == "pay" else None,
                    cancel=action == "cancel",
                )
                outcome = pay_order(tx, app.clock, app.ids, req).outcome
            if outcome is PayOutcome.SUCCESS:
                result = "ok"
            elif outcome is PayOutcome.CANCELLED:
                result = "cancel"
            else:
                result = "fail"
            return {
                "ok": outcome is PayOutcome.SUCCESS,
                "outcome": str(outcome),
                "message": outcome.message,
                "retry": outcome in RETRYABLE,
                "result": result,
                "err_msg": PREFIX + result,
            }

        try:
            answer = await app.store.run(work)
        except JsapiFail as exc:
            return _fail(exc)
        if answer["ok"]:
            app.dispatcher.wake()
        return _json(answer)

    return verify, pay


def routes(app: AsgiApp) -> list[Route]:
    verify, pay = _endpoints(app)
    return [
        Route("/jsapi/jweixin.js", script, methods=["GET"]),
        Route("/jsapi/sheet", sheet, methods=["GET"]),
        Route("/jsapi/verify", verify, methods=["POST"]),
        Route("/jsapi/pay", pay, methods=["POST"]),
        Route("/jsapi/verify", preflight, methods=["OPTIONS"]),
        Route("/jsapi/pay", preflight, methods=["OPTIONS"]),
    ]
