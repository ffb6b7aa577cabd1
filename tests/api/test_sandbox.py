"""The sandbox (spec §1.6): getsignkey, a second tenant space signed with the sandbox key.

``/sandboxnew/pay/getsignkey`` (MD5 with the production key) issues ``sandbox_signkey``; every
other sandbox call is signed with it, MD5 only, and sees only sandbox orders.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

import pytest

from reference_wire import HMAC, signed, to_xml, v2_sign
from wxpay_local.api.pipeline import SANDBOX_KEY_ERROR
from wxpay_local.testing import Harness, MerchantInfo

pytestmark = pytest.mark.api

PATHS = {
    "unifiedorder": "/pay/unifiedorder",
    "orderquery": "/pay/orderquery",
    "closeorder": "/pay/closeorder",
}
ENDPOINTS = list(PATHS)
SANDBOXNEW = "/sandboxnew"
XDC = "/xdc/apiv2sandbox"
GETSIGNKEY = SANDBOXNEW + "/pay/getsignkey"


def post(platform: Harness, path: str, body: bytes, method: str = "POST") -> dict[str, str]:
    response = platform.http.request(method, path, content=body)
    assert response.status_code == 200, (response.status_code, response.text[:300])
    root = ET.fromstring(response.content)
    assert root.tag == "xml"
    answer = {child.tag: child.text or "" for child in root}
    assert answer.get("return_code") in ("SUCCESS", "FAIL"), answer
    return answer


def assert_fault(answer: Mapping[str, str], return_msg: str) -> None:
    assert dict(answer) == {"return_code": "FAIL", "return_msg": return_msg}


def assert_signed(answer: Mapping[str, str], key: str) -> None:
    assert answer["return_code"] == "SUCCESS", answer
    assert answer["sign"] == v2_sign(answer, key), answer


def getsignkey(
    platform: Harness, merchant: MerchantInfo, path: str = GETSIGNKEY, key: str | None = None
) -> dict[str, str]:
    request = signed(
        {"mch_id": merchant.mch_id, "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"},
        merchant.api_key if key is None else key,
    )
    return post(platform, path, to_xml(request))


def sandbox_key(platform: Harness, merchant: MerchantInfo, path: str = GETSIGNKEY) -> str:
    answer = getsignkey(platform, merchant, path)
    assert answer["return_code"] == "SUCCESS", answer
    return answer["sandbox_signkey"]


def common(merchant: MerchantInfo) -> dict[str, object]:
    return {
        "appid": merchant.apps["official_account"],
        "mch_id": merchant.mch_id,
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    }


def order(**extra: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "body": "测试商城-咖啡",
        "out_trade_no": "TSANDBOX001",
        "total_fee": 101,  # a sandbox acceptance-case amount
        "spbill_create_ip": "203.0.113.10",
        "notify_url": "http://127.0.0.1:9/wxpay/notify",
        "trade_type": "NATIVE",
        "product_id": "latte",
    }
    fields.update(extra)
    return fields


def valid_request(merchant: MerchantInfo, endpoint: str) -> dict[str, object]:
    if endpoint == "unifiedorder":
        return {**common(merchant), **order()}
    return {**common(merchant), "out_trade_no": "TSANDBOX001"}


def query(platform: Harness, merchant: MerchantInfo, prefix: str, key: str) -> dict[str, str]:
    request = signed(valid_request(merchant, "orderquery"), key)
    answer = post(platform, prefix + PATHS["orderquery"], to_xml(request))
    assert_signed(answer, key)
    return answer


# --- getsignkey ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [GETSIGNKEY, XDC + "/pay/getsignkey"])
def test_getsignkey_production_key_answers_unsigned_sandbox_key(
    platform: Harness, path: str
) -> None:
    merchant = platform.merchant()
    answer = getsignkey(platform, merchant, path)
    assert set(answer) == {"return_code", "return_msg", "mch_id", "sandbox_signkey"}, answer
    assert answer["return_code"] == "SUCCESS"
    assert answer["mch_id"] == merchant.mch_id
    key = answer["sandbox_signkey"]
    assert len(key) == 32 and key.isalnum()
    assert key != merchant.api_key

    again = getsignkey(platform, merchant, path)
    assert again["sandbox_signkey"] == key


def test_getsignkey_both_sandbox_prefixes_issue_the_same_key(platform: Harness) -> None:
    merchant = platform.merchant()
    assert sandbox_key(platform, merchant) == sandbox_key(
        platform, merchant, XDC + "/pay/getsignkey"
    )


def test_getsignkey_keys_differ_between_merchants(platform: Harness) -> None:
    first, second = platform.merchant(), platform.merchant()
    assert sandbox_key(platform, first) != sandbox_key(platform, second)


def test_getsignkey_xdc_key_path_answers_sandbox_key(platform: Harness) -> None:
    """§1.6: the /xdc generation issues keys at /xdc/apiv2getsignkey/sign/getsignkey."""
    merchant = platform.merchant()
    answer = getsignkey(platform, merchant, "/xdc/apiv2getsignkey/sign/getsignkey")
    assert answer["return_code"] == "SUCCESS", answer
    assert answer["sandbox_signkey"] == sandbox_key(platform, merchant)


def test_getsignkey_wrong_key_answers_sign_error(platform: Harness) -> None:
    merchant = platform.merchant()
    answer = getsignkey(platform, merchant, key=platform.merchant().api_key)
    assert_fault(answer, "签名错误")


def test_getsignkey_sandbox_key_is_not_the_getsignkey_key(platform: Harness) -> None:
    merchant = platform.merchant()
    key = sandbox_key(platform, merchant)
    answer = getsignkey(platform, merchant, key=key)
    assert answer["return_code"] == "FAIL", answer


def test_getsignkey_unknown_mch_id_answers_mchid_not_exist(platform: Harness) -> None:
    request = signed({"mch_id": "1999999999", "nonce_str": "n"}, "k" * 32)
    assert_fault(post(platform, GETSIGNKEY, to_xml(request)), "mch_id不存在")


def test_getsignkey_missing_sign_answers_lack_params(platform: Harness) -> None:
    merchant = platform.merchant()
    request = {"mch_id": merchant.mch_id, "nonce_str": "n"}
    assert_fault(post(platform, GETSIGNKEY, to_xml(request)), "缺少参数")


def test_getsignkey_missing_nonce_str_answers_lack_params(platform: Harness) -> None:
    merchant = platform.merchant()
    request = signed({"mch_id": merchant.mch_id}, merchant.api_key)
    assert_fault(post(platform, GETSIGNKEY, to_xml(request)), "缺少参数")


def test_getsignkey_hmac_answers_sign_type_error(platform: Harness) -> None:
    merchant = platform.merchant()
    request = signed(
        {"mch_id": merchant.mch_id, "nonce_str": "n", "sign_type": HMAC}, merchant.api_key, HMAC
    )
    assert_fault(post(platform, GETSIGNKEY, to_xml(request)), "签名类型错误")


def test_getsignkey_get_method_answers_require_post(platform: Harness) -> None:
    assert_fault(post(platform, GETSIGNKEY, b"", method="GET"), "请使用post方法")


def test_getsignkey_empty_body_answers_post_data_empty(platform: Harness) -> None:
    assert_fault(post(platform, GETSIGNKEY, b""), "post数据为空")


@pytest.mark.parametrize("path", ["/pay/getsignkey", "/xdc/apiv2sandbox/getsignkey"])
def test_getsignkey_outside_sandbox_prefix_is_not_an_api(platform: Harness, path: str) -> None:
    merchant = platform.merchant()
    request = signed({"mch_id": merchant.mch_id, "nonce_str": "n"}, merchant.api_key)
    response = platform.http.post(path, content=to_xml(request))
    assert response.status_code < 500
    assert b"sandbox_signkey" not in response.content
    assert not (
        response.status_code == 200 and b"<return_code><![CDATA[SUCCESS]]>" in response.content
    )


# --- the sandbox tenant space -------------------------------------------------------------------
@pytest.mark.parametrize("prefix", [SANDBOXNEW, XDC])
def test_unifiedorder_sandbox_key_places_order_invisible_to_production(
    platform: Harness, prefix: str
) -> None:
    merchant = platform.merchant()
    key = sandbox_key(platform, merchant)
    request = signed({**common(merchant), **order()}, key)
    answer = post(platform, prefix + PATHS["unifiedorder"], to_xml(request))
    assert_signed(answer, key)
    assert answer["result_code"] == "SUCCESS", answer
    assert answer["prepay_id"].startswith("wx")
    assert answer["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")

    in_sandbox = query(platform, merchant, prefix, key)
    assert in_sandbox["result_code"] == "SUCCESS", in_sandbox
    assert in_sandbox["trade_state"] == "NOTPAY"
    assert in_sandbox["total_fee"] == "101"

    in_production = query(platform, merchant, "", merchant.api_key)
    assert in_production["result_code"] == "FAIL"
    assert in_production["err_code"] == "ORDERNOTEXIST"
    assert platform.control("GET", "/_local/orders", mch_id=merchant.mch_id)["orders"] == []


def test_orderquery_production_order_invisible_to_sandbox(platform: Harness) -> None:
    merchant = platform.merchant()
    key = sandbox_key(platform, merchant)
    placed = post(
        platform,
        PATHS["unifiedorder"],
        to_xml(signed({**common(merchant), **order(total_fee=1800)}, merchant.api_key)),
    )
    assert placed["result_code"] == "SUCCESS", placed
    in_sandbox = query(platform, merchant, SANDBOXNEW, key)
    assert in_sandbox["err_code"] == "ORDERNOTEXIST", in_sandbox

    # The same out_trade_no lives independently in each space.
    request = signed({**common(merchant), **order()}, key)
    answer = post(platform, SANDBOXNEW + PATHS["unifiedorder"], to_xml(request))
    assert answer["result_code"] == "SUCCESS", answer
    assert query(platform, merchant, SANDBOXNEW, key)["total_fee"] == "101"
    assert query(platform, merchant, "", merchant.api_key)["total_fee"] == "1800"


def test_orderquery_sandbox_prefixes_share_one_sandbox(platform: Harness) -> None:
    merchant = platform.merchant()
    key = sandbox_key(platform, merchant)
    request = signed({**common(merchant), **order()}, key)
    assert post(platform, SANDBOXNEW + PATHS["unifiedorder"], to_xml(request))["result_code"] == (
        "SUCCESS"
    )
    assert query(platform, merchant, XDC, key)["trade_state"] == "NOTPAY"


def test_unifiedorder_sandbox_payment_moves_no_money(platform: Harness) -> None:
    """§1.6: the sandbox keeps its own storage; no money moves."""
    merchant = platform.merchant()
    key = sandbox_key(platform, merchant)
    placed = post(
        platform,
        SANDBOXNEW + PATHS["unifiedorder"],
        to_xml(signed(valid_request(merchant, "unifiedorder"), key)),
    )
    assert placed["result_code"] == "SUCCESS", placed
    payer = platform.payer(balance=1000)
    before = platform.ledger()["accounts"]
    platform.pay(payer["payer_id"], code_url=placed["code_url"])
    assert platform.ledger()["accounts"] == before


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_sandbox_answers_signed_with_sandbox_key(platform: Harness, endpoint: str) -> None:
    merchant = platform.merchant()
    key = sandbox_key(platform, merchant)
    request = signed({**valid_request(merchant, endpoint), "device_info": "WEB"}, key)
    answer = post(platform, SANDBOXNEW + PATHS[endpoint], to_xml(request))
    assert_signed(answer, key)
    assert answer["sign"] != v2_sign(answer, merchant.api_key)
    assert answer["mch_id"] == merchant.mch_id
    assert answer["appid"] == request["appid"]
    assert answer["device_info"] == "WEB"
    if endpoint == "unifiedorder":
        assert answer["result_code"] == "SUCCESS", answer
    else:
        assert answer["err_code"] == "ORDERNOTEXIST", answer


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("prefix", [SANDBOXNEW, XDC])
def test_endpoint_sandbox_signed_with_production_key_answers_sandbox_key_error(
    platform: Harness, endpoint: str, prefix: str
) -> None:
    merchant = platform.merchant()
    sandbox_key(platform, merchant)
    request = signed(valid_request(merchant, endpoint), merchant.api_key)
    answer = post(platform, prefix + PATHS[endpoint], to_xml(request))
    assert_fault(answer, SANDBOX_KEY_ERROR)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("prefix", [SANDBOXNEW, XDC])
def test_endpoint_sandbox_before_getsignkey_answers_sandbox_key_error(
    platform: Harness, endpoint: str, prefix: str
) -> None:
    merchant = platform.merchant()
    request = signed(valid_request(merchant, endpoint), merchant.api_key)
    answer = post(platform, prefix + PATHS[endpoint], to_xml(request))
    assert_fault(answer, SANDBOX_KEY_ERROR)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_production_signed_with_sandbox_key_answers_sign_error(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    key = sandbox_key(platform, merchant)
    request = signed(valid_request(merchant, endpoint), key)
    assert_fault(post(platform, PATHS[endpoint], to_xml(request)), "签名错误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_sandbox_unknown_mch_id_answers_mchid_not_exist(
    platform: Harness, endpoint: str
) -> None:
    merchant = platform.merchant()
    request = signed({**valid_request(merchant, endpoint), "mch_id": "1999999999"}, "k" * 32)
    answer = post(platform, SANDBOXNEW + PATHS[endpoint], to_xml(request))
    assert_fault(answer, "mch_id不存在")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_sandbox_hmac_sha256_answers_sign_type_error(
    platform: Harness, endpoint: str
) -> None:
    """§1.6 / §3.2: the sandbox supports MD5 only."""
    merchant = platform.merchant()
    key = sandbox_key(platform, merchant)
    request = signed({**valid_request(merchant, endpoint), "sign_type": HMAC}, key, HMAC)
    answer = post(platform, SANDBOXNEW + PATHS[endpoint], to_xml(request))
    assert_fault(answer, "签名类型错误")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_endpoint_sandbox_malformed_body_answers_xml_fault(
    platform: Harness, endpoint: str
) -> None:
    path = SANDBOXNEW + PATHS[endpoint]
    assert_fault(post(platform, path, b""), "post数据为空")
    assert_fault(post(platform, path, b"<xml><a>"), "XML格式错误")
    assert_fault(
        post(platform, path, b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml/>'),
        "XML格式错误",
    )
    assert_fault(post(platform, path, b"", method="GET"), "请使用post方法")


def test_unifiedorder_sandbox_field_validation_answers_fault(platform: Harness) -> None:
    merchant = platform.merchant()
    key = sandbox_key(platform, merchant)
    request = signed({**common(merchant), **order(total_fee="1.5")}, key)
    answer = post(platform, SANDBOXNEW + PATHS["unifiedorder"], to_xml(request))
    assert_fault(answer, "total_fee参数格式错误")
