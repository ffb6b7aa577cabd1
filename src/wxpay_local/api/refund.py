"""Handlers for refund and refundquery."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from wxpay_local.api.context import Call
from wxpay_local.codes import RefundStatus
from wxpay_local.domain import refunds
from wxpay_local.timefmt import display_time

Fields = Mapping[str, str | int]


def refund(call: Call) -> Fields:
    cmd = call.command(
        refunds.RequestRefund,
        transaction_id=call.text("transaction_id"),
        out_trade_no=call.text("out_trade_no"),
    )
    platform = call.platform
    accepted = refunds.request_refund(
        call.tx,
        platform.clock,
        platform.ids,
        call.merchant,
        cmd,
        timedelta(seconds=platform.refund_settle_seconds),
    )
    order = call.tx.order_by_id(accepted.order_id)
    if order is None:
        raise RuntimeError("a refund always has its order")
    return {
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "out_refund_no": accepted.out_refund_no,
        "refund_id": accepted.refund_id,
        "refund_fee": accepted.refund_fee,
        "settlement_refund_fee": accepted.refund_fee,
        "total_fee": order.total_fee,
        "settlement_total_fee": order.total_fee,
        "fee_type": order.fee_type,
        "cash_fee": order.cash_fee,
        "cash_fee_type": "CNY",
        "cash_refund_fee": accepted.refund_fee,
        "coupon_refund_fee": 0,
        "coupon_refund_count": 0,
    }


def refundquery(call: Call) -> Fields:
    v = call.values
    platform = call.platform
    page = refunds.query_refunds(
        call.tx,
        platform.clock,
        platform.ids,
        call.merchant,
        refund_id=call.text("refund_id"),
        out_refund_no=call.text("out_refund_no"),
        transaction_id=call.text("transaction_id"),
        out_trade_no=call.text("out_trade_no"),
        offset=call.integer("offset"),
    )
    order = page.order
    answer: dict[str, str | int] = {}
    if page.total_count > refunds.PAGE_SIZE or "offset" in v:
        answer["total_refund_count"] = page.total_count
    answer |= {
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "total_fee": order.total_fee,
        "settlement_total_fee": order.total_fee,
        "fee_type": order.fee_type,
        "cash_fee": order.cash_fee,
        "refund_fee": sum(
            r.refund_fee for r in page.all_refunds if r.refund_status != RefundStatus.REFUNDCLOSE
        ),
        "refund_count": len(page.refunds),
    }
    for n, item in enumerate(page.refunds):
        answer |= {
            f"out_refund_no_{n}": item.out_refund_no,
            f"refund_id_{n}": item.refund_id,
            f"refund_channel_{n}": item.refund_channel,
            f"refund_fee_{n}": item.refund_fee,
            f"settlement_refund_fee_{n}": item.refund_fee,
            f"refund_status_{n}": item.refund_status,
            f"refund_account_{n}": item.refund_account,
            f"refund_recv_accout_{n}": item.recv_account,  # sic
        }
        if item.success_time is not None:
            answer[f"refund_success_time_{n}"] = display_time(item.success_time)
    return answer
