"""What every page shares: the template environment, money display, errors as readable 400s."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from wxpay_local import secure
from wxpay_local.codes import TradeState
from wxpay_local.domain import ledger
from wxpay_local.domain.model import Order, Payer
from wxpay_local.domain.orders import effective_state
from wxpay_local.domain.ports import Tx
from wxpay_local.domain.refunds import BANK_NAMES
from wxpay_local.web.boundary import csrf_token

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
SHORT_PREFIX = "weixin://wxpay/s/"
#: How many demo payers a picker lists (the store may hold many more).
PAYER_LIST_LIMIT = 50
#: What a payer answers a payment prompt with.
PAY_ACTIONS = ("pay", "cancel")
MAX_PARAM = 2048
#: The largest row number a page or JSON endpoint takes (far below BIGINT).
MAX_ID = 10**15


def yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals: 1800 → ``18.00``."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=jinja2.select_autoescape(("html",)),
    undefined=jinja2.StrictUndefined,
)
ENV.filters["yuan"] = yuan
#: Every payer form carries ``<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">``.
ENV.globals["csrf_token"] = csrf_token
CSRF_FIELD = "csrf_token"


class PageError(Exception):
    """A request a page cannot serve: shown to the person with its status (400, 404)."""

    def __init__(self, status: int, message: str, title: str = "请求有误") -> None:
        super().__init__(message)
        self.status, self.message, self.title = status, message, title


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(ENV.get_template(name).render(**context), status_code=status)


PageHandler = Callable[["AsgiApp", Request], Awaitable[Response]]


def page(app: AsgiApp, handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
    """Bind a handler to the app; a ``PageError`` becomes the error page with its status."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(app, request)
        except PageError as exc:
            return render("error.html", exc.status, title=exc.title, message=exc.message)

    return endpoint


async def form_of(request: Request) -> dict[str, str]:
    """A payer page's form, after its CSRF token: a 403 (nothing changes) when the token is not
    the one of this browser's payer session (``web.boundary``), e.g. a form on another site."""
    values = await read_form(request)
    if not secure.equal(values.get(CSRF_FIELD, ""), csrf_token() or "-"):
        raise PageError(
            403, "the form is stale or came from another site: reload the page", "请求无效"
        )
    return values


