"""The payment endpoints: unifiedorder, orderquery, closeorder, micropay, reverse (spec §4).

Imports: codes, wire.fields, spec.endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wxpay_local.codes import ErrCode, ReturnMsg
from wxpay_local.spec.common import COMMON, OUT_TRADE_NO
from wxpay_local.spec.endpoint import Endpoint, Field
from wxpay_local.wire.fields import Choice, Fen, Ip, Json, Str, Time14, Url

ORDER_INTS = frozenset(
    {"total_fee", "cash_fee", "settlement_total_fee", "coupon_fee", "coupon_count"}
)


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
