"""Issue 16, field by field: the platform's answers against literals of the spec and of the
official documentation's examples, built and checked with the reference signer (no code shared
with ``wxpay_local.wire``).
"""

from __future__ import annotations

import pytest

from reference_wire import HMAC, MD5, from_xml, signed, to_xml, trimmed_verify, v2_sign
from wxpay_local.spec import ENDPOINTS
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api

#: The official micropay documentation's example (付款码支付 → 提交付款码支付, 举例): the
#: request's own fields, and every element of its success answer in the form shown there.
DOC_MICROPAY_REQUEST: dict[str, object] = {
    "attach": "订单额外描述",
    "body": "付款码支付测试",
    "device_info": "1000",
    "out_trade_no": "1415757673",
    "spbill_create_ip": "14.17.22.52",
    "total_fee": 1,
}
DOC_MICROPAY_ANSWER = (
    "return_code return_msg appid mch_id device_info nonce_str sign result_code openid"
    " is_subscribe trade_type bank_type total_fee coupon_fee fee_type transaction_id"
    " out_trade_no attach time_end"
).split()


ENVELOPE = {"return_code", "return_msg", "appid", "mch_id", "device_info", "nonce_str", "sign"}


def declared(endpoint: str) -> set[str]:
    """What docs/fields.md says the endpoint's success answers may carry, envelope included."""
    (found,) = [e for e in ENDPOINTS if e.name == endpoint]
    names = {n.partition(" (")[0] for a in found.answers for n in a.fields}
    return ENVELOPE | {"result_code"} | names


def post(platform: Harness, path: str, fields: dict[str, object], key: str, st: str = MD5) -> bytes:
    """Sign with the reference signer, send as is; the HTTP 200 answer's raw bytes."""
    if st != MD5:
        fields = {**fields, "sign_type": st}
    response = platform.http.post(path, content=to_xml(signed(fields, key, st)))
    assert response.status_code == 200, response.text
    return response.content


def common(
    merchant: MerchantInfo, nonce: str = "8aaee146b1dee7cec9100add9b96cbe2"
) -> dict[str, object]:
    return {
        "appid": merchant.apps["official_account"],
        "mch_id": merchant.mch_id,
        "nonce_str": nonce,
    }


def auth_code(platform: Harness, payer_id: int) -> str:
    return str(platform.control("POST", f"/_local/payers/{payer_id}/codes")["auth_code"])


def assert_signed(answer: dict[str, str], key: str, sign_type: str = MD5) -> None:
    assert answer["return_code"] == "SUCCESS", answer
    assert answer["sign"] == v2_sign(answer, key, sign_type), answer


# 4. micropay: the documentation's example, every field present in the same form ---------------
@pytest.mark.parametrize("sign_type", [MD5, HMAC])
def test_micropay_answers_every_field_of_the_documented_example(
    platform: Harness, sign_type: str
) -> None:
    merchant = platform.merchant()
    payer = platform.payer(balance=10_000)
    request = {**common(merchant), **DOC_MICROPAY_REQUEST}
    request["auth_code"] = auth_code(platform, payer["payer_id"])
    content = post(platform, "/pay/micropay", request, merchant.api_key, sign_type)
    answer = from_xml(content)
    assert_signed(answer, merchant.api_key, sign_type)
    assert answer["result_code"] == "SUCCESS", answer
    assert set(DOC_MICROPAY_ANSWER) <= set(answer), set(DOC_MICROPAY_ANSWER) - set(answer)
    assert set(answer) <= declared("micropay"), set(answer) - declared("micropay")
    assert answer["return_msg"] == "OK"
    assert answer["device_info"] == "1000"
    assert answer["trade_type"] == "MICROPAY"
    assert answer["fee_type"] == "CNY"
    assert answer["out_trade_no"] == "1415757673"
    assert answer["attach"] == "订单额外描述"
    assert len(answer["transaction_id"]) == 28 and len(answer["time_end"]) == 14
    # Integers bare, as in the example; strings in CDATA.
    assert b"<total_fee>1</total_fee>" in content
    assert b"<coupon_fee>0</coupon_fee>" in content
    assert b"<trade_type><![CDATA[MICROPAY]]></trade_type>" in content
    assert "<attach><![CDATA[订单额外描述]]></attach>".encode() in content


