"""The payment endpoints: unifiedorder, orderquery, closeorder, micropay, reverse (spec §4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wxpay_local.codes import ErrCode, ReturnMsg
from wxpay_local.spec.common import COMMON, OUT_TRADE_NO
from wxpay_local.spec.endpoint import Answer, Endpoint, Field
from wxpay_local.wire.fields import Choice, Fen, Ip, Json, Str, Time14, Url

ORDER_INTS = frozenset(
    {"total_fee", "cash_fee", "settlement_total_fee", "coupon_fee", "coupon_count"}
)


#: orderquery's business fields per trade_state (spec §4.3): the payment fields once paid
#: (SUCCESS, REFUND); otherwise identification and state only, with the payer when known
#: (micropay USERPAYING, PAYERROR). The handler keeps exactly these.
_ORDER_ID_AND_STATE = ("device_info", "trade_state", "total_fee", "out_trade_no")
_PAID = (
    "device_info",
    "openid",
    "is_subscribe",
    "trade_type",
    "trade_state",
    "bank_type",
    "total_fee",
    "fee_type",
    "cash_fee",
    "cash_fee_type",
    "transaction_id",
    "out_trade_no",
    "attach",
    "time_end",
    "trade_state_desc",
)
_PAYER_KNOWN = (
    "device_info",
    "openid",
    "is_subscribe",
    "trade_state",
    "total_fee",
    "out_trade_no",
    "trade_state_desc",
)
_UNPAID = (*_ORDER_ID_AND_STATE, "trade_state_desc")
ORDERQUERY_FIELDS: dict[str, tuple[str, ...]] = {
    "SUCCESS": _PAID,
    "REFUND": _PAID,
    "USERPAYING": _PAYER_KNOWN,
    "PAYERROR": _PAYER_KNOWN,
    "NOTPAY": _UNPAID,
    "CLOSED": _UNPAID,
    "REVOKED": _UNPAID,
    "ACCEPT": _UNPAID,  # accepted, not yet processed: nothing is paid
}


def _jsapi_needs_openid(req: Mapping[str, Any]) -> str | None:
    if req.get("trade_type") == "JSAPI" and not req.get("openid"):
        return ReturnMsg.JSAPI_OPENID
    return None


def _native_needs_product_id(req: Mapping[str, Any]) -> str | None:
    if req.get("trade_type") == "NATIVE" and not req.get("product_id"):
        return ReturnMsg.NATIVE_PRODUCT_ID
    return None


def _mweb_needs_scene_info(req: Mapping[str, Any]) -> str | None:
    if req.get("trade_type") == "MWEB" and '"h5_info"' not in (req.get("scene_info") or ""):
        return ReturnMsg.MWEB_SCENE_INFO
    return None


def _one_order_id(req: Mapping[str, Any]) -> str | None:
    if not req.get("transaction_id") and not req.get("out_trade_no"):
        return ReturnMsg.LACK_PARAMS
    return None


UNIFIEDORDER = Endpoint(
    name="unifiedorder",
    path="/pay/unifiedorder",
    title="统一下单 (place an order for JSAPI, NATIVE, APP or MWEB)",
    request=(
        *COMMON,
        Field("device_info", Str(32), doc="Terminal id; WEB for web pages"),
        Field("body", Str(128), required=True, doc="Product description"),
        Field("detail", Json(6144), doc="Goods detail, JSON"),
        Field("attach", Str(127), doc="Merchant data echoed in orderquery and notification"),
        Field("out_trade_no", Str(32, OUT_TRADE_NO), required=True, doc="Merchant order number"),
        Field("fee_type", Choice(16, ("CNY",)), doc="Currency, CNY only"),
        Field("total_fee", Fen(), required=True, doc="Amount in fen, at least 1"),
        Field("spbill_create_ip", Ip(), required=True, doc="Payer's or server's IP"),
        Field("time_start", Time14(), doc="Creation time, Beijing"),
        Field("time_expire", Time14(), doc="Latest payment time, Beijing, at least 5 minutes on"),
        Field("goods_tag", Str(32), doc="Coupon tag"),
        Field("notify_url", Url(256), required=True, doc="Where the payment notification goes"),
        Field("trade_type", Choice(16, ("JSAPI", "NATIVE", "APP", "MWEB")), required=True),
        Field("product_id", Str(32), doc="Required for NATIVE"),
        Field("limit_pay", Choice(32, ("no_credit",)), doc="no_credit forbids credit cards"),
        Field("openid", Str(128), doc="Required for JSAPI: the payer under this appid"),
        Field("receipt", Choice(8, ("Y",)), doc="Y shows an e-invoice entry"),
        Field("profit_sharing", Choice(16, ("Y", "N")), doc="Y freezes funds for sharing"),
        Field("scene_info", Json(256), doc="Scene JSON; h5_info required for MWEB"),
        Field("version", Str(32), doc="1.0 for per-item discounts"),
    ),
    checks=(_jsapi_needs_openid, _native_needs_product_id, _mweb_needs_scene_info),
    answers=(
        Answer("trade_type JSAPI, APP", ("trade_type", "prepay_id")),
        Answer("trade_type NATIVE", ("trade_type", "prepay_id", "code_url")),
        Answer("trade_type MWEB", ("trade_type", "prepay_id", "mweb_url")),
    ),
    errors=(
        ErrCode.ORDERPAID,
        ErrCode.ORDERCLOSED,
        ErrCode.INVALID_REQUEST,
        ErrCode.OUT_TRADE_NO_USED,
        ErrCode.PARAM_ERROR,
        ErrCode.APPID_MCHID_NOT_MATCH,
        ErrCode.NOAUTH,
        ErrCode.SYSTEMERROR,
    ),
)

ORDERQUERY = Endpoint(
    name="orderquery",
    path="/pay/orderquery",
    title="查询订单 (query an order)",
    request=(
        *COMMON,
        Field("transaction_id", Str(32), doc="WeChat order number (preferred)"),
        Field("out_trade_no", Str(32, OUT_TRADE_NO), doc="Merchant order number"),
        Field("version", Str(32), doc="1.0 for promotion_detail"),
    ),
    checks=(_one_order_id,),
    writes=False,
    answers=tuple(
        Answer(f"trade_state {' '.join(k for k, v in ORDERQUERY_FIELDS.items() if v == f)}", f)
        for f in dict.fromkeys(ORDERQUERY_FIELDS.values())
    ),
    errors=(ErrCode.ORDERNOTEXIST, ErrCode.APPID_MCHID_NOT_MATCH, ErrCode.SYSTEMERROR),
    int_fields=ORDER_INTS | {f"coupon_fee_{n}" for n in range(10)},
)

MICROPAY = Endpoint(
    name="micropay",
    path="/pay/micropay",
    title="付款码支付 (charge a payment code, synchronously)",
    request=(
        *COMMON,
        Field("device_info", Str(32), doc="Terminal / store id"),
        Field("body", Str(128), required=True, doc="Product description"),
        Field("detail", Json(6144), doc="Goods detail, JSON"),
        Field("attach", Str(127), doc="Merchant data echoed back"),
        Field("out_trade_no", Str(32, OUT_TRADE_NO), required=True, doc="Merchant order number"),
        Field("total_fee", Fen(), required=True, doc="Amount in fen, at least 1"),
        Field("fee_type", Choice(16, ("CNY",)), doc="Currency, CNY only"),
        Field("spbill_create_ip", Ip(), required=True, doc="IP of the calling machine"),
        Field("goods_tag", Str(32), doc="Coupon tag"),
        Field("limit_pay", Choice(32, ("no_credit",)), doc="no_credit forbids credit cards"),
        Field("time_start", Time14(), doc="Creation time, Beijing"),
        Field("time_expire", Time14(), doc="At least 1 minute after the start"),
        Field("receipt", Choice(8, ("Y",)), doc="Y shows an e-invoice entry"),
        Field("auth_code", Str(128), required=True, doc="The payer's payment code, 18 digits"),
        Field("profit_sharing", Choice(16, ("Y", "N")), doc="Y freezes funds for sharing"),
        Field("scene_info", Json(256), doc="Store information, JSON"),
        Field("version", Str(32), doc="1.0 for per-item discounts"),
    ),
    errors=(
        ErrCode.SYSTEMERROR,
        ErrCode.BANKERROR,
        ErrCode.USERPAYING,
        ErrCode.PARAM_ERROR,
        ErrCode.ORDERPAID,
        ErrCode.NOAUTH,
        ErrCode.AUTHCODEEXPIRE,
        ErrCode.NOTENOUGH,
        ErrCode.NOTSUPORTCARD,
        ErrCode.ORDERCLOSED,
        ErrCode.ORDERREVERSED,
        ErrCode.AUTH_CODE_ERROR,
        ErrCode.AUTH_CODE_INVALID,
        ErrCode.BUYER_MISMATCH,
        ErrCode.OUT_TRADE_NO_USED,
        ErrCode.INVALID_REQUEST,
        ErrCode.TRADE_ERROR,
        ErrCode.APPID_NOT_EXIST,
        ErrCode.APPID_MCHID_NOT_MATCH,
    ),
    answers=(
        Answer(
            "paid",
            (
                "openid",
                "is_subscribe",
                "trade_type",
                "bank_type",
                "fee_type",
                "total_fee",
                "coupon_fee",
                "cash_fee_type",
                "cash_fee",
                "transaction_id",
                "out_trade_no",
                "attach",
                "time_end",
            ),
        ),
    ),
    int_fields=ORDER_INTS,
)

REVERSE = Endpoint(
    name="reverse",
    path="/secapi/pay/reverse",
    title="撤销订单 (reverse a micropay order; client certificate required)",
    request=(
        *COMMON,
        Field("transaction_id", Str(32), doc="WeChat order number (preferred)"),
        Field("out_trade_no", Str(32, OUT_TRADE_NO), doc="Merchant order number"),
    ),
    checks=(_one_order_id,),
    needs_cert=True,
    refusal_fields=(("recall", "N"),),
    answers=(Answer("reversed (or already reversed)", ("recall",)),),
    errors=(
        ErrCode.SYSTEMERROR,
        ErrCode.INVALID_TRANSACTIONID,
        ErrCode.PARAM_ERROR,
        ErrCode.REVERSE_EXPIRE,
        ErrCode.INVALID_REQUEST,
        ErrCode.TRADE_ERROR,
        ErrCode.APPID_NOT_EXIST,
        ErrCode.APPID_MCHID_NOT_MATCH,
    ),
)

CLOSEORDER = Endpoint(
    name="closeorder",
    path="/pay/closeorder",
    title="关闭订单 (close an unpaid order)",
    request=(*COMMON, Field("out_trade_no", Str(32, OUT_TRADE_NO), required=True)),
    answers=(Answer("closed", ("result_msg",)),),
    errors=(
        ErrCode.ORDERPAID,
        ErrCode.ORDERCLOSED,
        ErrCode.ORDERNOTEXIST,
        ErrCode.TRADE_STATE_ERROR,
        ErrCode.PARAM_ERROR,
        ErrCode.APPID_MCHID_NOT_MATCH,
        ErrCode.SYSTEMERROR,
    ),
)
