"""JSON views of domain records for the control plane (money stays integer fen)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wxpay_local.domain.model import (
    App,
    Card,
    DeliveryAttempt,
    Merchant,
    Notification,
    Order,
    Refund,
)
from wxpay_local.domain.ports import PayerProfile, Tx


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def merchant_view(merchant: Merchant, apps: list[App] | tuple[App, ...]) -> dict[str, Any]:
    return {
        "mch_id": merchant.mch_id,
        "name": merchant.name,
        "api_key": merchant.api_key,
        "fee_rate_ppm": merchant.fee_rate_ppm,
        "console_password": merchant.console_password,
        "apps": [
            {"appid": a.appid, "kind": str(a.kind), "secret": a.secret, "name": a.name}
            for a in apps
        ],
    }


def card_view(card: Card) -> dict[str, Any]:
    return {
        "card_id": card.id,
        "bank_type": card.bank_type,
        "last4": card.last4,
        "credit": card.is_credit,
    }


def payer_view(tx: Tx, payer_id: int) -> dict[str, Any] | None:
    payer = tx.payer(payer_id)
    return None if payer is None else profile_view(tx.payer_profiles([payer])[0])


def profile_view(profile: PayerProfile) -> dict[str, Any]:
    payer = profile.payer
    return {
        "payer_id": payer.id,
        "name": payer.name,
        "pay_password": payer.pay_password,
        "balance": profile.balance,
        "openids": profile.openids,
        "cards": [card_view(c) for c in profile.cards],
    }


def order_view(order: Order) -> dict[str, Any]:
    return {
        "mch_id": order.mch_id,
        "appid": order.appid,
        "out_trade_no": order.out_trade_no,
        "transaction_id": order.transaction_id or None,
        "trade_type": str(order.trade_type),
        "trade_state": str(order.trade_state),
        "trade_state_desc": order.trade_state.desc,
        "total_fee": order.total_fee,
        "cash_fee": order.cash_fee,
        "fee": order.fee,
        "body": order.body,
        "attach": order.attach,
        "notify_url": order.notify_url,
        "prepay_id": order.prepay_id or None,
        "prepay_expires_at": iso(order.prepay_expires_at),
        "code_url": f"weixin://wxpay/bizpayurl?pr={order.qr_code}" if order.qr_code else None,
        "openid": order.payer_openid or order.openid or None,
        "bank_type": order.bank_type or None,
        "created_at": iso(order.created_at),
        "time_expire": iso(order.time_expire),
        "time_end": iso(order.time_end),
    }


def attempt_view(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "at": iso(attempt.at),
        "ok": attempt.ok,
        "http_status": attempt.http_status,
        "latency_ms": attempt.latency_ms,
        "reason": attempt.reason,
        "excerpt": attempt.excerpt,
    }


def notification_view(n: Notification, attempts: list[DeliveryAttempt]) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "url": n.url,
        "status": n.status,
        "out_trade_no": n.fields.get("out_trade_no")
        or n.fields.get("req_info", {}).get("out_trade_no"),
        "transaction_id": n.fields.get("transaction_id")
        or n.fields.get("req_info", {}).get("transaction_id"),
        "refund_id": n.fields.get("req_info", {}).get("refund_id"),
        "sign_type": str(n.sign_type),
        "attempts": [attempt_view(a) for a in attempts],
        "created_at": iso(n.created_at),
        "next_attempt_at": iso(n.next_attempt_at),
        "delivered_at": iso(n.delivered_at),
    }


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "refund_fee": refund.refund_fee,
        "fee_returned": refund.fee_returned,
        "refund_status": refund.refund_status,
        "refund_account": refund.refund_account,
        "refund_recv_accout": refund.recv_account,
        "refund_desc": refund.refund_desc,
        "notify_url": refund.notify_url or None,
        "created_at": iso(refund.created_at),
        "settle_at": iso(refund.settle_at),
        "success_time": iso(refund.success_time),
    }