# 2. surrounding whitespace: signed as sent, stored, echoed and notified trimmed --------------
def test_values_with_surrounding_spaces_come_back_trimmed_for_a_trimming_client(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    payer = platform.payer(balance=10_000)
    request = {
        **common(merchant),
        **DOC_MICROPAY_REQUEST,
        "device_info": " 1000 ",
        "attach": "  订单额外描述\t",
        "body": " 付款码支付测试 ",
        "auth_code": auth_code(platform, payer["payer_id"]),
    }
    answer = from_xml(post(platform, "/pay/micropay", request, merchant.api_key))
    assert answer["result_code"] == "SUCCESS", answer
    assert answer["device_info"] == "1000"
    assert answer["attach"] == "订单额外描述"
    assert all(v == v.strip() for v in answer.values()), answer
    assert trimmed_verify(answer, merchant.api_key)  # the trimming client accepts it
    assert_signed(answer, merchant.api_key)  # and so does one that does not trim

    query = {**common(merchant, "q1"), "out_trade_no": "1415757673", "device_info": " 1000 "}
    queried = from_xml(post(platform, "/pay/orderquery", query, merchant.api_key))
    assert queried["attach"] == "订单额外描述" and queried["device_info"] == "1000"
    assert trimmed_verify(queried, merchant.api_key)


# 3. downloadbill with an appid that is unknown or not bound to the merchant -------------------
#: Refunds spec §6.8: the bill error layout, `invalid appid` / 20001 from its table.
INVALID_APPID = (
    b"<xml><return_code><![CDATA[FAIL]]></return_code>\n"
    b"<return_msg><![CDATA[invalid appid]]></return_msg>\n"
    b"<error_code><![CDATA[20001]]></error_code>\n</xml>"
)


def test_downloadbill_with_an_unknown_or_unbound_appid_is_a_bill_error(platform: Harness) -> None:
    merchant, other = platform.merchant(), platform.merchant()
    for appid in ("wx00000000000000ff", other.apps["official_account"]):
        request = {**common(merchant), "appid": appid, "bill_date": "20240501"}
        content = post(platform, "/pay/downloadbill", request, merchant.api_key)
        assert content == INVALID_APPID, (appid, content)


# 9. orderquery for unpaid orders: identification and state only (spec §4.3) ------------------
#: Spec §4.3's observed NOTPAY answer (device_info was empty there, and empty values are left
#: out): return_code, return_msg, appid, mch_id, nonce_str, sign, result_code, out_trade_no,
#: trade_state, trade_state_desc, total_fee.
NOTPAY_FIELDS = {
    "return_code",
    "return_msg",
    "appid",
    "mch_id",
    "nonce_str",
    "sign",
    "result_code",
    "out_trade_no",
    "trade_state",
    "trade_state_desc",
    "total_fee",
}
NATIVE_ORDER: dict[str, object] = {
    "body": "Test shop-Coffee",
    "total_fee": 1800,
    "spbill_create_ip": "203.0.113.10",
    "notify_url": "http://127.0.0.1:9/notify",
    "trade_type": "NATIVE",
    "product_id": "latte",
}


def test_orderquery_of_notpay_and_closed_orders_answers_the_spec_fields(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    placed = post(
        platform,
        "/pay/unifiedorder",
        {**common(merchant), **NATIVE_ORDER, "out_trade_no": "FQ-NOTPAY"},
        merchant.api_key,
    )
    assert from_xml(placed)["result_code"] == "SUCCESS"
    query = {**common(merchant, "q2"), "out_trade_no": "FQ-NOTPAY"}
    notpay = from_xml(post(platform, "/pay/orderquery", query, merchant.api_key))
    assert_signed(notpay, merchant.api_key)
    assert set(notpay) == NOTPAY_FIELDS, set(notpay) ^ NOTPAY_FIELDS
    assert set(notpay) <= declared("orderquery")
    assert (notpay["trade_state"], notpay["trade_state_desc"]) == ("NOTPAY", "订单未支付")
    assert notpay["total_fee"] == "1800"

    platform.advance(301)  # closeorder waits 5 minutes after creation (spec §4.4)
    close = {**common(merchant, "q3"), "out_trade_no": "FQ-NOTPAY"}
    assert from_xml(post(platform, "/pay/closeorder", close, merchant.api_key))["result_code"] == (
        "SUCCESS"
    )
    closed = from_xml(post(platform, "/pay/orderquery", query, merchant.api_key))
    assert_signed(closed, merchant.api_key)
    assert set(closed) == NOTPAY_FIELDS
    assert (closed["trade_state"], closed["trade_state_desc"]) == ("CLOSED", "订单已关闭")


def test_orderquery_of_a_waiting_micropay_names_the_payer_and_nothing_paid(
    platform: Harness,
) -> None:
    merchant = platform.merchant()
    payer = platform.payer(balance=10_000)
    platform.control(
        "POST", f"/_local/payers/{payer['payer_id']}/policy", {"password_policy": "always"}
    )
    request = {**common(merchant), **DOC_MICROPAY_REQUEST, "out_trade_no": "FQ-WAIT"}
    request["auth_code"] = auth_code(platform, payer["payer_id"])
    waiting = from_xml(post(platform, "/pay/micropay", request, merchant.api_key))
    assert waiting["err_code"] == "USERPAYING", waiting
    query = {**common(merchant, "q4"), "out_trade_no": "FQ-WAIT"}
    answer = from_xml(post(platform, "/pay/orderquery", query, merchant.api_key))
    assert_signed(answer, merchant.api_key)
    # spec §4.3: openid once the payer is known (USERPAYING), device_info of the order;
    # trade_type, fee_type, bank_type, cash_fee, transaction_id, time_end only when paid
    expected = NOTPAY_FIELDS | {"openid", "is_subscribe", "device_info"}
    assert set(answer) == expected, set(answer) ^ expected
    assert answer["trade_state"] == "USERPAYING" and answer["device_info"] == "1000"
