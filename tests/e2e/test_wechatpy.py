"""The third-party ``wechatpy`` client, unchanged, against the live server.

wechatpy builds every URL from ``self.API_BASE_URL`` (a class attribute defaulting to
``https://api.mch.weixin.qq.com/``); setting it on the instance points that one client at the
local platform without touching wechatpy. wechatpy 1.8 does not verify answer signatures; it
raises ``WeChatPayException`` whenever return_code or result_code is not SUCCESS.
"""

from __future__ import annotations

import pytest
from wechatpy.exceptions import (  # type: ignore[import-untyped]
    InvalidSignatureException,
    WeChatPayException,
)
from wechatpy.pay import WeChatPay  # type: ignore[import-untyped]

from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for
from wxpay_local.wire import signing
from wxpay_local.wire.xml import decode

pytestmark = pytest.mark.e2e

CLIENT_IP = "203.0.113.10"  # given, so that wechatpy does not look up its external address


def _wechatpy(
    live: Harness, merchant: MerchantInfo, kind: str = "official_account", api_key: str = ""
) -> WeChatPay:
    client = WeChatPay(
        appid=merchant.apps[kind],
        api_key=api_key or merchant.api_key,
        mch_id=merchant.mch_id,
        timeout=10,
    )
    client.API_BASE_URL = live.base_url + "/"
    client._http.trust_env = False  # no proxy from the environment for loopback
    return client


def test_native_order_paid_queried_closed_and_notified(live: Harness, sink: MerchantSink) -> None:
    merchant = live.merchant()
    client = _wechatpy(live, merchant)
    payer = live.payer(balance=10_000)

    created = client.order.create(
        trade_type="NATIVE",
        body="Test shop-Coffee",
        total_fee=1800,
        notify_url=sink.url,
        client_ip=CLIENT_IP,
        product_id="latte",
        out_trade_no="WCP-NATIVE-1",
        attach="table=7",
    )
    assert created["return_code"] == "SUCCESS" and created["result_code"] == "SUCCESS"
    assert created["trade_type"] == "NATIVE"
    assert created["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    assert client.check_signature(dict(created)), "answers are signed with the merchant key"
    paid = live.pay(payer["payer_id"], code_url=created["code_url"])
    assert paid["outcome"] == "SUCCESS", paid

    query = client.order.query(out_trade_no="WCP-NATIVE-1")
    assert query["trade_state"] == "SUCCESS"
    assert query["total_fee"] == "1800"
    assert query["attach"] == "table=7"
    assert client.check_signature(dict(query))

    # a second order, left unpaid, closes once it is 5 minutes old
    client.order.create(
        trade_type="NATIVE",
        body="Test shop-Tea",
        total_fee=900,
        notify_url=sink.url,
        client_ip=CLIENT_IP,
        product_id="tea",
        out_trade_no="WCP-NATIVE-2",
    )
    live.advance(300)
    closed = client.order.close("WCP-NATIVE-2")
    assert closed["return_code"] == "SUCCESS" and closed["result_code"] == "SUCCESS"
    assert client.order.query(out_trade_no="WCP-NATIVE-2")["trade_state"] == "CLOSED"
    with pytest.raises(WeChatPayException) as refused:
        client.order.close("WCP-NATIVE-1")
    assert refused.value.errcode == "ORDERPAID"
    assert refused.value.return_code == "SUCCESS" and refused.value.result_code == "FAIL"

    body = wait_for(lambda: sink.received)[0].body
    note = client.parse_payment_result(body)  # raises InvalidSignatureException on a bad sign
    assert note["out_trade_no"] == "WCP-NATIVE-1"
    assert note["transaction_id"] == query["transaction_id"]
    assert note["total_fee"] == 1800 and note["cash_fee"] == 1800
    assert note["attach"] == "table=7"
    assert client.check_signature(note)
    assert WeChatPay.get_payment_data(body)["transaction_id"] == query["transaction_id"]

    forged = body.replace(b"<total_fee>1800</total_fee>", b"<total_fee>1</total_fee>")
    assert forged != body
    with pytest.raises(InvalidSignatureException):
        client.parse_payment_result(forged)


def test_jsapi_order_with_openid(live: Harness, sink: MerchantSink) -> None:
    merchant = live.merchant()
    client = _wechatpy(live, merchant)
    payer = live.payer(balance=10_000)
    openid = live.openid(payer["payer_id"], merchant.apps["official_account"])

    created = client.order.create(
        trade_type="JSAPI",
        body="Test shop-Cake",
        total_fee=2500,
        notify_url=sink.url,
        client_ip=CLIENT_IP,
        user_id=openid,
        out_trade_no="WCP-JSAPI-1",
    )
    assert created["trade_type"] == "JSAPI"
    prepay_id = created["prepay_id"]
    assert prepay_id.startswith("wx")
    params = client.jsapi.get_jsapi_params(prepay_id)
    assert params["package"] == f"prepay_id={prepay_id}"

    assert live.pay(payer["payer_id"], prepay_id=prepay_id)["outcome"] == "SUCCESS"
    query = client.order.query(out_trade_no="WCP-JSAPI-1")
    assert query["trade_state"] == "SUCCESS"
    assert query["openid"] == openid

    body = wait_for(lambda: sink.received)[0].body
    note = client.parse_payment_result(body)
    assert note["openid"] == openid
    assert note["trade_type"] == "JSAPI"
    assert note["total_fee"] == 2500
    assert client.check_signature(note)
    assert signing.verify(decode(body), merchant.api_key)


def test_wrong_api_key_is_refused_with_signature_error(live: Harness) -> None:
    merchant = live.merchant()
    client = _wechatpy(live, merchant, api_key="0" * 32)
    with pytest.raises(WeChatPayException) as refused:
        client.order.create(
            trade_type="NATIVE",
            body="Test shop-Coffee",
            total_fee=1800,
            notify_url="http://127.0.0.1:9/notify",
            client_ip=CLIENT_IP,
            product_id="latte",
            out_trade_no="WCP-BADKEY-1",
        )
    assert refused.value.return_code == "FAIL"
    assert refused.value.return_msg == "签名错误"
    assert live.control("GET", "/_local/orders", mch_id=merchant.mch_id)["orders"] == []
