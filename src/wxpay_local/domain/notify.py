"""Notification content and the retry schedules, as data, with the pure retry policy."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from wxpay_local.codes import SignType
from wxpay_local.domain.model import Order, Refund
from wxpay_local.timefmt import display_time, wire_time

#: Waits before each retry, in seconds. The first delivery is immediate, so the current
#: schedule makes 16 deliveries, the last 24 h 04 min after the first (refunds spec §4.5).
SCHEDULES: dict[str, tuple[int, ...]] = {
    "wechat": (
        15,
        15,
        30,
        180,
        600,
        1200,
        1800,
        1800,
        1800,
        3600,
        10800,
        10800,
        10800,
        21600,
        21600,
    ),
    "legacy": (15, 15, 30, 180, 1800, 1800, 1800, 1800, 3600),
    #: For tests on the wall clock: the same sixteen deliveries within about two seconds.
    "fast": (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
}
DEFAULT_SCHEDULE = "wechat"


def next_attempt_at(
    first_attempt_at: datetime, deliveries_made: int, schedule: tuple[int, ...]
) -> datetime | None:
    """When delivery number ``deliveries_made + 1`` is due, or None when the schedule is spent.

    Offsets count from the first delivery, as the platform's table does, so a clock moved far
    forward catches up on every missed retry in turn.
    """
    if deliveries_made < 1 or deliveries_made > len(schedule):
        return None
    return first_attempt_at + timedelta(seconds=sum(schedule[:deliveries_made]))


def payment_fields(order: Order) -> dict[str, str | int]:
    """The fields of a payment notification (refunds spec §4.2), unsigned, in wire order."""
    assert order.time_end is not None, "only paid orders are notified"
    fields: dict[str, str | int] = {
        "appid": order.appid,
        "attach": order.attach,
        "bank_type": order.bank_type,
        "cash_fee": order.cash_fee,
        "device_info": order.device_info,
        "fee_type": order.fee_type,
        "is_subscribe": order.is_subscribe,
        "mch_id": order.mch_id,
        "nonce_str": order.nonce_str,
        "openid": order.payer_openid,
        "out_trade_no": order.out_trade_no,
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "time_end": wire_time(order.time_end),
        "total_fee": order.total_fee,
        "trade_type": str(order.trade_type),
        "transaction_id": order.transaction_id,
    }
    return {k: v for k, v in fields.items() if v != ""}


def notify_signing(
    setting: str, order_sign_type: SignType
) -> tuple[SignType, dict[str, str | int]]:
    """The algorithm a payment notification is signed with, and the ``sign_type`` element it
    carries (if any), for the merchant's ``notify_sign_type`` setting (merchant_config).

    The element, when present, is one of the signed fields (refunds spec §4.3).
    """
    if setting == "MD5" or order_sign_type is SignType.MD5:
        return SignType.MD5, {}
    if setting == "ORDER":
        return order_sign_type, {"sign_type": str(order_sign_type)}
    return order_sign_type, {}  # ORDER_NO_SIGN_TYPE: the captured real behaviour


def refund_fields(refund: Refund, order: Order, nonce: str) -> dict[str, Any]:
    """A refund notification: the outer fields, and the plaintext of ``req_info`` (§5.4)."""
    inner: dict[str, str | int] = {
        "out_refund_no": refund.out_refund_no,
        "out_trade_no": order.out_trade_no,
        "refund_account": refund.refund_account,
        "refund_fee": refund.refund_fee,
        "refund_id": refund.refund_id,
        "refund_recv_accout": refund.recv_account,  # sic: the platform's spelling
        "refund_request_source": refund.request_source,
        "refund_status": refund.refund_status,
        "settlement_refund_fee": refund.refund_fee,
        "settlement_total_fee": order.total_fee,
        "total_fee": order.total_fee,
        "transaction_id": order.transaction_id,
    }
    if refund.success_time is not None:
        inner["success_time"] = display_time(refund.success_time)
    return {
        "appid": order.appid,
        "mch_id": order.mch_id,
        "nonce_str": nonce,
        "req_info": dict(sorted(inner.items())),
    }
