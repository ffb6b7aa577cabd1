"""unifiedorder (spec §4.2): handles, re-entry, time_expire, limit_pay, round trips."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from reference_wire import from_xml, verify
from wxpay_local.codes import SignType
from wxpay_local.sdk import FaultError, RejectedError
from wxpay_local.testing import Harness, MerchantInfo, MerchantSink, wait_for
from wxpay_local.timefmt import wire_time

pytestmark = pytest.mark.api

MWEB_SCENE = '{"h5_info":{"type":"Wap","wap_url":"https://shop.example","wap_name":"shop"}}'
KIND_OF = {
    "JSAPI": "official_account",
    "NATIVE": "official_account",
    "APP": "app",
    "MWEB": "official_account",
}


def _order(trade_type: str = "NATIVE", **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "body": "Test shop-Coffee",
        "out_trade_no": f"UO{trade_type}0001",
        "total_fee": 1800,
        "spbill_create_ip": "203.0.113.10",
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": trade_type,
    }
    if trade_type == "NATIVE":
        fields["product_id"] = "latte"
    if trade_type == "MWEB":
        fields["scene_info"] = MWEB_SCENE
    fields.update(extra)
    return fields


def _now(platform: Harness) -> datetime:
    return datetime.fromisoformat(platform.control("GET", "/_local/clock")["now"])


def _jsapi_order(
    platform: Harness, merchant: MerchantInfo, payer: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    openid = platform.openid(payer["payer_id"], merchant.apps["official_account"])
    return _order("JSAPI", openid=openid, **extra)


# handles per trade type -------------------------------------------------------------------------
@pytest.mark.parametrize("trade_type", ["JSAPI", "NATIVE", "APP", "MWEB"])
def test_unifiedorder_each_trade_type_returns_its_handle(
    platform: Harness, trade_type: str
) -> None:
    # 04:05:06 UTC is 12:05:06 in Beijing: the prepay_id carries Beijing time.
    platform.control("POST", "/_local/clock", {"now": "2024-03-05T04:05:06+00:00", "freeze": True})
    merchant = platform.merchant()
    kind = KIND_OF[trade_type]
    client = platform.client(merchant, kind)
    payer = platform.payer()
    fields = _order(trade_type)
    if trade_type == "JSAPI":
        fields["openid"] = platform.openid(payer["payer_id"], merchant.apps[kind])

    answer = client.unifiedorder(**fields)

    assert answer["result_code"] == "SUCCESS"
    assert answer["trade_type"] == trade_type
    assert answer["appid"] == merchant.apps[kind] and answer["mch_id"] == merchant.mch_id
    prepay_id = answer["prepay_id"]
    assert len(prepay_id) == 36
    assert re.fullmatch(r"wx\d{14}[0-9A-Za-z]{20}", prepay_id), prepay_id
    assert prepay_id[2:16] == "20240305120506"
    if trade_type == "NATIVE":
        assert re.fullmatch(r"weixin://wxpay/bizpayurl\?pr=[0-9A-Za-z]+", answer["code_url"])
    else:
        assert "code_url" not in answer
    if trade_type == "MWEB":
        assert "/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=" + prepay_id in answer["mweb_url"]
    else:
        assert "mweb_url" not in answer


def test_unifiedorder_prepay_id_timestamp_is_current_beijing_time(platform: Harness) -> None:
    platform.advance(3 * 86400)  # far from the wall clock, so the platform clock must be used
    merchant = platform.merchant()
    before = wire_time(_now(platform))
    answer = platform.client(merchant).unifiedorder(**_order())
    after = wire_time(_now(platform))
    assert before <= answer["prepay_id"][2:16] <= after


def test_unifiedorder_device_info_is_echoed(platform: Harness) -> None:
    merchant = platform.merchant()
    answer = platform.client(merchant).unifiedorder(**_order(device_info="POS-0042"))
    assert answer["device_info"] == "POS-0042"
    query = platform.client(merchant).orderquery(out_trade_no="UONATIVE0001")
    assert query["device_info"] == "POS-0042"


def test_unifiedorder_hmac_sha256_order_is_signed_paid_and_notified(
    platform: Harness, sink: MerchantSink
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant, sign_type=SignType.HMAC_SHA256)
    payer = platform.payer()
    answer = client.unifiedorder(**_order("APP", notify_url=sink.url))
    # (the SDK verified the answer with HMAC-SHA256; an MD5 check of it must fail)
    assert not verify(answer, merchant.api_key, SignType.MD5)
    assert verify(answer, merchant.api_key, SignType.HMAC_SHA256)

    paid = platform.pay(payer["payer_id"], prepay_id=answer["prepay_id"])
    assert paid["outcome"] == "SUCCESS", paid
    assert client.orderquery(out_trade_no="UOAPP0001")["trade_state"] == "SUCCESS"

    note = from_xml(wait_for(lambda: sink.received)[0].body)
    # Notifications are MD5 by default whatever the order used (spec README: HMAC is a
    # merchant opt-in; every setting is in test_notify_sign_type.py).
    assert "sign_type" not in note and len(note["sign"]) == 32
    assert verify(note, merchant.api_key, SignType.MD5)


def test_unifiedorder_mismatched_sign_type_is_refused_as_signature_error(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant, sign_type=SignType.HMAC_SHA256)
    body = client.body(_order())
    # Claim MD5 while the sign is HMAC-SHA256: the platform must refuse the signature.
    tampered = body.replace(b"<sign_type><![CDATA[HMAC-SHA256]]></sign_type>", b"")
    assert tampered != body
    answer = from_xml(platform.http.post("/pay/unifiedorder", content=tampered).content)
    assert answer["return_code"] == "FAIL"
    assert answer["return_msg"] == "签名错误"


# re-entry with the same out_trade_no -----------------------------------------------------------
def test_unifiedorder_identical_reentry_within_two_hours_returns_same_handle(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    first = client.unifiedorder(**_order())
    platform.advance(3600)
    second = client.unifiedorder(**_order())
    platform.advance(3600 - 5)
    third = client.unifiedorder(**_order())
    assert first["prepay_id"] == second["prepay_id"] == third["prepay_id"]
    assert first["code_url"] == second["code_url"] == third["code_url"]
    assert first["nonce_str"] != second["nonce_str"]
    orders = platform.control("GET", "/_local/orders", mch_id=merchant.mch_id)["orders"]
    assert len(orders) == 1


def test_unifiedorder_reentry_after_two_hours_issues_new_prepay_id(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant, "app")
    payer = platform.payer()
    first = client.unifiedorder(**_order("APP"))
    platform.advance(2 * 3600 + 1)
    second = client.unifiedorder(**_order("APP"))
    assert second["prepay_id"] != first["prepay_id"]
    assert len(second["prepay_id"]) == 36

    stale = platform.pay(payer["payer_id"], prepay_id=first["prepay_id"])
    assert stale["outcome"] == "ORDER_EXPIRED", stale
    assert platform.ledger()["accounts"][f"payer:{payer['payer_id']}:wallet"] == 100_000

    fresh = platform.pay(payer["payer_id"], prepay_id=second["prepay_id"])
    assert fresh["outcome"] == "SUCCESS", fresh
    assert client.orderquery(out_trade_no="UOAPP0001")["trade_state"] == "SUCCESS"


def test_unifiedorder_reentry_after_two_hours_issues_new_code_url(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()
    first = client.unifiedorder(**_order())
    platform.advance(2 * 3600 + 1)
    second = client.unifiedorder(**_order())
    assert second["prepay_id"] != first["prepay_id"]
    assert second["code_url"] != first["code_url"]

    stale = platform.pay(payer["payer_id"], code_url=first["code_url"])
    assert stale["outcome"] == "ORDER_EXPIRED", stale
    fresh = platform.pay(payer["payer_id"], code_url=second["code_url"])
    assert fresh["outcome"] == "SUCCESS", fresh


def test_pay_prepay_id_older_than_two_hours_without_reentry_order_expired(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant, "app")
    payer = platform.payer()
    answer = client.unifiedorder(**_order("APP"))
    platform.advance(2 * 3600 + 1)
    paid = platform.pay(payer["payer_id"], prepay_id=answer["prepay_id"])
    assert paid["outcome"] == "ORDER_EXPIRED", paid
    # The order itself is still open (no time_expire): only the handle went stale.
    assert client.orderquery(out_trade_no="UOAPP0001")["trade_state"] == "NOTPAY"


def test_unifiedorder_reentry_changing_only_notify_url_notifies_new_url(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant, "app")
    payer = platform.payer()
    with MerchantSink() as old_sink, MerchantSink() as new_sink:
        first = client.unifiedorder(**_order("APP", notify_url=old_sink.url))
        second = client.unifiedorder(**_order("APP", notify_url=new_sink.url))
        assert second["prepay_id"] == first["prepay_id"]
        order = platform.control("GET", f"/_local/orders/{merchant.mch_id}/UOAPP0001")
        assert order["notify_url"] == new_sink.url

        paid = platform.pay(payer["payer_id"], prepay_id=second["prepay_id"])
        assert paid["outcome"] == "SUCCESS", paid
        received = wait_for(lambda: new_sink.received)
        assert from_xml(received[0].body)["out_trade_no"] == "UOAPP0001"
        assert old_sink.received == []


@pytest.mark.parametrize(
    "change",
    [
        {"body": "Test shop-Tea"},
        {"total_fee": 1801},
        {"trade_type": "APP"},
        {"attach": "table=8"},
    ],
    ids=["body", "total_fee", "trade_type", "attach"],
)
def test_unifiedorder_reentry_with_changed_parameter_invalid_request(
    platform: Harness, change: dict[str, Any]
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    client.unifiedorder(**_order(attach="table=7"))
    with pytest.raises(RejectedError) as refused:
        client.unifiedorder(**{**_order(attach="table=7"), **change})
    assert refused.value.err_code == "INVALID_REQUEST"
    assert refused.value.err_code_des == "201 商户订单号重复"
    # The original order is untouched.
    order = platform.control("GET", f"/_local/orders/{merchant.mch_id}/UONATIVE0001")
    assert (order["body"], order["total_fee"], order["trade_type"], order["attach"]) == (
        "Test shop-Coffee",
        1800,
        "NATIVE",
        "table=7",
    )


def test_unifiedorder_reentry_on_closed_order_orderclosed(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    client.unifiedorder(**_order())
    platform.advance(301)
    client.closeorder(out_trade_no="UONATIVE0001")
    with pytest.raises(RejectedError) as refused:
        client.unifiedorder(**_order())
    assert refused.value.err_code == "ORDERCLOSED"


# time_expire ----------------------------------------------------------------------------------
def test_unifiedorder_time_expire_exactly_five_minutes_after_start_accepted(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    start = _now(platform).replace(microsecond=0)
    answer = platform.client(merchant).unifiedorder(
        **_order(time_start=wire_time(start), time_expire=wire_time(start + timedelta(minutes=5)))
    )
    assert answer["result_code"] == "SUCCESS"
    order = platform.control("GET", f"/_local/orders/{merchant.mch_id}/UONATIVE0001")
    assert datetime.fromisoformat(order["time_expire"]) == start + timedelta(minutes=5)


def test_unifiedorder_time_expire_four_minutes_59_after_start_param_error(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    start = _now(platform).replace(microsecond=0)
    with pytest.raises(RejectedError) as refused:
        client.unifiedorder(
            **_order(
                time_start=wire_time(start),
                time_expire=wire_time(start + timedelta(minutes=4, seconds=59)),
            )
        )
    assert refused.value.err_code == "PARAM_ERROR"
    assert refused.value.err_code_des == "time_expire时间过短，刷卡至少1分钟，其他5分钟"
    with pytest.raises(RejectedError) as missing:
        client.orderquery(out_trade_no="UONATIVE0001")
    assert missing.value.err_code == "ORDERNOTEXIST"


def test_unifiedorder_time_expire_passed_order_reads_closed_and_cannot_be_paid(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()
    start = _now(platform).replace(microsecond=0)
    answer = client.unifiedorder(
        **_order(time_start=wire_time(start), time_expire=wire_time(start + timedelta(minutes=6)))
    )
    assert client.orderquery(out_trade_no="UONATIVE0001")["trade_state"] == "NOTPAY"
    platform.advance(7 * 60)

    query = client.orderquery(out_trade_no="UONATIVE0001")
    assert query["trade_state"] == "CLOSED"
    assert query["trade_state_desc"] == "订单已关闭"
    paid = platform.pay(payer["payer_id"], code_url=answer["code_url"])
    assert paid["outcome"] == "ORDER_CLOSED", paid
    paid = platform.pay(payer["payer_id"], prepay_id=answer["prepay_id"])
    assert paid["outcome"] == "ORDER_CLOSED", paid
    assert platform.ledger()["accounts"][f"payer:{payer['payer_id']}:wallet"] == 100_000


def test_unifiedorder_identical_reentry_after_time_expire_passed_orderclosed(
    platform: Harness,
) -> None:
    """Spec §4.2: re-entry on a closed/expired order → ORDERCLOSED, even with the (now past)
    time_expire of the first call repeated unchanged."""
    merchant = platform.merchant()
    client = platform.client(merchant)
    start = _now(platform).replace(microsecond=0)
    fields = _order(
        time_start=wire_time(start), time_expire=wire_time(start + timedelta(minutes=6))
    )
    client.unifiedorder(**fields)
    platform.advance(7 * 60)
    with pytest.raises(RejectedError) as without_times:
        client.unifiedorder(**_order())
    assert without_times.value.err_code == "ORDERCLOSED"
    with pytest.raises(RejectedError) as identical:
        client.unifiedorder(**fields)
    assert identical.value.err_code == "ORDERCLOSED"


# limit_pay ------------------------------------------------------------------------------------
def test_unifiedorder_limit_pay_no_credit_refuses_credit_card_and_accepts_debit(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer(balance=0, cards=["CMB_CREDIT", "CMB_DEBIT"])
    cards = {c["bank_type"]: c["card_id"] for c in payer["cards"]}
    answer = client.unifiedorder(**_order(limit_pay="no_credit"))
    ledger_before = platform.ledger()

    refused = platform.pay(
        payer["payer_id"], code_url=answer["code_url"], card_id=cards["CMB_CREDIT"]
    )
    assert refused["outcome"] == "CREDIT_REFUSED", refused
    assert platform.ledger() == ledger_before
    assert client.orderquery(out_trade_no="UONATIVE0001")["trade_state"] == "NOTPAY"

    paid = platform.pay(payer["payer_id"], code_url=answer["code_url"], card_id=cards["CMB_DEBIT"])
    assert paid["outcome"] == "SUCCESS", paid
    query = client.orderquery(out_trade_no="UONATIVE0001")
    assert query["trade_state"] == "SUCCESS"
    assert query["bank_type"] == "CMB_DEBIT"
    accounts = platform.ledger()["accounts"]
    assert accounts["external:bank:CMB_DEBIT"] == -1800
    assert "external:bank:CMB_CREDIT" not in accounts


def test_unifiedorder_without_limit_pay_credit_card_pays(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer(balance=0, cards=["CMB_CREDIT"])
    answer = client.unifiedorder(**_order())
    paid = platform.pay(
        payer["payer_id"], code_url=answer["code_url"], card_id=payer["cards"][0]["card_id"]
    )
    assert paid["outcome"] == "SUCCESS", paid
    assert client.orderquery(out_trade_no="UONATIVE0001")["bank_type"] == "CMB_CREDIT"


# round trips ------------------------------------------------------------------------------------
def test_unifiedorder_detail_and_attach_round_trip_attach_shown_once_paid(
    platform: Harness, sink: MerchantSink
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()
    detail = json.dumps(
        {
            "cost_price": 1800,
            "receipt_id": "wx123",
            "goods_detail": [
                {"goods_id": "latte-1", "goods_name": "拿铁 大杯", "quantity": 1, "price": 1800}
            ],
        },
        ensure_ascii=False,
    )
    attach = "桌号=7&备注=<少糖> ]]> end"
    fields = _order(detail=detail, attach=attach, notify_url=sink.url)
    first = client.unifiedorder(**fields)
    # The stored detail is the exact text: an identical re-entry is accepted...
    assert client.unifiedorder(**fields)["prepay_id"] == first["prepay_id"]
    # ...and attach is not shown before payment.
    assert "attach" not in client.orderquery(out_trade_no="UONATIVE0001")

    paid = platform.pay(payer["payer_id"], code_url=first["code_url"])
    assert paid["outcome"] == "SUCCESS", paid
    assert paid["order"]["attach"] == attach
    assert client.orderquery(out_trade_no="UONATIVE0001")["attach"] == attach
    note = from_xml(wait_for(lambda: sink.received)[0].body)
    assert note["attach"] == attach
    assert verify(note, merchant.api_key)


def test_unifiedorder_reentry_with_reformatted_detail_invalid_request(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    detail = '{"goods_detail":[{"goods_id":"g1","quantity":1,"price":1800}]}'
    client.unifiedorder(**_order(detail=detail))
    with pytest.raises(RejectedError) as refused:
        client.unifiedorder(**_order(detail=detail.replace(",", ", ")))
    assert refused.value.err_code == "INVALID_REQUEST"


def test_unifiedorder_chinese_body_of_127_characters_accepted(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()
    body = ("腾讯充值中心-QQ会员充值" * 20)[:127]
    assert len(body) == 127
    answer = client.unifiedorder(**_order(body=body))
    order = platform.control("GET", f"/_local/orders/{merchant.mch_id}/UONATIVE0001")
    assert order["body"] == body
    paid = platform.pay(payer["payer_id"], code_url=answer["code_url"])
    assert paid["outcome"] == "SUCCESS", paid


def test_unifiedorder_body_over_128_characters_length_fault(platform: Harness) -> None:
    # 127 is the spec's length; 128 is accepted on purpose (lenient, docs/behaviour.md).
    merchant = platform.merchant()
    with pytest.raises(FaultError) as fault:
        platform.client(merchant).unifiedorder(**_order(body="中" * 129))
    assert fault.value.return_msg == "body参数长度有误"
