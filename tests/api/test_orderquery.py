"""orderquery (spec §4.3): the fields of a paid order, identification rules, signature, raw XML."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from reference_wire import from_xml, verify
from wxpay_local.codes import SignType
from wxpay_local.sdk import FaultError, RejectedError
from wxpay_local.testing import Harness, MerchantInfo
from wxpay_local.timefmt import wire_time

pytestmark = pytest.mark.api

#: Every field the spec's response table lists for a paid order without coupons.
PAID_FIELDS = {
    "return_code",
    "return_msg",
    "appid",
    "mch_id",
    "device_info",
    "nonce_str",
    "sign",
    "result_code",
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
}


def _order(out_trade_no: str = "OQ0001", **extra: Any) -> dict[str, Any]:
    return {
        "body": "Test shop-Coffee",
        "out_trade_no": out_trade_no,
        "total_fee": 1800,
        "spbill_create_ip": "203.0.113.10",
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": "NATIVE",
        "product_id": "latte",
        **extra,
    }


def _clock(platform: Harness) -> datetime:
    return datetime.fromisoformat(platform.control("GET", "/_local/clock")["now"])


def _paid(
    platform: Harness, merchant: MerchantInfo, payer_id: int, out_trade_no: str, **extra: Any
) -> dict[str, Any]:
    answer = platform.client(merchant).unifiedorder(**_order(out_trade_no, **extra))
    paid = platform.pay(payer_id, code_url=answer["code_url"])
    assert paid["outcome"] == "SUCCESS", paid
    return paid


def test_orderquery_paid_order_returns_every_documented_field(platform: Harness) -> None:
    platform.advance(5 * 86400)  # the platform clock, not the wall clock, stamps time_end
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()
    before = _clock(platform)
    answer = client.unifiedorder(**_order(attach="table=7", device_info="POS-1"))
    paid = platform.pay(payer["payer_id"], code_url=answer["code_url"])
    after = _clock(platform)
    assert paid["outcome"] == "SUCCESS", paid

    query = client.orderquery(out_trade_no="OQ0001")

    assert set(query) == PAID_FIELDS, set(query) ^ PAID_FIELDS
    assert query["return_code"] == "SUCCESS" and query["result_code"] == "SUCCESS"
    assert query["appid"] == merchant.apps["official_account"]
    assert query["mch_id"] == merchant.mch_id
    assert query["device_info"] == "POS-1"
    assert query["openid"] == platform.openid(payer["payer_id"], merchant.apps["official_account"])
    assert query["is_subscribe"] == "N"
    assert query["trade_type"] == "NATIVE"
    assert query["trade_state"] == "SUCCESS"
    assert query["trade_state_desc"] == "支付成功"
    assert query["bank_type"] == "OTHERS"
    assert query["total_fee"] == "1800"
    assert query["fee_type"] == "CNY"
    assert query["cash_fee"] == "1800"
    assert query["cash_fee_type"] == "CNY"
    assert re.fullmatch(r"\d{28}", query["transaction_id"]), query["transaction_id"]
    assert query["transaction_id"] == paid["order"]["transaction_id"]
    assert query["out_trade_no"] == "OQ0001"
    assert query["attach"] == "table=7"
    assert re.fullmatch(r"\d{14}", query["time_end"])
    assert wire_time(before) <= query["time_end"] <= wire_time(after)


def test_orderquery_time_end_is_beijing_time_of_frozen_platform_clock(platform: Harness) -> None:
    platform.control("POST", "/_local/clock", {"now": "2024-06-30T17:30:45+00:00", "freeze": True})
    merchant = platform.merchant()
    payer = platform.payer()
    _paid(platform, merchant, payer["payer_id"], "OQ0001")
    query = platform.client(merchant).orderquery(out_trade_no="OQ0001")
    assert query["time_end"] == "20240701013045"  # 17:30:45 UTC is 01:30:45 next day in Beijing


def test_orderquery_by_transaction_id_returns_same_order(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer()
    paid = _paid(platform, merchant, payer["payer_id"], "OQ0001")
    query = platform.client(merchant).orderquery(transaction_id=paid["order"]["transaction_id"])
    assert query["out_trade_no"] == "OQ0001"
    assert query["trade_state"] == "SUCCESS"


def test_orderquery_transaction_id_and_mismatching_out_trade_no_transaction_id_wins(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()
    first = _paid(platform, merchant, payer["payer_id"], "OQ0001", total_fee=1800)
    _paid(platform, merchant, payer["payer_id"], "OQ0002", total_fee=900)
    client.unifiedorder(**_order("OQ0003"))

    for other in ("OQ0002", "OQ0003", "NOSUCHORDER"):
        query = client.orderquery(
            transaction_id=first["order"]["transaction_id"], out_trade_no=other
        )
        assert query["out_trade_no"] == "OQ0001"
        assert query["transaction_id"] == first["order"]["transaction_id"]
        assert query["total_fee"] == "1800"


def test_orderquery_unknown_transaction_id_with_valid_out_trade_no_ordernotexist(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    client.unifiedorder(**_order())
    with pytest.raises(RejectedError) as missing:
        client.orderquery(transaction_id="4200000000202401010000000000", out_trade_no="OQ0001")
    assert missing.value.err_code == "ORDERNOTEXIST"


def test_orderquery_transaction_id_of_another_merchant_ordernotexist(platform: Harness) -> None:
    owner = platform.merchant()
    stranger = platform.merchant()
    payer = platform.payer()
    paid = _paid(platform, owner, payer["payer_id"], "OQ0001")
    platform.client(stranger).unifiedorder(**_order("OQ0001"))  # same out_trade_no, own order

    with pytest.raises(RejectedError) as missing:
        platform.client(stranger).orderquery(transaction_id=paid["order"]["transaction_id"])
    assert missing.value.err_code == "ORDERNOTEXIST"
    assert missing.value.err_code_des == "订单不存在"
    # The stranger's own order of the same number is its own, unpaid one.
    own = platform.client(stranger).orderquery(out_trade_no="OQ0001")
    assert own["trade_state"] == "NOTPAY"


def test_orderquery_unknown_out_trade_no_ordernotexist(platform: Harness) -> None:
    merchant = platform.merchant()
    with pytest.raises(RejectedError) as missing:
        platform.client(merchant).orderquery(out_trade_no="NEVERPLACED")
    assert missing.value.err_code == "ORDERNOTEXIST"


def test_orderquery_neither_identifier_lack_params(platform: Harness) -> None:
    merchant = platform.merchant()
    with pytest.raises(FaultError) as fault:
        platform.client(merchant).orderquery()
    assert fault.value.return_msg == "缺少参数"


@pytest.mark.parametrize("sign_type", [SignType.MD5, SignType.HMAC_SHA256])
def test_orderquery_answer_signature_verifies_with_request_sign_type(
    platform: Harness, sign_type: SignType
) -> None:
    merchant = platform.merchant()
    payer = platform.payer()
    _paid(platform, merchant, payer["payer_id"], "OQ0001", attach="a=b&c=d")
    client = platform.client(merchant, sign_type=sign_type)
    query = client.orderquery(out_trade_no="OQ0001")  # the SDK raises BadSignature otherwise
    assert verify(query, merchant.api_key, sign_type)
    assert len(query["sign"]) == (32 if sign_type is SignType.MD5 else 64)
    assert "sign_type" not in query
    tampered = {**query, "total_fee": "1"}
    assert not verify(tampered, merchant.api_key, sign_type)


def test_orderquery_raw_xml_writes_integers_bare_and_strings_in_cdata(platform: Harness) -> None:
    merchant = platform.merchant()
    payer = platform.payer()
    _paid(platform, merchant, payer["payer_id"], "OQ0001")
    client = platform.client(merchant)
    response = platform.http.post(
        "/pay/orderquery", content=client.body({"out_trade_no": "OQ0001"})
    )
    assert response.status_code == 200
    raw = response.content
    assert b"<total_fee>1800</total_fee>" in raw
    assert b"<cash_fee>1800</cash_fee>" in raw
    assert b"<trade_state><![CDATA[SUCCESS]]></trade_state>" in raw
    assert b"<out_trade_no><![CDATA[OQ0001]]></out_trade_no>" in raw
    assert b"<fee_type><![CDATA[CNY]]></fee_type>" in raw
    assert raw.startswith(b"<xml>") and raw.rstrip().endswith(b"</xml>")
    assert verify(from_xml(raw), merchant.api_key)


def test_orderquery_unpaid_order_raw_xml_total_fee_bare(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    client.unifiedorder(**_order())
    response = platform.http.post(
        "/pay/orderquery", content=client.body({"out_trade_no": "OQ0001"})
    )
    raw = response.content
    assert b"<total_fee>1800</total_fee>" in raw
    assert b"<trade_state><![CDATA[NOTPAY]]></trade_state>" in raw
    assert b"cash_fee" not in raw and b"transaction_id" not in raw


def test_orderquery_closed_order_closed_without_payment_fields(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    client.unifiedorder(**_order(attach="x"))
    platform.advance(301)
    client.closeorder(out_trade_no="OQ0001")
    query = client.orderquery(out_trade_no="OQ0001")
    assert query["trade_state"] == "CLOSED"
    assert query["trade_state_desc"] == "订单已关闭"
    assert query["total_fee"] == "1800"
    for absent in ("transaction_id", "time_end", "cash_fee", "attach", "openid", "bank_type"):
        assert absent not in query
