"""Typed requests and results of every endpoint (spec §4 and the refunds file §2-§8).

Requests are the keyword arguments of the client methods (``TypedDict`` + ``Unpack``), so both
clients share one declaration. Results are the answer's fields, a plain ``dict`` at run time:
amounts and counts come back as ``int`` (``INT_FIELDS``), everything else as the wire's text;
fields the platform adds later are kept too (they take part in the signature).
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

TradeType = Literal["JSAPI", "NATIVE", "APP", "MWEB"]
TradeState = Literal[
    "SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR", "ACCEPT"
]
BillType = Literal["ALL", "SUCCESS", "REFUND", "RECHARGE_REFUND"]
AccountType = Literal["Basic", "Operation", "Fees"]

#: answer fields that are integers on the wire (fen or counts), converted for the caller
INT_FIELDS = frozenset(
    {
        "total_fee",
        "settlement_total_fee",
        "cash_fee",
        "coupon_fee",
        "coupon_count",
        "refund_fee",
        "settlement_refund_fee",
        "cash_refund_fee",
        "coupon_refund_fee",
        "coupon_refund_count",
        "refund_count",
        "total_refund_count",
    }
)
#: the same with a ``_$n`` suffix (refundquery, orderquery's coupons)
INT_PREFIXES = ("refund_fee_", "settlement_refund_fee_", "coupon_fee_", "coupon_refund_fee_")


class _Common(TypedDict, total=False):
    device_info: str


# --- requests -----------------------------------------------------------------------------------
class MicropayArgs(_Common, total=False):
    body: Required[str]
    out_trade_no: Required[str]
    total_fee: Required[int]
    spbill_create_ip: Required[str]
    auth_code: Required[str]
    detail: str
    attach: str
    fee_type: str
    goods_tag: str
    limit_pay: str
    time_start: str
    time_expire: str
    receipt: str
    profit_sharing: str
    scene_info: str
    version: str


class UnifiedOrderArgs(_Common, total=False):
    body: Required[str]
    out_trade_no: Required[str]
    total_fee: Required[int]
    spbill_create_ip: Required[str]
    notify_url: Required[str]
    trade_type: Required[TradeType]
    openid: str
    product_id: str
    detail: str
    attach: str
    fee_type: str
    time_start: str
    time_expire: str
    goods_tag: str
    limit_pay: str
    receipt: str
    profit_sharing: str
    scene_info: str
    version: str


class OrderRef(TypedDict, total=False):
    """One of the two ids of an order (``transaction_id`` wins when both are given)."""

    transaction_id: str
    out_trade_no: str


class CloseOrderArgs(TypedDict):
    out_trade_no: str


class RefundArgs(OrderRef, total=False):
    out_refund_no: Required[str]
    total_fee: Required[int]
    refund_fee: Required[int]
    refund_fee_type: str
    refund_desc: str
    refund_account: str
    notify_url: str


class RefundQueryArgs(TypedDict, total=False):
    transaction_id: str
    out_trade_no: str
    out_refund_no: str
    refund_id: str
    offset: int


class DownloadBillArgs(TypedDict, total=False):
    bill_date: Required[str]
    bill_type: BillType
    tar_type: Literal["GZIP"]


class DownloadFundflowArgs(TypedDict, total=False):
    bill_date: Required[str]
    account_type: Required[AccountType]
    tar_type: Literal["GZIP"]


class ReportArgs(_Common, total=False):
    interface_url: Required[str]
    execute_time_: Required[int]
    return_code: Required[str]
    result_code: Required[str]
    user_ip: Required[str]
    return_msg: str
    err_code: str
    err_code_des: str
    out_trade_no: str
    time: str
    trades: str


# --- results ------------------------------------------------------------------------------------
class Answer(TypedDict, total=False):
    """What every signed SUCCESS answer carries (spec §1.7)."""

    return_code: str
    return_msg: str
    appid: str
    mch_id: str
    nonce_str: str
    sign: str
    result_code: str
    device_info: str


class _Paid(Answer, total=False):
    openid: str
    is_subscribe: str
    trade_type: str
    bank_type: str
    fee_type: str
    total_fee: int
    settlement_total_fee: int
    coupon_fee: int
    cash_fee_type: str
    cash_fee: int
    transaction_id: str
    out_trade_no: str
    attach: str
    time_end: str
    promotion_detail: str


class MicropayResult(_Paid, total=False):
    pass


class UnifiedOrderResult(Answer, total=False):
    trade_type: str
    prepay_id: str
    code_url: str
    mweb_url: str


class OrderQueryResult(_Paid, total=False):
    trade_state: TradeState
    trade_state_desc: str
    coupon_count: int


class CloseOrderResult(Answer, total=False):
    result_msg: str


class ReverseResult(Answer, total=False):
    recall: Literal["Y", "N"]


class RefundResult(Answer, total=False):
    transaction_id: str
    out_trade_no: str
    out_refund_no: str
    refund_id: str
    refund_fee: int
    settlement_refund_fee: int
    total_fee: int
    settlement_total_fee: int
    fee_type: str
    cash_fee: int
    cash_refund_fee: int
    coupon_refund_fee: int
    coupon_refund_count: int


class RefundQueryResult(Answer, total=False):
    total_refund_count: int
    transaction_id: str
    out_trade_no: str
    total_fee: int
    settlement_total_fee: int
    fee_type: str
    cash_fee: int
    refund_count: int


class ShortUrlResult(Answer, total=False):
    short_url: str


class AuthCodeToOpenidResult(Answer, total=False):
    openid: str


class ReportResult(TypedDict, total=False):
    return_code: str
    return_msg: str
    result_code: str


class SignKeyResult(TypedDict, total=False):
    return_code: str
    return_msg: str
    mch_id: str
    sandbox_signkey: str


class RefundItem(TypedDict):
    """One refund of a refundquery answer (its ``_$n`` fields without the suffix)."""

    out_refund_no: str
    refund_id: str
    refund_channel: str
    refund_fee: int
    settlement_refund_fee: int
    refund_status: str
    refund_account: str
    refund_recv_accout: str
    refund_success_time: str


def refunds_of(result: RefundQueryResult) -> list[RefundItem]:
    """The refunds listed in a refundquery answer, in ``$n`` order."""
    raw: dict[str, object] = dict(result)
    count = int(str(raw.get("refund_count", 0)))
    items: list[RefundItem] = []
    for n in range(count):

        def text(name: str, n: int = n) -> str:
            return str(raw.get(f"{name}_{n}", ""))

        def number(name: str, n: int = n) -> int:
            value = raw.get(f"{name}_{n}", 0)
            return value if isinstance(value, int) else int(str(value or 0))

        items.append(
            RefundItem(
                out_refund_no=text("out_refund_no"),
                refund_id=text("refund_id"),
                refund_channel=text("refund_channel"),
                refund_fee=number("refund_fee"),
                settlement_refund_fee=number("settlement_refund_fee"),
                refund_status=text("refund_status"),
                refund_account=text("refund_account"),
                refund_recv_accout=text("refund_recv_accout"),
                refund_success_time=text("refund_success_time"),
            )
        )
    return items


__all__ = [
    "AccountType",
    "Answer",
    "AuthCodeToOpenidResult",
    "BillType",
    "CloseOrderArgs",
    "CloseOrderResult",
    "DownloadBillArgs",
    "DownloadFundflowArgs",
    "MicropayArgs",
    "MicropayResult",
    "OrderQueryResult",
    "OrderRef",
    "RefundArgs",
    "RefundItem",
    "RefundQueryArgs",
    "RefundQueryResult",
    "RefundResult",
    "ReportArgs",
    "ReportResult",
    "ReverseResult",
    "ShortUrlResult",
    "SignKeyResult",
    "TradeState",
    "TradeType",
    "UnifiedOrderArgs",
    "UnifiedOrderResult",
    "refunds_of",
]