async def read_form(request: Request) -> dict[str, str]:
    """An url-encoded form body as a flat dict (last value wins); a 400 when it is not one."""
    raw = await request.body()
    if len(raw) > 64 * 1024:
        raise PageError(400, "the form is too large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PageError(400, "the form must be UTF-8") from None
    return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


def param(values: Any, name: str, *, required: bool = False) -> str:
    """One text parameter from query or form values, bounded and free of NUL characters."""
    value = values.get(name, "")
    if not isinstance(value, str):
        raise PageError(400, f"{name} must be text")
    if len(value) > MAX_PARAM or "\x00" in value:
        raise PageError(400, f"{name} must be text of at most {MAX_PARAM} characters")
    if required and not value:
        raise PageError(400, f"{name} is required")
    return value


def int_param(values: Any, name: str) -> int | None:
    text = param(values, name).strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise PageError(400, f"{name} must be a whole number")
    return int(text)


def qr_code_of(code_url: str) -> str:
    """The ``pr=`` code of a mode-2 code_url, or a 400 explaining the expected shape."""
    parts = urlsplit(code_url.strip())
    codes = parse_qs(parts.query).get("pr")
    if parts.scheme != "weixin" or parts.path != "/bizpayurl" or not codes:
        raise PageError(
            400, "code_url must look like weixin://wxpay/bizpayurl?pr=… (Native mode 2)"
        )
    return codes[0]


def order_summary(app: AsgiApp, order: Order, merchant_name: str) -> dict[str, Any]:
    """The few facts a payer sees about an order."""
    return {
        "merchant": merchant_name,
        "body": order.body,
        "total_fee": order.total_fee,
        "amount": yuan(order.total_fee),
        "out_trade_no": order.out_trade_no,
        "trade_type": str(order.trade_type),
        "trade_state": str(order.trade_state),
        "limit_pay": order.limit_pay,
    }


def bank_name(bank_type: str) -> str:
    """``CMB_DEBIT`` as a payer reads it, ``招商银行储蓄卡``; an unknown bank keeps its code."""
    bank, _, kind = bank_type.rpartition("_")
    name = BANK_NAMES.get(bank)
    if name is None:
        return bank_type
    return name + {"DEBIT": "储蓄卡", "CREDIT": "信用卡"}.get(kind, "")


ENV.filters["bank"] = bank_name


def card_views(tx: Tx, payer_id: int) -> list[dict[str, Any]]:
    return [
        {
            "card_id": c.id,
            "bank_type": c.bank_type,
            "bank": bank_name(c.bank_type),
            "last4": c.last4,
            "is_credit": c.is_credit,
        }
        for c in tx.cards_of(payer_id)
    ]


def payer_view(tx: Tx, payer: Payer) -> dict[str, Any]:
    """What a cashier shows of a payer: name, wallet balance, cards to pay with."""
    return {
        "payer_id": payer.id,
        "name": payer.name,
        "balance": tx.balance(ledger.wallet(payer.id)),
        "cards": card_views(tx, payer.id),
    }


def payer_choices(tx: Tx) -> list[dict[str, Any]]:
    """The demo payers a cashier page offers (the first PAYER_LIST_LIMIT)."""
    return [payer_view(tx, p) for p in tx.payers(PAYER_LIST_LIMIT)]


#: The screen a payer page shows instead of its form when the order cannot be paid any more:
#: (title, message, tone). Tone ``ok`` is green, ``fail`` red, ``info`` grey.
_SCREENS: dict[str, tuple[str, str, str]] = {
    "expired": ("二维码已过期", "支付请求已失效，请重新发起支付", "info"),
    "closed": ("订单已关闭", "商户已关闭该订单，无法继续支付", "info"),
    "revoked": ("订单已撤销", "商户已撤销该订单，款项将原路退回", "info"),
    "paid": ("已支付", "该订单已支付成功，无需重复支付", "ok"),
    "refunded": ("已退款", "该订单已支付，商户已发起退款", "info"),
    "payerror": ("支付失败", "该订单支付失败，请重新发起支付", "fail"),
    "cannot_pay": ("无法完成支付", "", "fail"),
}


def order_screen(order: Order, now: datetime) -> dict[str, str] | None:
    """What the payer is told before any form when the order is no longer payable, judged as
    ``domain.payer.pay_order`` would: an unpaid order past its expiry (or past its code_url's
    two hours) is ``expired``, not ``closed``, since neither the payer nor the merchant did
    anything. None when the form should show."""
    current = effective_state(order, now)
    state = current.trade_state
    if state is TradeState.CLOSED:
        kind = "expired" if order.trade_state is TradeState.NOTPAY else "closed"
    else:
        kind = {
            TradeState.SUCCESS: "paid",
            TradeState.REFUND: "refunded",
            TradeState.REVOKED: "revoked",
            TradeState.PAYERROR: "payerror",
        }.get(state, "")
    expires = order.prepay_expires_at
    if not kind and state is TradeState.NOTPAY and expires is not None and now >= expires:
        kind = "expired"  # the code_url / prepay_id's two hours are over (pay_order agrees)
    if not kind:
        return None
    return screen(kind)


def screen(kind: str, message: str = "") -> dict[str, str]:
    title, default, tone = _SCREENS.get(kind, ("无法支付", message, "fail"))
    return {"kind": kind, "title": title, "message": message or default, "tone": tone}


def cannot_pay(payer: dict[str, Any], order: dict[str, Any]) -> dict[str, str] | None:
    """The screen a payer sees before any password when none of their ways to pay can cover
    this order (judged as ``domain.payer.charge`` would: the wallet needs the whole amount, a
    bank card always has it unless it is a credit card and the merchant sent
    ``limit_pay=no_credit``); None when some method can pay. Also marks each method of
    ``payer`` ``usable`` so the form can preselect one that works."""
    total = order["total_fee"]
    no_credit = order["limit_pay"] == "no_credit"
    wallet_ok = payer["balance"] >= total
    for card in payer["cards"]:
        card["usable"] = not (card["is_credit"] and no_credit)
    payer["wallet_usable"] = wallet_ok
    if wallet_ok or any(c["usable"] for c in payer["cards"]):
        return None
    if payer["cards"]:  # cards it has, but only credit ones, which this merchant refuses
        message = "零钱余额不足，且商户不支持信用卡支付，请更换支付方式或使用其他微信账号支付"
    else:
        message = "零钱余额不足，且未绑定银行卡，请使用其他微信账号支付"
    return screen("cannot_pay", message)


def is_pay_action(action: object) -> bool:
    return action in PAY_ACTIONS


def lacks_password(action: object, password: str) -> bool:
    """A "pay" answer without a 6-digit payment password: refused before any store work (a
    cancel needs none). One rule for every cashier page."""
    return action == "pay" and not (len(password) == 6 and password.isdigit())
