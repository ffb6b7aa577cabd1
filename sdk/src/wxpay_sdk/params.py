"""What the merchant's server hands to the payer's side (spec §6): JSAPI / Mini Program
``paySign`` parameters, APP ``PayReq`` parameters, the Native mode-1 product URL. The sign
type must be the one of the unifiedorder call that made the prepay_id (spec §3.2)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from wxpay_sdk import wire
from wxpay_sdk.wire import MD5, SignType


def _now() -> str:
    return str(int(time.time()))


def jsapi(
    *,
    appid: str,
    prepay_id: str,
    api_key: str,
    sign_type: SignType = MD5,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """``WeixinJSBridge.invoke('getBrandWCPayRequest', …)`` parameters (spec §6.1); also what
    ``wx.requestPayment`` takes in a Mini Program (it ignores ``appId`` but it is signed)."""
    fields = {
        "appId": appid,
        "timeStamp": timestamp or _now(),
        "nonceStr": nonce or wire.nonce(),
        "package": f"prepay_id={prepay_id}",
        "signType": sign_type,
    }
    return {**fields, "paySign": wire.sign(fields, api_key, sign_type)}


def miniprogram(
    *,
    appid: str,
    prepay_id: str,
    api_key: str,
    sign_type: SignType = MD5,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """``wx.requestPayment`` parameters: the JSAPI set without ``appId`` (which is signed)."""
    params = jsapi(
        appid=appid,
        prepay_id=prepay_id,
        api_key=api_key,
        sign_type=sign_type,
        timestamp=timestamp,
        nonce=nonce,
    )
    del params["appId"]
    return params


def app(
    *,
    appid: str,
    mch_id: str,
    prepay_id: str,
    api_key: str,
    sign_type: SignType = MD5,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The APP ``PayReq`` set with lowercase signed names (spec §6.2)."""
    fields = {
        "appid": appid,
        "partnerid": mch_id,
        "prepayid": prepay_id,
        "package": "Sign=WXPay",
        "noncestr": nonce or wire.nonce(),
        "timestamp": timestamp or _now(),
    }
    return {**fields, "sign": wire.sign(fields, api_key, sign_type)}


def native_mode1_url(
    *,
    appid: str,
    mch_id: str,
    product_id: str,
    api_key: str,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> str:
    """The static ``weixin://wxpay/bizpayurl?…`` product URL (spec §6.3), signed MD5."""
    fields = {
        "appid": appid,
        "mch_id": mch_id,
        "nonce_str": nonce or wire.nonce(),
        "product_id": product_id,
        "time_stamp": timestamp or _now(),
    }
    return "weixin://wxpay/bizpayurl?" + urlencode({"sign": wire.sign(fields, api_key), **fields})
