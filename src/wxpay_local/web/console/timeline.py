"""One order's story for the console: its facts, then every event in time order (created,
paid, closed/reversed/expired, each refund, each notification with every delivery attempt).

Times come from the store in the platform clock and are shown in Beijing time; the money of the
payment and refunds is read back from the ledger, so the page shows what was actually posted.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from wxpay_local.codes import NotificationStatus, RefundStatus, TradeState
from wxpay_local.domain import ledger
from wxpay_local.domain.model import DeliveryAttempt, Notification, Order, Refund
from wxpay_local.domain.ports import LedgerEntry, Tx
from wxpay_local.web import views
from wxpay_local.web.console.listing import beijing, millis
from wxpay_local.web.pages.common import yuan

if TYPE_CHECKING:
    from wxpay_local.web.app import AsgiApp

_MONEY = frozenset({"total_fee", "cash_fee", "fee"})
_HIDDEN = frozenset({"id", "merchant_id", "nonce_str"})
#: How many times a page waiting for a resent notification reloads itself (about 10 s).
WAIT_RELOADS = 15


def _fen(amount: int) -> str:
    return f"¥{yuan(amount)} ({amount} fen)"


def facts(order: Order) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []
    for field in dataclasses.fields(order):
        if field.name in _HIDDEN:
            continue
        value = getattr(order, field.name)
        if isinstance(value, datetime):
            text = beijing(value)
        elif field.name in _MONEY:
            text = _fen(value)
        elif isinstance(value, bool):
            text = "yes" if value else "no"
        else:
            text = "" if value is None else str(value)
        shown.append((field.name, text))
        if field.name == "qr_code" and value:
            shown.append(("code_url", f"weixin://wxpay/bizpayurl?pr={value}"))
    return shown


def _event(at: datetime | None, title: str, cls: str = "", **more: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"at": at, "when": beijing(at), "title": title, "cls": cls, "lines": []}
    return {**event, "notification": None, **more}


def _attempt(a: DeliveryAttempt) -> dict[str, Any]:
    return {
        "number": a.number,
        "when": beijing(a.at),
        "ok": a.ok,
        "http_status": "—" if a.http_status is None else str(a.http_status),
        "latency_ms": a.latency_ms,
        "reason": a.reason,
        "excerpt": a.excerpt[:300],
    }


def notification_card(n: Notification, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    """The control plane's ``notification_view`` with what the console shows beside it."""
    req = n.fields.get("req_info", {})
    return {
        **views.notification_view(n, attempts),
        "badge": "failed" if n.status == NotificationStatus.EXHAUSTED else n.status,
        "count": n.attempts,
        "next": beijing(n.next_attempt_at) if n.status == NotificationStatus.PENDING else "",
        "created": beijing(n.created_at),
        "refund_id": req.get("refund_id", "") if isinstance(req, dict) else "",
        "attempts": [_attempt(a) for a in attempts],
    }


def _paid(tx: Tx, order: Order, entries: list[LedgerEntry]) -> dict[str, Any]:
    event = _event(order.time_end, "支付成功 Paid", "ok")
    payer = tx.payer(order.payer_id) if order.payer_id is not None else None
    method = "零钱 wallet"
    if order.card_id is not None and order.payer_id is not None:
        card = next((c for c in tx.cards_of(order.payer_id) if c.id == order.card_id), None)
        method = f"银行卡 card {card.bank_type} ···{card.last4}" if card else "银行卡 card"
    posted = [e for e in entries if e.kind == "payment" and e.account == ledger.FEE_INCOME]
    fee = sum(e.amount for e in posted) if posted else order.fee
    event["lines"] = [
        ("payer", f"{payer.name if payer else '—'} · openid {order.payer_openid or '—'}"),
        ("method", method),
        ("bank_type", order.bank_type),
        ("cash_fee", _fen(order.cash_fee)),
        ("fee", _fen(fee) + (" · ledger" if posted else "")),
        ("merchant gets", _fen(order.cash_fee - fee)),
        ("transaction_id", order.transaction_id),
    ]
    return event


def _ended(order: Order, now: datetime) -> dict[str, Any] | None:
    state = order.trade_state
    if state is TradeState.CLOSED:
        return _event(order.updated_at, "订单已关闭 Closed (closeorder)", "fail")
    if state is TradeState.REVOKED:
        return _event(order.updated_at, "订单已撤销 Reversed (reverse)", "fail")
    if state is TradeState.PAYERROR:
        return _event(order.updated_at, "支付失败 Payment failed", "fail")
    if state is TradeState.NOTPAY and order.time_expire and order.time_expire <= now:
        return _event(order.time_expire, "订单已过期 Expired (time_expire passed)", "warn")
    return None


