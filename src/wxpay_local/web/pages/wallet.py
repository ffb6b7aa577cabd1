"""The payer's wallet: balance, payment history, 零钱明细, settings, and the payment code.

The payment code (``domain.paycodes.issue_code``: 18 digits, single use, one minute) is shown
as digits, a Code 128 barcode and a QR code, with a countdown that fetches a fresh code when it
runs out. History and movements are keyset pages (``?before=``), newest first. The micropay
password prompt (polled by ``static/wallet.js``) lives in ``wallet_prompts.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import segno
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wxpay_local.codes import RefundStatus, TradeState
from wxpay_local.domain import paycodes, payers
from wxpay_local.domain.micropay import POLICIES
from wxpay_local.domain.model import Card, Payer
from wxpay_local.domain.ports import Tx
from wxpay_local.timefmt import display_time, from_millis, to_millis
from wxpay_local.web.pages import barcode, wallet_prompts
from wxpay_local.web.pages.common import (
    MAX_ID,
    PAYER_LIST_LIMIT,
    PageError,
    bank_name,
    form_of,
    int_param,
    page,
    param,
    payer_view,
    render,
    yuan,
)

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

STATES = {
    TradeState.SUCCESS: "支付成功",
    TradeState.REFUND: "已退款",
    TradeState.REVOKED: "已撤销",
}
POLICY_NAMES = {"platform": "按平台规则", "always": "总是输入密码", "never": "从不输入密码"}
#: What ``?notice=`` may say after a settings form: (text, succeeded). Unknown keys show nothing.
NOTICES: dict[str, tuple[str, bool]] = {
    **{str(o): (o.message, o is payers.PasswordChange.CHANGED) for o in payers.PasswordChange},
    "POLICY_SET": ("免密设置已保存", True),
}
MOVEMENT_KINDS = {
    "topup": "充值",
    "payment": "支付",
    "reversal": "撤销退回",
    "refund": "退款",
    "refund_success": "退款",
    "refund_returned": "退款退回",
    "refund_manual": "退款",
}


def _payer_or_404(tx: Tx, payer_id: int) -> Payer:
    payer = tx.payer(payer_id)
    if payer is None:
        raise PageError(404, f"no payer {payer_id}", "用户不存在")
    return payer


def _key_param(values: Any) -> payers.PaymentKey | None:
    """``before=<time_end ms>-<order id>``: where an older history page starts."""
    text = param(values, "before").strip()
    if not text:
        return None
    at, _, order_id = text.partition("-")
    if not (at.isascii() and at.isdigit() and order_id.isascii() and order_id.isdigit()):
        raise PageError(400, "before must look like <milliseconds>-<order id>")
    if len(at) > 13 or int(order_id) > MAX_ID:  # 13 digits of ms: until the year 2286
        raise PageError(400, "before is out of range")
    return from_millis(int(at)), int(order_id)


def _method(order_card: int | None, cards: dict[int, Card]) -> str:
    if order_card is None:
        return "零钱"
    card = cards.get(order_card)
    return f"{bank_name(card.bank_type)} 尾号{card.last4}" if card else "银行卡"


def _line(line: payers.PaymentLine, cards: dict[int, Card]) -> dict[str, Any]:
    o = line.order
    refunded = sum(
        r.refund_fee for r in line.refunds if r.refund_status != RefundStatus.REFUNDCLOSE
    )
    state = STATES.get(o.trade_state, str(o.trade_state))
    if o.trade_state is TradeState.REFUND and refunded < o.total_fee:
        state = "部分退款"
    return {
        "order_id": o.id,
        "merchant": line.merchant_name,
        "body": o.body,
        "amount": yuan(o.total_fee),
        "trade_state": str(o.trade_state),
        "state": state,
        "trade_type": str(o.trade_type),
        "time": display_time(o.time_end),
        "method": _method(o.card_id, cards),
        "refunds": [
            {
                "amount": yuan(r.refund_fee),
                "status": r.refund_status,
                "time": display_time(r.success_time or r.created_at),
            }
            for r in line.refunds
        ],
    }


def _history(tx: Tx, payer: Payer, before: payers.PaymentKey | None) -> dict[str, Any]:
    cards = {c.id: c for c in tx.cards_of(payer.id)}
    found = payers.history(tx, payer.id, before)
    next_key = found.next_key
    return {
        "lines": [_line(line, cards) for line in found.lines],
        "next": f"{to_millis(next_key[0])}-{next_key[1]}" if next_key else "",
    }


async def wallet(app: AsgiApp, request: Request) -> Response:
    q = request.query_params
    payer_id = int_param(q, "payer_id")
    before = _key_param(q)
    notice = NOTICES.get(param(q, "notice"))

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            if payer_id is None:
                listing = [{"payer_id": p.id, "name": p.name} for p in tx.payers(PAYER_LIST_LIMIT)]
                return {"payer": None, "payers": listing}
            payer = _payer_or_404(tx, payer_id)
            return {
                "payers": [],
                "payer": payer_view(tx, payer)
                | {
                    "openids": sorted(tx.openids_of(payer.id).items()),
                    "policy": payer.password_policy,
                },
                "history": _history(tx, payer, before),
            }

    context = await app.store.run(work, write=False)
    return render(
        "wallet.html",
        notice=notice,
        older=before is not None,
        policies=[(p, POLICY_NAMES.get(p, p)) for p in POLICIES],
        **context,
    )


async def changes(app: AsgiApp, request: Request) -> Response:
    """零钱明细: every posting on the wallet account (top-ups, payments, refunds), newest first."""
    q = request.query_params
    payer_id = int_param(q, "payer_id")
    before_id = int_param(q, "before")
    if payer_id is None:
        raise PageError(400, "payer_id is required")

    def work() -> dict[str, Any]:
        with app.store.begin(write=False) as tx:
            payer = _payer_or_404(tx, payer_id)
            found = tx.wallet_movements(payer.id, before_id, payers.MOVEMENTS_PAGE + 1)
        page_rows = found[: payers.MOVEMENTS_PAGE]
        return {
            "payer": {"payer_id": payer.id, "name": payer.name},
            "movements": [
                {
                    "kind": MOVEMENT_KINDS.get(m.kind, m.kind),
                    "ref": m.ref,
                    "time": display_time(m.at),
                    "amount": ("+" if m.amount > 0 else "") + yuan(m.amount),
                    "incoming": m.amount > 0,
                    "balance_after": yuan(m.balance_after),
                }
                for m in page_rows
            ],
            "next": page_rows[-1].posting_id if len(found) > len(page_rows) else None,
        }

    return render("wallet_changes.html", **await app.store.run(work, write=False))


async def paycode(app: AsgiApp, request: Request) -> Response:
    payer_id = int_param(await form_of(request), "payer_id")
    if payer_id is None:
        raise PageError(400, "payer_id is required")

    def work() -> dict[str, Any]:
        with app.store.begin() as tx:
            payer = _payer_or_404(tx, payer_id)
            code = paycodes.issue_code(tx, app.clock, app.ids, payer_id)
            left = (code.expires_at - app.clock.now()).total_seconds()
            return {
                "payer": {"payer_id": payer.id, "name": payer.name},
                "auth_code": code.auth_code,
                "expires_at": code.expires_at.strftime("%H:%M:%S"),
                "seconds_left": max(0, int(left)),
            }

    context = await app.store.run(work)
    code = context["auth_code"]
    qr = segno.make_qr(code, error="m").svg_inline(
        scale=6, border=2, omitsize=True, title=code, svgclass="qr", lineclass=None
    )
    return render("paycode.html", svg=qr, barcode=barcode.svg(code), **context)


def _redirect(payer_id: int, notice: str) -> Response:
    query = urlencode({"payer_id": payer_id, "notice": notice})
    return RedirectResponse(f"/wallet?{query}#settings", 303)


async def change_password(app: AsgiApp, request: Request) -> Response:
    form = await form_of(request)
    payer_id = int_param(form, "payer_id")
    if payer_id is None:
        raise PageError(400, "payer_id is required")
    old, new, repeat = (param(form, n) for n in ("old_password", "new_password", "repeat"))

    def work() -> payers.PasswordChange:
        with app.store.begin() as tx:
            return payers.change_password(tx, payer_id, old, new, repeat)

    outcome = await app.store.run(work)
    if outcome is payers.PasswordChange.NO_SUCH_PAYER:
        raise PageError(404, f"no payer {payer_id}", "用户不存在")
    return _redirect(payer_id, str(outcome))


async def set_policy(app: AsgiApp, request: Request) -> Response:
    form = await form_of(request)
    payer_id = int_param(form, "payer_id")
    policy = param(form, "policy")
    if payer_id is None:
        raise PageError(400, "payer_id is required")
    if policy not in POLICIES:
        raise PageError(400, f"policy is one of {', '.join(POLICIES)}")

    def work() -> None:
        with app.store.begin() as tx:
            _payer_or_404(tx, payer_id)
            tx.set_password_policy(payer_id, policy)

    await app.store.run(work)
    return _redirect(payer_id, "POLICY_SET")


def routes(app: AsgiApp) -> list[Route]:
    return [
        Route("/wallet", page(app, wallet), methods=["GET"]),
        Route("/wallet/changes", page(app, changes), methods=["GET"]),
        Route("/wallet/paycode", page(app, paycode), methods=["POST"]),
        Route("/wallet/password", page(app, change_password), methods=["POST"]),
        Route("/wallet/policy", page(app, set_policy), methods=["POST"]),
        *wallet_prompts.routes(app),
    ]
