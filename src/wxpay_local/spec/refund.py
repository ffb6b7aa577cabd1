"""The refund endpoints: refund (mutual TLS) and refundquery (refunds spec §2, §3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wxpay_local.codes import ErrCode, ReturnMsg
from wxpay_local.spec.common import COMMON, OUT_TRADE_NO
from wxpay_local.spec.endpoint import Answer, Endpoint, Field
from wxpay_local.wire.fields import Choice, Fen, Json, Str, Url

OUT_REFUND_NO = r"[0-9A-Za-z_\-|*@]{1,64}"
REFUND_ACCOUNTS = ("REFUND_SOURCE_UNSETTLED_FUNDS", "REFUND_SOURCE_RECHARGE_FUNDS")


def _one_order_id(req: Mapping[str, Any]) -> str | None:
    if not req.get("transaction_id") and not req.get("out_trade_no"):
        return ReturnMsg.LACK_PARAMS
    return None


def _refund_within_total(req: Mapping[str, Any]) -> str | None:
    if req.get("refund_fee", 0) > req.get("total_fee", 0):
        return "invalid refund_fee"  # observed text, protocol layer
    return None


REFUND = Endpoint(
    name="refund",
    path="/secapi/pay/refund",
    title="申请退款 (refund a paid order, in part or whole; client certificate required)",
    request=(
        *COMMON,
        Field("transaction_id", Str(32), doc="WeChat order number (wins over out_trade_no)"),
        Field("out_trade_no", Str(32, OUT_TRADE_NO), doc="Merchant order number"),
        Field(
            "out_refund_no",
            Str(64, OUT_REFUND_NO),
            required=True,
            doc="Merchant refund number: the idempotency key",
        ),
        Field("total_fee", Fen(), required=True, doc="The order's total, fen"),
        Field("refund_fee", Fen(), required=True, doc="This refund's amount, fen"),
        Field("refund_fee_type", Choice(8, ("CNY",)), doc="CNY"),
        Field("refund_desc", Str(80), doc="Reason shown to the payer"),
        Field("refund_account", Choice(30, REFUND_ACCOUNTS), doc="Fund source"),
        Field("notify_url", Url(256), doc="Refund notification URL (else the merchant's)"),
        Field("op_user_id", Str(32), doc="Legacy operator id; accepted"),
        Field("device_info", Str(32), doc="Legacy; accepted"),
        Field("detail", Json(6000), doc="Per-item refund detail, JSON"),
    ),
    checks=(_one_order_id, _refund_within_total),
    needs_cert=True,
    answers=(
        Answer(
            "accepted (or the same out_refund_no again)",
            (
                "transaction_id",
                "out_trade_no",
                "out_refund_no",
                "refund_id",
                "refund_fee",
                "settlement_refund_fee",
                "total_fee",
                "settlement_total_fee",
                "fee_type",
                "cash_fee",
                "cash_fee_type",
                "cash_refund_fee",
                "coupon_refund_fee",
                "coupon_refund_count",
            ),
        ),
    ),
    errors=(
        ErrCode.SYSTEMERROR,
        ErrCode.BIZERR_NEED_RETRY,
        ErrCode.TRADE_OVERDUE,
        ErrCode.ERROR,
        ErrCode.USER_ACCOUNT_ABNORMAL,
        ErrCode.INVALID_REQ_TOO_MUCH,
        ErrCode.NOTENOUGH,
        ErrCode.INVALID_TRANSACTIONID,
        ErrCode.PARAM_ERROR,
        ErrCode.APPID_NOT_EXIST,
        ErrCode.MCHID_NOT_EXIST,
        ErrCode.ORDERNOTEXIST,
        ErrCode.FREQUENCY_LIMITED,
        ErrCode.NOAUTH,
        ErrCode.CERT_ERROR,
        ErrCode.REFUND_FEE_MISMATCH,
        ErrCode.INVALID_REQUEST,
        ErrCode.ORDER_NOT_READY,
        ErrCode.APPID_MCHID_NOT_MATCH,
    ),
    int_fields=frozenset(
        {
            "refund_fee",
            "settlement_refund_fee",
            "total_fee",
            "settlement_total_fee",
            "cash_fee",
            "cash_refund_fee",
            "coupon_refund_fee",
            "coupon_refund_count",
        }
    ),
)


def _one_refund_id(req: Mapping[str, Any]) -> str | None:
    if not any(
        req.get(n) for n in ("refund_id", "out_refund_no", "transaction_id", "out_trade_no")
    ):
        return ReturnMsg.LACK_PARAMS
    return None


REFUNDQUERY = Endpoint(
    name="refundquery",
    path="/pay/refundquery",
    title="查询退款 (an order's refunds, ten at a time, or one refund)",
    request=(
        *COMMON,
        Field("transaction_id", Str(32)),
        Field("out_trade_no", Str(32, OUT_TRADE_NO)),
        Field("out_refund_no", Str(64, OUT_REFUND_NO)),
        Field("refund_id", Str(32)),
        Field("offset", Fen(9, 0), doc="Paging: the first refund to return (0-based)"),
        Field("device_info", Str(32)),
    ),
    checks=(_one_refund_id,),
    answers=(
        Answer(
            "found (by order: up to ten refunds from offset; by refund id: that one)",
            (
                "total_refund_count (more than ten refunds, or offset sent)",
                "transaction_id",
                "out_trade_no",
                "total_fee",
                "settlement_total_fee",
                "fee_type",
                "cash_fee",
                "refund_fee",
                "refund_count",
                "out_refund_no_$n",
                "refund_id_$n",
                "refund_channel_$n",
                "refund_fee_$n",
                "settlement_refund_fee_$n",
                "refund_status_$n",
                "refund_account_$n",
                "refund_recv_accout_$n",
                "refund_success_time_$n (refund_status_$n SUCCESS)",
            ),
        ),
    ),
    errors=(
        ErrCode.SYSTEMERROR,
        ErrCode.REFUNDNOTEXIST,
        ErrCode.INVALID_TRANSACTIONID,
        ErrCode.PARAM_ERROR,
        ErrCode.APPID_NOT_EXIST,
        ErrCode.APPID_MCHID_NOT_MATCH,
    ),
    # refund_fee_$n etc. are integers too; the handler marks them.
    int_fields=frozenset(
        {
            "total_fee",
            "cash_fee",
            "refund_fee",
            "refund_count",
            "total_refund_count",
            "settlement_total_fee",
        }
    ),
)
