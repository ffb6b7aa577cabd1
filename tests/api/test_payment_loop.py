"""The unifiedorder payment loop end to end: order, pay as a payer, query, notification."""

from __future__ import annotations

import pytest

from reference_wire import from_xml, verify
from wxpay_local.sdk import RejectedError
from wxpay_local.testing import Harness, MerchantSink, wait_for

pytestmark = pytest.mark.api


def _order(kind: str, trade_type: str, **extra: str | int) -> dict[str, str | int]:
    return {
        "body": "Test shop-Coffee",
        "out_trade_no": f"T{trade_type}001",
        "total_fee": 1800,
        "spbill_create_ip": "203.0.113.10",
        "notify_url": "http://127.0.0.1:9/notify",
        "trade_type": trade_type,
        **extra,
    }


@pytest.mark.parametrize(
    ("kind", "trade_type", "extra"),
    [
        ("official_account", "JSAPI", {}),
        ("official_account", "NATIVE", {"product_id": "latte"}),
        ("app", "APP", {}),
        (
            "official_account",
            "MWEB",
            {
                "scene_info": '{"h5_info":{"type":"Wap","wap_url":"https://shop.example","wap_name":"shop"}}'
            },
        ),
    ],
)
def test_every_trade_type_is_paid_and_queried_as_success(
    platform: Harness, sink: MerchantSink, kind: str, trade_type: str, extra: dict[str, str]
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant, kind)
    payer = platform.payer(balance=10_000)
    fields = _order(kind, trade_type, notify_url=sink.url, attach="table=7", **extra)
    if trade_type == "JSAPI":
        fields["openid"] = platform.openid(payer["payer_id"], merchant.apps[kind])
    answer = client.unifiedorder(**fields)
    assert answer["trade_type"] == trade_type
    assert answer["prepay_id"].startswith("wx") and len(answer["prepay_id"]) == 36
    if trade_type == "NATIVE":
        assert answer["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
        paid = platform.pay(payer["payer_id"], code_url=answer["code_url"])
    else:
        paid = platform.pay(payer["payer_id"], prepay_id=answer["prepay_id"])
    if trade_type == "MWEB":
        assert "checkmweb?prepay_id=" in answer["mweb_url"]
    assert paid["outcome"] == "SUCCESS", paid

    query = client.orderquery(out_trade_no=fields["out_trade_no"])
    assert query["trade_state"] == "SUCCESS"
    assert query["trade_state_desc"] == "支付成功"
    assert query["total_fee"] == "1800" and query["cash_fee"] == "1800"
    assert query["bank_type"] == "OTHERS"
    assert query["is_subscribe"] == "N"
    assert query["attach"] == "table=7"
    assert len(query["transaction_id"]) == 28
    assert len(query["time_end"]) == 14
    assert query["openid"] == platform.openid(payer["payer_id"], merchant.apps[kind])
    by_id = client.orderquery(transaction_id=query["transaction_id"])
    assert by_id["out_trade_no"] == fields["out_trade_no"]

    received = wait_for(lambda: sink.received)
    note = from_xml(received[0].body)
    assert verify(note, merchant.api_key)
    assert note["transaction_id"] == query["transaction_id"]
    assert note["total_fee"] == "1800"
    assert platform.ledger()["accounts"][f"merchant:{merchant.mch_id}:basic"] == 1800 - 11


def test_unpaid_order_queries_notpay_without_payment_fields(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    client.unifiedorder(**_order("official_account", "NATIVE", product_id="p1", attach="x"))
    query = client.orderquery(out_trade_no="TNATIVE001")
    assert query["trade_state"] == "NOTPAY"
    assert query["trade_state_desc"] == "订单未支付"
    assert query["total_fee"] == "1800"
    for absent in ("transaction_id", "time_end", "cash_fee", "attach", "openid", "bank_type"):
        assert absent not in query


def test_paid_order_cannot_be_closed_or_reentered(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()
    answer = client.unifiedorder(**_order("official_account", "NATIVE", product_id="p1"))
    platform.pay(payer["payer_id"], code_url=answer["code_url"])
    platform.advance(600)
    with pytest.raises(RejectedError) as closing:
        client.closeorder(out_trade_no="TNATIVE001")
    assert closing.value.err_code == "ORDERPAID"
    with pytest.raises(RejectedError) as again:
        client.unifiedorder(**_order("official_account", "NATIVE", product_id="p1"))
    assert again.value.err_code == "ORDERPAID"
