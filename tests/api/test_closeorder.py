"""closeorder (spec §4.4): closing unpaid orders, and what cannot be closed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from reference_wire import verify
from wxpay_local.codes import SignType
from wxpay_local.sdk import FaultError, RejectedError
from wxpay_local.testing import Harness
from wxpay_local.timefmt import wire_time

pytestmark = pytest.mark.api

CLOSE_MIN_AGE = 5 * 60


def _order(out_trade_no: str = "CO0001", **extra: Any) -> dict[str, Any]:
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


@pytest.mark.parametrize("sign_type", [SignType.MD5, SignType.HMAC_SHA256])
def test_closeorder_unpaid_order_result_msg_ok_and_state_closed(
    platform: Harness, sign_type: SignType
) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant, sign_type=sign_type)
    payer = platform.payer()
    answer = client.unifiedorder(**_order())
    platform.advance(CLOSE_MIN_AGE + 1)

    closed = client.closeorder(out_trade_no="CO0001")

    assert closed["return_code"] == "SUCCESS" and closed["return_msg"] == "OK"
    assert closed["result_code"] == "SUCCESS"
    assert closed["result_msg"] == "OK"
    assert closed["appid"] == merchant.apps["official_account"]
    assert closed["mch_id"] == merchant.mch_id
    assert "err_code" not in closed
    assert verify(closed, merchant.api_key, sign_type)

    query = client.orderquery(out_trade_no="CO0001")
    assert query["trade_state"] == "CLOSED"
    assert query["trade_state_desc"] == "订单已关闭"
    # A closed order can never be paid, by either handle, nor placed again.
    by_code = platform.pay(payer["payer_id"], code_url=answer["code_url"])
    assert by_code["outcome"] == "ORDER_CLOSED", by_code
    by_prepay = platform.pay(payer["payer_id"], prepay_id=answer["prepay_id"])
    assert by_prepay["outcome"] == "ORDER_CLOSED", by_prepay
    assert platform.ledger()["accounts"][f"payer:{payer['payer_id']}:wallet"] == 100_000
    with pytest.raises(RejectedError) as again:
        client.unifiedorder(**_order())
    assert again.value.err_code == "ORDERCLOSED"


def test_closeorder_paid_order_orderpaid(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()
    answer = client.unifiedorder(**_order())
    assert platform.pay(payer["payer_id"], code_url=answer["code_url"])["outcome"] == "SUCCESS"
    platform.advance(CLOSE_MIN_AGE + 1)

    with pytest.raises(RejectedError) as refused:
        client.closeorder(out_trade_no="CO0001")

    assert refused.value.err_code == "ORDERPAID"
    assert refused.value.fields["return_code"] == "SUCCESS"
    assert verify(refused.value.fields, merchant.api_key)
    assert client.orderquery(out_trade_no="CO0001")["trade_state"] == "SUCCESS"
    assert platform.ledger()["accounts"][f"merchant:{merchant.mch_id}:basic"] == 1800 - 11


def test_closeorder_already_closed_order_orderclosed(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    client.unifiedorder(**_order())
    platform.advance(CLOSE_MIN_AGE + 1)
    client.closeorder(out_trade_no="CO0001")
    with pytest.raises(RejectedError) as refused:
        client.closeorder(out_trade_no="CO0001")
    assert refused.value.err_code == "ORDERCLOSED"


def test_closeorder_order_past_time_expire_orderclosed(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    start = datetime.fromisoformat(platform.control("GET", "/_local/clock")["now"]).replace(
        microsecond=0
    )
    client.unifiedorder(
        **_order(time_start=wire_time(start), time_expire=wire_time(start + timedelta(minutes=5)))
    )
    platform.advance(CLOSE_MIN_AGE + 60)
    with pytest.raises(RejectedError) as refused:
        client.closeorder(out_trade_no="CO0001")
    assert refused.value.err_code == "ORDERCLOSED"


def test_closeorder_within_five_minutes_of_creation_param_error(platform: Harness) -> None:
    merchant = platform.merchant()
    client = platform.client(merchant)
    payer = platform.payer()
    answer = client.unifiedorder(**_order())
    platform.advance(CLOSE_MIN_AGE - 10)
    with pytest.raises(RejectedError) as refused:
        client.closeorder(out_trade_no="CO0001")
    assert refused.value.err_code == "PARAM_ERROR"
    # The refusal changed nothing: the order is still payable.
    assert client.orderquery(out_trade_no="CO0001")["trade_state"] == "NOTPAY"
    assert platform.pay(payer["payer_id"], code_url=answer["code_url"])["outcome"] == "SUCCESS"


def test_closeorder_unknown_out_trade_no_ordernotexist(platform: Harness) -> None:
    merchant = platform.merchant()
    with pytest.raises(RejectedError) as refused:
        platform.client(merchant).closeorder(out_trade_no="NEVERPLACED")
    assert refused.value.err_code == "ORDERNOTEXIST"


def test_closeorder_order_of_another_merchant_ordernotexist(platform: Harness) -> None:
    owner = platform.merchant()
    stranger = platform.merchant()
    platform.client(owner).unifiedorder(**_order())
    platform.advance(CLOSE_MIN_AGE + 1)
    with pytest.raises(RejectedError) as refused:
        platform.client(stranger).closeorder(out_trade_no="CO0001")
    assert refused.value.err_code == "ORDERNOTEXIST"
    assert platform.client(owner).orderquery(out_trade_no="CO0001")["trade_state"] == "NOTPAY"


def test_closeorder_without_out_trade_no_lack_params(platform: Harness) -> None:
    merchant = platform.merchant()
    with pytest.raises(FaultError) as fault:
        platform.client(merchant).closeorder(transaction_id="4200000000202401010000000000")
    assert fault.value.return_msg == "缺少参数"