def _refund_events(refund: Refund) -> list[dict[str, Any]]:
    asked = _event(
        refund.created_at, f"申请退款 Refund requested {_fen(refund.refund_fee)}", "warn"
    )
    asked["lines"] = [
        ("out_refund_no", refund.out_refund_no),
        ("refund_id", refund.refund_id),
        ("refund_account", refund.refund_account),
        ("fee returned", _fen(refund.fee_returned)),
    ]
    if refund.refund_status == RefundStatus.PROCESSING:
        asked["lines"].append(("settles at", beijing(refund.settle_at)))
        return [asked]
    status = refund.refund_status
    at = refund.success_time if status == "SUCCESS" else refund.updated_at
    titles = {"SUCCESS": "退款成功", "CHANGE": "退款异常", "REFUNDCLOSE": "退款关闭"}
    done = _event(
        at, f"{titles.get(status, status)} Refund {status}", "ok" if status == "SUCCESS" else "fail"
    )
    done["lines"] = [("refund_id", refund.refund_id), ("recv_account", refund.recv_account)]
    return [asked, done]


def of_order(app: AsgiApp, tx: Tx, order: Order) -> dict[str, Any]:
    refunds = tx.refunds_of(order.id)
    notes = tx.notifications(order_id=order.id, limit=200)
    attempts = tx.attempts_of([n.id for n in notes])
    moments = [order.created_at, order.updated_at, *(r.updated_at for r in refunds)]
    refs = [r for r in [order.transaction_id, *(r.refund_id for r in refunds)] if r]
    entries = tx.ledger_entries(
        refs, millis(order.created_at), max(millis(m) for m in moments if m is not None)
    )
    created = _event(
        order.created_at,
        "下单 Order created ("
        + ("micropay" if order.trade_type == "MICROPAY" else "unifiedorder")
        + ")",
    )
    created["lines"] = [
        ("trade_type", str(order.trade_type)),
        ("total_fee", _fen(order.total_fee)),
        ("prepay_id", order.prepay_id),
        ("code_url", f"weixin://wxpay/bizpayurl?pr={order.qr_code}" if order.qr_code else ""),
        ("time_expire", beijing(order.time_expire)),
    ]
    events = [created]
    if order.time_end is not None and order.transaction_id:
        events.append(_paid(tx, order, entries))
    ended = _ended(order, app.clock.now())
    if ended is not None:
        events.append(ended)
    for refund in refunds:
        events += _refund_events(refund)
    cards = [notification_card(n, attempts[n.id]) for n in sorted(notes, key=lambda n: n.id)]
    for n, view in zip(sorted(notes, key=lambda n: n.id), cards, strict=True):
        kind = (
            "支付通知 Payment notification"
            if n.kind == "payment"
            else "退款通知 Refund notification"
        )
        cls = {"delivered": "ok", "exhausted": "fail"}.get(n.status, "warn")
        events.append(_event(n.created_at, kind, cls, notification=view))
    events.sort(key=lambda e: (e["at"] is None, e["at"] or order.created_at))
    for event in events:
        event["lines"] = [(k, v) for k, v in event["lines"] if v]
    return {
        "order": {
            "mch_id": order.mch_id,
            "out_trade_no": order.out_trade_no,
            "trade_state": str(order.trade_state),
            "trade_state_desc": order.trade_state.desc,
            "total_fee": order.total_fee,
            "body": order.body,
        },
        "facts": facts(order),
        "events": events,
        "notifications": cards,
        "ledger": [
            {
                "when": beijing(e.at),
                "kind": e.kind,
                "ref": e.ref,
                "account": e.account,
                "amount": e.amount,
            }
            for e in entries
        ],
    }


def resent_flash(request: Request, notifications: list[dict[str, Any]]) -> dict[str, Any] | None:
    """After a resend: the new attempt once the dispatcher made it, else "waiting" (the page
    reloads itself a few times; see the template's script)."""
    values = request.query_params
    resent, had, wait = values.get("resent", ""), values.get("had", ""), values.get("wait", "0")
    if not (resent.isdigit() and had.isdigit() and wait.isdigit()) or len(resent + had + wait) > 40:
        return None
    found = next((n for n in notifications if n["id"] == int(resent)), None)
    if found is None:
        return None
    if len(found["attempts"]) > int(had):
        latest = found["attempts"][-1]
        message = (
            f"已重新发送 Notification #{found['id']} sent again: attempt {latest['number']}"
            f" answered HTTP {latest['http_status']} ({latest['reason'] or 'ok'})"
        )
        return {"message": message, "waiting": False, "ok": latest["ok"]}
    waiting = int(wait) < WAIT_RELOADS
    message = f"已加入发送队列 Notification #{found['id']} queued for delivery now" + (
        "; waiting for the attempt…" if waiting else "; no attempt yet (is the dispatcher on?)"
    )
    return {"message": message, "waiting": waiting, "ok": True, "wait": int(wait) + 1}
